"""Builders for the scrub tests: a small clean practice book and charge lines (no tests here).

Imported by the other ``test_scrub_*`` modules. Hand-picked values:

* NPIs: 1234567893 (from facts §7) and others whose check digit was computed with the Luhn rule
  over ``80840`` + digits (``npi.calc_check_digit``).
* Clean visits: 97530 30 min + 97535 15 min = 45 timed minutes → CMS (45 + 7) // 15 = 3 units,
  2 + 1 per code (full units 2 and 1, no remainder) — facts §1.2/§1.3.
"""

from __future__ import annotations

from datetime import date

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.models import (
    ChargeLine,
    Patient,
    Payer,
    PayerType,
    Practice,
    Provider,
    UnitRule,
)
from otbill_xl.domain.scrub import ScrubResult, scrub

AS_OF = date(2026, 3, 2)
DOS = date(2026, 2, 2)

NPI_BILLING = "1234567893"
NPI_OT = "1987654328"
NPI_OTA = "1555555550"
NPI_PT = "1666666668"
NPI_PTA = "1777777776"
NPI_UNLISTED = "1444444446"  # valid, but not on the Providers sheet
NPI_REFERRING = "1333333338"

PRACTICE = Practice(practice_name="Clinic", billing_npi=NPI_BILLING, tax_id="12-3456789", address="12 Harbor St",
                    city="Boston", state="MA", zip="021341234", phone="6175550100", submitter_id="CLINIC1",
                    receiver_id="TESTCH", receiver_name="Test Clearinghouse")

MCR = Payer(payer_key="MCR", payer_name="Medicare", payer_type=PayerType.MEDICARE, requires_go=True)
COM = Payer(payer_key="COM", payer_name="Commercial", payer_type=PayerType.COMMERCIAL,
            unit_rule=UnitRule.AMA, timely_filing_days=180)
PAYERS = (MCR, COM)

PROVIDERS = (
    Provider(npi=NPI_OT, last_name="Ot", credential="OTR/L"),
    Provider(npi=NPI_OTA, last_name="Ota", credential="COTA", supervisor_npi=NPI_OT),
    Provider(npi=NPI_PT, last_name="Pt", credential="DPT"),
    Provider(npi=NPI_PTA, last_name="Pta", credential="PTA", supervisor_npi=NPI_PT),
)


def patient(pid: str = "P1", **kw) -> Patient:
    base = dict(
        patient_id=pid, last_name="Doe", first_name="Jane", dob=date(1950, 5, 5), payer_key="MCR",
        member_id="1EG4TE5MK73", poc_start=date(2026, 1, 5), poc_end=date(2026, 3, 31),
        referring_npi=NPI_REFERRING, referring_last_name="Reyes", referring_first_name="Lena",
        address="1 Elm St", city="Boston", state="MA", zip="02134",
    )
    base.update(kw)
    return Patient(**base)


PATIENTS = (patient("P1"), patient("P2", payer_key="COM", member_id="XYZ123"))

_row = [99]


def line(code: str = "97530", *, row: int | None = None, pid: str = "P1", dos: date | None = DOS,
         npi: str = NPI_OT, mods: tuple[str, ...] = ("GO",), minutes: int | None = 30,
         units: int | None = 2, dx: tuple[str, ...] = ("M25.511",), status: str = "",
         claim_id: str = "", line_id: str = "") -> ChargeLine:
    """A charge line; defaults are a clean OT 97530 visit line (30 min, 2 units, GO)."""
    if row is None:
        _row[0] += 1
        row = _row[0]
    m = (*mods, "", "", "", "")[:4]
    d = (*dx, "", "", "", "")[:4]
    return ChargeLine(row, line_id or f"L{row}", pid, dos, npi, code, m[0], m[1], m[2], m[3], minutes,
                      units, d[0], d[1], d[2], d[3], "11", None, claim_id, status, "")


def clean_lines(pid: str = "P1", dos: date = DOS, start_row: int = 2) -> tuple[ChargeLine, ...]:
    """A clean OT visit: 97530 30 min ×2 and 97535 15 min ×1 (45 min → 3 units CMS and AMA)."""
    return (
        line("97530", row=start_row, pid=pid, dos=dos, minutes=30, units=2),
        line("97535", row=start_row + 1, pid=pid, dos=dos, minutes=15, units=1),
    )


def book(charges=(), *, practice=PRACTICE, payers=PAYERS, providers=PROVIDERS,
         patients=PATIENTS) -> PracticeBook:
    return PracticeBook(practice=practice, payers=tuple(payers), providers=tuple(providers),
                        patients=tuple(patients), charges=tuple(charges))


def run(charges=(), *, as_of: date = AS_OF, group_by_discipline: bool = True, **kw) -> ScrubResult:
    return scrub(book(charges, **kw), as_of=as_of, group_by_discipline=group_by_discipline)


def rules_of(result: ScrubResult) -> list[str]:
    return [f.rule for f in result.findings]


def only(result: ScrubResult, rule_id: str):
    """The findings of one rule."""
    return [f for f in result.findings if f.rule == rule_id]


def one(result: ScrubResult, rule_id: str):
    """The single finding of a rule (fails when there are none or several)."""
    found = only(result, rule_id)
    assert len(found) == 1, (rule_id, [str(f) for f in result.findings])
    return found[0]


def where(f) -> tuple:
    """(sheet, row, column) of a finding."""
    return (f.location.sheet, f.location.row, f.location.column)
