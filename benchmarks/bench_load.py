"""Issue #2 benchmark: loading a 100,000-row Charges sheet.

Baselines measured in the same run: python-calamine's raw read of the sheet (values only) and
openpyxl's read-only mode. Target: otbill's load into typed charge lines ≤ 1.3 × the raw calamine read.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import openpyxl

from benchmarks._util import BENCH_DIR, calamine_rows, line, ratio, timed
from otbill_xl.domain._gc import gc_paused
from otbill_xl.workbook.contract import CHARGES
from otbill_xl.workbook.reader import read_practice

ROWS = 100_000
CODES = ["97110", "97112", "97140", "97530", "97535", "97165", "97150", "97018"]
DX = ["M62.81", "R26.89", "S52.501A", "G81.94", "I69.351", "M19.041"]


def charges_workbook(rows: int = ROWS):
    path = BENCH_DIR / f"charges-{rows}.xlsx"
    if path.exists():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Charges")
    ws.append(list(CHARGES.column_names))
    start = date(2026, 8, 3)
    for i in range(rows):
        code = rng.choice(CODES)
        timed_code = code not in ("97165", "97150", "97018")
        minutes = rng.randint(8, 53) if timed_code else None
        units = (minutes + 7) // 15 if timed_code else 1
        ws.append([f"L{i:07d}", f"P{rng.randint(1, 400):04d}", start + timedelta(days=rng.randint(0, 90)),
                   "1234567893", code, "GO", "CO" if rng.random() < 0.2 else None, None, None, minutes, units,
                   rng.choice(DX), rng.choice(DX) if rng.random() < 0.5 else None, None, None, "11",
                   round(65.0 * units, 2), None, None, None])
    tmp = path.with_suffix(".part.xlsx")
    wb.save(tmp)
    tmp.replace(path)
    return path


def run() -> None:
    path = charges_workbook()
    print(f"Load benchmark: {ROWS:,} charge rows ({path.name})")

    def calamine_raw():
        return calamine_rows(path)

    def calamine_raw_gc_paused():
        with gc_paused():
            return calamine_raw()

    def openpyxl_read_only():
        wb = openpyxl.load_workbook(path, read_only=True)
        rows = list(wb["Charges"].iter_rows(values_only=True))
        wb.close()
        return rows

    def otbill_load():
        book, report = read_practice(path)
        assert len(book.charges) == ROWS, len(book.charges)
        return book

    t_cal = timed(calamine_raw, repeat=5)
    t_cal_nogc = timed(calamine_raw_gc_paused, repeat=5)
    t_ours = timed(otbill_load, repeat=5)
    t_opx = timed(openpyxl_read_only, repeat=1)
    line("python-calamine raw read (values only)", t_cal)
    line("python-calamine raw read, cyclic GC paused as otbill does", t_cal_nogc)
    line("openpyxl read-only read", t_opx)
    line("otbill load into typed ChargeLine records", t_ours)
    ratio("otbill load / calamine raw read", t_ours / t_cal, "(target ≤ 1.30)")
    ratio("otbill load / calamine raw read with GC paused too", t_ours / t_cal_nogc, "(stricter: same GC setting)")
    ratio("openpyxl read-only / otbill load", t_opx / t_ours, "(otbill is this many times faster)")
