"""Reading a user's TOML column-mapping file, with the same clear errors wherever one is accepted
(the workbook's ``--columns`` file and the fee-schedule import's)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_toml(path: str | Path, error: type[Exception], example: str) -> dict[str, Any]:
    """The parsed file; a missing or malformed file raises ``error`` naming the file and showing ``example``."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{p.name}: the column-mapping file does not exist.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{p.name}: not valid TOML ({exc}). Use lines like {example}.") from None
