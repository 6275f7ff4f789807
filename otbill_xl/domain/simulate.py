"""A simulated payer: adjudicates the claims otbill billed and pays the amounts pricing expects, with
configurable outcomes planted (denials, under- and overpayments, a reversal and re-adjudication, a
PLB takeback, a dropped modifier, a changed code, a duplicate payment, a claim left unpaid, a
payment for a claim never billed). For tests and the demo; the 835 text is written by
``actions.simulate`` (``formats.x12.write835``).

Expected adjudication of a line priced by :mod:`otbill_xl.domain.pricing` (facts §5, §8):

* paid (SVC03) = ``expected_payer_payment``; allowed (AMT*B6) = ``expected_allowed``;
* CO-45 = charge − expected allowed (the contractual write-off, MPPR and CO/CQ reductions included);
* PR-1 = the Part B deductible, PR-3 = the copay, PR-2 = the rest of the patient's share
  (coinsurance: ``expected_patient_resp`` − deductible − copay);
* CO-253 = sequestration.

So charge = paid + Σ CAS on every line (X221A1 balancing), and the claim's CLP04/CLP05 are the sums
of its lines' payments and PR amounts. A line pricing could not price (``expected_allowed`` blank) is
denied with the ``unpriced`` adjustment (default CO-97, as Medicare does for the bundled 97010).

Deterministic: the payer claim numbers, traces and dates come from the claims, their order and
``as_of``; nothing is random.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from otbill_xl.domain.pricing import LinePrice
from otbill_xl.errors import OtbillError

ZERO = Decimal("0.00")
_CENT = Decimal("0.01")

#: The reconciliation statuses (issue 13 §2) a planted outcome may expect.
STATUSES = ("paid", "underpaid", "overpaid", "denied", "partially_denied", "patient_responsibility", "reversed",
            "readjudicated", "unmatched_remittance", "open", "duplicate_payment", "already_posted")
#: Outcome types of the outcomes file and the keys each one takes (besides ``type``).
OUTCOME_KEYS: dict[str, frozenset[str]] = {
    "deny": frozenset({"line", "group", "reason", "remarks", "amount", "line_control"}),
    "underpay": frozenset({"line", "amount", "line_control"}),
    "overpay": frozenset({"line", "amount", "line_control"}),
    "drop_modifiers": frozenset({"line", "line_control"}),
    "change_code": frozenset({"line", "code", "line_control"}),
    "reverse": frozenset({"claim", "line", "overpaid"}),
    "takeback": frozenset({"claim", "line", "reason", "amount"}),
    "duplicate": frozenset({"claim", "line"}),
    "skip": frozenset({"claim", "line"}),
    "unmatched": frozenset({"payer", "code", "charge", "paid", "dos"}),
}
_LINE_OUTCOMES = frozenset({"deny", "underpay", "overpay", "drop_modifiers", "change_code"})
_PAYMENT_OUTCOMES = frozenset({"deny", "underpay", "overpay"})
_CLAIM_OUTCOMES = frozenset({"reverse", "takeback", "duplicate", "skip"})
_GROUPS = frozenset({"CO", "PR", "OA", "PI"})
#: X221A1 PLB03-1 provider adjustment reasons a takeback may use.
_PLB_REASONS = frozenset({"WO", "72", "L6", "FB", "CS", "J1", "50", "WU", "IR", "AP", "B2", "B3", "BD", "BN", "C5",
                          "CR", "CT", "CV", "CW", "DM", "E3", "FC", "GO", "HM", "IP", "IS", "LE", "LS", "OA", "OB",
                          "PI", "PL", "RA", "RE", "SL", "TL", "UM"})
DEFAULT_REVERSAL_OVERPAID = Decimal("10.00")


class SimulateError(OtbillError):
    """The outcomes cannot be applied to the claims (the message names the outcome and what is wrong)."""

    message = "The payer simulation cannot be run."


class PatientRef(NamedTuple):
    last: str
    first: str
    member_id: str


class BilledLine(NamedTuple):
    """One 837P service line and the pricing of its Charges row (``None``: no row matched)."""

    line_id: str            # REF*6R as billed
    code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal
    dos: date | None
    price: LinePrice | None


class BilledClaim(NamedTuple):
    claim_id: str           # CLM01
    payer_id: str
    payer_name: str
    filing_indicator: str   # CLP06 (SBR09 of the claim)
    patient: PatientRef
    lines: tuple[BilledLine, ...]


class PaidLine(NamedTuple):
    line_control: str                    # "" : no REF*6R returned
    code: str
    modifiers: tuple[str, ...]
    original: tuple[str, tuple[str, ...]] | None   # SVC06 (code, modifiers) when the payer changed the code
    charge: Decimal
    paid: Decimal
    units: Decimal
    allowed: Decimal | None
    adjustments: tuple[tuple[str, str, Decimal], ...]   # (group, CARC, amount)
    dos: date | None
    remarks: tuple[str, ...]

    def negated(self) -> PaidLine:
        return self._replace(charge=-self.charge, paid=-self.paid,
                             allowed=None if self.allowed is None else -self.allowed,
                             adjustments=tuple((g, r, -a) for g, r, a in self.adjustments))


class PaidClaim(NamedTuple):
    claim_id: str
    status: str                          # CLP02: 1 processed as primary, 4 denied, 22 reversal
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    lines: tuple[PaidLine, ...]
    patient: PatientRef
    first_dos: date | None
    last_dos: date | None


class Payment(NamedTuple):
    """One remittance (one check or EFT): BPR02 = Σ CLP04 − Σ PLB amounts."""

    payer_id: str
    payer_name: str
    filing_indicator: str
    trace_number: str
    paid_on: date
    claims: tuple[PaidClaim, ...]
    provider_adjustments: tuple[tuple[str, str, Decimal], ...]   # (reason, reference, amount)

    @property
    def amount(self) -> Decimal:
        return sum((c.paid for c in self.claims), ZERO) - sum((a for _, _, a in self.provider_adjustments), ZERO)


class Planted(NamedTuple):
    """A planted outcome and the status reconciliation should give it. ``line_id`` is blank for a PLB
    takeback (the claim's lines are paid; ``amount`` is the PLB amount) and for a payment of an
    unbilled claim; ``trace_number`` is the remittance holding it."""

    outcome: str
    claim_id: str
    line_id: str
    status: str
    trace_number: str
    payer_claim_number: str
    amount: Decimal | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "claim_id": self.claim_id, "line_id": self.line_id, "status": self.status,
                "trace_number": self.trace_number, "payer_claim_number": self.payer_claim_number,
                "amount": None if self.amount is None else str(self.amount), "note": self.note}


@dataclass(frozen=True)
class Outcome:
    """One entry of the outcomes file (see docs/simulate-remit.md)."""

    kind: str
    number: int                         # 1-based position in the file, for messages
    claim: str = ""
    line: str = ""
    group: str = "CO"
    reason: str = ""
    remarks: tuple[str, ...] = ()
    amount: Decimal | None = None
    code: str = ""
    line_control: bool = True
    payer: str = ""
    charge: Decimal | None = None
    paid: Decimal | None = None
    dos: date | None = None


@dataclass(frozen=True)
class Outcomes:
    items: tuple[Outcome, ...] = ()
    #: How a line pricing could not price is adjudicated: (group, CARC, RARCs).
    unpriced: tuple[str, str, tuple[str, ...]] = ("CO", "97", ())


@dataclass(frozen=True)
class Simulation:
    payments: tuple[Payment, ...]
    planted: tuple[Planted, ...]
    #: Billed lines that were not paid at all (claims skipped): (claim ID, line ID).
    open_lines: tuple[tuple[str, str], ...] = field(default=())


# --------------------------------------------------------------------------------------------------
# The outcomes file


def parse_outcomes(data: object) -> Outcomes:
    """The outcomes file's JSON value: ``{"outcomes": [...], "unpriced": {...}}`` or a bare list."""
    if data is None:
        return Outcomes()
    if isinstance(data, list):
        data = {"outcomes": data}
    if not isinstance(data, dict):
        raise SimulateError("outcomes: expected a JSON object with an \"outcomes\" list (or a list)")
    unknown = set(data) - {"outcomes", "unpriced"}
    if unknown:
        raise SimulateError(f"outcomes: unknown key(s) {', '.join(sorted(unknown))}; use outcomes and unpriced")
    items = data.get("outcomes") or []
    if not isinstance(items, list):
        raise SimulateError("outcomes: \"outcomes\" must be a list")
    unpriced = Outcomes.unpriced
    if data.get("unpriced") is not None:
        u = data["unpriced"]
        if not isinstance(u, dict):
            raise SimulateError("outcomes: \"unpriced\" must be an object with group, reason and remarks")
        unpriced = (_group(u.get("group", "CO"), "unpriced"), _text(u.get("reason"), "unpriced", "reason"),
                    _remarks(u.get("remarks"), "unpriced"))
    return Outcomes(tuple(_outcome(item, n) for n, item in enumerate(items, 1)), unpriced)


def _outcome(item: object, n: int) -> Outcome:
    where = f"outcome {n}"
    if not isinstance(item, dict):
        raise SimulateError(f"{where}: expected an object with a \"type\"")
    kind = item.get("type")
    if kind not in OUTCOME_KEYS:
        raise SimulateError(f"{where}: type {kind!r} is not one of {', '.join(OUTCOME_KEYS)}")
    unknown = set(item) - OUTCOME_KEYS[kind] - {"type"}
    if unknown:
        raise SimulateError(f"{where} ({kind}): unknown key(s) {', '.join(sorted(unknown))}; "
                            f"it takes {', '.join(sorted(OUTCOME_KEYS[kind]))}")
    where = f"{where} ({kind})"
    claim = _text(item.get("claim", ""), where, "claim", required=False)
    line = _text(item.get("line", ""), where, "line", required=False)
    if kind in _LINE_OUTCOMES and not line:
        raise SimulateError(f"{where}: give the \"line\" (its LineID)")
    if kind in _CLAIM_OUTCOMES and not (claim or line):
        raise SimulateError(f"{where}: give the \"claim\" (its ClaimID) or a \"line\" of it (its LineID)")
    line_control = item.get("line_control", True)
    if not isinstance(line_control, bool):
        raise SimulateError(f"{where}: line_control must be true or false")
    o = Outcome(kind, n, claim=claim, line=line, line_control=line_control)
    if kind == "deny":
        amount = _money(item["amount"], where, "amount") if item.get("amount") is not None else None
        return Outcome(kind, n, claim, line, _group(item.get("group", "CO"), where),
                       _text(item.get("reason"), where, "reason"), _remarks(item.get("remarks"), where), amount,
                       line_control=line_control)
    if kind in ("underpay", "overpay"):
        return Outcome(kind, n, claim, line, amount=_money(item.get("amount"), where, "amount"),
                       line_control=line_control)
    if kind == "change_code":
        return Outcome(kind, n, claim, line, code=_text(item.get("code"), where, "code"), line_control=line_control)
    if kind == "reverse":
        overpaid = item.get("overpaid")
        return Outcome(kind, n, claim, line, amount=DEFAULT_REVERSAL_OVERPAID if overpaid is None
                       else _money(overpaid, where, "overpaid", allow_zero=True))
    if kind == "takeback":
        reason = _text(item.get("reason", "WO"), where, "reason").upper()
        if reason not in _PLB_REASONS:
            raise SimulateError(f"{where}: reason {reason!r} is not a PLB adjustment reason (e.g. WO, 72, L6, FB, CS)")
        return Outcome(kind, n, claim, line, reason=reason, amount=_money(item.get("amount"), where, "amount"))
    if kind == "unmatched":
        dos = item.get("dos")
        try:
            day = date.fromisoformat(dos) if dos else None
        except (TypeError, ValueError):
            raise SimulateError(f"{where}: dos {dos!r} is not a YYYY-MM-DD date") from None
        return Outcome(kind, n, payer=_text(item.get("payer", ""), where, "payer", required=False),
                       code=_text(item.get("code", "97110"), where, "code"),
                       charge=_money(item.get("charge", "100.00"), where, "charge"),
                       paid=_money(item.get("paid", "40.00"), where, "paid", allow_zero=True), dos=day)
    return o


def _text(value: object, where: str, key: str, *, required: bool = True) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise SimulateError(f"{where}: \"{key}\" is required")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise SimulateError(f"{where}: \"{key}\" must be text")
    return str(value).strip()


def _group(value: object, where: str) -> str:
    group = _text(value, where, "group").upper()
    if group not in _GROUPS:
        raise SimulateError(f"{where}: group {group!r} is not CO, PR, OA or PI")
    return group


def _remarks(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise SimulateError(f"{where}: remarks must be a list of RARC codes")
    return tuple(_text(v, where, "remarks").upper() for v in value)


def _money(value: object, where: str, key: str, *, allow_zero: bool = False) -> Decimal:
    """An amount in cents, given as a string ("5.00") or a number (floats are read by their text)."""
    if value is None or isinstance(value, bool):
        raise SimulateError(f"{where}: \"{key}\" is required (an amount such as \"5.00\")")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise SimulateError(f"{where}: \"{key}\" {value!r} is not an amount") from None
    if not amount.is_finite() or amount != amount.quantize(_CENT) or amount < 0 or (amount == 0 and not allow_zero):
        raise SimulateError(f"{where}: \"{key}\" must be a positive amount in cents, e.g. \"5.00\"")
    return amount.quantize(_CENT)


# --------------------------------------------------------------------------------------------------
# Adjudication


def expected_line(line: BilledLine, unpriced: tuple[str, str, tuple[str, ...]]) -> tuple[PaidLine, str]:
    """The line paid as pricing expects, and its status (paid, patient_responsibility; denied when
    pricing could not price it)."""
    p = line.price
    base = PaidLine(line.line_id, line.code, line.modifiers, None, line.charge, ZERO, line.units, None, (),
                    line.dos, ())
    if p is None or p.expected_allowed is None or p.expected_payer_payment is None:
        group, reason, remarks = unpriced
        return base._replace(adjustments=((group, reason, line.charge),), remarks=remarks), "denied"
    allowed, paid = p.expected_allowed, p.expected_payer_payment
    patient = p.expected_patient_resp or ZERO
    coinsurance = patient - p.deductible - p.copay
    adjustments = tuple((g, r, a) for g, r, a in (
        ("CO", "45", line.charge - allowed), ("PR", "1", p.deductible), ("PR", "2", coinsurance),
        ("PR", "3", p.copay), ("CO", "253", p.sequestration)) if a)
    paid_line = base._replace(paid=paid, allowed=allowed, adjustments=adjustments)
    if line.charge != paid + sum((a for _, _, a in adjustments), ZERO):
        raise SimulateError(f"line {line.line_id}: pricing's amounts do not add up (allowed {allowed} ≠ payment "
                            f"{paid} + patient {patient} + sequestration {p.sequestration})")
    status = "patient_responsibility" if paid == 0 and patient > 0 else "paid"
    return paid_line, status


def _add(line: PaidLine, group: str, reason: str, amount: Decimal) -> PaidLine:
    """``line`` with ``amount`` more adjusted under group-reason (merged into an existing triplet)."""
    adjustments = list(line.adjustments)
    for i, (g, r, a) in enumerate(adjustments):
        if (g, r) == (group, reason):
            adjustments[i] = (g, r, a + amount)
            break
    else:
        adjustments.append((group, reason, amount))
    return line._replace(adjustments=tuple((g, r, a) for g, r, a in adjustments if a))


def apply_line_outcome(line: PaidLine, status: str, o: Outcome) -> tuple[PaidLine, str]:
    """One line outcome applied to an expected line (see the module and docs/simulate-remit.md)."""
    where = f"outcome {o.number} ({o.kind}) on line {o.line}"
    if o.kind == "deny":
        if o.amount is None:  # the whole line denied: nothing allowed, the whole charge adjusted
            line = line._replace(paid=ZERO, allowed=None, adjustments=((o.group, o.reason, line.charge),),
                                 remarks=line.remarks + o.remarks)
            return line, "denied"
        if o.amount > line.paid:
            raise SimulateError(f"{where}: amount {o.amount} is more than the line's payment {line.paid}")
        line = _add(line._replace(paid=line.paid - o.amount, remarks=line.remarks + o.remarks), o.group, o.reason,
                    o.amount)
        return line._replace(allowed=None if line.allowed is None else line.allowed - o.amount), "partially_denied"
    if o.kind in ("underpay", "overpay"):
        assert o.amount is not None
        if status == "denied":
            raise SimulateError(f"{where}: the line is denied (not priced), it cannot be {o.kind}d")
        delta = o.amount if o.kind == "overpay" else -o.amount
        if line.paid + delta < 0:
            raise SimulateError(f"{where}: amount {o.amount} is more than the line's payment {line.paid}")
        line = _add(line._replace(paid=line.paid + delta), "CO", "45", -delta)
        return (line._replace(allowed=None if line.allowed is None else line.allowed + delta),
                "overpaid" if delta > 0 else "underpaid")
    if o.kind == "drop_modifiers":
        return line._replace(modifiers=()), status
    if o.kind == "change_code":
        return line._replace(code=o.code, original=(line.code, line.modifiers)), status
    raise AssertionError(o.kind)  # pragma: no cover - only line outcomes come here


def claim_of(lines: Sequence[PaidLine], claim: BilledClaim, status: str, payer_claim: str) -> PaidClaim:
    paid = sum((x.paid for x in lines), ZERO)
    patient = sum((a for x in lines for g, _, a in x.adjustments if g == "PR"), ZERO)
    if status == "1" and lines and all(x.paid == 0 and x.allowed is None for x in lines):
        status = "4"  # every line denied: the claim is denied
    dates = [x.dos for x in claim.lines if x.dos is not None]
    return PaidClaim(claim.claim_id, status, sum((x.charge for x in lines), ZERO), paid, patient, payer_claim,
                     tuple(lines), claim.patient, min(dates) if dates else None, max(dates) if dates else None)


def reversal_of(claim: PaidClaim) -> PaidClaim:
    """CLP02=22: the original adjudication with every amount negated, the same payer claim number."""
    return claim._replace(status="22", charge=-claim.charge, paid=-claim.paid,
                          patient_responsibility=-claim.patient_responsibility,
                          lines=tuple(x.negated() for x in claim.lines))


class _PayerRun:
    """The remittances of one payer being built: the first (regular) and a second one for reversals
    and duplicate payments."""

    def __init__(self, index: int, claim: BilledClaim, as_of: date) -> None:
        self.index = index
        self.payer_id, self.payer_name, self.filing = claim.payer_id, claim.payer_name, claim.filing_indicator
        self.first: list[PaidClaim] = []
        self.second: list[PaidClaim] = []
        self.plb: list[tuple[str, str, Decimal]] = []
        self.sequence = 0
        self.as_of = as_of

    def trace(self, which: int) -> str:
        return f"{self.as_of:%y%m%d}{self.index:02d}{which}"

    def payer_claim_number(self) -> str:
        self.sequence += 1
        return f"{self.as_of:%y%m%d}{self.index:02d}{self.sequence:06d}"

    def payments(self) -> list[Payment]:
        out = [self._payment(1, self.first, self.plb)]
        if self.second:
            out.append(self._payment(2, self.second, []))
        return out

    def _payment(self, which: int, claims: list[PaidClaim], plb: list[tuple[str, str, Decimal]]) -> Payment:
        payment = Payment(self.payer_id, self.payer_name, self.filing, self.trace(which), self.as_of, tuple(claims),
                          tuple(plb))
        if payment.amount < 0:
            # X221A1: no negative payment; the payer carries the balance forward (PLB FB, a negative amount
            # here, recovered from a later payment).
            payment = payment._replace(provider_adjustments=payment.provider_adjustments + (
                ("FB", self.trace(which), payment.amount),))
        return payment


def simulate(claims: Sequence[BilledClaim], outcomes: Outcomes, as_of: date) -> Simulation:
    """Adjudicate ``claims`` (in the order given) with ``outcomes`` planted; one remittance per payer
    (a second one for a payer with a reversal or a duplicate payment)."""
    by_claim = {c.claim_id: c for c in claims}
    claim_of_line = {line.line_id: c.claim_id for c in claims for line in c.lines}
    line_outcomes: dict[tuple[str, str], list[Outcome]] = {}
    claim_outcomes: dict[str, list[Outcome]] = {}
    unmatched: list[Outcome] = []
    for o in outcomes.items:
        if o.kind == "unmatched":
            unmatched.append(o)
            continue
        claim_id = o.claim or claim_of_line.get(o.line, "")
        if o.claim and o.claim not in by_claim:
            raise SimulateError(f"outcome {o.number} ({o.kind}): claim {o.claim} is not in the claim files")
        if not claim_id:
            raise SimulateError(f"outcome {o.number} ({o.kind}): line {o.line} is not in the claim files")
        if o.kind in _LINE_OUTCOMES:
            if o.line not in {x.line_id for x in by_claim[claim_id].lines}:
                raise SimulateError(f"outcome {o.number} ({o.kind}): line {o.line} is not on claim {claim_id}")
            line_outcomes.setdefault((claim_id, o.line), []).append(o)
        else:
            claim_outcomes.setdefault(claim_id, []).append(o)
    _check_combinations(line_outcomes, claim_outcomes)

    runs: dict[str, _PayerRun] = {}
    planted: list[Planted] = []
    open_lines: list[tuple[str, str]] = []
    for claim in claims:
        run = runs.get(claim.payer_id)
        if run is None:
            run = runs[claim.payer_id] = _PayerRun(len(runs) + 1, claim, as_of)
        kinds = {o.kind: o for o in claim_outcomes.get(claim.claim_id, ())}
        if "skip" in kinds:
            for line in claim.lines:
                open_lines.append((claim.claim_id, line.line_id))
                planted.append(Planted("skip", claim.claim_id, line.line_id, "open", "", ""))
            continue
        pcn = run.payer_claim_number()
        lines: list[PaidLine] = []
        statuses: list[str] = []
        for line in claim.lines:
            paid, status = expected_line(line, outcomes.unpriced)
            if status == "denied":
                planted.append(Planted("unpriced", claim.claim_id, line.line_id, "denied", run.trace(1), pcn,
                                       note="not priced: denied with " + "-".join(outcomes.unpriced[:2])))
            for o in line_outcomes.get((claim.claim_id, line.line_id), ()):
                paid, status = apply_line_outcome(paid, status, o)
                if not o.line_control:
                    paid = paid._replace(line_control="")
                planted.append(Planted(o.kind, claim.claim_id, line.line_id, status, run.trace(1), pcn, o.amount,
                                       _note(o)))
            lines.append(paid)
            statuses.append(status)
        adjudicated = claim_of(lines, claim, "1", pcn)
        reverse = kinds.get("reverse")
        if reverse is not None:
            assert reverse.amount is not None
            first = lines[0]
            original_lines = [_add(first._replace(
                paid=first.paid + reverse.amount,
                allowed=None if first.allowed is None else first.allowed + reverse.amount), "CO", "45",
                -reverse.amount)] + lines[1:]
            original = claim_of(original_lines, claim, "1", pcn)
            run.first.append(original)
            run.second += [reversal_of(original), adjudicated]
            for n, line in enumerate(claim.lines):
                first_status = "overpaid" if n == 0 and reverse.amount else statuses[n]
                planted.append(Planted("reverse", claim.claim_id, line.line_id, first_status, run.trace(1), pcn,
                                       reverse.amount if n == 0 else None, "the original payment, reversed later"))
                planted.append(Planted("reverse", claim.claim_id, line.line_id, "reversed", run.trace(2), pcn,
                                       note="CLP02=22: the original payment negated"))
                planted.append(Planted("reverse", claim.claim_id, line.line_id, "readjudicated", run.trace(2), pcn,
                                       note="the corrected payment"))
        else:
            run.first.append(adjudicated)
        if "duplicate" in kinds:
            again = adjudicated._replace(payer_claim_number=run.payer_claim_number())
            run.second.append(again)
            for line in claim.lines:
                planted.append(Planted("duplicate", claim.claim_id, line.line_id, "duplicate_payment", run.trace(2),
                                       again.payer_claim_number, note="the same claim paid again"))
        takeback = kinds.get("takeback")
        if takeback is not None:
            assert takeback.amount is not None
            run.plb.append((takeback.reason, pcn, takeback.amount))
            planted.append(Planted("takeback", claim.claim_id, "", "paid", run.trace(1), pcn, takeback.amount,
                                   f"PLB {takeback.reason} takes back {takeback.amount}"))

    for o in unmatched:
        run = runs.get(o.payer) if o.payer else next(iter(runs.values()), None)
        if run is None:
            raise SimulateError(f"outcome {o.number} (unmatched): payer {o.payer or '(none)'} has no claims in the "
                                "claim files")
        assert o.charge is not None and o.paid is not None
        if o.paid > o.charge:
            raise SimulateError(f"outcome {o.number} (unmatched): paid {o.paid} is more than the charge {o.charge}")
        claim_id = f"UNBILLED{o.number:03d}"
        pcn = run.payer_claim_number()
        day = o.dos or as_of
        paid_line = PaidLine("", o.code, (), None, o.charge, o.paid, Decimal(1), o.paid,
                             (("CO", "45", o.charge - o.paid),) if o.charge != o.paid else (), day, ())
        ghost = BilledClaim(claim_id, run.payer_id, run.payer_name, run.filing, PatientRef("UNMATCHED", "PATIENT", ""),
                            (BilledLine("", o.code, (), o.charge, Decimal(1), day, None),))
        run.first.append(claim_of([paid_line], ghost, "1", pcn))
        planted.append(Planted("unmatched", claim_id, "", "unmatched_remittance", run.trace(1), pcn, o.paid,
                               "a payment for a claim never billed"))

    payments = tuple(p for run in runs.values() for p in run.payments())
    return Simulation(payments, tuple(planted), tuple(open_lines))


def _check_combinations(line_outcomes: Mapping[tuple[str, str], list[Outcome]],
                        claim_outcomes: Mapping[str, list[Outcome]]) -> None:
    for (_, line_id), items in line_outcomes.items():
        paying = [o for o in items if o.kind in _PAYMENT_OUTCOMES]
        if len(paying) > 1:
            raise SimulateError(f"outcomes {paying[0].number} and {paying[1].number}: line {line_id} has two payment "
                                "outcomes (deny, underpay, overpay); give one")
        shaped = [o for o in items if o.kind in ("drop_modifiers", "change_code")]
        if len(shaped) > 1:
            raise SimulateError(f"outcomes {shaped[0].number} and {shaped[1].number}: line {line_id} has two SVC "
                                "outcomes (drop_modifiers, change_code); give one")
    lines_of = {claim_id for claim_id, _ in line_outcomes}
    for claim_id, items in claim_outcomes.items():
        kinds = [o.kind for o in items]
        for kind in set(kinds):
            if kinds.count(kind) > 1:
                raise SimulateError(f"claim {claim_id} has {kind} twice in the outcomes")
        exclusive = [o for o in items if o.kind in ("skip", "reverse", "duplicate")]
        if exclusive and (len(items) > 1 or claim_id in lines_of):
            raise SimulateError(f"outcome {exclusive[0].number} ({exclusive[0].kind}): claim {claim_id} has other "
                                "outcomes; skip, reverse and duplicate each take a claim of their own")


def _note(o: Outcome) -> str:
    if o.kind == "deny":
        return f"{o.group}-{o.reason}" + (f" {' '.join(o.remarks)}" if o.remarks else "")
    if o.kind == "change_code":
        return f"paid as {o.code}"
    return ""
