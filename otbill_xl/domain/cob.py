"""Coordination of benefits (COB): the other payer of a claim and its adjudication, as records the
837P writer turns into loops 2320 (other subscriber), 2330A (other insured), 2330B (other payer) and
2430 (line adjudication), and the rules that turn posted payments into them.

005010X222A1 facts used here (element values from the guide as shipped in pyx12's map
``837.5010.X222.A1.xml``; the balancing rules from the TR3 as quoted in X12 RFI #1115 and #1294 and in
clearinghouse edits, cited where applied):

* 2320 SBR01 is the *other* payer's responsibility (S on a primary claim listing the secondary; P on
  a secondary claim listing the primary), SBR02 the patient's relationship to the other insured,
  SBR09 the other payer's claim filing indicator; OI03 (benefits assignment) and OI06 (release of
  information) are required.
* SBR05 (insurance type, element 1336) is sent when Medicare is a secondary payer (Medicare Secondary
  Payer, MSP): in 2000B when Medicare is the payer of the claim, in 2320 when it is the other payer.
  The codes are dated data in ``refdata/msp_insurance_types.csv``.
* 2430 per line: SVD (other payer ID, paid amount, procedure, paid units), CAS (group and reason/
  amount pairs, at most 6 per segment, one segment per group code), DTP*573 (adjudication date) and
  AMT*EAF (remaining patient liability: line level when the payer adjudicated line by line, X12 RFI
  #1391/#1517).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import cache
from typing import NamedTuple

from otbill_xl import refdata
from otbill_xl.domain.models import Patient, Payer, PayerType, PostedPayment, Subscriber

#: CAS01 claim adjustment group codes allowed in 2320/2430 (005010X222A1, element 1033).
CAS_GROUPS = frozenset({"CO", "CR", "OA", "PI", "PR"})
#: A CAS segment holds at most 6 reason/amount/quantity triplets (CAS02..CAS19).
CAS_MAX_REASONS = 6
#: CARC: claim adjustment reason codes are 1 to 5 letters or digits (element 1034).
_CARC = re.compile(r"[A-Z0-9]{1,5}")
#: The MSP insurance type used when a patient's MedicareSecondaryType is blank: 12, "Medicare
#: Secondary Working Aged Beneficiary or Spouse with Employer Group Health Plan", the most common MSP
#: case; set MedicareSecondaryType on the Patients sheet for the others (msp_insurance_types.csv).
DEFAULT_MSP_TYPE = "12"
_ZERO = Decimal(0)


class Adjustment(NamedTuple):
    """One CAS reason: the adjustment group (CO, PR, ...), the CARC and the amount."""

    group: str
    reason: str
    amount: Decimal


class LineAdjudication(NamedTuple):
    """The other payer's adjudication of one service line (loop 2430)."""

    paid: Decimal                           # SVD02
    adjustments: tuple[Adjustment, ...]     # CAS, in group order
    paid_on: date                           # DTP*573
    patient_liability: Decimal              # AMT*EAF: what the primary left to the patient (its PR amounts)


class OtherPayer(NamedTuple):
    """An other payer of a claim (2320/2330A/2330B) and, once it has adjudicated the claim, its
    payment (2320 AMT*D) and line adjudications (2430, one per claim line in order)."""

    sequence: str                   # 2320 SBR01: the other payer's responsibility (P, S, T)
    payer: Payer
    member_id: str                  # 2330A NM109
    relationship_code: str          # 2320 SBR02: the patient's relationship to the other insured
    insured: Subscriber             # 2330A name (hidden from repr)
    group_number: str = ""          # 2320 SBR03
    insurance_type: str = ""        # 2320 SBR05 (Medicare as the other payer, not primary)
    paid: Decimal | None = None     # 2320 AMT*D (None: not adjudicated yet)
    lines: tuple[LineAdjudication, ...] = ()

    @property
    def filing_indicator(self) -> str:
        from otbill_xl.domain.claims import FILING_INDICATOR  # (claims imports this module)

        return FILING_INDICATOR[self.payer.payer_type]


@cache
def msp_insurance_types() -> dict[str, tuple[date | None, date | None, str]]:
    """SBR05 Medicare Secondary Payer insurance type codes: code -> (from, to, meaning)."""
    out = {}
    for row in csv.DictReader(io.StringIO(refdata.read_text("msp_insurance_types.csv"))):
        start = date.fromisoformat(row["effective_from"]) if row["effective_from"] else None
        end = date.fromisoformat(row["effective_to"]) if row["effective_to"] else None
        out[row["code"]] = (start, end, row["meaning"])
    return out


def msp_type_problem(code: str, on: date | None = None) -> str:
    """'' when ``code`` is an SBR05 MSP insurance type in force on ``on``; else why not."""
    found = msp_insurance_types().get(code)
    if found is None or (on is not None and ((found[0] and on < found[0]) or (found[1] and on > found[1]))):
        return (f"MedicareSecondaryType {code[:5]!r} is not an MSP insurance type code (SBR05: "
                f"{', '.join(sorted(msp_insurance_types()))})")
    return ""


def msp_type(patient: Patient) -> str:
    """The patient's Medicare Secondary Payer insurance type (SBR05), :data:`DEFAULT_MSP_TYPE` when blank."""
    return (patient.medicare_secondary_type or "").strip() or DEFAULT_MSP_TYPE


def secondary_payer(patient: Patient, payers_by_key: dict[str, Payer]) -> Payer | None:
    """The patient's secondary payer when it can be billed: on the Payers sheet, not self-pay, not the
    primary payer, with a SecondaryMemberID."""
    key = patient.secondary_payer_key
    if not key or key == patient.payer_key or not patient.secondary_member_id.strip():
        return None
    payer = payers_by_key.get(key)
    if payer is None or payer.payer_type is PayerType.SELF_PAY:
        return None
    return payer


