"""The "Check charges" action, written once against the workbook port.

Read the book → scrub it (domain) → annotate the same port: offending cells filled (red error,
amber warning, blue info) with a note holding each message and fix, units computed for blank
``Units`` cells (green, with a note saying so), a ``Findings`` sheet sorted by severity with a link
to every cell and the line, patient, date, code and payer behind it, and a ``Check Summary`` sheet
with counts by rule title and severity under a short "what to do first" list. A cell gets one note
listing every finding on it (a later ``price`` on the same pipeline adds its findings to that note).
The CLI runs it on a file adapter and saves an annotated copy; the ribbon button runs it on the open
Excel book.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from otbill_xl.actions.finding_context import FindingContext, FindingRow, RuleCount, first_actions
from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.sheets import COUNT, DATE, TEXT, Column, SheetSpec
from otbill_xl.domain.findings import Finding, Severity, count_by_severity
from otbill_xl.domain.money import MAX_UNITS
from otbill_xl.domain.rule_titles import rule_title
from otbill_xl.domain.scrub import RULES
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.port import FILL_COMPUTED, FILL_ERROR, FILL_INFO, FILL_WARNING, WorkbookPort
from otbill_xl.workbook.reader import ReadReport, SheetReport

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
        notes = pipeline.cell_notes
        units_filled = _fill_units(port, report, book.charges, result.computed_units, findings, notes)
        annotate_cells(port, report, findings, notes)
        context = FindingContext(book, report)
        _write_findings_sheet(port, context.rows(findings))
        outcome = CheckOutcome(findings, result.lines_checked, units_filled, report, as_of)
        _write_summary_sheet(port, outcome, context)
        return outcome
    return CheckOutcome(findings, result.lines_checked, units_filled, report, as_of)


def _sheet_of(report: ReadReport, contract: str) -> str:
    s = report.sheet(contract)
    return s.sheet if s and s.sheet else contract


def _fill_units(port: WorkbookPort, report: ReadReport, charges, computed: dict[int, int],
                findings: tuple[Finding, ...], notes: CellNotes | None = None) -> int:
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
    notes = {} if notes is None else notes
    filled = 0
    for line in charges:
        if line.units is None and line.row in computed and line.row not in unreadable:
            units = computed[line.row]
            if not 0 <= units <= MAX_UNITS:  # from absurd Minutes: reported there, not written
                continue
            port.write_values(sheet, line.row, column, [[units]])
            port.fill(sheet, line.row, column, FILL_COMPUTED)
            text = f"otbill computed {units} unit(s) from the minutes under the payer's unit rule; the cell was blank."
            notes[(sheet, line.row, column)] = [(_COMPUTED_RANK, text)]
            port.note(sheet, line.row, column, text)
            filled += 1
    return filled


#: What otbill has noted on each cell in one run: (sheet, row, column) → (severity rank, entry) in
#: the order written. A note replaces the cell's note, so a second annotation of the cell (price
#: after check on one pipeline) writes the first one's entries again with its own.
CellNotes = dict[tuple[str, int, int], list[tuple[int, str]]]
#: The rank of the "computed units" entry: below every severity (it fills green, not a finding's colour).
_COMPUTED_RANK = 3
_SEVERITY_OF_RANK = {s.rank: s for s in Severity}


def note_entry(f: Finding) -> str:
    """One finding in a cell note: severity, plain title and rule id, then the message and the fix."""
    text = f"{f.severity.value.upper()}: {rule_title(f.rule)} [{f.rule}]\n{f.message}"
    return text + (f"\nFix: {f.fix}" if f.fix else "")


def note_text(entries: list[str], limit: int = _NOTE_LIMIT) -> str:
    """The entries of one cell note, a blank line apart; when they do not fit in ``limit`` characters,
    the first ones that do and a line saying how many more the Findings sheet lists."""
    text = "\n\n".join(entries)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for i, entry in enumerate(entries):
        more = f"... and {len(entries) - i} more: see the Findings sheet."
        if len("\n\n".join([*kept, entry, more])) > limit:
            if not kept:  # one entry longer than a note: cut it
                return entry[:limit - len(more) - 2] + "\n" + more
            return "\n\n".join([*kept, more])
        kept.append(entry)
    return "\n\n".join(kept)


def annotate_cells(port: WorkbookPort, report: ReadReport, findings: tuple[Finding, ...],
                   notes: CellNotes | None = None) -> None:
    """Fill each cell a finding points at (worst severity wins) and give it one note listing every
    finding on it, worst first, each with its severity, message and fix. ``notes`` (the pipeline's)
    holds what earlier annotations of this run put on the cells: their entries stay in the note."""
    by_cell: dict[tuple[str, int, int], list[Finding]] = defaultdict(list)
    contract_at: dict[str, SheetReport] = {}
    for s in report.sheets:
        if s.sheet:
            contract_at.setdefault(s.sheet, s)
    for f in findings:
        loc = f.location
        if not (loc.sheet and loc.row and loc.cell):
            continue
        contract = contract_at.get(loc.sheet)
        column = contract.index_of(loc.column) if contract and loc.column else 0
        if not column:
            column = _column_from_cell(loc.cell)
        by_cell[(loc.sheet, loc.row, column)].append(f)
    notes = {} if notes is None else notes
    for key, items in by_cell.items():
        entries = notes.setdefault(key, [])
        known = {text for _, text in entries}
        for f in items:
            text = note_entry(f)
            if text not in known:  # the same finding annotated twice is listed once
                known.add(text)
                entries.append((f.severity.rank, text))
        entries.sort(key=lambda e: e[0])  # worst first (stable: the order found within a severity)
        sheet, row, column = key
        worst = entries[0][0]
        port.fill(sheet, row, column, _FILL[_SEVERITY_OF_RANK[worst]] if worst in _SEVERITY_OF_RANK else FILL_COMPUTED)
        port.note(sheet, row, column, note_text([text for _, text in entries]))


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


def _sheet_row(r: FindingRow) -> int | str:
    return r.finding.location.row or ""


#: The Findings sheet: one row per finding, worst first, then by sheet and row. The Cell column links
#: to the cell; LineID, PatientID (an ID, never a name), DOS, Code and Payer say what the finding is
#: about (blank where it does not apply: a Patients-row finding has a PatientID and a Payer).
FINDINGS: SheetSpec[FindingRow] = SheetSpec(FINDINGS_SHEET, (
    Column("Severity", 10, TEXT, lambda r: r.finding.severity.value),
    Column("Rule title", 38, TEXT, lambda r: r.title),
    Column("Rule", 26, TEXT, lambda r: r.finding.rule),
    Column("Cell", 16, TEXT, lambda r: _cell_ref(r.finding)),
    Column("LineID", 22, TEXT, lambda r: r.line_id),
    Column("PatientID", 12, TEXT, lambda r: r.patient_id),
    Column("DOS", 11, DATE, lambda r: r.dos or ""),
    Column("Code", 8, TEXT, lambda r: r.code),
    Column("Payer", 12, TEXT, lambda r: r.payer),
    Column("Message", 80, TEXT, lambda r: r.finding.message),
    Column("Fix", 60, TEXT, lambda r: r.finding.fix),
    Column("Sheet", 14, TEXT, lambda r: r.finding.location.sheet),
    Column("Row", 7, COUNT, _sheet_row),
    Column("Column", 14, TEXT, lambda r: r.finding.location.column),
))


#: The Check Summary sheet's table of counts by rule title and severity, with the charge lines they
#: touch (below the Item/Value block and the "what to do first" list).
CHECK_SUMMARY: SheetSpec[RuleCount] = SheetSpec(SUMMARY_SHEET, (
    Column("Rule title", 44, TEXT, lambda c: c.title),
    Column("Severity", 12, TEXT, lambda c: c.severity.value),
    Column("Findings", 10, COUNT, lambda c: c.count),
    Column("Lines", 8, COUNT, lambda c: c.lines),
    Column("Rule", 30, TEXT, lambda c: c.rule),
    Column("What it checks", 80, TEXT, lambda c: _describe(c.rule)),
))


def _describe(rule: str) -> str:
    info = RULES.get(rule)
    if info:
        return info.description
    return "Pricing the line." if rule.startswith("price.") else "Reading the workbook."


def _write_findings_sheet(port: WorkbookPort, rows: list[FindingRow]) -> None:
    FINDINGS.write(port, rows)
    cell, severity = FINDINGS.index("Cell"), FINDINGS.index("Severity")
    for i, r in enumerate(rows, start=2):
        loc = r.finding.location
        if loc.cell:
            port.hyperlink(FINDINGS_SHEET, i, cell, f"#'{loc.sheet}'!{loc.cell}")
        port.fill(FINDINGS_SHEET, i, severity, _FILL[r.finding.severity])


def _write_summary_sheet(port: WorkbookPort, outcome: CheckOutcome, context: FindingContext) -> None:
    s = outcome.summary
    counts = context.rule_counts(outcome.findings)
    above: list[list[Any]] = [
        ["Item", "Value"],
        ["Checked as of", outcome.as_of.isoformat()],
        ["Charge lines checked", s["lines_checked"]],
        ["Errors", s["errors"]],
        ["Warnings", s["warnings"]],
        ["Infos", s["infos"]],
        ["Units computed for blank cells", s["units_filled"]],
        ["Lines held back by errors", context.lines_held_back(outcome.findings)],
        [],
        ["What to do first"],
        *([action] for action in first_actions(counts, outcome.findings)),
        [],
    ]
    CHECK_SUMMARY.write(port, counts, above=above)
