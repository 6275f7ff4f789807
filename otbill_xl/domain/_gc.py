"""Pausing Python's cyclic garbage collector around bulk work — the one helper every layer uses.

Reading, scrubbing, pricing and assembling 100,000 lines create millions of small objects (cell
values, tuples, records); each allocation burst triggers collections that rescan everything already
alive (measured at ~0.4 s of a 1.7 s load). None of these objects form reference cycles, so nothing
is lost by letting the collector run once afterwards instead. Nested pauses are fine: only the
outermost restores the collector.

A small class rather than a ``@contextmanager`` generator: measured on the 100,920-line claim
assembly benchmark, the generator version made assembly 0.33 s → 0.41 s.
"""

from __future__ import annotations

import gc


class gc_paused:  # noqa: N801 - used like a function: ``with gc_paused(): ...``
    """Pause the cyclic collector for the ``with`` block (restored only if it was enabled)."""

    __slots__ = ("_enabled",)

    def __enter__(self) -> None:
        self._enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._enabled:
            gc.enable()
