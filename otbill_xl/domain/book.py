"""The practice book: everything one practice workbook holds, as typed immutable records."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from otbill_xl.domain.models import (
    ChargeLine,
    ChargeMasterEntry,
    FeeScheduleEntry,
    MedicareGPCI,
    MedicareRVU,
    Patient,
    Payer,
    PostedPayment,
    Practice,
    Provider,
)


@dataclass(frozen=True)
class PracticeBook:
    """A practice's settings, payers, providers, patients, charge master, fee schedule, Medicare
    RVUs and GPCIs, charge lines and posted payments. Lookup tables (``payers_by_key`` ...) are built on first use."""

    practice: Practice = field(default_factory=Practice)
    payers: tuple[Payer, ...] = ()
    providers: tuple[Provider, ...] = ()
    patients: tuple[Patient, ...] = ()
    charge_master: tuple[ChargeMasterEntry, ...] = ()
    fee_schedule: tuple[FeeScheduleEntry, ...] = ()
    medicare_rvus: tuple[MedicareRVU, ...] = ()
    medicare_gpcis: tuple[MedicareGPCI, ...] = ()
    charges: tuple[ChargeLine, ...] = ()
    payments: tuple[PostedPayment, ...] = ()

    @cached_property
    def payers_by_key(self) -> dict[str, Payer]:
        return {p.payer_key: p for p in self.payers}

    @cached_property
    def providers_by_npi(self) -> dict[str, Provider]:
        return {p.npi: p for p in self.providers}

    @cached_property
    def patients_by_id(self) -> dict[str, Patient]:
        return {p.patient_id: p for p in self.patients}

    def payer_for(self, patient_id: str) -> Payer | None:
        """The primary payer of a patient, or ``None`` when the patient or payer is unknown."""
        patient = self.patients_by_id.get(patient_id)
        return self.payers_by_key.get(patient.payer_key) if patient else None
