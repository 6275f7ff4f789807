"""Reconcile payments: read the remittances (835 files or clearinghouse CSV exports), match them to
what the workbook billed, post what can be posted safely to ``Payments``, and write the
``Reconciliation``, ``Exceptions``, ``Denials`` and ``AR Aging`` sheets (issue #13).

Built on the one pipeline (the workbook is read and scrubbed once; pricing gives each line's expected
amounts) and the ledger (which lines were billed in which claim; which remittance lines were posted).

Safe by default:

* a remittance line is posted once: its key (payer, trace, CLP, SVC — :func:`remit_line_key`) is
  recorded in the ledger and written as the PaymentID of its Payments rows; the same remittance read
  again, from another copy or under another name, is ``already_posted``;
* postings are recorded as pending before the copy is written and settled after (a run that stops in
  between releases them on the next start), so the ledger and the written copies agree;
* unmatched lines and duplicate payments go to ``Exceptions``, never to ``Payments``;
* ``dry_run`` writes nothing: no copy, no ledger entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from otbill_xl.actions.claims import practice_key, service_keys
from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.sheets import COUNT, DATE, MONEY, PERCENT, TEXT, Column, SheetSpec, money_text
from otbill_xl.domain.charge_master import charge_master_by_code, charge_master_charge
from otbill_xl.domain.claims import assemble_claims
from otbill_xl.domain.denials import plb_reason
from otbill_xl.domain.findings import Finding, printable
from otbill_xl.domain.identity import prior_billing
from otbill_xl.domain.reconcile import (
    STATUSES,
    ZERO,
    ChargeOnFile,
    ExceptionItem,
    LineResult,
    PaymentRow,
    PriorPostings,
    ProviderAdjustmentLine,
    Reconciliation,
    RemitSource,
    RemitSummary,
    reconcile,
)
from otbill_xl.errors import OtbillError
from otbill_xl.formats.x12.read835 import Remittance, X835Error, read_835, remittance_findings
from otbill_xl.ledger.store import Ledger
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.port import FILL_COMPUTED, FILL_ERROR, WorkbookPort

RECONCILIATION_SHEET = "Reconciliation"
EXCEPTIONS_SHEET = "Exceptions"


#: The Practice setting holding the payment tolerance: a line paid within this many dollars of its
#: expected amount is ``paid`` (default $0.01; ``otbill reconcile --tolerance`` overrides it).
TOLERANCE_SETTING = "PaymentTolerance"
DEFAULT_TOLERANCE = Decimal("0.01")


def payment_tolerance(text: str) -> Decimal:
    """The tolerance a Practice setting gives (blank: $0.01). A value that is not a non-negative amount
    is refused, naming the setting (it decides which lines are under- or overpaid)."""
    text = str(text or "").strip().lstrip("$")
    if not text:
        return DEFAULT_TOLERANCE
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise OtbillError(f"the Practice setting {TOLERANCE_SETTING} {text[:20]!r} is not an amount in dollars; "
                          "write e.g. 0.01 (or leave it blank for one cent)")
    return value


class RemitFile(NamedTuple):
    """A remittance file's name (shown in messages) and its bytes."""

    name: str
    data: bytes


class Unreadable(OtbillError):
    message = "A remittance file cannot be read."


def read_remittance_file(f: RemitFile, *, csv_preset: str | None = None,
                         csv_mapping: dict[str, str] | None = None) -> tuple[Remittance, ...]:
    """An 835 (the text starts with ISA, after a byte-order mark or blanks) or a clearinghouse CSV
    export (formats.remit_csv: a preset found from the header row or named, and the user's column
    mapping, our field → their header)."""
    head = f.data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:3].upper() == b"ISA":
        return read_835(f.data, f.name)
    from otbill_xl.formats.remit_csv import read_remit_csv  # only when a CSV is given

    return read_remit_csv(f.data, f.name, preset=csv_preset, mapping=csv_mapping)


