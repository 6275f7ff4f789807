"""What each finding is about, for the Findings and Check Summary sheets.

A finding points at a cell; a biller filtering the Findings sheet wants the line behind it: its
LineID, PatientID (an ID, never a name), date of service, code and payer. :class:`FindingContext`
looks them up by worksheet row (dicts built once per check, so a million-line book costs one pass
per sheet, not one per finding). It also counts the charge lines each rule's findings hold back —
as claim assembly does (``domain/claims._blocking_findings``): an error on a Charges row holds that
line, on a Patients row the patient's lines, on a Payers row the lines of the payer's patients, on
the Practice sheet every line — and words the Check Summary's "what to do first" list from it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import NamedTuple

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.findings import Finding, Severity, printable
from otbill_xl.domain.models import ChargeLine, Patient, Payer
from otbill_xl.domain.rule_titles import rule_title
from otbill_xl.workbook.reader import ReadReport

#: The contract sheets whose rows a finding's context is read from.
CHARGES, PATIENTS, PAYERS, PRACTICE = "Charges", "Patients", "Payers", "Practice"
#: At most this many actions in the "what to do first" list.
FIRST_ACTIONS = 5
#: A fix quoted in the list is cut to this length (the Findings row has it whole).
_FIX_SHOWN = 160


class FindingRow(NamedTuple):
    """One row of the Findings sheet: the finding and the line, patient and payer it concerns
    (blank where it does not apply: a Patients-row finding has a PatientID and a payer only)."""

    finding: Finding
    title: str
    line_id: str = ""
    patient_id: str = ""
    dos: date | None = None
    code: str = ""
    payer: str = ""


@dataclass(frozen=True)
class RuleCount:
    """One row of the Check Summary's table: how often a rule fired at a severity, and how many
    charge lines those findings touch (an error holds them back)."""

    rule: str
    severity: Severity
    count: int
    lines: int = 0

    @property
    def title(self) -> str:
        return rule_title(self.rule)


@dataclass
class _Reach:
    """The charge lines one rule's findings (at one severity) touch, kept as what identifies them."""

    rows: set[int]
    patients: set[str]
    payers: set[str]
    everywhere: bool = False
    count: int = 0


