"""Issue #10 §1 benchmark: the full pipeline (check + price + claims) against ``check`` alone, on the
sample-sized book and a 100,920-line book (the sample's 1,740 lines × 58 cohorts of its patients).

"before": each job reads and scrubs the workbook itself (three reads, three scrubs), as the commands
did before the shared pipeline; "after": one :class:`Pipeline` reads once and scrubs once. In-process,
without annotation (the openpyxl writing is issue #11's benchmark) and claims as a dry run (837P text
built in memory, nothing written). Target: the full pipeline ≤ 1.4 × check alone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl

from benchmarks._util import BENCH_DIR, line, ratio, sample_tag, timed
from benchmarks.bench_scrub import SAMPLE

AS_OF = date(2026, 11, 27)
CREATED = datetime(2026, 11, 27, 10, 0)
COHORTS = 58


def full_book_xlsx(cohorts: int, *, max_lines: int | None = None, name: str = "") -> Path:
    """The sample workbook with its patients and charge lines repeated ``cohorts`` times (IDs suffixed,
    dates shifted by whole weeks), every other sheet as it is; at most ``max_lines`` charge lines."""
    if cohorts == 1:
        return SAMPLE
    path = BENCH_DIR / f"{name or f'pipeline-book-{cohorts}'}-{sample_tag()}.xlsx"
    if path.exists():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    src = openpyxl.load_workbook(SAMPLE)
    out = openpyxl.Workbook(write_only=True)
    for ws in src.worksheets:
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        target = out.create_sheet(ws.title)
        if ws.title not in ("Patients", "Charges") or not rows:
            for r in rows:
                target.append(r)
            continue
        header = rows[0]
        target.append(header)
        ids = [header.index(c) for c in ("LineID", "PatientID") if c in header]
        dates = [i for i, h in enumerate(header) if h in ("DOS", "POCStart", "POCEnd", "AuthStart", "AuthEnd")]
        written = 0
        for k in range(cohorts):
            delta = timedelta(weeks=k % 5)
            for r in rows[1:]:
                if not any(v not in (None, "") for v in r):
                    continue
                if ws.title == "Charges" and max_lines is not None:
                    if written >= max_lines:
                        break
                    written += 1
                r = list(r)
                for i in ids:
                    if r[i] not in (None, ""):
                        r[i] = f"{r[i]}-{k:03d}"
                for i in dates:
                    if hasattr(r[i], "year"):
                        r[i] = r[i] + delta
                target.append(r)
    tmp = path.with_suffix(".part.xlsx")
    out.save(tmp)
    tmp.replace(path)
    return path


def _jobs(path: Path):
    from otbill_xl.actions.check import check_charges
    from otbill_xl.actions.claims import create_claims
    from otbill_xl.actions.pipeline import Pipeline
    from otbill_xl.actions.price import price_charges
    from otbill_xl.ledger import Ledger
    from otbill_xl.workbook.files import FileWorkbook

    nowhere = BENCH_DIR / "no-such-ledger.sqlite"

    def claims(port, pipeline=None):
        with Ledger(nowhere, readonly=True) as lg:  # does not exist: nothing billed; nothing created
            return create_claims(port, out_dir=BENCH_DIR / "unused", ledger=lg, as_of=AS_OF, created=CREATED,
                                 dry_run=True, annotate=False, pipeline=pipeline)

    def check_alone():
        return check_charges(FileWorkbook(path), as_of=AS_OF, annotate=False)

    def before():  # each job on its own: three reads, three scrubs
        port = FileWorkbook(path)
        check_charges(FileWorkbook(path), as_of=AS_OF, annotate=False)
        price_charges(FileWorkbook(path), as_of=AS_OF, annotate=False)
        return claims(port)

    def after():  # one pipeline
        port = FileWorkbook(path)
        pipe = Pipeline(port, as_of=AS_OF, prices=True)
        check_charges(port, pipeline=pipe, annotate=False)
        price_charges(port, pipeline=pipe, annotate=False)
        return claims(port, pipe)

    return check_alone, before, after


def run() -> None:
    print("Pipeline benchmark (issue #10): check + price + claims vs check alone (target after ≤ 1.4×)")
    for cohorts in (1, COHORTS):
        path = full_book_xlsx(cohorts)
        check_alone, before, after = _jobs(path)
        n = len(after().assembly.claims)
        repeat = 9 if cohorts == 1 else 2  # (the sample-size runs take ~0.1 s: more runs for a steady median)
        t_check = timed(check_alone, repeat=repeat)
        t_before = timed(before, repeat=repeat)
        t_after = timed(after, repeat=repeat)
        print(f" {1740 * cohorts:,} charge lines ({n:,} claims would be billed):")
        line("check alone (read + scrub)", t_check)
        line("check + price + claims, each reading the workbook (before)", t_before)
        line("check + price + claims on one pipeline (after)", t_after)
        ratio("before / check alone", t_before / t_check)
        ratio("after / check alone", t_after / t_check, "target ≤ 1.4")