# ------------------------------------------------------------------------------------------------
# Output sheets
# ------------------------------------------------------------------------------------------------

def _v(name: str):
    return lambda r: getattr(r.variance, name)


RECONCILIATION: SheetSpec[LineResult] = SheetSpec(RECONCILIATION_SHEET, (
    Column("Status", 20, TEXT, lambda r: r.status),
    Column("ClaimID", 22, TEXT, lambda r: r.claim_id),
    Column("LineID", 14, TEXT, lambda r: r.line_id),
    Column("PayerKey", 12, TEXT, lambda r: r.payer_key),
    Column("DOS", 11, DATE, lambda r: r.dos),
    Column("Code", 8, TEXT, lambda r: r.code),
    Column("Modifiers", 11, TEXT, lambda r: " ".join(r.modifiers)),
    Column("Billed", 11, MONEY, lambda r: r.billed, total="sum"),
    Column("ExpectedAllowed", 13, MONEY, lambda r: r.expected_allowed, total="sum"),
    Column("Allowed", 11, MONEY, lambda r: r.allowed, total="sum"),
    Column("Paid", 11, MONEY, lambda r: r.paid, total="sum"),
    Column("PatientResp", 12, MONEY, lambda r: r.patient_responsibility, total="sum"),
    Column("Contractual", 12, MONEY, _v("contractual"), total="sum"),
    Column("MPPR", 10, MONEY, _v("mppr"), total="sum"),
    Column("Assistant", 10, MONEY, _v("assistant"), total="sum"),
    Column("Sequestration", 12, MONEY, _v("sequestration"), total="sum"),
    Column("Denied", 10, MONEY, _v("denied"), total="sum"),
    Column("Unexplained", 12, MONEY, _v("unexplained"), total="sum"),
    Column("Adjustments", 28, TEXT, lambda r: "; ".join(f"{g}-{c} {a:.2f}" for g, c, a in r.adjustments)),
    Column("CARC", 9, TEXT, lambda r: r.carc),
    Column("Remarks", 12, TEXT, lambda r: " ".join(r.remarks)),
    Column("MatchedBy", 22, TEXT, lambda r: r.match_by or r.claim_match_by),
    Column("Confidence", 10, PERCENT, lambda r: r.confidence if r.match_by else None),
    Column("CheckNumber", 16, TEXT, lambda r: r.trace),
    Column("PaymentDate", 11, DATE, lambda r: r.payment_date),
    Column("PayerClaimNumber", 18, TEXT, lambda r: r.payer_claim_number),
    Column("File", 24, TEXT, lambda r: r.file),
    Column("Note", 50, TEXT, lambda r: r.note),
))

EXCEPTIONS: SheetSpec[ExceptionItem] = SheetSpec(EXCEPTIONS_SHEET, (
    Column("Kind", 20, TEXT, lambda e: e.kind),
    Column("File", 24, TEXT, lambda e: e.file),
    Column("Segment", 9, COUNT, lambda e: e.segment or None),
    Column("ClaimID", 22, TEXT, lambda e: e.claim_id),
    Column("LineID", 14, TEXT, lambda e: e.line_id),
    Column("Code", 8, TEXT, lambda e: e.code),
    Column("Amount", 11, MONEY, lambda e: e.amount),
    Column("Problem", 70, TEXT, lambda e: e.message),
    Column("Fix", 60, TEXT, lambda e: e.fix),
))