class FindingContext:
    """Looks up the line, patient and payer behind findings of one read book."""

    def __init__(self, book: PracticeBook, report: ReadReport) -> None:
        self.book = book
        # A finding names the workbook's own sheet ("Jan visits") once located, the contract's name
        # ("Charges") before: both map to the contract sheet.
        self._contract_of = {c: c for c in (CHARGES, PATIENTS, PAYERS, PRACTICE)}
        self._contract_of.update({s.sheet: s.contract for s in report.sheets if s.sheet})

    def contract_sheet(self, f: Finding) -> str:
        return self._contract_of.get(f.location.sheet, f.location.sheet)

    @cached_property
    def _charges_at(self) -> dict[int, ChargeLine]:
        return {line.row: line for line in self.book.charges}

    @cached_property
    def _patients_at(self) -> dict[int, Patient]:
        return {p.row: p for p in self.book.patients if p.row}

    @cached_property
    def _payers_at(self) -> dict[int, Payer]:
        return {p.row: p for p in self.book.payers if p.row}

    @cached_property
    def _payer_of_patient(self) -> dict[str, str]:
        return {p.patient_id: p.payer_key for p in self.book.patients}

    @cached_property
    def _lines_of_patient(self) -> Counter[str]:
        return Counter(line.patient_id for line in self.book.charges)

    @cached_property
    def _lines_of_payer(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        payer_of = self._payer_of_patient
        for patient, n in self._lines_of_patient.items():
            counts[payer_of.get(patient, "")] += n
        return counts

    def row(self, f: Finding) -> FindingRow:
        """The Findings-sheet row of ``f``."""
        title = rule_title(f.rule)
        at = f.location.row
        if not at:
            return FindingRow(f, title)
        sheet = self.contract_sheet(f)
        if sheet == CHARGES:
            line = self._charges_at.get(at)
            if line is None:  # a row the reader could not turn into a line (an unreadable cell)
                return FindingRow(f, title)
            return FindingRow(f, title, line.line_id, line.patient_id, line.dos, line.code,
                              self._payer_of_patient.get(line.patient_id, ""))
        if sheet == PATIENTS:
            patient = self._patients_at.get(at)
            return FindingRow(f, title, patient_id=patient.patient_id, payer=patient.payer_key) if patient else \
                FindingRow(f, title)
        if sheet == PAYERS:
            payer = self._payers_at.get(at)
            return FindingRow(f, title, payer=payer.payer_key) if payer else FindingRow(f, title)
        return FindingRow(f, title)

    def rows(self, findings: Iterable[Finding]) -> list[FindingRow]:
        return [self.row(f) for f in findings]

    # --- the lines findings touch --------------------------------------------------------------

    def _reach(self, findings: Iterable[Finding]) -> dict[tuple[str, Severity], _Reach]:
        reach: dict[tuple[str, Severity], _Reach] = defaultdict(lambda: _Reach(set(), set(), set()))
        for f in findings:
            r = reach[(f.rule, f.severity)]
            r.count += 1
            at = f.location.row
            sheet = self.contract_sheet(f)
            if sheet == CHARGES and at:
                r.rows.add(at)
            elif sheet == PATIENTS and at in self._patients_at:
                r.patients.add(self._patients_at[at].patient_id)
            elif sheet == PAYERS and at in self._payers_at:
                r.payers.add(self._payers_at[at].payer_key)
            elif sheet == PRACTICE:
                r.everywhere = True
        return reach

    def _lines(self, reach: _Reach) -> int:
        total = len(self.book.charges)
        if reach.everywhere:
            return total
        n = len(reach.rows)
        if reach.patients:
            n += sum(self._lines_of_patient[p] for p in reach.patients)
        if reach.payers:
            n += sum(self._lines_of_payer[k] for k in reach.payers)
        return min(n, total)  # (a rule firing on a line and on its patient counts the line twice: capped)

    def rule_counts(self, findings: Iterable[Finding]) -> list[RuleCount]:
        """Counts by rule and severity: errors first, then the rules touching most lines."""
        counts = [RuleCount(rule, severity, r.count, self._lines(r))
                  for (rule, severity), r in self._reach(findings).items()]
        return sorted(counts, key=lambda c: (c.severity.rank, -c.lines, -c.count, c.title, c.rule))

    def lines_held_back(self, findings: Iterable[Finding]) -> int:
        """Charge lines at least one error holds back (each line once)."""
        errors = [f for f in findings if f.severity is Severity.ERROR]
        if not errors:
            return 0
        if any(self.contract_sheet(f) == PRACTICE for f in errors):
            return len(self.book.charges)
        merged = _Reach(set(), set(), set())
        for r in self._reach(errors).values():
            merged.rows |= r.rows
            merged.patients |= r.patients
            merged.payers |= r.payers
        if not (merged.patients or merged.payers):
            return len(merged.rows)
        payer_of = self._payer_of_patient
        return sum(1 for line in self.book.charges
                   if line.row in merged.rows or line.patient_id in merged.patients
                   or payer_of.get(line.patient_id, "") in merged.payers)


def first_actions(counts: list[RuleCount], findings: Iterable[Finding], limit: int = FIRST_ACTIONS) -> list[str]:
    """The "what to do first" list: errors before warnings, each ordered by the lines it holds back,
    in words with the count and the fix (infos ask for nothing). A rule that fired once names its cell."""
    fixes: dict[tuple[str, Severity], set[str]] = defaultdict(set)
    cells: dict[tuple[str, Severity], str] = {}
    for f in findings:
        fixes[(f.rule, f.severity)].add(f.fix)
        if f.location.cell:
            cells[(f.rule, f.severity)] = f"{f.location.sheet}!{f.location.cell}"
    todo = [c for c in counts if c.severity is not Severity.INFO][:limit]
    if not todo:
        return ["Nothing holds a line back: no errors or warnings."]
    out = []
    for i, c in enumerate(todo, start=1):
        error = c.severity is Severity.ERROR
        if c.lines:
            what = f"{c.lines} line{'s' if c.lines != 1 else ''} {'held back' if error else 'to review'}"
            if c.count != c.lines:
                what += f" ({c.count} finding{'s' if c.count != 1 else ''})"
        else:
            what = f"{c.count} {c.severity.value}{'s' if c.count != 1 else ''}"
        shown = fixes[(c.rule, c.severity)] - {""}
        fix = (printable(next(iter(shown)), _FIX_SHOWN) if len(shown) == 1
               else "fix each as its Findings row says." if shown else "see its Findings rows.")
        where = cells.get((c.rule, c.severity), "") if c.count == 1 else ""
        see = f"see {where}, rule {c.rule}" if where else f"see Findings, rule {c.rule}"
        out.append(f"{i}. {what}: {c.title}. {fix[0].upper() + fix[1:]} ({see})")
    return out
