"""The payer simulator's action: read the 837P files otbill wrote, price the workbook (the pipeline of
``otbill price``), adjudicate with :mod:`otbill_xl.domain.simulate` and write the 835
(:mod:`otbill_xl.formats.x12.write835`). Used by ``otbill simulate-remit``, the demo and tests.

Each 837P service line is matched to its Charges row by REF*6R (the LineID, or ``R`` + the row number
the writer uses for a LineID it cannot send). Claims are paid to the payer of their 837P (NM1*PR);
a claim billed to a payer that is not the line's priced payer (a secondary claim) and a void
(frequency 8) are not paid: they are listed in ``notes``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.claims import FILING_INDICATOR
from otbill_xl.domain.models import Payer
from otbill_xl.domain.pricing import LinePrice
from otbill_xl.domain.simulate import (
    BilledClaim,
    BilledLine,
    Outcomes,
    PaidClaim,
    PaidLine,
    PatientRef,
    Payment,
    Planted,
    SimulateError,
    Simulation,
    parse_outcomes,
    simulate,
)
from otbill_xl.formats.x12.envelope import ControlNumbers, digits_only
from otbill_xl.formats.x12.read835 import (
    Adjustment,
    ClaimPayment,
    Procedure,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from otbill_xl.formats.x12.read837 import ParsedClaim, X12ReadError, read_837p
from otbill_xl.formats.x12.write835 import Address, PatientName, PayeeDetails, PayerDetails, write_835
from otbill_xl.workbook.files import FileWorkbook, atomic_save
from otbill_xl.workbook.port import WorkbookPort

__all__ = ["SimulatedRemit", "load_outcomes", "simulate_remit", "simulate_remittances", "write_simulated_remit"]

#: The 835's interchange, group and first transaction control numbers (a simulation keeps no ledger).
CONTROL = ControlNumbers(1, 1, 1)
_ONE = Decimal(1)


@dataclass(frozen=True)
class SimulatedRemit:
    text: str
    simulation: Simulation
    remittances: tuple[Remittance, ...]
    files: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def planted(self) -> tuple[Planted, ...]:
        return self.simulation.planted

    def to_dict(self) -> dict[str, Any]:
        return {"files": list(self.files),
                "remittances": [{"payer_id": p.payer_id, "payer": p.payer_name, "trace_number": p.trace_number,
                                 "payment_date": p.paid_on.isoformat(), "claims": len(p.claims),
                                 "lines": sum(len(c.lines) for c in p.claims), "paid": str(p.amount),
                                 "provider_adjustments": str(sum((a for _, _, a in p.provider_adjustments),
                                                                 Decimal(0)))}
                                for p in self.simulation.payments],
                "planted": [p.to_dict() for p in self.planted], "notes": list(self.notes)}


def load_outcomes(path: Path | None) -> Outcomes:
    """The outcomes JSON file (docs/simulate-remit.md); ``None``: no outcomes."""
    if path is None:
        return Outcomes()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SimulateError(f"{path.name}: cannot read the outcomes file ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SimulateError(f"{path.name}: the outcomes file is not JSON ({exc})") from None
    return parse_outcomes(data)


def simulate_remit(port_or_path: WorkbookPort | str | os.PathLike[str], claims_dir: str | os.PathLike[str],
                   outcomes: Outcomes | dict | list | str | os.PathLike[str] | None = None,
                   as_of: date | None = None) -> tuple[str, tuple[Planted, ...]]:
    """The 835 text paying the claims in ``claims_dir`` and the planted outcomes (see the module doc).
    ``outcomes``: parsed :class:`Outcomes`, the outcomes file's JSON value, or its path."""
    result = simulate_remittances(port_or_path, claims_dir, outcomes, as_of=as_of)
    return result.text, result.planted