REMITTANCES: SheetSpec[RemitSummary] = SheetSpec("Remittances", (
    Column("PaymentDate", 11, DATE, lambda r: r.payment_date),
    Column("PayerKey", 12, TEXT, lambda r: r.payer_key),
    Column("Payer", 24, TEXT, lambda r: r.payer_name),
    Column("CheckNumber", 18, TEXT, lambda r: r.trace),
    Column("Method", 8, TEXT, lambda r: r.method),
    Column("Amount", 12, MONEY, lambda r: r.amount, total="sum"),
    Column("ClaimsPaid", 12, MONEY, lambda r: r.claims_paid, total="sum"),
    Column("ProviderAdjustments", 14, MONEY, lambda r: r.plb, total="sum"),
    Column("Balanced", 9, TEXT, lambda r: "yes" if r.balanced else "NO"),
    Column("Claims", 8, COUNT, lambda r: r.claims, total="sum"),
    Column("Lines", 8, COUNT, lambda r: r.lines, total="sum"),
    Column("RowsPosted", 10, COUNT, lambda r: r.posted_rows, total="sum"),
    Column("Exceptions", 10, COUNT, lambda r: r.exceptions, total="sum"),
    Column("File", 24, TEXT, lambda r: r.file),
))

PROVIDER_ADJUSTMENTS: SheetSpec[ProviderAdjustmentLine] = SheetSpec("Provider Adjustments", (
    Column("PaymentDate", 11, DATE, lambda a: a.payment_date),
    Column("PayerKey", 12, TEXT, lambda a: a.payer_key),
    Column("CheckNumber", 18, TEXT, lambda a: a.trace),
    Column("Reason", 8, TEXT, lambda a: a.reason),
    Column("Meaning", 50, TEXT, lambda a: plb_reason(a.reason).description),
    Column("Reference", 24, TEXT, lambda a: a.reference),
    Column("ClaimID", 22, TEXT, lambda a: a.claim_id),
    Column("Amount", 12, MONEY, lambda a: a.amount, total="sum"),
    Column("Effect", 16, TEXT, lambda a: "reduces payment" if a.amount > 0 else "adds to payment"),
    Column("NextAction", 60, TEXT, lambda a: plb_reason(a.reason).next_action),
    Column("File", 24, TEXT, lambda a: a.file),
))

#: A Payments sheet for a workbook that has none (the contract's columns, in its order).
PAYMENTS_NEW: SheetSpec[PaymentRow] = SheetSpec("Payments", (
    Column("PaymentID", 26, TEXT, lambda p: p.payment_id),
    Column("PayerKey", 12, TEXT, lambda p: p.payer_key),
    Column("CheckNumber", 16, TEXT, lambda p: p.check_number),
    Column("PaymentDate", 11, DATE, lambda p: p.payment_date),
    Column("ClaimID", 22, TEXT, lambda p: p.claim_id),
    Column("LineID", 14, TEXT, lambda p: p.line_id),
    Column("Code", 8, TEXT, lambda p: p.code),
    Column("Modifiers", 11, TEXT, lambda p: " ".join(p.modifiers)),
    Column("Billed", 11, MONEY, lambda p: p.billed),
    Column("Allowed", 11, MONEY, lambda p: p.allowed),
    Column("Paid", 11, MONEY, lambda p: p.paid),
    Column("PatientResp", 12, MONEY, lambda p: p.patient_resp),
    Column("AdjGroup", 9, TEXT, lambda p: p.adj_group),
    Column("AdjReason", 9, TEXT, lambda p: p.adj_reason),
    Column("AdjAmount", 11, MONEY, lambda p: p.adj_amount),
    Column("Source", 24, TEXT, lambda p: p.source),
))


