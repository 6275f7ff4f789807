"""Reconciliation: remittances (835 or a clearinghouse CSV) matched to the lines the practice billed,
each line's outcome named, its variance against the expected payment explained, and the rows to post.

A pure function of immutable records (as beancount's plugins are): the caller reads the remittances,
the workbook and the ledger, and writes what :func:`reconcile` returns.

**Claim match**, strongest first, each with a confidence:

1. ``claim_id`` (1.00): CLP01 is the patient control number we sent as CLM01, so it is our ClaimID.
2. ``payer_claim_number`` (0.95): the payer's own claim number (CLP07) was posted before with one of
   our claims (a reversal or re-adjudication often arrives that way).
3. ``patient_dos_charge`` (0.80): the patient (the member ID of NM1*QC/IL on Patients), the dates of
   service and the total charge (CLP03) equal one billed visit.
4. ``patient_dos`` (0.60): the patient and the dates of service only.

**Line match** inside the matched claim: ``line_control`` — REF*6R, which carries our LineID (the 837P
writer sends it on every line, X222A1 2400 REF*6R; X221A1 returns it in 2110 REF*6R) — then
``code_modifiers_dos_units``, then ``code_dos_units`` (flagged: payers drop modifiers), then
``original_code`` (SVC06: the payer adjudicated another code than the one billed).

**Status per line** (:data:`STATUSES`): a reversal (CLP02 = 22) is ``reversed``; a line the ledger or
the Payments sheet shows posted from the same remittance is ``already_posted``; a line already paid
by another check and not reversed since is a ``duplicate_payment``; a line paid again after a
reversal is ``readjudicated``. Otherwise by its amounts: nothing paid and a denial reason →
``denied``; nothing paid and only patient responsibility (PR) → ``patient_responsibility``; paid with
a denial reason on part of it → ``partially_denied``; else the unexplained variance decides
``underpaid`` / ``overpaid`` / ``paid`` (tolerance, default $0.01). Billed lines no remittance
answered are ``open``; remittance lines that match no billed line are ``unmatched_remittance``.

**Variance** (each a separate amount; they add up to billed − paid):

* ``sequestration`` — CO-253 (facts §5.3); ``patient`` — every PR adjustment (PR-1/2/3 deductible,
  coinsurance, copay, facts §8); ``denied`` — adjustments whose CARC is a denial (any category other
  than contractual or patient responsibility, and not OA-23, the prior payer's effect);
* of what is left (the contractual reductions the payer took), the expected parts from pricing:
  ``contractual`` (billed − fee-schedule amount), ``mppr`` (facts §5.2), ``assistant`` (the CQ/CO 15%
  reduction, facts §4; §5.4: expected inside CO-45), scaled to the share of the line not denied;
* ``unexplained`` — the rest: positive is an underpayment, negative an overpayment.

Without an expected amount (no fee schedule for the line, or a secondary payer's remittance) the
contractual part is what the payer took and nothing is unexplained; the line says so in ``note``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from otbill_xl.domain._gc import gc_paused
from otbill_xl.domain.models import PostedPayment
from otbill_xl.domain.pricing import LinePrice

__all__ = ["STATUSES", "ChargeOnFile", "ExceptionItem", "LineResult", "PaymentRow", "PostedRecord",
           "PriorPostings", "ProviderAdjustmentLine", "Reconciliation", "RemitSource", "RemitSummary", "Variance",
           "reconcile", "remit_line_key"]

ZERO = Decimal(0)
CENT = Decimal("0.01")
DEFAULT_TOLERANCE = CENT

#: Every status a line can have, in the order the summaries list them (the JSON names of issue #13).
STATUSES = ("paid", "underpaid", "overpaid", "denied", "partially_denied", "patient_responsibility", "reversed",
            "readjudicated", "unmatched_remittance", "open", "duplicate_payment", "already_posted")

#: CLP02 claim status codes (X221A1 2100 CLP02): 4 = denied, 22 = reversal of a previous payment.
CLAIM_DENIED = "4"
CLAIM_REVERSAL = "22"
#: CARCs that are not denials whatever their catalogued category: 45 charge over the fee schedule,
#: 253 sequestration, 59 multiple procedure rules (facts §8), 23 the prior payer's adjudication (COB).
_NOT_DENIAL_REASONS = frozenset({"45", "253", "59", "23"})
_SEQUESTRATION = ("CO", "253")
_MPPR_REASON = "59"

CONFIDENCE = {"claim_id": Decimal("1.00"), "payer_claim_number": Decimal("0.95"),
              "patient_dos_charge": Decimal("0.80"), "patient_dos": Decimal("0.60")}
LINE_CONFIDENCE = {"line_control": Decimal("1.00"), "code_modifiers_dos_units": Decimal("0.90"),
                   "original_code": Decimal("0.80"), "code_dos_units": Decimal("0.70")}


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------


class ChargeOnFile(NamedTuple):
    """A Charges line as reconciliation sees it: where it was billed, and what it should pay."""

    row: int
    line_id: str
    claim_id: str
    patient_id: str
    payer_key: str
    dos: date | None
    code: str
    modifiers: tuple[str, ...]
    units: int | None
    charge: Decimal | None
    price: LinePrice | None
    #: The ledger or the workbook (a ClaimID / "billed" Status) shows the line was billed.
    billed: bool


class RemitSource(NamedTuple):
    """One remittance and where it came from (a file name, never a path with patient data)."""

    remittance: Any          # formats.x12.read835.Remittance (the domain does not import formats)
    file: str


@dataclass(frozen=True)
class PriorPostings:
    """What was posted before this run: from the ledger and the workbook's Payments sheet.

    ``keys``: remittance line keys (:func:`remit_line_key`) already posted. ``payer_claims``: the
    payer's claim number → our ClaimID. ``paid``: (ClaimID, LineID) → [(check/trace number, paid)]
    of every posted row, in posting order (a reversal's negative rows included). ``reversed``:
    lines a reversal was posted for."""

    keys: frozenset[str] = frozenset()
    payer_claims: Mapping[str, str] = field(default_factory=dict)
    paid: Mapping[tuple[str, str], Sequence[tuple[str, Decimal]]] = field(default_factory=dict)
    reversed: frozenset[tuple[str, str]] = frozenset()


# ------------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------------


class Variance(NamedTuple):
    sequestration: Decimal = ZERO
    mppr: Decimal = ZERO
    assistant: Decimal = ZERO
    patient: Decimal = ZERO
    contractual: Decimal = ZERO
    denied: Decimal = ZERO
    unexplained: Decimal = ZERO


class LineResult(NamedTuple):
    """One remittance line (or one open billed line) and what became of it."""

    status: str
    claim_id: str                 # our ClaimID (CLP01 as sent back, or the matched claim's)
    line_id: str
    row: int | None               # the Charges row, when matched
    payer_key: str
    dos: date | None
    code: str
    modifiers: tuple[str, ...]
    billed: Decimal
    expected_allowed: Decimal | None
    allowed: Decimal | None
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: tuple[tuple[str, str, Decimal], ...]
    variance: Variance
    carc: str                     # the line's main denial (or adjustment) reason, GROUP-CARC
    remarks: tuple[str, ...]
    match_by: str
    confidence: Decimal
    claim_match_by: str
    trace: str
    payment_date: date | None
    payer_claim_number: str
    file: str
    segment: int
    key: str
    note: str = ""


class ExceptionItem(NamedTuple):
    """Something a person must look at: not posted."""

    kind: str                     # unmatched_remittance, duplicate_payment, no_service_lines, unbalanced, ...
    file: str
    segment: int
    claim_id: str
    line_id: str
    code: str
    amount: Decimal
    message: str
    fix: str


#: A row appended to the Payments sheet is the record the reader gives back for it
#: (:class:`otbill_xl.domain.models.PostedPayment`; ``row`` 0 until it is written). The layout is
#: :mod:`otbill_xl.domain.cob`'s: a line's first row carries Billed, Allowed, Paid and PatientResp
#: with its first adjustment; each further adjustment is a row of its own with Paid 0, so that sums
#: over rows stay right.
PaymentRow = PostedPayment


class PostedRecord(NamedTuple):
    """What the ledger keeps of one posted remittance line (so it is never posted twice)."""

    key: str
    payer_key: str
    trace: str
    claim_id: str
    line_id: str
    payer_claim_number: str
    status: str
    paid: Decimal
    file: str


class ProviderAdjustmentLine(NamedTuple):
    """One PLB reason/amount of a remittance: a takeback, interest, a forwarded balance ... A positive
    amount reduced the payment (BPR02 = Σ CLP04 − Σ PLB). ``claim_id``: our claim when the reference
    names it (our ClaimID, or a payer claim number posted with one of our claims)."""

    file: str
    trace: str
    payer_key: str
    payment_date: date | None
    reason: str
    reference: str
    claim_id: str
    amount: Decimal


class RemitSummary(NamedTuple):
    """One remittance (one check or EFT) as the deposit the office manager matches to the bank: its
    amount (BPR02), what its claims paid (Σ CLP04), its provider adjustments (Σ PLB), whether they
    balance, and what this run did with it."""

    file: str
    payer_id: str
    payer_key: str
    payer_name: str
    trace: str
    payment_date: date | None
    method: str
    amount: Decimal
    claims: int
    lines: int
    claims_paid: Decimal
    plb: Decimal
    balanced: bool
    posted_rows: int
    exceptions: int


@dataclass(frozen=True)
class Reconciliation:
    lines: tuple[LineResult, ...]
    exceptions: tuple[ExceptionItem, ...]
    payments: tuple[PaymentRow, ...]
    posted: tuple[PostedRecord, ...]
    plb: tuple[ProviderAdjustmentLine, ...]
    claim_adjustments: tuple[tuple[str, str, str, Decimal], ...]  # (claim_id, group, reason, amount)
    tolerance: Decimal = DEFAULT_TOLERANCE
    remittances: tuple[RemitSummary, ...] = ()

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for line in self.lines:
            out[line.status] += 1
        return out

    @property
    def variances(self) -> tuple[LineResult, ...]:
        """The lines whose payment is still off by more than the tolerance: under- and overpaid lines, and
        re-adjudicated ones that still are — not a payment a later reversal in the run took back."""
        out: list[LineResult] = []
        reversed_after: set[tuple[str, str]] = set()
        for line in reversed(self.lines):   # a reversal cancels the payments of the line before it
            key = (line.claim_id, line.line_id)
            if line.status == "reversed":
                reversed_after.add(key)
            elif line.status in ("underpaid", "overpaid", "readjudicated") and key not in reversed_after \
                    and abs(line.variance.unexplained) > self.tolerance:
                out.append(line)
        return tuple(reversed(out))

    @property
    def unexplained(self) -> Decimal:
        """The real under (+) or over (−) payment that remains: Σ unexplained of :attr:`variances`."""
        return sum((line.variance.unexplained for line in self.variances), ZERO)

    @property
    def clean(self) -> bool:
        """Everything matched and explained: no exceptions, no payment still off."""
        return not self.exceptions and not self.variances


# ------------------------------------------------------------------------------------------------
# Keys
# ------------------------------------------------------------------------------------------------


def remit_line_key(payer_id: str, trace: str, claim: Any, index: int, service: Any | None) -> str:
    """The identity of one remittance line: payer, check/EFT trace (TRN02), the claim as the payer
    sent it (CLP01, CLP02, CLP07) and the service line (its position, REF*6R, code, charge, paid).
    The same remittance read again — another copy of the file, another file name, the CSV export of
    the same payment — gives the same key, so it is never posted twice."""
    parts = [payer_id.strip().upper(), trace.strip(), claim.patient_control_number, claim.status,
             claim.payer_claim_number, str(index)]
    if service is not None:
        parts += [service.line_control_number, service.code, _money_text(service.charge), _money_text(service.paid)]
    else:
        parts += [_money_text(claim.charge), _money_text(claim.paid)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20].upper()


def _line_of_claim_key(claim_key: str, line: str) -> str:
    """The key of one billed line of a claim the payer adjudicated without service lines (a key of
    the same shape as :func:`remit_line_key`'s, so a PaymentID still carries it)."""
    return hashlib.sha256(f"{claim_key}\x1f{line}".encode()).hexdigest()[:20].upper()


@lru_cache(maxsize=1 << 16)   # amounts repeat (fee-schedule rates): measured 0.14 s of 2.1 s per 100k lines
def _money_text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


# ------------------------------------------------------------------------------------------------
# Reconciliation
# ------------------------------------------------------------------------------------------------

Categorize = Callable[[str, str], str]   # (group, CARC) -> category name of the CARC catalogue


def _default_category(group: str, reason: str) -> str:
    """Without the CARC catalogue: PR-1/2/3 patient responsibility, 45/253/59/23 contractual, else other."""
    if group == "PR" and reason in ("1", "2", "3"):
        return "patient_responsibility"
    return "contractual" if reason in _NOT_DENIAL_REASONS else "other"


class _Index:
    """The billed lines, indexed for each way of matching."""

    def __init__(self, charges: Iterable[ChargeOnFile], members: Mapping[str, str]) -> None:
        self.by_claim: dict[str, list[ChargeOnFile]] = defaultdict(list)
        self.by_patient_dos: dict[tuple[str, date], list[ChargeOnFile]] = defaultdict(list)
        self.by_row: dict[int, ChargeOnFile] = {}
        for c in charges:
            self.by_row[c.row] = c
            if c.claim_id:
                self.by_claim[c.claim_id].append(c)
            if c.patient_id and c.dos is not None:
                self.by_patient_dos[(c.patient_id, c.dos)].append(c)
        self.members = members


def reconcile(remits: Sequence[RemitSource], charges: Sequence[ChargeOnFile], *,
              members: Mapping[str, str] | None = None, payer_keys: Mapping[str, str] | None = None,
              prior: PriorPostings | None = None, tolerance: Decimal = DEFAULT_TOLERANCE,
              categorize: Categorize = _default_category) -> Reconciliation:
    """Match, classify, explain and post (see the module docstring).

    ``members``: a member ID (as on the Patients sheet, primary or secondary) → PatientID.
    ``payer_keys``: a payer's EDI ID (Payers.PayerID, the 835's N1*PR N104) → PayerKey.
    ``categorize``: a CARC's category from the CARC catalogue (domain.denials.carc_category).
    """
    prior = prior or PriorPostings()
    # ~10 records per remittance line and no cycles: without the pause the collector rescans them (and
    # the caller's whole book) again and again — measured on 97,826 lines: 3.5 s → see benchmarks/bench_reconcile.
    with gc_paused():
        index = _Index(charges, members or {})
        run = _Run(index, prior, payer_keys or {}, tolerance, _remembered(categorize))
        for source in remits:
            run.remittance(source.remittance, source.file)
        run.open_lines()
    return Reconciliation(tuple(run.lines), tuple(run.exceptions), tuple(run.payments), tuple(run.posted),
                          tuple(run.plb), tuple(run.claim_adjustments), tolerance, tuple(run.summaries))


class _Run:
    def __init__(self, index: _Index, prior: PriorPostings, payer_keys: Mapping[str, str], tolerance: Decimal,
                 categorize: Categorize) -> None:
        self.index, self.tolerance, self.categorize = index, tolerance, categorize
        self.payer_keys = {k.strip().upper(): v for k, v in payer_keys.items() if k.strip()}
        self.keys_posted: set[str] = set(prior.keys)
        self.payer_claims: dict[str, str] = dict(prior.payer_claims)
        self.paid: dict[tuple[str, str], list[tuple[str, Decimal]]] = {k: list(v) for k, v in prior.paid.items()}
        self.reversed: set[tuple[str, str]] = set(prior.reversed)
        self.answered: set[int] = set()     # Charges rows some remittance line answered
        self.lines: list[LineResult] = []
        self.exceptions: list[ExceptionItem] = []
        self.payments: list[PaymentRow] = []
        self.posted: list[PostedRecord] = []
        self.plb: list[ProviderAdjustmentLine] = []
        self.summaries: list[RemitSummary] = []
        self.claim_adjustments: list[tuple[str, str, str, Decimal]] = []

    # -- one remittance --------------------------------------------------------------------------

    def remittance(self, remit: Any, file: str) -> None:
        for p in remit.problems:
            if p.kind in ("unbalanced_claim", "unbalanced_remittance"):
                self.exceptions.append(ExceptionItem(p.kind, file, p.segment, "", "", "", ZERO, p.message,
                                                     "ask the payer for a corrected remittance; post this one by "
                                                     "hand after checking the amounts"))
        payer_key = self.payer_keys.get(remit.payer_id.strip().upper(), "")
        posted, excepted = len(self.payments), len(self.exceptions)
        for claim in remit.claims:
            self.claim(remit, claim, file, payer_key)
        for adj in remit.provider_adjustments:
            self.plb.append(ProviderAdjustmentLine(file, remit.trace_number, payer_key, remit.payment_date, adj.reason,
                                                   adj.reference, self.claim_named(adj.reference), adj.amount))
        paid = sum((c.paid for c in remit.claims), ZERO)
        plb = sum((a.amount for a in remit.provider_adjustments), ZERO)
        self.summaries.append(RemitSummary(
            file, remit.payer_id, payer_key, remit.payer_name, remit.trace_number, remit.payment_date, remit.method,
            remit.amount, len(remit.claims), sum(len(c.services) for c in remit.claims), paid, plb,
            remit.amount == paid - plb, len(self.payments) - posted, len(self.exceptions) - excepted))

    def claim_named(self, reference: str) -> str:
        """Our ClaimID a PLB reference names: our ClaimID itself, or a payer claim number posted with one
        of our claims — whole, or as one of its words (payers write "account DOS claim#" references)."""
        for token in (reference.strip(), *reference.split()):
            if token in self.index.by_claim:
                return token
            ours = self.payer_claims.get(token)
            if ours:
                return ours
        return ""

    def claim(self, remit: Any, claim: Any, file: str, payer_key: str) -> None:
        found, by = self.match_claim(claim)
        # our ClaimID: the matched claim's (CLP01 itself when it matched; what the payer sent otherwise)
        claim_id = (found[0].claim_id if found else "") or claim.patient_control_number
        reversal = claim.status == CLAIM_REVERSAL
        if claim.payer_claim_number and found and not reversal:
            self.payer_claims.setdefault(claim.payer_claim_number, claim_id)
        for adj in claim.adjustments:
            self.claim_adjustments.append((claim_id, adj.group, adj.reason, adj.amount))
        if not claim.services:
            self.claim_without_lines(remit, claim, file, payer_key, found, by, claim_id)
            return
        pool = list(found)
        for i, svc in enumerate(claim.services):
            key = remit_line_key(remit.payer_id, remit.trace_number, claim, i, svc)
            charge, line_by = _match_line(svc, pool, claim)
            if charge is not None:
                pool.remove(charge)
            self.line(remit, claim, svc, file, payer_key, charge, line_by, by, claim_id, key, reversal)

    def claim_without_lines(self, remit: Any, claim: Any, file: str, payer_key: str,
                            found: list[ChargeOnFile], by: str, claim_id: str) -> None:
        """A claim paid or denied without 2110 service lines (allowed by X221A1 when the payer
        adjudicated the claim as a whole). A denial is applied to every billed line of the claim;
        a payment cannot be split by line safely: it is an exception."""
        key = remit_line_key(remit.payer_id, remit.trace_number, claim, 0, None)
        if found and claim.paid == ZERO and (claim.status == CLAIM_DENIED or claim.adjustments):
            reasons = [(a.group, a.reason) for a in claim.adjustments if a.group != "PR"] or \
                [(a.group, a.reason) for a in claim.adjustments]
            group, reason = reasons[0] if reasons else ("CO", "")
            for c in found:
                amount = c.charge or ZERO
                svc = _Synthetic(c, amount, ((group, reason, amount),) if reason else ())
                self.line(remit, claim, svc, file, payer_key, c, "claim_level", by, claim_id,
                          _line_of_claim_key(key, c.line_id or str(c.row)), False)
            return
        self.exceptions.append(ExceptionItem(
            "no_service_lines", file, claim.segment, claim_id, "", "", claim.paid,
            f"{file}: segment {claim.segment} (CLP): claim {claim_id} was paid {claim.paid:.2f} without service lines; "
            "the payment cannot be split over the claim's lines safely",
            "post the payment by hand on the Payments sheet, one row per line"))

    def match_claim(self, claim: Any) -> tuple[list[ChargeOnFile], str]:
        idx = self.index
        hit = idx.by_claim.get(claim.patient_control_number.strip())
        if hit:
            return hit, "claim_id"
        ours = self.payer_claims.get(claim.payer_claim_number) if claim.payer_claim_number else None
        if ours and idx.by_claim.get(ours):
            return idx.by_claim[ours], "payer_claim_number"
        patient = self.patient_of(claim)
        if not patient:
            return [], ""
        days = _claim_days(claim)
        candidates: list[ChargeOnFile] = []
        for day in days:
            candidates += idx.by_patient_dos.get((patient, day), ())
        if not candidates:
            return [], ""
        total = sum((c.charge or ZERO for c in candidates), ZERO)
        if total == claim.charge or (claim.status == CLAIM_REVERSAL and total == -claim.charge):
            return candidates, "patient_dos_charge"
        return candidates, "patient_dos"

    def patient_of(self, claim: Any) -> str:
        for party in (getattr(claim, "patient", None), getattr(claim, "insured", None),
                      getattr(claim, "corrected_patient", None)):
            if party is not None and party.id:
                patient = self.index.members.get(party.id.strip().upper())
                if patient:
                    return patient
        return ""

    # -- one line ----------------------------------------------------------------------------------

    def line(self, remit: Any, claim: Any, svc: Any, file: str, payer_key: str, charge: ChargeOnFile | None,
             line_by: str, claim_by: str, claim_id: str, key: str, reversal: bool) -> None:
        # Runs once per remittance line (100,000 in a large run): records are built positionally —
        # keyword construction of the 27-field LineResult measured ~4 µs a line, positional ~0.5 µs.
        adjustments = tuple((a.group, a.reason, a.amount) for a in svc.adjustments)
        dos = svc.service_date or svc.service_from or claim.statement_from
        payer = payer_key or (charge.payer_key if charge is not None else "")
        remarks = tuple(svc.remark_codes)
        claim_remarks = getattr(claim, "remark_codes", ())
        if claim_remarks:
            remarks += tuple(claim_remarks)
        categorize = self.categorize
        allowed = getattr(svc, "allowed", None)
        carc = _main_reason(adjustments, categorize)
        patient = _patient_total(adjustments)
        trace, paid = remit.trace_number, svc.paid
        if charge is None:
            variance = _split(svc.charge, paid, adjustments, None, categorize)
            self.lines.append(LineResult(
                "unmatched_remittance", claim_id, svc.line_control_number, None, payer, dos, svc.code,
                tuple(svc.modifiers), svc.charge, None, allowed, paid, patient, adjustments, variance, carc, remarks,
                line_by, _confidence(claim_by, line_by), claim_by, trace, remit.payment_date,
                claim.payer_claim_number, file, svc.segment, key))
            self.exceptions.append(ExceptionItem(
                "unmatched_remittance", file, svc.segment, claim_id, svc.line_control_number, svc.code, paid,
                f"{file}: segment {svc.segment} (SVC): {svc.code} on claim {claim_id} matches no billed line "
                "(no REF*6R LineID, and no line of the claim with this code, date of service and units)",
                "find the line on the Charges sheet (the claim, the date, the code) and post it by hand, or ask "
                "the payer which claim it belongs to"))
            return
        self.answered.add(charge.row)
        line_key = (claim_id, charge.line_id)
        price = charge.price if (not payer_key or payer_key == charge.payer_key) else None
        variance = _split(svc.charge, paid, adjustments, price, categorize)
        if allowed is None:   # no AMT*B6: what the payer paid, left to the patient (not denied) and sequestered
            allowed = paid + variance.patient + variance.sequestration
        note = ""
        if price is None or price.fee_allowed is None:
            note = "no expected amount for this line (no fee schedule rate, or another payer than the primary): " \
                   "the variance is not checked"
        if line_by == "code_dos_units":
            note = _join(note, "matched without modifiers: the payer dropped or changed them")
        elif line_by == "original_code":
            note = _join(note, f"the payer adjudicated {svc.code} instead of the billed {charge.code}")
        earlier = self.paid.get(line_key, ())
        net = sum((p for _t, p in earlier), ZERO) if earlier else ZERO
        if key in self.keys_posted or (not reversal and paid != ZERO
                                       and any(t == trace and p == paid for t, p in earlier)):
            status = "already_posted"
        elif reversal:
            status = "reversed"
        elif net > ZERO and paid > ZERO and line_key not in self.reversed:
            status = "duplicate_payment"
        elif line_key in self.reversed:
            status = "readjudicated"
        else:
            status = _status(paid, variance, claim.status, self.tolerance)
        result = LineResult(
            status, claim_id, charge.line_id, charge.row, payer, dos, svc.code, tuple(svc.modifiers), svc.charge,
            price.expected_allowed if price else None, allowed, paid, patient, adjustments, variance, carc, remarks,
            line_by, _confidence(claim_by, line_by), claim_by, trace, remit.payment_date, claim.payer_claim_number,
            file, svc.segment, key, note)
        self.lines.append(result)
        if status == "already_posted":
            return
        if status == "duplicate_payment":
            self.exceptions.append(ExceptionItem(
                "duplicate_payment", file, svc.segment, claim_id, charge.line_id, svc.code, paid,
                f"{file}: segment {svc.segment} (SVC): line {charge.line_id} of claim {claim_id} was already paid "
                f"{net:.2f} by check/EFT {', '.join(sorted({t for t, _p in earlier}))}; this remittance "
                f"({trace}) pays it again",
                "do not post it: refund the payer or wait for its recoupment (a PLB or a reversal), then post that"))
            return
        self.post(result, getattr(remit, "source", "835") or "835")
        self.keys_posted.add(key)
        self.paid.setdefault(line_key, []).append((trace, paid))
        if reversal:
            self.reversed.add(line_key)

    def post(self, r: LineResult, source: str) -> None:
        """The line's Payments rows (layout: :class:`PaymentRow`) and its ledger record. ``source``:
        ``835`` or ``CSV`` (the Payments sheet's Source column)."""
        adjustments = r.adjustments or (("", "", None),)
        append = self.payments.append
        for n, (group, reason, amount) in enumerate(adjustments):
            if n == 0:
                append(PostedPayment(0, f"{r.key}-1", r.payer_key, r.trace, r.payment_date, r.claim_id, r.line_id,
                                     r.code, r.modifiers, r.billed, r.allowed, r.paid, r.patient_responsibility, group,
                                     reason, amount, source))
            else:
                append(PostedPayment(0, f"{r.key}-{n + 1}", r.payer_key, r.trace, r.payment_date, r.claim_id,
                                     r.line_id, r.code, r.modifiers, None, None, ZERO, None, group, reason, amount,
                                     source))
        self.posted.append(PostedRecord(r.key, r.payer_key, r.trace, r.claim_id, r.line_id, r.payer_claim_number,
                                        r.status, r.paid, r.file))

    # -- lines nobody answered ------------------------------------------------------------------------

    def open_lines(self) -> None:
        for c in self.index.by_row.values():
            if not c.billed or c.row in self.answered:
                continue
            if self.paid.get((c.claim_id, c.line_id)):
                continue  # answered by an earlier posting
            billed = c.charge or ZERO
            expected = c.price.expected_allowed if c.price is not None else None
            self.lines.append(LineResult(
                status="open", claim_id=c.claim_id, line_id=c.line_id, row=c.row, payer_key=c.payer_key, dos=c.dos,
                code=c.code, modifiers=c.modifiers, billed=billed, expected_allowed=expected, allowed=None,
                paid=ZERO, patient_responsibility=ZERO, adjustments=(), variance=Variance(), carc="", remarks=(),
                match_by="", confidence=ZERO, claim_match_by="", trace="", payment_date=None, payer_claim_number="",
                file="", segment=0, key=""))


class _Adj(NamedTuple):
    group: str
    reason: str
    amount: Decimal


class _Synthetic:
    """A service line for a claim adjudicated without lines (see :meth:`_Run.claim_without_lines`):
    the billed line, nothing paid, the claim's denial reason for its whole charge."""

    __slots__ = ("charge", "code", "modifiers", "units", "line_control_number", "service_date", "adjustments")
    paid = ZERO
    service_from = None
    remark_codes: tuple[str, ...] = ()
    segment = 0
    original = None

    def __init__(self, line: ChargeOnFile, amount: Decimal, cas: tuple[tuple[str, str, Decimal], ...]) -> None:
        self.charge = amount
        self.code, self.modifiers = line.code, line.modifiers
        self.units = Decimal(line.units or 1)
        self.line_control_number, self.service_date = line.line_id, line.dos
        self.adjustments = tuple(_Adj(g, r, a) for g, r, a in cas)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _confidence(claim_by: str, line_by: str) -> Decimal:
    if not line_by:
        return ZERO
    return min(CONFIDENCE.get(claim_by, ZERO), LINE_CONFIDENCE.get(line_by, CONFIDENCE.get(claim_by, ZERO)))


def _claim_days(claim: Any) -> list[date]:
    days = {d for s in claim.services for d in (s.service_date, s.service_from) if d is not None}
    if not days and claim.statement_from is not None:
        days.add(claim.statement_from)
    return sorted(days)


def _units(value: Decimal | None) -> int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else None


def _match_line(svc: Any, pool: list[ChargeOnFile], claim: Any) -> tuple[ChargeOnFile | None, str]:
    """The billed line a remittance line answers, and how it was found (module docstring)."""
    if not pool:
        return None, ""
    lcn = svc.line_control_number.strip()
    if lcn:
        for c in pool:
            if c.line_id == lcn:
                return c, "line_control"
    dos = svc.service_date or svc.service_from or claim.statement_from
    units = _units(svc.units)
    mods = tuple(m.upper() for m in svc.modifiers)

    def same_day(c: ChargeOnFile) -> bool:
        return dos is None or c.dos == dos

    for c in pool:
        if c.code == svc.code and tuple(m.upper() for m in c.modifiers) == mods and same_day(c) \
                and (units is None or c.units == units):
            return c, "code_modifiers_dos_units"
    original = svc.original
    if original is not None:
        omods = tuple(m.upper() for m in original.modifiers)
        for c in pool:
            if c.code == original.code and same_day(c) and (not omods or tuple(m.upper() for m in c.modifiers) == omods):
                return c, "original_code"
    for c in pool:
        if c.code == svc.code and same_day(c) and (units is None or c.units == units):
            return c, "code_dos_units"
    return None, ""


def _remembered(categorize: Categorize) -> Categorize:
    """``categorize`` asked once per group and reason (a run meets a few dozen; the catalogue look-up
    is dated and was ~0.25 s per 100,000 lines)."""
    cache: dict[tuple[str, str], str] = {}

    def category(group: str, reason: str) -> str:
        found = cache.get((group, reason))
        if found is None:
            found = cache[(group, reason)] = categorize(group, reason)
        return found
    return category


def _is_denial(group: str, reason: str, categorize: Categorize) -> bool:
    """A reason that refuses (part of) the line rather than pricing it: any category other than
    contractual or patient responsibility. In group PR too: PR-204 (not covered by the plan) or
    PR-119 (benefit maximum) are denials the patient is liable for, not a deductible or coinsurance."""
    if reason in _NOT_DENIAL_REASONS:
        return False
    return categorize(group, reason) not in ("contractual", "patient_responsibility")


def _main_reason(adjustments: Sequence[tuple[str, str, Decimal]], categorize: Categorize) -> str:
    """The reason a biller acts on: the largest denial, else the largest patient responsibility,
    else the largest adjustment."""
    if not adjustments:
        return ""
    denials = [a for a in adjustments if _is_denial(a[0], a[1], categorize)]
    pool = denials or [a for a in adjustments if a[0] == "PR"] or list(adjustments)
    group, reason, _amount = max(pool, key=lambda a: abs(a[2]))
    return f"{group}-{reason}"


def _patient_total(adjustments: Sequence[tuple[str, str, Decimal]]) -> Decimal:
    """What the patient owes on the line: every PR adjustment (a PR denial included)."""
    return sum((a for g, _r, a in adjustments if g == "PR"), ZERO)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _split(billed: Decimal, paid: Decimal, adjustments: Sequence[tuple[str, str, Decimal]], price: LinePrice | None,
           categorize: Categorize) -> Variance:
    """billed − paid as sequestration + patient + denied + contractual + mppr + assistant + unexplained."""
    seq = patient = denied = explicit_mppr = ZERO
    for group, reason, amount in adjustments:
        if (group, reason) == _SEQUESTRATION:
            seq += amount
        elif _is_denial(group, reason, categorize):
            denied += amount
        elif group == "PR":
            patient += amount
        elif reason == _MPPR_REASON:
            explicit_mppr += amount
    taken = billed - paid - seq - patient - denied    # the contractual reductions the payer took
    if price is None or price.fee_allowed is None or price.charge is None:
        return Variance(seq, explicit_mppr, ZERO, patient, taken - explicit_mppr, denied, ZERO)
    if denied == ZERO or billed == ZERO:   # the whole line priced: the expected parts as they are
        contractual, mppr, assistant = billed - price.fee_allowed, price.mppr_reduction, price.assistant_reduction
    else:
        share = (billed - denied) / billed
        contractual = _cents((billed - price.fee_allowed) * share)
        mppr = _cents(price.mppr_reduction * share)
        assistant = _cents(price.assistant_reduction * share)
    return Variance(seq, mppr, assistant, patient, contractual, denied, taken - contractual - mppr - assistant)


def _status(paid: Decimal, v: Variance, claim_status: str, tolerance: Decimal) -> str:
    if paid == ZERO:
        if v.denied > ZERO or (claim_status == CLAIM_DENIED and v.patient == ZERO):
            return "denied" if v.patient == ZERO else "partially_denied"
        if v.patient > ZERO:
            return "patient_responsibility"
    if v.denied > ZERO:
        return "partially_denied"
    if v.unexplained > tolerance:
        return "underpaid"
    if v.unexplained < -tolerance:
        return "overpaid"
    return "paid"