def simulate_remittances(port_or_path: WorkbookPort | str | os.PathLike[str], claims_dir: str | os.PathLike[str],
                         outcomes: Outcomes | dict | list | str | os.PathLike[str] | None = None, *,
                         as_of: date | None = None, pipeline: Pipeline | None = None) -> SimulatedRemit:
    """:func:`simulate_remit` with everything it made (remittance records, notes)."""
    if as_of is None:
        raise SimulateError("give the date of the payment (as_of)")
    if isinstance(outcomes, str | os.PathLike):
        outcomes = load_outcomes(Path(outcomes))
    elif not isinstance(outcomes, Outcomes):
        outcomes = parse_outcomes(outcomes)
    if pipeline is None:
        port = FileWorkbook(port_or_path) if isinstance(port_or_path, str | os.PathLike) else port_or_path
        pipeline = Pipeline(port, as_of=as_of, prices=True)
    book, pricing = pipeline.book, pipeline.pricing
    files = sorted(Path(claims_dir).glob("*.837"))
    if not files:
        raise SimulateError(f"{Path(claims_dir).name}: no 837P claim files (*.837) in the folder; run otbill claims "
                            "first")
    parsed = []
    for f in files:
        try:
            parsed.append(read_837p(f.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise SimulateError(f"{f.name}: cannot read the claim file ({type(exc).__name__})") from None
        except X12ReadError as exc:
            raise SimulateError(f"{f.name}: {exc}") from None
    notes: list[str] = []
    billed = _billed_claims([c for p in parsed for c in p.claims], book, pricing.lines, notes)
    simulation = simulate(billed, outcomes, as_of)
    allowed: dict[int, tuple[ServicePayment, Decimal | None]] = {}
    remittances = tuple(_remittance(p, book, allowed) for p in simulation.payments)
    practice = book.practice
    address = (Address(practice.pay_to_address, practice.pay_to_city, practice.pay_to_state, practice.pay_to_zip)
               if practice.pay_to_address else Address(practice.address, practice.city, practice.state, practice.zip))
    patients = {c.claim_id: PatientName(c.patient.last, c.patient.first, c.patient.member_id)
                for p in simulation.payments for c in p.claims}
    payers = {p.payer_id: PayerDetails(filing_indicator=p.filing_indicator) for p in simulation.payments}
    first = parsed[0]
    text = write_835(remittances, sender_id=first.receiver_id, receiver_id=first.sender_id, control=CONTROL,
                     created=datetime.combine(as_of, time(12, 0)), usage="T", payers=payers,
                     payee=PayeeDetails(address if address.line1 and address.city else None), patients=patients,
                     allowed_of=lambda s: allowed[id(s)][1])
    return SimulatedRemit(text, simulation, remittances, tuple(f.name for f in files), tuple(notes))


def to_remittances(simulation: Simulation, book: PracticeBook) -> tuple[Remittance, ...]:
    """The simulation's payments as 835 remittance records (what :func:`read_835` gives back)."""
    allowed: dict[int, tuple[ServicePayment, Decimal | None]] = {}
    return tuple(_remittance(p, book, allowed) for p in simulation.payments)


def write_simulated_remit(result: SimulatedRemit, target: Path) -> None:
    """Write the 835 atomically (a temporary file renamed onto ``target``)."""
    data = result.text.encode("ascii")
    atomic_save(lambda tmp: Path(tmp).write_bytes(data), target)


# --------------------------------------------------------------------------------------------------


def _billed_claims(claims: Sequence[ParsedClaim], book: PracticeBook, prices: Sequence[LinePrice],
                   notes: list[str]) -> list[BilledClaim]:
    by_id: dict[str, LinePrice | None] = {}
    for p in prices:
        by_id[p.line_id] = None if p.line_id in by_id else p   # a LineID used twice: matched by row only
    by_row = {p.row: p for p in prices}
    charge_rows = {c.row: c for c in book.charges}
    payer_by_id: dict[str, Payer] = {}
    for each in book.payers:
        payer_by_id.setdefault(each.payer_id, each)
    out: list[BilledClaim] = []
    for claim in claims:
        if claim.frequency == "8":
            notes.append(f"claim {claim.claim_id} is a void (frequency 8): not paid")
            continue
        lines: list[BilledLine] = []
        patient_id = ""
        for line in claim.lines:
            ref = line.line_control_number
            price = by_id.get(ref)
            if price is None and ref[:1] == "R" and ref[1:].rstrip("X").isdigit():
                price = by_row.get(int(ref[1:].rstrip("X")))
            if price is None:
                notes.append(f"claim {claim.claim_id} line {ref or '(no REF*6R)'}: no priced Charges row; denied as "
                             "not priced")
            else:
                row = charge_rows.get(price.row)
                patient_id = patient_id or (row.patient_id if row else "")
            lines.append(BilledLine(ref, line.code, line.modifiers, line.charge, line.units or _ONE, line.dos, price))
        payer = payer_by_id.get(claim.payer_id)
        priced_payers = {x.price.payer_key for x in lines if x.price is not None}
        if payer is not None and priced_payers and payer.payer_key not in priced_payers:
            notes.append(f"claim {claim.claim_id} is billed to {payer.payer_key}, not the priced payer (a secondary "
                         "claim): not paid")
            continue
        patient = book.patients_by_id.get(patient_id)
        out.append(BilledClaim(
            claim.claim_id, claim.payer_id, claim.payer_name,
            FILING_INDICATOR[payer.payer_type] if payer is not None else "CI",
            PatientRef(patient.last_name if patient else "", patient.first_name if patient else "",
                       claim.subscriber_member_id),
            tuple(lines)))
    return out


def _remittance(payment: Payment, book: PracticeBook,
                allowed: dict[int, tuple[ServicePayment, Decimal | None]]) -> Remittance:
    practice = book.practice
    npi = practice.billing_npi
    return Remittance(
        transaction_control="", payer_name=payment.payer_name, payer_id=payment.payer_id,
        payee_name=practice.practice_name, payee_id_qualifier="XX", payee_id=npi, payee_npi=npi,
        payee_refs=(("TJ", digits_only(practice.tax_id)),) if digits_only(practice.tax_id) else (),
        amount=payment.amount, credit_debit="C", method="CHK" if payment.amount > 0 else "NON",
        payment_date=payment.paid_on, trace_number=payment.trace_number,
        claims=tuple(_claim(c, allowed) for c in payment.claims),
        provider_adjustments=tuple(ProviderAdjustment(provider_id=npi, fiscal_period=date(payment.paid_on.year, 12, 31),
                                                      reason=reason, reference=reference, amount=amount)
                                   for reason, reference, amount in payment.provider_adjustments),
        problems=(), segment=0)


def _claim(c: PaidClaim, allowed: dict[int, tuple[ServicePayment, Decimal | None]]) -> ClaimPayment:
    return ClaimPayment(patient_control_number=c.claim_id, status=c.status, charge=c.charge, paid=c.paid,
                        patient_responsibility=c.patient_responsibility, payer_claim_number=c.payer_claim_number,
                        adjustments=(), services=tuple(_service(x, allowed) for x in c.lines), statement_from=c.first_dos,
                        statement_to=c.last_dos, segment=0)


#: ServicePayment.allowed (AMT*B6) when the 835 reader's record has it.
_HAS_ALLOWED = "allowed" in ServicePayment._fields


def _service(x: PaidLine, allowed: dict[int, tuple[ServicePayment, Decimal | None]]) -> ServicePayment:
    """The line's record; its allowed amount is kept beside it (by the record's identity, the record
    held too) for AMT*B6 whether or not the reader's record type has ``allowed`` yet."""
    fields: dict[str, Any] = dict(
        qualifier="HC", code=x.code, modifiers=x.modifiers, charge=x.charge, paid=x.paid, units=x.units,
        original=Procedure("HC", x.original[0], x.original[1]) if x.original else None,
        adjustments=tuple(Adjustment(group=g, reason=r, amount=a, quantity=None) for g, r, a in x.adjustments),
        line_control_number=x.line_control, service_date=x.dos, service_from=None, service_to=None,
        remark_codes=x.remarks, segment=0)
    if _HAS_ALLOWED:
        fields["allowed"] = x.allowed
    record = ServicePayment(**fields)
    allowed[id(record)] = (record, x.allowed)
    return record