def insured_self(patient: Patient) -> Subscriber:
    """The patient as the insured person of a coverage."""
    return Subscriber(last_name=patient.last_name, first_name=patient.first_name, dob=patient.dob, sex=patient.sex)


def secondary_on_primary(patient: Patient, payer: Payer) -> OtherPayer:
    """The 2320 loop of a primary claim for the patient's secondary ``payer``: SBR01=S, the patient as
    the secondary's insured (SBR02=18: the Patients sheet has no secondary subscriber columns; Medicare,
    Medicaid and supplement plans insure the patient), the SecondaryMemberID, SBR05 when the secondary
    is Medicare (MSP)."""
    return OtherPayer("S", payer, patient.secondary_member_id, "18", insured_self(patient), "",
                      msp_type(patient) if payer.payer_type is PayerType.MEDICARE else "")


# ------------------------------------------------------------------------------------------------
# Posted payments -> line adjudications
# ------------------------------------------------------------------------------------------------


def payments_by_line(payments: Iterable[PostedPayment]) -> dict[tuple[str, str], list[PostedPayment]]:
    """Payments rows by (ClaimID, LineID) as posted (rows without both are not line adjudications)."""
    out: dict[tuple[str, str], list[PostedPayment]] = {}
    for p in payments:
        claim_id, line_id = p.claim_id.strip(), p.line_id.strip()
        if claim_id and line_id:
            out.setdefault((claim_id, line_id), []).append(p)
    return out


def adjudicate(rows: Iterable[PostedPayment], charge: Decimal, payer_key: str) -> LineAdjudication | str:
    """The primary payer's adjudication of one line from its Payments rows, or why it cannot be sent.

    Rows posted for another payer (PayerKey set and not ``payer_key``: the secondary's own payment,
    say) are not the primary's. Paid amounts add up; each row's AdjGroup/AdjReason/AdjAmount is one
    adjustment (the same group and reason on two rows add up); PaymentDate is the latest row's.
    Balancing (005010X222A1 COB line balancing, as applied by clearinghouses — e.g. Stedi's edit "COB
    service lines must be balanced" — and X12 RFI #1115): the line charge (SV102) must equal the paid
    amount (SVD02) plus every line adjustment (CAS03...): otherwise the payer rejects the claim.
    """
    key = payer_key.strip().upper()
    own = [r for r in rows if not r.payer_key.strip() or r.payer_key.strip().upper() == key]
    if not own:
        return "no adjudication by the primary payer posted on the Payments sheet for this line"
    paid = sum((r.paid or _ZERO for r in own), _ZERO)
    if paid < 0:
        return f"the primary's paid amount is negative ({paid}): post the net payment of the line"
    merged: dict[tuple[str, str], Decimal] = {}
    for r in own:
        group, reason = r.adj_group.strip().upper(), r.adj_reason.strip().upper()
        if r.adj_amount is None:
            if group or reason:
                return f"Payments row {r.row}: AdjGroup/AdjReason without an AdjAmount"
            continue
        if r.adj_amount == 0:
            continue
        if group not in CAS_GROUPS:
            return (f"Payments row {r.row}: AdjGroup {group[:4]!r} is not a claim adjustment group "
                    f"({', '.join(sorted(CAS_GROUPS))})")
        if not _CARC.fullmatch(reason):
            return f"Payments row {r.row}: AdjReason {reason[:8]!r} is not a claim adjustment reason code (CARC)"
        merged[(group, reason)] = merged.get((group, reason), _ZERO) + r.adj_amount
    # A reversal posts negative rows that net the original (otbill reconcile): what counts is each
    # reason's net amount, which a CAS segment cannot carry below zero.
    for (group, reason), amount in list(merged.items()):
        if amount == 0:
            del merged[(group, reason)]
        elif amount < 0:
            return (f"the net {group}-{reason} adjustment of the line is negative ({amount}) and cannot be sent; "
                    "post the line's net adjustments")
    adjusted = sum(merged.values(), _ZERO)
    if paid + adjusted != charge:
        return (f"the primary's adjudication does not balance: charge {charge} ≠ paid {paid} + adjustments "
                f"{adjusted} (837P COB: SV102 = SVD02 + the line's CAS amounts; post every adjustment of the "
                "remittance line, patient responsibility as AdjGroup PR with its reason, e.g. PR 1 deductible, "
                "PR 2 coinsurance, PR 3 copay)")
    groups: dict[str, int] = {}
    for group, _reason in merged:
        groups[group] = groups.get(group, 0) + 1
    crowded = [g for g, n in groups.items() if n > CAS_MAX_REASONS]
    if crowded:
        return f"more than {CAS_MAX_REASONS} adjustment reasons in group {crowded[0]} (one CAS segment holds 6)"
    dates = [r.payment_date for r in own if r.payment_date is not None]
    if not dates:
        return "the primary's PaymentDate is blank on the Payments sheet (2430 DTP*573 needs the adjudication date)"
    adjustments = tuple(Adjustment(g, r, a) for (g, r), a in sorted(merged.items(), key=_group_order))
    liability = sum((a.amount for a in adjustments if a.group == "PR"), _ZERO)
    return LineAdjudication(paid, adjustments, max(dates), liability)


_GROUP_ORDER = {"CO": 0, "CR": 1, "OA": 2, "PI": 3, "PR": 4}


def _group_order(item: tuple[tuple[str, str], Decimal]) -> tuple[int, str]:
    (group, reason), _amount = item
    return _GROUP_ORDER[group], reason
