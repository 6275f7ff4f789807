"""Pausing Python's cyclic garbage collector around bulk work — the one helper every layer uses.

Reading, scrubbing, pricing and assembling 100,000 lines create millions of small objects (cell
values, tuples, records); each allocation burst triggers collections that rescan everything already
alive (measured at ~0.4 s of a 1.7 s load). None of these objects form reference cycles, so nothing
is lost by letting the collector run once afterwards instead. Nested pauses are fine: only the
outermost restores the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
