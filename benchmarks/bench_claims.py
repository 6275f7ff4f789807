"""Issue #5 benchmarks.

1. Claim assembly + 837P writing for ~100,000 charge lines (scrub already done), in claims/s, and the
   ratio to python-calamine's read of the same lines from xlsx (target ≤ 0.5).
2. Batch of 40 sample-sized workbooks (distinct practices): ``--workers 2`` vs ``--workers 1``
   (target ≥ 1.7× on 2 cores), and the parent process's peak RSS for 10 and 40 inputs (flat).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from benchmarks._util import BENCH_DIR, calamine_rows, line, ratio, sample_tag, timed
from benchmarks.bench_scrub import SAMPLE, charges_xlsx

AS_OF = date(2026, 11, 27)


def run_write() -> None:
    import benchmarks.bench_scrub as bs
    from otbill_xl.domain.claims import assemble_claims
    from otbill_xl.domain.scrub import scrub
    from otbill_xl.formats.x12 import ControlNumbers, write_837p

    book = bs.million_line_book(58)  # 58 × 1,740 = 100,920 lines
    n = len(book.charges)
    path = charges_xlsx(book.charges)
    scrubbed = scrub(book, as_of=AS_OF)

    def assemble():
        return assemble_claims(book, scrubbed.findings, computed_units=scrubbed.computed_units)

    assembly = assemble()
    by_payer: dict[str, list] = {}
    for c in assembly.claims:
        by_payer.setdefault(c.payer.payer_key, []).append(c)

    def write():
        return sum(len(write_837p(claims, book.practice, ControlNumbers(i, i, i), created=datetime(2026, 11, 27)).text)
                   for i, claims in enumerate(by_payer.values(), start=1))

    size = write()
    t_read = timed(lambda: calamine_rows(path), repeat=3)
    t_assemble = timed(assemble, repeat=3)
    t_write = timed(write, repeat=3)
    claims = len(assembly.claims)
    print(f"837P benchmark: {n:,} charge lines → {claims:,} claims, "
          f"{sum(len(c.lines) for c in assembly.claims):,} billed lines, {size / 1e6:.1f} MB of X12")
    line(f"python-calamine read of the same {n:,} rows", t_read)
    line("claim assembly (grouping, splits, diagnosis pointers, ClaimIDs)", t_assemble)
    line("837P writing (5 files)", t_write)
    print(f"  writer {claims / t_write:,.0f} claims/s; assembly + writer {claims / (t_assemble + t_write):,.0f} claims/s")
    ratio("837P writing / calamine read", t_write / t_read, "(target ≤ 0.50)")
    ratio("(assembly + writing) / calamine read", (t_assemble + t_write) / t_read, "(target ≤ 0.50)")

    # For comparison: --group period (one claim per patient per month, split at 50 lines / 12 dx).
    def period():
        a = assemble_claims(book, scrubbed.findings, computed_units=scrubbed.computed_units, group="period")
        grouped: dict[str, list] = {}
        for c in a.claims:
            grouped.setdefault(c.payer.payer_key, []).append(c)
        for i, claims in enumerate(grouped.values(), start=1):
            write_837p(claims, book.practice, ControlNumbers(i, i, i), created=datetime(2026, 11, 27))
        return len(a.claims)

    t_period = timed(period, repeat=3)
    print(f"  --group period: {period():,} claims, assembly + writing {t_period:.3f} s "
          f"({t_period / t_read:.2f} x the read)")


def batch_inputs(count: int) -> Path:
    """``count`` copies of the sample practice, each with its own billing NPI (distinct practices)."""
    import openpyxl

    from otbill_xl.domain.npi import calc_check_digit

    folder = BENCH_DIR / f"batch-inputs-{sample_tag()}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        target = folder / f"practice-{i:02d}.xlsx"
        if target.exists():
            continue
        wb = openpyxl.load_workbook(SAMPLE)
        ws = wb["Practice"]
        for row in ws.iter_rows(min_row=2):
            if row[0].value == "BillingNPI":
                body = f"19{i:07d}"
                row[1].value = body + calc_check_digit(body)
        tmp = target.with_suffix(".part.xlsx")
        wb.save(tmp)
        tmp.replace(target)
    return folder


_CHILD = """
import json, sys, time, shutil
from datetime import date, datetime
from pathlib import Path
from otbill_xl.actions.batch import run_batch
inputs, out, workers = sys.argv[1:4]
files = sorted(Path(inputs).glob('practice-*.xlsx'))[: int(sys.argv[4])]
shutil.rmtree(out, ignore_errors=True)
start = time.perf_counter()
result = run_batch([str(f) for f in files], Path(out), ledger_path=Path(out) / 'ledger.sqlite', workers=int(workers),
                   as_of=date(2026, 11, 27), created=datetime(2026, 11, 27, 12, 0))
# Peak RSS of this process: VmHWM (ru_maxrss would carry over the launching process's peak, which
# Linux keeps across exec; the 1,000,000-line benchmarks before this one leave a large one).
hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))
print(json.dumps({'seconds': time.perf_counter() - start, 'counts': result.counts, 'rss_mb': hwm / 1024}))
"""


def _batch(inputs: Path, workers: int, count: int) -> dict:
    out = BENCH_DIR / f"batch-out-{workers}-{count}"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(inputs), str(out), str(workers), str(count)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_batch_bench() -> None:
    inputs = batch_inputs(40)
    print("Batch benchmark: 40 sample-sized workbooks (1,740 lines each), check → price → claims")
    one = _batch(inputs, 1, 40)
    two = _batch(inputs, 2, 40)
    ten = _batch(inputs, 2, 10)
    line("--workers 1, 40 inputs", one["seconds"])
    line("--workers 2, 40 inputs", two["seconds"])
    ratio("speedup workers 2 / workers 1", one["seconds"] / two["seconds"], "(target ≥ 1.70)")
    print(f"  parent peak RSS: {ten['rss_mb']:.0f} MB for 10 inputs, {two['rss_mb']:.0f} MB for 40 inputs "
          f"(outcomes: {two['counts']})")


def run() -> None:
    run_write()
    print()
    time.sleep(0)
    run_batch_bench()
