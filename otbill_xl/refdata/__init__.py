"""Reference data shipped with the package (code catalogue and other dated tables).

This is the only place that reads package data; the domain asks for text through
:func:`read_text` so that domain modules never touch the file system themselves.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def read_text(name: str) -> str:
    """Return the text of a bundled reference table, e.g. ``read_text("codes.csv")``."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
