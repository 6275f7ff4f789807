"""Issue #11 benchmark: the commands people run, timed as whole processes (wall time and peak RSS),
against python-calamine reading the same file's charge sheet in a process of its own.

Workbooks: the 100,920-line practice book of the pipeline benchmark (the sample's 1,740 lines × 58
cohorts, every sheet) and, with ``OTBILL_BENCH_MILLION=1``, the same book grown to 1,048,575 charge
lines (Excel's last row). Commands: ``check --out``, ``price --out``, ``claims`` (a fresh ledger each
run), ``batch`` (40 sample-sized books, 2 workers) and ``demo``. Targets: each command ≤ 3 × the
calamine read and ≤ 400 MB peak (100k lines); ≤ 3 × and ≤ 2 GB (1,048,575 lines).

Peak RSS is the command's own: each command runs under a small Python wrapper whose only child it is,
and the wrapper reports ``RUSAGE_CHILDREN`` (the maximum over that one child and its workers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._util import BENCH_DIR, line, ratio
from benchmarks.bench_pipeline import full_book_xlsx

AS_OF = "2026-11-27"
EXCEL_LAST_ROW = 1_048_575
BIN = Path(sys.executable).parent

_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": rc, "wall": wall, "rss_mb": peak_kb / 1024}))
"""

_CALAMINE = ("import python_calamine, sys; "
             "python_calamine.CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_name('Charges').to_python()")


def measure(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> dict:
    """Run ``argv`` as its own process; wall seconds and peak RSS (MB) of it and its children."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], capture_output=True, text=True, cwd=cwd,
                          env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def million_book() -> Path:
    """The practice book with its charge lines grown to Excel's last row (1,048,575 lines: 603 cohorts
    of the sample's 1,740, cut at the last row)."""
    return full_book_xlsx(603, max_lines=EXCEL_LAST_ROW, name="pipeline-book-million")


def _commands(book: Path, work: Path) -> dict[str, tuple[list[str], Path | None]]:
    otbill = str(BIN / "otbill")
    return {
        "check --out": ([otbill, "check", str(book), "--out", str(work / "checked.xlsx"), "--as-of", AS_OF], None),
        "price --out": ([otbill, "price", str(book), "--out", str(work / "priced.xlsx"), "--as-of", AS_OF], None),
        "claims": ([otbill, "claims", str(book), "--out", str(work / "claims"), "--ledger",
                    str(work / "ledger.sqlite"), "--as-of", AS_OF], None),
    }


def _batch_and_demo(work: Path) -> dict[str, tuple[list[str], Path | None]]:
    from benchmarks.bench_claims import batch_inputs

    folder = batch_inputs(40)
    otbill = str(BIN / "otbill")
    return {
        "batch (40 sample books, 2 workers)": ([otbill, "batch", str(folder), "--out", str(work / "batch"),
                                                "--workers", "2", "--ledger", str(work / "batch.sqlite"),
                                                "--as-of", AS_OF], None),
        "demo": ([otbill, "demo", "--dest", str(work / "demo")], work),
    }


def _run_set(label: str, book: Path, targets: tuple[float, float], repeat: int) -> None:
    work = BENCH_DIR / "process"
    base = min((measure([sys.executable, "-c", _CALAMINE, str(book)]) for _ in range(repeat)),
               key=lambda m: m["wall"])
    print(f" {label}: python-calamine read of Charges in its own process {base['wall']:.2f} s, "
          f"{base['rss_mb']:.0f} MB")
    max_ratio, max_mb = targets
    jobs = _commands(book, work)
    if label.startswith("100"):
        jobs |= _batch_and_demo(work)
    for name, (argv, cwd) in jobs.items():
        best = None
        for _ in range(repeat):
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            env = os.environ | {"XDG_DATA_HOME": str(work / "xdg")}
            m = measure(argv, cwd=cwd, env=env)
            if best is None or m["wall"] < best["wall"]:
                best = m
        assert best is not None
        line(f"{name} (exit {best['rc']}, peak {best['rss_mb']:.0f} MB)", best["wall"])
        if "batch" not in name and "demo" not in name:
            ratio(f"{name} / calamine read", best["wall"] / base["wall"],
                  f"target ≤ {max_ratio:.0f}; peak {best['rss_mb']:.0f} MB, target ≤ {max_mb:.0f} MB")
    shutil.rmtree(work, ignore_errors=True)


def run() -> None:
    print("Whole-process benchmark (issue #11): commands as a biller runs them vs a calamine read")
    start = time.perf_counter()
    book = full_book_xlsx(58)
    _run_set("100,920 charge lines", book, (3, 400), repeat=1)
    if os.environ.get("OTBILL_BENCH_MILLION"):
        _run_set("1,048,575 charge lines", million_book(), (3, 2048), repeat=1)
    else:
        print(" (1,048,575 lines: set OTBILL_BENCH_MILLION=1; the book takes minutes to build once)")
    print(f" ({time.perf_counter() - start:.0f} s in all)")
