"""One workbook, one read, one scrub: the pipeline every surface runs on.

``check``, ``price`` and ``claims`` — from the CLI, the ribbon, ``demo`` and ``batch`` — each take a
:class:`Pipeline`: the workbook is read through the port once and scrubbed once, then checked,
priced and billed from the same records and findings (reconciliation plugs in the same way). Each
stage is computed on first use and kept.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.pricing import PricingResult, price_book
from otbill_xl.domain.scrub import ScrubResult, scrub
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.port import WorkbookPort
from otbill_xl.workbook.reader import PracticeRead, ReadReport, read_book


class Pipeline:
    """A workbook's records and results, each stage computed once (see the module doc)."""

    def __init__(self, port: WorkbookPort, *, as_of: date, overrides: Overrides | None = None,
                 group_by_discipline: bool = True) -> None:
        self.port = port
        self.as_of = as_of
        self.overrides = overrides
        self.group_by_discipline = group_by_discipline

    @cached_property
    def read(self) -> PracticeRead:
        return read_book(self.port, overrides=self.overrides)

    @property
    def book(self) -> PracticeBook:
        return self.read.book

    @property
    def report(self) -> ReadReport:
        return self.read.report

    @cached_property
    def scrubbed(self) -> ScrubResult:
        return scrub(self.book, as_of=self.as_of, group_by_discipline=self.group_by_discipline)

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        """Reading and scrub findings, located on their cells (read findings first)."""
        report = self.report
        return tuple(report.locate(f) for f in (*report.findings, *self.scrubbed.findings))

    @cached_property
    def rejected_rows(self) -> frozenset[int]:
        """Charge rows with an error: a scrub error, or a cell that could not be read (an Excel error
        cell, an out-of-range value). Priced anyway, flagged; never billed."""
        rows = {f.location.row for f in self.scrubbed.findings
                if f.severity is Severity.ERROR and f.location.sheet == "Charges" and f.location.row}
        charges = self.report.sheet("Charges")
        if charges and charges.sheet:
            rows |= {f.location.row for f in self.report.errors if f.location.sheet == charges.sheet and f.location.row}
        return frozenset(rows)

    @cached_property
    def pricing(self) -> PricingResult:
        return price_book(self.book, units=self.scrubbed.computed_units, flagged_rows=self.rejected_rows)
