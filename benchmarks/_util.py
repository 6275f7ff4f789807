from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent / "out" / "bench"
SAMPLE = Path(__file__).resolve().parent.parent / "workbook_templates" / "examples" / "sample-practice.xlsx"


def sample_tag() -> str:
    """A short digest of the sample workbook: the name of every benchmark input built from it, so an
    input cached from an older sample is never measured (a changed sample gets new files)."""
    import hashlib

    return hashlib.sha256(SAMPLE.read_bytes()).hexdigest()[:8]


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of ``repeat`` runs (a collection before each, results dropped)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
    return statistics.median(times)


def line(label: str, seconds: float) -> None:
    print(f"  {label:<58} {seconds:8.3f} s")


def ratio(label: str, value: float, target: str = "") -> None:
    print(f"  {label:<58} {value:8.2f} x  {target}")


def calamine_rows(path: Path, sheet: str = "Charges") -> list[list]:
    """The baseline every benchmark compares against: python-calamine's read of a sheet's values."""
    import python_calamine

    return python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
