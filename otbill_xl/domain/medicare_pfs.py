"""Medicare Physician Fee Schedule (PFS) amounts and Medicare's dated payment rates.

Fee schedule amount per unit (facts §5.1, CMS PFS formula)::

    (WorkRVU × WorkGPCI + PERVU × PEGPCI + MPRVU × MPGPCI) × ConversionFactor

with the non-facility PE RVU for office settings and the facility PE RVU when the place of service is
a facility on the DOS (POS 19, 21, 22, 23, 24, 26, 31, 34, 41, 42, 51, 52, 53, 56, 61 — the facility
settings of the CMS POS list, [U] not re-fetched — and, from 2024-01-01, POS 02 telehealth other than
in the patient's home, while POS 10 telehealth in the home stays non-facility: CY 2024 PFS final rule,
CMS Transmittal 12671; dated rows of ``refdata/facility_pos.csv``, sources in ``refdata/SOURCES.md``).

A code whose facility PE is "NA" (the RVU file's Facility NA indicator: "rarely or never performed in
the facility setting"; every always-therapy code) is priced at a facility POS with its non-facility PE:
Medicare pays outpatient therapy under the PFS in every setting (MCPM Ch.5 §10; facts §7a), so such a
line is priced, not dropped, and its basis says so.

Rounding: CMS publishes each code's payment amount per locality rounded to the cent, and its MPPR
rate file likewise publishes the reduced amount (work and MP in full, PE at 50%) rounded to the
cent; a line is paid units × those per-unit amounts. So every per-unit amount here is rounded to
cents (ROUND_HALF_UP) before it is multiplied by units, and every line amount is whole cents.

Conversion factors (2024 changed on 2024-03-09; 2026 has non-QP and QP factors), the sequestration
rate, the CO/CQ payment percentage and the MPPR PE percentage are dated tables in ``refdata``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import NamedTuple

from otbill_xl import refdata
from otbill_xl.domain.models import MedicareGPCI, MedicareRVU
from otbill_xl.domain.money import MAX_AMOUNT, cents, in_range

ONE = Decimal("1")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(refdata.read_text(name))))


def _d(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class DatedValue:
    effective_from: date | None
    effective_to: date | None
    value: Decimal
    qualifier: str = ""
    source: str = ""

    def covers(self, day: date) -> bool:
        return (self.effective_from is None or day >= self.effective_from) and (
            self.effective_to is None or day <= self.effective_to)


@cache
def _conversion_factors() -> tuple[DatedValue, ...]:
    return tuple(DatedValue(_d(r["effective_from"]), _d(r["effective_to"]), Decimal(r["conversion_factor"]),
                            r["qualifying_apm"], r["source"]) for r in _rows("conversion_factors.csv"))


@cache
def _sequestration() -> tuple[DatedValue, ...]:
    return tuple(DatedValue(_d(r["effective_from"]), _d(r["effective_to"]), Decimal(r["rate"]), source=r["source"])
                 for r in _rows("sequestration.csv"))


@cache
def _rates() -> dict[str, tuple[DatedValue, ...]]:
    out: dict[str, list[DatedValue]] = {}
    for r in _rows("medicare_rates.csv"):
        out.setdefault(r["name"], []).append(
            DatedValue(_d(r["effective_from"]), _d(r["effective_to"]), Decimal(r["value"]), source=r["source"]))
    return {k: tuple(v) for k, v in out.items()}


class PosSetting(NamedTuple):
    """How a place of service is priced on a DOS: the facility PE or not, and why (dated rows only)."""

    facility: bool
    note: str = ""


@cache
def _pos_rows() -> dict[str, tuple[tuple[DatedValue, bool, str], ...]]:
    out: dict[str, list[tuple[DatedValue, bool, str]]] = {}
    for r in _rows("facility_pos.csv"):
        dated = DatedValue(_d(r["effective_from"]), _d(r["effective_to"]), Decimal(0), source=r["source"])
        out.setdefault(r["pos"].zfill(2), []).append((dated, r["setting"] == "facility", r["name"]))
    return {k: tuple(v) for k, v in out.items()}


@cache
def pos_setting(pos: str, dos: date) -> PosSetting:
    """Facility or non-facility PE for ``pos`` on ``dos`` (an unlisted POS: non-facility). A dated row
    (the telehealth POS 02/10 rule from 2024) adds a note for the line's basis."""
    pos = pos.strip().zfill(2) if pos else ""
    for dated, facility, name in _pos_rows().get(pos, ()):
        if dated.covers(dos):
            note = ""
            if dated.effective_from is not None:
                setting = "facility" if facility else "non-facility"
                note = f"POS {pos} ({name}) is paid at the {setting} rate from {dated.effective_from.isoformat()}"
            return PosSetting(facility, note)
    return PosSetting(False)


def facility_pos(dos: date | None = None) -> frozenset[str]:
    """Places of service paid at the facility PE rate on ``dos`` (undated rows only without a DOS)."""
    return frozenset(pos for pos, rows in _pos_rows().items() for dated, facility, _ in rows
                     if facility and (dated.covers(dos) if dos else dated.effective_from is None))


@cache
def part_b_deductible(year: int) -> Decimal | None:
    """The Part B deductible every beneficiary starts ``year`` with (CMS fact sheets; None: not shipped)."""
    for r in _rows("part_b_deductible.csv"):
        if int(r["year"]) == year:
            return Decimal(r["amount"])
    return None


