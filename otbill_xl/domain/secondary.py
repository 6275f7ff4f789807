"""Secondary claims: once the primary payer's adjudication is posted on the Payments sheet, the
remaining balance of each line billed to the primary is billed to the patient's secondary payer
(005010X222A1 coordination of benefits: SBR01=S, the primary as the 2320 other payer with its paid
amount, AMT*D, and each line's adjudication, 2430).

A line goes to the secondary only when:

* its patient has a billable secondary payer (:func:`otbill_xl.domain.cob.secondary_payer`);
* the ledger has it billed to the primary, unchanged since (the caller passes those rows with the
  primary's ClaimID, ``primary_claim_of``) and not yet billed to the secondary (``hold``);
* it passes every rule a primary line passes (the same scrub findings and assembly checks);
* the primary's adjudication of it is posted, balances, and leaves a patient responsibility for the
  secondary to consider (:func:`otbill_xl.domain.cob.adjudicate`).

Every other line of a patient with a secondary is held back with its reason. One secondary claim per
primary claim (the lines of that claim that qualify), so its 2320 loop reports one adjudication.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.claims import (
    RELATIONSHIP_CODE,
    Assembly,
    Claim,
    HeldBack,
    ServiceLine,
    _hashed_id,
    assemble_claims,
    line_control_numbers,
    patient_is_subscriber,
)
from otbill_xl.domain.cob import (
    LineAdjudication,
    OtherPayer,
    adjudicate,
    insured_self,
    msp_type,
    payments_by_line,
    secondary_payer,
)
from otbill_xl.domain.findings import Finding
from otbill_xl.domain.models import Patient, Payer, PayerType, Relationship, Subscriber

NOT_BILLED_TO_PRIMARY = ("not billed to the primary payer yet (or changed since): the secondary is billed after the "
                         "primary has adjudicated the line")
NOTHING_LEFT = ("nothing left for the secondary: the primary's adjudication leaves no patient responsibility "
                "(no PR adjustment)")


def secondary_claim_id(primary_claim_id: str, lines: Iterable[ServiceLine]) -> str:
    """The secondary claim's patient control number (CLM01): ``OT`` + 18 hex digits of a SHA-256 of
    ``S``, the primary's ClaimID and the lines' ``line_id|dos|code`` — stable across runs, and never
    the primary's, so a remittance for either matches its own claim."""
    return _hashed_id("\x1f".join(["S", primary_claim_id, *(f"{s.line_id}|{s.dos}|{s.code}" for s in lines)]))


def assemble_secondary(book: PracticeBook, findings: Iterable[Finding], *, primary_claim_of: Mapping[int, str],
                       hold: Mapping[int, str] | None = None, computed_units: dict[int, int] | None = None,
                       group: str = "visit", strict: bool = False,
                       sheet_names: Mapping[str, str] | None = None) -> Assembly:
    """Secondary claims for the lines of patients with a secondary payer (see the module doc).

    ``primary_claim_of``: charge row -> the primary ClaimID the ledger billed it in (unchanged since);
    ``hold``: charge row -> why the ledger holds it back from the secondary (already billed to it).
    Lines of patients without a secondary are not part of a secondary run: neither billed nor listed."""
    payers = book.payers_by_key
    secondary_of: dict[str, Payer | None] = {}
    for p in book.patients:
        secondary_of[p.patient_id] = secondary_payer(p, payers) if p.secondary_payer_key else None
    reasons: dict[int, str] = {}
    covered: set[int] = set()
    for charge in book.charges:
        row = charge.row
        if secondary_of.get(charge.patient_id) is None:
            reasons[row] = "no secondary payer"
            continue
        covered.add(row)
        if hold and row in hold:
            reasons[row] = hold[row]
        elif row not in primary_claim_of:
            reasons[row] = NOT_BILLED_TO_PRIMARY
    base = assemble_claims(book, findings, computed_units=computed_units, prior=reasons, group=group, strict=strict,
                           sheet_names=sheet_names)
    held = [h for h in base.held_back if h.row in covered]
    posted = payments_by_line(book.payments)
    views: dict[str, Patient] = {}
    claims: list[Claim] = []
    for claim in base.claims:
        patient = claim.patient
        secondary = secondary_of[patient.patient_id]
        if secondary is None:  # (never: such lines were held back above)
            continue
        controls = line_control_numbers(claim.lines)
        by_primary: dict[str, list[tuple[ServiceLine, LineAdjudication]]] = {}
        for line, control in zip(claim.lines, controls, strict=True):
            primary_id = primary_claim_of[line.row]
            rows = posted.get((primary_id, line.line_id)) or posted.get((primary_id, control)) or []
            adj = adjudicate(rows, line.charge, claim.payer.payer_key)
            if isinstance(adj, str):
                held.append(HeldBack(line.row, line.line_id, (f"secondary: {adj} (primary claim {primary_id})",)))
            elif adj.patient_liability <= 0:
                held.append(HeldBack(line.row, line.line_id, (f"secondary: {NOTHING_LEFT} (primary claim "
                                                              f"{primary_id})",)))
            else:
                by_primary.setdefault(primary_id, []).append((line, adj))
        if not by_primary:
            continue
        view = views.get(patient.patient_id)
        if view is None:
            view = views[patient.patient_id] = _as_secondary_subscriber(patient, secondary)
        for primary_id, items in by_primary.items():
            lines = tuple(s for s, _a in items)
            adjudications = tuple(a for _s, a in items)
            primary = _primary_as_other(patient, claim.payer, sum((a.paid for a in adjudications), Decimal(0)),
                                        adjudications)
            claims.append(Claim(secondary_claim_id(primary_id, lines), secondary, view, patient.secondary_member_id,
                                claim.rendering, claim.pos, claim.diagnoses, lines, "1", "", "", claim.referring, "S",
                                msp_type(patient) if secondary.payer_type is PayerType.MEDICARE else "", (primary,)))
    claims.sort(key=lambda c: (c.payer.payer_key, c.first_dos, c.patient.patient_id, c.claim_id))
    held.sort(key=lambda h: h.row)
    return Assembly(tuple(claims), tuple(held))


def _as_secondary_subscriber(patient: Patient, secondary: Payer) -> Patient:
    """The patient as the secondary coverage's insured (2000B/2010BA of the secondary claim): the
    Patients sheet has no secondary subscriber columns, and Medicare, Medicaid and supplement plans
    insure the patient."""
    return patient.model_copy(update={"payer_key": secondary.payer_key, "member_id": patient.secondary_member_id,
                                      "relationship": Relationship.SELF, "subscriber": None, "group_number": ""})


def _primary_as_other(patient: Patient, primary: Payer, paid: Decimal,
                      lines: tuple[LineAdjudication, ...]) -> OtherPayer:
    """The primary payer as the 2320 other payer of a secondary claim (SBR01=P), with its adjudication."""
    if patient_is_subscriber(primary, patient):
        relationship, insured = "18", insured_self(patient)
    else:
        relationship = RELATIONSHIP_CODE[patient.relationship]
        insured = patient.subscriber or Subscriber()  # (blank: the writer refuses the claim, with its reason)
    return OtherPayer("P", primary, patient.member_id, relationship, insured, patient.group_number, "", paid, lines)
