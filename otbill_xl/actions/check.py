"""The "Check charges" action, written once against the workbook port.

Read the book → scrub it (domain) → annotate the same port: offending cells filled (red error,
amber warning, blue info) with a note holding each message and fix, units computed for blank
``Units`` cells (green, with a note saying so), a ``Findings`` sheet sorted by severity with a link
to every cell, and a ``Check Summary`` sheet with counts by rule and severity. The CLI runs it on a
file adapter and saves an annotated copy; the ribbon button runs it on the open Excel book.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.sheets import COUNT, TEXT, Column, SheetSpec
from otbill_xl.domain.findings import Finding, Severity, count_by_severity
from otbill_xl.domain.money import MAX_UNITS
from otbill_xl.domain.scrub import RULES
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.port import FILL_COMPUTED, FILL_ERROR, FILL_INFO, FILL_WARNING, WorkbookPort
from otbill_xl.workbook.reader import ReadReport

FINDINGS_SHEET = "Findings"
SUMMARY_SHEET = "Check Summary"
_FILL = {Severity.ERROR: FILL_ERROR, Severity.WARNING: FILL_WARNING, Severity.INFO: FILL_INFO}
#: Excel caps a cell note's text; keep notes readable.
_NOTE_LIMIT = 1500


@dataclass(frozen=True)
class CheckOutcome:
    """What a check found and did."""

    findings: tuple[Finding, ...]
    lines_checked: int
    units_filled: int
    report: ReadReport
    as_of: date

    @property
    def summary(self) -> dict[str, int]:
        counts = count_by_severity(self.findings)
        return {"errors": counts["error"], "warnings": counts["warning"], "infos": counts["info"],
                "lines_checked": self.lines_checked, "units_filled": self.units_filled}

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def to_frame(self):
        """The findings as a pandas DataFrame (one row per finding, the JSON shape's columns)."""
        import pandas as pd

        return pd.DataFrame([f.to_dict() for f in self.findings],
                            columns=["rule", "severity", "sheet", "row", "column", "cell", "message", "fix"])

    def to_dict(self) -> dict[str, Any]:
        summary = self.summary
        summary.pop("units_filled")
        return {"findings": [f.to_dict() for f in self.findings], "summary": summary,
                "units_filled": self.units_filled, "as_of": self.as_of.isoformat()}


def _required(as_of: date | None) -> date:
    if as_of is None:
        raise TypeError("as_of is required without a pipeline")
    return as_of


def _order(f: Finding) -> tuple:
    return (f.severity.rank, f.location.sheet, f.location.row or 0, f.location.column, f.rule)


def check_charges(port: WorkbookPort, *, as_of: date | None = None, overrides: Overrides | None = None,
                  annotate: bool = True, group_by_discipline: bool = True,
                  pipeline: Pipeline | None = None) -> CheckOutcome:
    """Check the charge sheet in ``port`` as of ``as_of`` and (by default) annotate the port. With a
    ``pipeline`` (the same port), its read and scrub are used (and shared with price and claims)."""
    if pipeline is None:
        pipeline = Pipeline(port, as_of=_required(as_of), overrides=overrides, group_by_discipline=group_by_discipline)
    as_of, book, report, result = pipeline.as_of, pipeline.book, pipeline.report, pipeline.scrubbed
    findings = tuple(sorted(pipeline.findings, key=_order))
    units_filled = 0
    if annotate:
        units_filled = _fill_units(port, report, book.charges, result.computed_units, findings)
        annotate_cells(port, report, findings)
        _write_findings_sheet(port, findings)
        outcome = CheckOutcome(findings, result.lines_checked, units_filled, report, as_of)
        _write_summary_sheet(port, outcome)
        return outcome
    return CheckOutcome(findings, result.lines_checked, units_filled, report, as_of)


def _sheet_of(report: ReadReport, contract: str) -> str:
    s = report.sheet(contract)
    return s.sheet if s and s.sheet else contract


def _fill_units(port: WorkbookPort, report: ReadReport, charges, computed: dict[int, int],
                findings: tuple[Finding, ...]) -> int:
    """Write computed units into blank Units cells (never over something the biller typed)."""
    sheet_report = report.sheet("Charges")
    if not sheet_report:
        return 0
    column = sheet_report.index_of("Units")
    if not column:
        return 0
    sheet = sheet_report.sheet
    unreadable = {f.location.row for f in findings if f.location.sheet == sheet and f.location.column == "Units"
                  and f.rule.startswith("read.")}
    filled = 0
    for line in charges:
        if line.units is None and line.row in computed and line.row not in unreadable:
            units = computed[line.row]
            if not 0 <= units <= MAX_UNITS:  # from absurd Minutes: reported there, not written
                continue
            port.write_values(sheet, line.row, column, [[units]])
            port.fill(sheet, line.row, column, FILL_COMPUTED)
            port.note(sheet, line.row, column, f"otbill computed {units} unit(s) from the minutes under the payer's "
                                               "unit rule; the cell was blank.")
            filled += 1
    return filled


def annotate_cells(port: WorkbookPort, report: ReadReport, findings: tuple[Finding, ...]) -> None:
    """Fill each cell a finding points at (worst severity wins) and note every message and fix."""
    by_cell: dict[tuple[str, int, int], list[Finding]] = defaultdict(list)
    for f in findings:
        loc = f.location
        if not (loc.sheet and loc.row and loc.cell):
            continue
        contract = next((s for s in report.sheets if s.sheet == loc.sheet), None)
        column = contract.index_of(loc.column) if contract and loc.column else 0
        if not column:
            column = _column_from_cell(loc.cell)
        by_cell[(loc.sheet, loc.row, column)].append(f)
    for (sheet, row, column), items in by_cell.items():
        worst = min(items, key=lambda f: f.severity.rank).severity
        port.fill(sheet, row, column, _FILL[worst])
        text = "\n".join(f"{f.severity.value.upper()} [{f.rule}] {f.message}" + (f" Fix: {f.fix}" if f.fix else "")
                         for f in items)
        port.note(sheet, row, column, text[:_NOTE_LIMIT])


def _column_from_cell(cell: str) -> int:
    n = 0
    for ch in cell:
        if not ch.isalpha():
            break
        n = n * 26 + ord(ch.upper()) - 64
    return n


def _cell_ref(f: Finding) -> str:
    loc = f.location
    return f"{loc.sheet}!{loc.cell}" if loc.cell else loc.sheet


#: The Findings sheet: one row per finding, worst first (the Cell column links to the cell).
FINDINGS: SheetSpec[Finding] = SheetSpec(FINDINGS_SHEET, (
    Column("Severity", 10, TEXT, lambda f: f.severity.value),
    Column("Rule", 28, TEXT, lambda f: f.rule),
    Column("Cell", 16, TEXT, _cell_ref),
    Column("Sheet", 14, TEXT, lambda f: f.location.sheet),
    Column("Row", 7, COUNT, lambda f: f.location.row or ""),
    Column("Column", 14, TEXT, lambda f: f.location.column),
    Column("Message", 80, TEXT, lambda f: f.message),
    Column("Fix", 60, TEXT, lambda f: f.fix),
))


@dataclass(frozen=True)
class RuleCount:
    """One row of the Check Summary's table: how often a rule fired at a severity."""

    rule: str
    severity: Severity
    count: int


#: The Check Summary sheet's table of counts by rule and severity (below the Item/Value block).
CHECK_SUMMARY: SheetSpec[RuleCount] = SheetSpec(SUMMARY_SHEET, (
    Column("Rule", 34, TEXT, lambda c: c.rule),
    Column("Severity", 12, TEXT, lambda c: c.severity.value),
    Column("Count", 8, COUNT, lambda c: c.count),
    Column("What it checks", 80, TEXT, lambda c: _describe(c.rule)),
))


def _describe(rule: str) -> str:
    info = RULES.get(rule)
    return info.description if info else "reading the workbook"


def _write_findings_sheet(port: WorkbookPort, findings: tuple[Finding, ...]) -> None:
    FINDINGS.write(port, findings)
    cell = FINDINGS.index("Cell")
    for row, f in enumerate(findings, start=2):
        if f.location.cell:
            port.hyperlink(FINDINGS_SHEET, row, cell, f"#'{f.location.sheet}'!{f.location.cell}")
    for i, f in enumerate(findings, start=2):
        port.fill(FINDINGS_SHEET, i, FINDINGS.index("Severity"), _FILL[f.severity])


def _write_summary_sheet(port: WorkbookPort, outcome: CheckOutcome) -> None:
    s = outcome.summary
    above: list[list[Any]] = [
        ["Item", "Value"],
        ["Checked as of", outcome.as_of.isoformat()],
        ["Charge lines checked", s["lines_checked"]],
        ["Errors", s["errors"]],
        ["Warnings", s["warnings"]],
        ["Infos", s["infos"]],
        ["Units computed for blank cells", s["units_filled"]],
        [],
    ]
    counts = Counter((f.rule, f.severity) for f in outcome.findings)
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][1].rank, -kv[1], kv[0][0]))
    CHECK_SUMMARY.write(port, [RuleCount(rule, severity, n) for (rule, severity), n in ordered], above=above)
