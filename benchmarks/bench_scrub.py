"""Issue #3 benchmarks.

1. Units + every scrub rule over 1,000,000 charge lines already loaded in memory, against the floor
   of reading those same rows from xlsx with python-calamine (measured in the same run).
   Target: scrub time ≤ the calamine read time.
2. ``OT_UNITS`` over 10,000 rows in one vectorised call vs 10,000 single-cell calls.

The million lines are the sample practice's 1,740 lines (realistic visits, payers, providers, POC and
auth windows) repeated for 575 cloned patient cohorts. So that the scrubber cannot simply reuse one
cohort's answers, each cohort's dates are shifted by 0-4 weeks (with its POC and authorization
windows) and every timed line's minutes are jittered by -3..+3 (units left as typed, so some lines
become over- or under-billed, as in real sheets).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import openpyxl

from benchmarks._util import BENCH_DIR, SAMPLE, calamine_rows, line, ratio, sample_tag, timed
from otbill_xl.domain._gc import gc_paused
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.models import ChargeLine
from otbill_xl.domain.scrub import scrub
from otbill_xl.excel.udfs import OT_UNITS, excel_safe
from otbill_xl.workbook.contract import CHARGES
from otbill_xl.workbook.reader import read_practice

COHORTS = 575
AS_OF = date(2026, 11, 27)


def _shift(d: date | None, delta: timedelta) -> date | None:
    return d + delta if d is not None else None


def million_line_book(cohorts: int | None = None) -> PracticeBook:
    """The sample practice repeated ``cohorts`` times (default :data:`COHORTS`: 1,000,500 lines; 58 give
    the 100,920-line book), each cohort's patients and dates shifted."""
    cohorts = COHORTS if cohorts is None else cohorts
    base, _ = read_practice(SAMPLE)
    rng = random.Random(3)
    patients, charges = [], []
    row = 2
    with gc_paused():
        for k in range(cohorts):
            suffix = f"-{k:03d}"
            delta = timedelta(weeks=k % 5)
            patients.extend(p.model_copy(update={
                "patient_id": p.patient_id + suffix, "poc_start": _shift(p.poc_start, delta),
                "poc_end": _shift(p.poc_end, delta), "auth_start": _shift(p.auth_start, delta),
                "auth_end": _shift(p.auth_end, delta)}) for p in base.patients)
            for c in base.charges:
                minutes = max(1, c.minutes + rng.randint(-3, 3)) if c.minutes else c.minutes
                charges.append(c._replace(row=row, line_id=c.line_id + suffix, patient_id=c.patient_id + suffix,
                                          dos=_shift(c.dos, delta), minutes=minutes))
                row += 1
    return PracticeBook(practice=base.practice, payers=base.payers, providers=base.providers,
                        patients=tuple(patients), charge_master=base.charge_master,
                        fee_schedule=base.fee_schedule, medicare_rvus=base.medicare_rvus,
                        medicare_gpcis=base.medicare_gpcis, charges=tuple(charges))


def charges_xlsx(lines: tuple[ChargeLine, ...]) -> Path:
    path = BENCH_DIR / f"scrub-charges-v2-{len(lines)}-{sample_tag()}.xlsx"
    if path.exists():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Charges")
    ws.append(list(CHARGES.column_names))
    for c in lines:
        ws.append([c.line_id, c.patient_id, c.dos, c.rendering_npi, c.code, c.mod1 or None, c.mod2 or None, None,
                   None, c.minutes, c.units, c.dx1 or None, c.dx2 or None, None, None, c.pos,
                   float(c.charge) if c.charge is not None else None, None, None, None])
    tmp = path.with_suffix(".part.xlsx")
    wb.save(tmp)
    tmp.replace(path)
    return path


def run_million() -> None:
    book = million_line_book()
    n = len(book.charges)
    path = charges_xlsx(book.charges)
    print(f"Scrub benchmark: {n:,} charge lines in memory (units + all scrub rules)")

    t_read = timed(lambda: calamine_rows(path), repeat=2)
    result = scrub(book, as_of=AS_OF)
    t_scrub = timed(lambda: scrub(book, as_of=AS_OF), repeat=3)
    line(f"python-calamine read of the same {n:,} rows from xlsx", t_read)
    line("otbill units + all scrub rules", t_scrub)
    print(f"  ({result.lines_checked:,} lines checked, {len(result.findings):,} findings)")
    ratio("scrub / calamine read", t_scrub / t_read, "(target ≤ 1.00)")


def run_udf() -> None:
    rows = 10_000
    codes = [["97110"], ["97140"], ["97530"], ["97535"]] * (rows // 4)
    minutes = [[float(8 + (i * 7) % 46)] for i in range(rows)]
    visits = [[f"P{i // 4}"] for i in range(rows)]

    # through excel_safe, as the add-in's @xw.func calls it; Excel's own cost per call (a COM round trip
    # per cell, milliseconds) is not in here, so the real gap in Excel is larger than this ratio
    def one_call():
        return excel_safe(OT_UNITS, codes, minutes, "cms", visits)

    def single_calls():
        return [excel_safe(OT_UNITS, [c], [m], "cms") for c, m in zip(codes, minutes, strict=True)]

    t_one = timed(one_call, repeat=3)
    t_many = timed(single_calls, repeat=3)
    print(f"OT_UNITS benchmark: {rows:,} rows")
    line("one vectorised call (2,500 visits of 4 codes, CMS)", t_one)
    line(f"{rows:,} single-cell calls", t_many)
    ratio("single calls / one call", t_many / t_one, "(how much faster the vectorised call is)")


def run() -> None:
    run_million()
    print()
    run_udf()