class PfsStatus(NamedTuple):
    """A PFS status code (RVU file documentation, Attachment A): paid or not, and the patient's share
    of a line Medicare does not pay (0, or None when it cannot be predicted)."""

    code: str
    paid: bool
    patient_share: Decimal | None
    meaning: str


@cache
def pfs_statuses() -> dict[str, PfsStatus]:
    return {r["status"]: PfsStatus(r["status"], r["medicare_pays"] == "Y",
                                   Decimal(r["patient_share"]) if r["patient_share"] else None, r["meaning"])
            for r in _rows("pfs_status.csv")}


def pfs_status(code: str) -> PfsStatus | None:
    """The status of a MedicareRVU row (blank: A, active); None for a letter CMS does not define."""
    return pfs_statuses().get(code.strip().upper() or "A")


@cache
def kx_thresholds() -> dict[int, tuple[Decimal, Decimal]]:
    """Year -> (KX threshold, targeted medical review amount), per discipline bucket (facts §4)."""
    return {int(r["year"]): (Decimal(r["threshold"]), Decimal(r["targeted_review"])) for r in _rows("kx_thresholds.csv")}


def conversion_factor(dos: date, qualifying_apm: bool = False) -> DatedValue | None:
    """The PFS conversion factor for a date of service. From 2026 there are two: QP and non-QP."""
    wanted = "Y" if qualifying_apm else "N"
    for cf in _conversion_factors():
        if cf.covers(dos) and cf.qualifier in ("", wanted):
            return cf
    return None


def sequestration_rate(dos: date) -> Decimal:
    """Cut of Medicare's payment: 2% from 2022-07-01, 1% 2022-04-01..06-30, 0% 2020-05-01..2022-03-31
    (facts §5.3); 0 outside the table."""
    for s in _sequestration():
        if s.covers(dos):
            return s.value
    return Decimal("0")


def medicare_rate(name: str, dos: date) -> Decimal | None:
    """A dated Medicare percentage (``mppr_pe_paid``, ``assistant_paid``, ``coinsurance``) or None."""
    for r in _rates().get(name, ()):
        if r.covers(dos):
            return r.value
    return None


@dataclass(frozen=True)
class UnitPrice:
    """One unit of a code at a locality on a DOS: the full amount, the MPPR-reduced amount (PE at the
    MPPR percentage), the unrounded PE payment (to rank units for MPPR) and how it was computed."""

    full: Decimal
    reduced: Decimal
    pe_payment: Decimal
    basis: str


class MedicarePFS:
    """PFS pricing from the practice's ``MedicareRVU`` and ``MedicareGPCI`` tables."""

    def __init__(self, rvus: tuple[MedicareRVU, ...], gpcis: tuple[MedicareGPCI, ...], locality: str,
                 qualifying_apm: bool = False) -> None:
        self.rvus = {(r.year, r.code, r.modifier): r for r in rvus}
        self.gpcis = {(g.year, g.locality.strip()): g for g in gpcis}
        self.locality = locality.strip()
        self.qualifying_apm = qualifying_apm
        self._cache: dict[tuple, UnitPrice | str] = {}

    def rvu(self, code: str, year: int) -> MedicareRVU | None:
        return self.rvus.get((year, code, ""))

    def unit_price(self, code: str, dos: date, pos: str = "11") -> UnitPrice | str:
        """The unit price, or a sentence saying which table lacks what."""
        key = (code, dos, pos)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._unit_price(code, dos, pos_setting(pos, dos))
        return hit

    def _unit_price(self, code: str, dos: date, setting: PosSetting) -> UnitPrice | str:
        year = dos.year
        rvu = self.rvu(code, year)
        if rvu is None:
            return f"no {year} MedicareRVU row for {code}"
        if not self.locality:
            return "the Practice sheet has no MedicareLocality"
        gpci = self.gpcis.get((year, self.locality))
        if gpci is None:
            return f"no {year} MedicareGPCI row for locality {self.locality}"
        cf = conversion_factor(dos, self.qualifying_apm)
        if cf is None:
            return f"no conversion factor for {dos.isoformat()}"
        facility, notes = setting.facility, [setting.note] if setting.note else []
        pe_rvu = rvu.pe_rvu_facility if facility else rvu.pe_rvu_nonfacility
        if pe_rvu is None:
            # Facility NA (always-therapy codes): Medicare pays therapy at the non-facility amount.
            facility, pe_rvu = False, rvu.pe_rvu_nonfacility
            notes.append(f"the facility PE of {code} is NA, so it is priced at the non-facility amount")
        mppr = medicare_rate("mppr_pe_paid", dos) or ONE
        work = rvu.work_rvu * gpci.work_gpci * cf.value
        pe = pe_rvu * gpci.pe_gpci * cf.value
        mp = rvu.mp_rvu * gpci.mp_gpci * cf.value
        cf_label = ("QP" if self.qualifying_apm else "non-QP") + " CF" if cf.qualifier else "CF"
        basis = (f"PFS {year} {code}: ({rvu.work_rvu}×{gpci.work_gpci} + {pe_rvu}×{gpci.pe_gpci} "
                 f"{'facility' if facility else 'non-facility'} PE + {rvu.mp_rvu}×{gpci.mp_gpci}) × "
                 f"{cf_label} {cf.value} [locality {self.locality}]" + "".join("; " + n for n in notes))
        full, reduced = work + pe + mp, work + pe * mppr + mp
        if not (in_range(full) and in_range(reduced) and in_range(pe)):
            return f"the {year} RVUs and GPCIs of {code} give a unit price over {MAX_AMOUNT} (check the tables)"
        return UnitPrice(cents(full), cents(reduced), pe, basis)
