"""Issue #4 benchmark: price 1,000,000 loaded charge lines (mixed payers, MPPR grouping) against the
python-calamine read of the same lines from xlsx (target: pricing ≤ the read)."""

from __future__ import annotations

from benchmarks._util import calamine_rows, line, ratio, timed
from benchmarks.bench_scrub import charges_xlsx, million_line_book
from otbill_xl.domain.pricing import price_book


def run() -> None:
    book = million_line_book()
    n = len(book.charges)
    path = charges_xlsx(book.charges)
    print(f"Pricing benchmark: {n:,} charge lines in memory ({len(book.payers)} payers, MPPR on Medicare visits)")

    t_read = timed(lambda: calamine_rows(path), repeat=2)
    result = price_book(book)
    t_price = timed(lambda: price_book(book), repeat=3)
    priced = sum(1 for p in result.lines if p.expected_allowed is not None)
    mppr = sum(1 for p in result.lines if p.mppr_reduction)
    line(f"python-calamine read of the same {n:,} rows from xlsx", t_read)
    line("otbill price_book", t_price)
    print(f"  ({priced:,} lines priced, {mppr:,} with an MPPR reduction)")
    ratio("pricing / calamine read", t_price / t_read, "(target ≤ 1.00)")