# ------------------------------------------------------------------------------------------------
# Outcome
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReconcileOutcome:
    result: Reconciliation
    findings: tuple[Finding, ...]
    report: Any
    as_of: date
    dry_run: bool
    posted_rows: int
    unreadable: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    #: The Denials and AR Aging rows (None for a dry run, which writes no sheets).
    receivables: Any = None

    @property
    def exit_code(self) -> int:
        if self.unreadable:
            return 2
        return 0 if self.result.clean else 1

    @cached_property
    def totals(self) -> dict[str, Any]:
        lines = [r for r in self.result.lines if r.status not in ("open", "already_posted", "unmatched_remittance",
                                                                  "duplicate_payment")]
        by_group: dict[str, Decimal] = {}
        for r in lines:
            for group, _reason, amount in r.adjustments:
                by_group[group] = by_group.get(group, ZERO) + amount
        for _claim, group, _reason, amount in self.result.claim_adjustments:
            by_group[group] = by_group.get(group, ZERO) + amount
        return {"billed": sum((r.billed for r in lines), ZERO), "paid": sum((r.paid for r in lines), ZERO),
                "patient_responsibility": sum((r.patient_responsibility for r in lines), ZERO),
                "adjustments_by_group": dict(sorted(by_group.items())),
                "plb": sum((p.amount for p in self.result.plb), ZERO),
                "unexplained": self.result.unexplained}

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals
        return {
            "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
            "lines": [line_dict(r) for r in self.result.lines],
            "exceptions": [exception_dict(e) for e in self.result.exceptions],
            "totals": {k: ({g: money_text(a) for g, a in v.items()} if isinstance(v, dict) else money_text(v))
                       for k, v in totals.items()},
            "counts": self.result.counts(),
            "remittances": [REMITTANCES.as_dict(r) for r in self.result.remittances],
            "provider_adjustments": [PROVIDER_ADJUSTMENTS.as_dict(a) for a in self.result.plb],
            "posted_rows": self.posted_rows,
            "unreadable": list(self.unreadable),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_frame(self):
        """The reconciled lines as a pandas DataFrame (the Reconciliation sheet's columns; money stays
        Decimal, in object columns, so sums are exact)."""
        import pandas as pd

        return pd.DataFrame([RECONCILIATION.values(r) for r in self.result.lines], columns=list(RECONCILIATION.headers))

    def exceptions_frame(self):
        import pandas as pd

        return pd.DataFrame([EXCEPTIONS.values(e) for e in self.result.exceptions], columns=list(EXCEPTIONS.headers))


def line_dict(r: LineResult) -> dict[str, Any]:
    """One line in the JSON shape of issue #13 §4 (money as strings)."""
    v = r.variance
    return {"claim_id": r.claim_id, "line_id": r.line_id, "payer": r.payer_key,
            "dos": r.dos.isoformat() if r.dos else None, "code": r.code, "modifiers": list(r.modifiers),
            "status": r.status, "billed": money_text(r.billed), "expected_allowed": money_text(r.expected_allowed),
            "allowed": money_text(r.allowed), "paid": money_text(r.paid),
            "patient_responsibility": money_text(r.patient_responsibility),
            "adjustments": [{"group": g, "reason": c, "amount": money_text(a)} for g, c, a in r.adjustments],
            "variance": {"sequestration": money_text(v.sequestration), "mppr": money_text(v.mppr),
                         "assistant": money_text(v.assistant), "patient": money_text(v.patient),
                         "contractual": money_text(v.contractual), "denied": money_text(v.denied),
                         "unexplained": money_text(v.unexplained)},
            "carc": r.carc, "remarks": list(r.remarks), "category": _category(r), "next_action": _next_action(r),
            "match": {"by": r.match_by or r.claim_match_by, "confidence": money_text(r.confidence)},
            "check_number": r.trace, "payment_date": r.payment_date.isoformat() if r.payment_date else None,
            "file": r.file, "note": r.note}


def exception_dict(e: ExceptionItem) -> dict[str, Any]:
    return {"kind": e.kind, "file": e.file, "segment": e.segment, "claim_id": e.claim_id, "line_id": e.line_id,
            "code": e.code, "amount": money_text(e.amount), "message": e.message, "fix": e.fix}


def _category(r: LineResult) -> str:
    if not r.carc:
        return ""
    group, _, reason = r.carc.partition("-")
    return carc_category(group, reason)


def _next_action(r: LineResult) -> str:
    if not r.carc:
        return ""
    group, _, reason = r.carc.partition("-")
    return next_action(group, reason, r.remarks)


def carc_category(group: str, reason: str) -> str:
    """The CARC catalogue's category (domain.denials; "unknown" when not catalogued)."""
    from otbill_xl.domain import denials

    return denials.carc_category(reason)


def next_action(group: str, reason: str, remarks: Sequence[str]) -> str:
    from otbill_xl.domain import denials

    return denials.next_action(group, reason, list(remarks))


# ------------------------------------------------------------------------------------------------
# The action
# ------------------------------------------------------------------------------------------------

def reconcile_payments(port: WorkbookPort, remits: Sequence[RemitFile], *, as_of: date, posted_at: datetime,
                       ledger: Ledger | None, dry_run: bool = False, overrides: Overrides | None = None,
                       tolerance: Decimal | None = None, output: Path | None = None, annotate: bool = True,
                       pipeline: Pipeline | None = None, csv_preset: str | None = None,
                       csv_mapping: dict[str, str] | None = None) -> ReconcileOutcome:
    """Reconcile ``remits`` against the workbook in ``port`` (module docstring). ``output``: the
    annotated copy to write (file ports); ``None`` for a live workbook, written in place. The ledger
    (open, writable unless ``dry_run``) says what was billed and what was posted."""
    if pipeline is None or "Payments" in pipeline.skip:
        pipeline = Pipeline(port, as_of=as_of, overrides=overrides, prices=True, skip=frozenset())
    book, report = pipeline.book, pipeline.report
    sources: list[RemitSource] = []
    unreadable: list[str] = []
    for f in remits:
        try:
            sources += [RemitSource(r, f.name)
                        for r in read_remittance_file(f, csv_preset=csv_preset, csv_mapping=csv_mapping)]
        except (X835Error, OtbillError) as exc:
            unreadable.append(str(exc))
    charges = charges_on_file(pipeline, ledger)
    members: dict[str, str] = {}
    for p in book.patients:
        for member in (p.member_id, p.secondary_member_id):
            if member.strip():
                members.setdefault(member.strip().upper(), p.patient_id)
    payer_keys = {p.payer_id: p.payer_key for p in book.payers if p.payer_id}
    prior = _prior(book, ledger, sources, charges)
    from otbill_xl.domain import denials

    if tolerance is None:
        tolerance = payment_tolerance(book.practice.extra.get(TOLERANCE_SETTING, ""))
    result = reconcile(sources, charges, members=members, payer_keys=payer_keys, prior=prior, tolerance=tolerance,
                       categorize=lambda _group, reason: denials.carc_category(reason))
    findings = tuple(f for s in sources for f in _remit_findings(s))
    notes: list[str] = []
    payments = () if dry_run else result.payments
    outcome = ReconcileOutcome(result, findings, report, as_of, dry_run, len(payments), tuple(unreadable), ())
    if dry_run or not annotate:
        return outcome
    write_sheets(port, pipeline, outcome)
    from otbill_xl.actions import receivables

    owed = receivables.build(result.lines, charges, book.payments, payments, book.payers_by_key, as_of)
    receivables.write(port, owed, _cell)
    outcome = ReconcileOutcome(result, findings, report, as_of, dry_run, len(payments), tuple(unreadable), (), owed)
    if not payments:
        if output is not None:
            port.save(str(output), replace=False)  # type: ignore[call-arg]
        return outcome
    _append_payments(port, report, book, payments)
    if ledger is not None:
        where = str(output) if output is not None else f"(live) {port.name}"
        taken = ledger.reserve_postings(practice_key(book), result.posted, output=where, posted_at=posted_at)
        if taken:
            raise OtbillError(f"{len(taken)} remittance line(s) were posted by another run at the same time; nothing "
                              "was written — run reconcile again (they will show as already_posted)")
        try:
            if output is not None:
                port.save(str(output), replace=False)  # type: ignore[call-arg]
        except BaseException:
            ledger.settle_postings(where, written=False)
            raise
        ledger.settle_postings(where, written=True)
    elif output is not None:
        port.save(str(output), replace=False)  # type: ignore[call-arg]
        notes.append("no ledger: the postings are in the copy only")
    return ReconcileOutcome(result, findings, report, as_of, dry_run, len(payments), tuple(unreadable), tuple(notes),
                            owed)


def _remit_findings(source: RemitSource) -> list[Finding]:
    """What the reader found that does not add up (unbalanced claims, separators, dates) as findings."""
    return list(remittance_findings(source.remittance, source.file))


def charges_on_file(pipeline: Pipeline, ledger: Ledger | None) -> list[ChargeOnFile]:
    """Every Charges line with its ClaimID (the ledger's claim when it was billed; else the ClaimID
    cell; else the ClaimID the claims command would give it), its expected amounts and whether it was
    billed (the ledger, a ClaimID cell or a Status cell starting with "billed")."""
    book = pipeline.book
    computed = pipeline.scrubbed.computed_units
    billed_claim: dict[int, str] = {}
    if ledger is not None:
        keys = service_keys(book, computed)
        history = ledger.history(practice_key(book), line_keys=(k.line_key for k in keys),
                                 service_keys=(k.service_key for k in keys), sending_keys=(k.sending_key for k in keys))
        billed_claim = {row: p.claim_id for row, p in prior_billing(keys, history).items() if p.kind == "billed"}
    assembled = assemble_claims(book, pipeline.findings, computed_units=computed).claim_of_row
    claim_of = {line.row: billed_claim.get(line.row) or line.claim_id.strip() or assembled.get(line.row, "")
                for line in book.charges}
    billed = {line.row for line in book.charges if line.row in billed_claim or line.claim_id.strip()
              or line.status.strip().lower().startswith("billed")}
    return charges_from(book, claim_of, billed, pipeline.pricing.lines, computed)


def charges_from(book, claim_of: dict[int, str], billed: set[int], prices: Iterable[Any],
                 computed: dict[int, int]) -> list[ChargeOnFile]:
    """The reconciliation view of every Charges line, from its ClaimID (``claim_of`` by row), whether it
    was billed, its price (``LinePrice`` by row) and its units (typed, else computed)."""
    price_of = {p.row: p for p in prices}
    patients = book.patients_by_id
    rates = charge_master_by_code(book.charge_master)
    out = []
    for line in book.charges:
        patient = patients.get(line.patient_id)
        units = line.units if line.units is not None else computed.get(line.row)
        charge = line.charge
        if charge is None and line.dos is not None and units:   # billed at the ChargeMaster rate (as assembly does)
            charge = charge_master_charge(rates, line.code.strip().upper(), line.dos, units)
        out.append(ChargeOnFile(line.row, line.line_id, claim_of.get(line.row, ""), line.patient_id,
                                patient.payer_key if patient else "", line.dos, line.code.strip().upper(),
                                tuple(m.strip().upper() for m in line.modifiers), units, charge,
                                price_of.get(line.row), line.row in billed))
    return out


def _prior(book, ledger: Ledger | None, sources: Sequence[RemitSource], charges: Sequence[ChargeOnFile]) -> PriorPostings:
    """What was posted before: the ledger's records, and the Payments sheet (rows posted by otbill
    carry the remittance key in their PaymentID; rows posted by hand count by check number)."""
    keys: set[str] = set()
    paid: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    reversed_lines: set[tuple[str, str]] = set()
    payer_claims: dict[str, str] = {}
    for p in book.payments:
        pid = p.payment_id.strip()
        if len(pid) > 21 and pid[20] == "-":
            keys.add(pid[:20])
        if p.claim_id.strip() and p.line_id.strip() and p.paid is not None and (p.paid != ZERO or p.billed is not None):
            paid.setdefault((p.claim_id.strip(), p.line_id.strip()), []).append((p.check_number.strip(), p.paid))
            if p.paid < ZERO:
                reversed_lines.add((p.claim_id.strip(), p.line_id.strip()))
    if ledger is not None:
        from otbill_xl.domain.reconcile import remit_line_key

        wanted: list[str] = []
        numbers: set[str] = set()
        for s in sources:
            r = s.remittance
            for claim in r.claims:
                numbers.add(claim.payer_claim_number)
                wanted += [remit_line_key(r.payer_id, r.trace_number, claim, i, svc)
                           for i, svc in enumerate(claim.services)]
                if not claim.services:
                    wanted.append(remit_line_key(r.payer_id, r.trace_number, claim, 0, None))
        history = ledger.postings(practice_key(book), keys=wanted, claim_ids={c.claim_id for c in charges},
                                  payer_claim_numbers=numbers)
        keys |= history.keys
        payer_claims.update(history.payer_claims)
        for line, rows in history.paid.items():
            if line not in paid:   # the sheet's own rows are the same postings when both are there
                paid[line] = list(rows)
        reversed_lines |= history.reversed
    return PriorPostings(frozenset(keys), payer_claims, paid, frozenset(reversed_lines))


def _append_payments(port: WorkbookPort, report, book, payments: Iterable[PaymentRow]) -> None:
    """Append the rows to the workbook's Payments sheet (its own column order; contract columns it lacks
    are added after its last column), or write a new Payments sheet."""
    rows = list(payments)
    sheet = report.sheet("Payments")
    if sheet is None or not sheet.sheet or not sheet.header_row:
        PAYMENTS_NEW.write(port, rows, cell=_cell)
        return
    name = sheet.sheet
    width = max([m.index for m in sheet.columns] + [0])
    where: dict[str, int] = {}
    for header in PAYMENTS_NEW.headers:
        index = sheet.index_of(header)
        if not index:
            width += 1
            index = width
            port.write_values(name, sheet.header_row, index, [[header]])
        where[header] = index
    start = max([p.row for p in book.payments] + [sheet.header_row]) + 1
    order = sorted(where.items(), key=lambda kv: kv[1])
    first_col = order[0][1]
    last_col = order[-1][1]
    block: list[list[Any]] = []
    for p in rows:
        values = dict(zip(PAYMENTS_NEW.headers, PAYMENTS_NEW.values(p), strict=True))
        row: list[Any] = [None] * (last_col - first_col + 1)
        for header, index in order:
            row[index - first_col] = _cell(values[header])
        block.append(row)
    port.write_values(name, start, first_col, block)
    if sheet.found_as == "table":   # the rows belong to the practice's Payments table (filter, formulas)
        for t in port.tables():
            if t.sheet == name and t.header_row == sheet.header_row:
                port.extend_table(t.name, start + len(block) - 1)
    status = where["Source"]
    for i in range(len(block)):
        port.fill(name, start + i, status, FILL_COMPUTED)


def _cell(value: Any) -> Any:
    return printable(value) if isinstance(value, str) else value


def write_sheets(port: WorkbookPort, pipeline: Pipeline, outcome: ReconcileOutcome) -> None:
    """The Remittances (deposits), Reconciliation, Exceptions and Provider Adjustments sheets (Denials and
    AR: :mod:`otbill_xl.actions.receivables`)."""
    result = outcome.result
    order = {s: i for i, s in enumerate(STATUSES)}
    lines = sorted(result.lines, key=lambda r: (order[r.status] if r.status not in ("paid",) else 99,))
    REMITTANCES.write(port, result.remittances, cell=_cell)
    for i, remit in enumerate(result.remittances, start=2):
        if not remit.balanced:
            port.fill(REMITTANCES.name, i, REMITTANCES.index("Balanced"), FILL_ERROR)
    RECONCILIATION.write(port, lines, cell=_cell)
    EXCEPTIONS.write(port, result.exceptions, cell=_cell)
    PROVIDER_ADJUSTMENTS.write(port, result.plb, cell=_cell)
    charges = pipeline.report.sheet("Charges")
    if charges is not None and charges.sheet and charges.index_of("LineID"):
        col = RECONCILIATION.index("LineID")
        for i, r in enumerate(lines, start=2):
            if r.row:
                port.hyperlink(RECONCILIATION_SHEET, i, col, f"#'{charges.sheet}'!{charges.cell('LineID', r.row)}")
