"""The synthetic sample practice: a deterministic, realistic OT practice for demos and tests.

Everything here is invented: the practice, therapists, physicians and patients do not exist
(NPIs are random digits with a valid check digit). The data come from ``random.Random(SEED)``
and fixed dates only, never from the clock, so every build gives the same rows.

The practice ("Cedar Lane Hand & Occupational Therapy", Cherry Hill NJ) has 5 payers, 2 OTs and
1 OTA, 40 patients, and three months of charge lines (dates of service 2026-08-03 to 2026-10-30)
with a few payments posted for September visits. The lines are clean except for the
:data:`PLANTED_ERRORS`, one per scrubber rule, which a scrubber must find.

Medicare pricing tables: the ``MedicareRVU`` sheet holds published CMS RVUs for the codes billed
(:data:`MEDICARE_RVUS`; provenance in ``otbill_xl/refdata/SOURCES.md``) and ``MedicareGPCI`` the
published GPCIs of the practice's ``MedicareLocality``. Three Medicare patients
(:data:`KX_PATIENTS`) have a ``PriorTherapySpend`` chosen so that their running 2026 OT allowed
amount, priced from those tables the way :func:`medicare_allowed` does (and the pricing engine
does), crosses the 2026 KX threshold halfway through the allowed amount of the first line of a visit,
and stays under the $3,000 targeted-review amount: every line from that visit on carries KX in its
first free modifier slot, except one planted ``kx.missing`` line. One other Medicare patient has the
whole 2026 Part B deductible still to meet (``DeductibleRemaining``).

Units of timed codes (hand proof that the CMS and AMA rules agree here)
-------------------------------------------------------------------
Per visit the minutes of each timed code are ``m = 15*k + r`` (``0 <= r <= 14``) with either

* no code with ``r >= 8`` and the sum of all leftovers ``R = sum(r) <= 7``, or
* exactly one code with ``r`` in 8..14 and ``R <= 14``,

and every code has ``m >= 8`` (``k >= 1`` whenever ``r <= 7``). Then both payer rules give each
code ``floor(m/15) + (1 if r >= 8 else 0)`` units:

* AMA/CPT (per code, midpoint): ``floor((m + 7) / 15) = k + floor((r + 7) / 15) = k + (r >= 8)``.
* CMS (pooled): the day's total ``M = 15*K + R`` (``K = sum(k)``) allows
  ``floor((M + 7) / 15) = K + floor((R + 7) / 15)`` units. Each code first gets its ``k`` full
  units. With no big leftover ``R + 7 <= 14`` so no unit is left; with one big leftover
  ``15 <= R + 7 <= 21`` so exactly one unit is left, and it goes to the code with the largest
  leftover, which is the big one (the others have ``r <= R - 8 <= 6 < 8``: no tie).

Both conditions also hold for every subset of a visit's codes (a subset's leftovers are a subset
of the visit's), so the answer does not change if an engine pools per discipline or per
provider. 97129/97130 are one cognitive time ``C`` in the recipe, written as one 97129 line when
``C < 23``, else as 97129 (15 minutes, 1 unit) plus 97130 (``C - 15`` minutes, the rest): the
lines' leftovers are then ``0`` and ``C mod 15``, so the per-line rule still holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from otbill_xl.domain import models, npi
from otbill_xl.domain.codes import catalogue
from otbill_xl.workbook.contract import (
    CHARGE_MASTER,
    CHARGES,
    FEE_SCHEDULE,
    MEDICARE_GPCI,
    MEDICARE_RVU,
    PATIENTS,
    PAYERS,
    PAYMENTS,
    PRACTICE,
    PRACTICE_SETTINGS,
    PROVIDERS,
    CellKind,
)

#: Seed of the one random generator behind the sample.
SEED = 20260801

PERIOD_START = date(2026, 8, 1)
PERIOD_END = date(2026, 10, 31)
LAST_CLINIC_DAY = date(2026, 10, 30)
EFFECTIVE_FROM = date(2026, 1, 1)
EFFECTIVE_TO = date(2026, 12, 31)
_HOLIDAYS = frozenset({date(2026, 9, 7)})  # Labor Day: clinic closed


@dataclass(frozen=True)
class PlantedError:
    """A deliberate error in the sample's Charges sheet that the scrubber must report."""

    line_id: str
    rule: str
    column: str
    description: str


# --------------------------------------------------------------------------------------------
# Reference data of the practice
# --------------------------------------------------------------------------------------------

#: The practice's charge per unit (ChargeMaster).
CHARGE_PER_UNIT: dict[str, Decimal] = {k: Decimal(v) for k, v in {
    "97010": "20.00", "97018": "25.00", "97035": "35.00", "97110": "65.00", "97112": "70.00",
    "97129": "78.00", "97130": "62.00", "97140": "68.00", "97150": "40.00", "97165": "150.00",
    "97166": "175.00", "97167": "200.00", "97168": "110.00", "97530": "72.00", "97533": "75.00",
    "97535": "66.00", "97760": "85.00", "97763": "80.00",
}.items()}

#: Invented base allowed per unit; each contracted payer pays a factor of it (FeeSchedule).
_BASE_ALLOWED: dict[str, Decimal] = {k: Decimal(v) for k, v in {
    "97010": "6.00", "97018": "5.10", "97035": "13.90", "97110": "29.40", "97112": "33.70",
    "97129": "25.30", "97130": "24.60", "97140": "27.30", "97150": "18.60", "97165": "99.50",
    "97166": "99.50", "97167": "99.50", "97168": "68.20", "97530": "35.90", "97533": "31.40",
    "97535": "32.60", "97760": "45.10", "97763": "50.80",
}.items()}
_PAYER_FACTOR = {"MAPLAN": Decimal("1.00"), "MEDICAID": Decimal("0.72"), "SUMMIT": Decimal("1.25"),
                 "BLUEPEAK": Decimal("1.15")}
#: Copay per visit taken on posted payments.
_COPAY = {"MAPLAN": Decimal("15.00"), "MEDICAID": Decimal("0.00"), "SUMMIT": Decimal("25.00"),
          "BLUEPEAK": Decimal("30.00")}

# --------------------------------------------------------------------------------------------
# Medicare Physician Fee Schedule tables (published values; see otbill_xl/refdata/SOURCES.md)
# --------------------------------------------------------------------------------------------

#: Fee-schedule year of the sample's MedicareRVU and MedicareGPCI rows (the year of every DOS).
PFS_YEAR = 2026

#: Work RVU, non-facility PE RVU, facility PE RVU and MP RVU per code, exactly as published in CMS's
#: CY2025 national PFS relative value file (RVU25D, ``PPRRVU2025_Oct.csv``). The CY2026 file could
#: not be sourced, so the sample's 2026 rows carry these CY2025 values: a stand-in, not verified as
#: the 2026 RVUs. Nothing here is computed or estimated.
MEDICARE_RVUS: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    code: tuple(Decimal(v) for v in values) for code, values in {
        "97018": ("0.06", "0.12", "0.12", "0.01"), "97035": ("0.21", "0.21", "0.21", "0.01"),
        "97110": ("0.45", "0.43", "0.43", "0.01"), "97112": ("0.50", "0.48", "0.48", "0.01"),
        "97129": ("0.50", "0.16", "0.15", "0.01"), "97130": ("0.48", "0.15", "0.15", "0.01"),
        "97140": ("0.43", "0.40", "0.40", "0.01"), "97150": ("0.29", "0.24", "0.24", "0.01"),
        "97165": ("1.54", "1.53", "1.53", "0.04"), "97166": ("1.54", "1.53", "1.53", "0.04"),
        "97167": ("1.54", "1.53", "1.53", "0.04"), "97168": ("0.96", "1.16", "1.16", "0.03"),
        "97530": ("0.44", "0.62", "0.62", "0.01"), "97533": ("0.48", "1.38", "1.38", "0.01"),
        "97535": ("0.45", "0.53", "0.53", "0.01"), "97760": ("0.50", "0.91", "0.91", "0.01"),
        "97763": ("0.48", "1.06", "1.06", "0.01"),
    }.items()}

#: Codes the sample bills to Medicare that deliberately have no MedicareRVU row (the pricing engine
#: reports "no RVU" for them).
RVU_ABSENT: dict[str, str] = {
    "97010": "hot/cold packs: a bundled service (PFS status B) for which Medicare makes no separate "
             "payment; the source lists RVUs for it (0.06 / 0.13 / 0.13 / 0.01) but a row would price it",
}

#: The practice's Medicare locality (MAC-locality, as on the Practice sheet) and its CY2026 GPCIs
#: (work with the 1.0 floor, PE, MP) from CMS's CY2026 GPCI file (Addendum E). The stored copy of
#: that file that could be found ends before New Jersey, so the sample uses Arizona (MAC 03102,
#: locality 00), a whole-state locality whose published row was available, instead of the
#: practice's real NJ locality 12402-99.
MEDICARE_LOCALITY = "03102-00"
LOCALITY_GPCI: tuple[Decimal, Decimal, Decimal] = (Decimal("1.000"), Decimal("0.969"), Decimal("0.856"))

#: 2026 figures of the pricing engine's reference tables (refdata/*.csv) the KX design relies on:
#: the non-qualifying-APM conversion factor, the OT KX threshold, the share of PE paid on MPPR-reduced
#: units and the share paid on CO/CQ lines.
CONVERSION_FACTOR_2026 = Decimal("33.4009")
KX_THRESHOLD_2026 = Decimal("2480")
_MPPR_PE_PAID = Decimal("0.50")
_ASSISTANT_PAID = Decimal("0.85")
_KX_PATIENT_COUNT = 3
#: Above $3,000 a year a claim may get targeted medical review; the KX patients stay under it.
_KX_REVIEW_2026 = Decimal("3000")
#: Part B deductible still to meet for one Medicare patient (the 2026 deductible, $283, none met).
DEDUCTIBLE_2026 = Decimal("283.00")


_MOD_COLUMNS = ("Mod1", "Mod2", "Mod3", "Mod4")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _unit_amounts(code: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """(full, MPPR-reduced, unrounded PE payment) of one non-facility unit, or None without RVUs."""
    rvu = MEDICARE_RVUS.get(code)
    if rvu is None:
        return None
    work_rvu, pe_rvu, _pe_facility, mp_rvu = rvu
    work_gpci, pe_gpci, mp_gpci = LOCALITY_GPCI
    work = work_rvu * work_gpci * CONVERSION_FACTOR_2026
    pe = pe_rvu * pe_gpci * CONVERSION_FACTOR_2026
    mp = mp_rvu * mp_gpci * CONVERSION_FACTOR_2026
    return _cents(work + pe + mp), _cents(work + pe * _MPPR_PE_PAID + mp), pe


def _line_units(line: dict[str, object]) -> int:
    if line["Units"] is not None:
        return int(line["Units"])
    return hand_units(int(line["Minutes"])) if line["Minutes"] is not None else 1


def medicare_allowed(lines: list[dict[str, object]]) -> list[Decimal | None]:
    """Expected Medicare allowed amount of each line of one visit (lines in sheet order; None for a
    code without RVUs), priced from :data:`MEDICARE_RVUS` and :data:`LOCALITY_GPCI` at the 2026
    conversion factor: per-unit amounts rounded to the cent; MPPR over the visit's always-therapy
    units (the unit with the highest PE payment in full, every other unit with PE at 50%; ties to the
    higher full amount, then the earlier line); CO/CQ lines paid 85% of the amount after MPPR."""
    cat = catalogue()
    amounts = [_unit_amounts(str(line["Code"])) for line in lines]
    group = [i for i, (line, a) in enumerate(zip(lines, amounts, strict=True))
             if a is not None and cat.get(str(line["Code"])) is not None and cat.get(str(line["Code"])).always_therapy]
    top = max(group, key=lambda i: (amounts[i][2], amounts[i][0], -i)) if group else None
    out: list[Decimal | None] = []
    for i, (line, a) in enumerate(zip(lines, amounts, strict=True)):
        if a is None:
            out.append(None)
            continue
        full, reduced, _pe = a
        units = _line_units(line)
        full_units = (1 if i == top else 0) if i in group else units
        fee = _cents(full * units)
        mppr = _cents((full - reduced) * (units - full_units))
        mods = {line.get(m) for m in _MOD_COLUMNS}
        assistant = _cents((fee - mppr) * (1 - _ASSISTANT_PAID)) if mods & {"CO", "CQ"} else Decimal("0")
        out.append(fee - mppr - assistant)
    return out



def first_free_modifier(line: dict[str, object]) -> str:
    """The first empty modifier column of a line (where KX goes)."""
    return models.first_free_modifier([line.get(m) for m in _MOD_COLUMNS])


@dataclass(frozen=True)
class KxPatient:
    """A Medicare patient whose 2026 OT allowed amount crosses the KX threshold in the sample."""

    patient_id: str
    prior_therapy_spend: Decimal
    #: First line over the threshold (the first line of the crossing visit); it and every later line
    #: of the patient carry KX, except the planted ``kx.missing`` line.
    crossing_line_id: str
    #: Running allowed amount (prior spend included) before and after the crossing line.
    before: Decimal
    after: Decimal


# PayerKey, PayerName, PayerType, PayerID, UnitRule, RequiresGO, RequiresAuth, VisitLimitPerYear,
# TimelyFilingDays, ApplyMPPR. BLUEPEAK (90-day filing) patients start in October, so none of the
# sample's lines is past timely filing before 2026-12-30. BLUEPEAK also applies the multiple
# procedure payment reduction to its contracted rates (a UHC-style commercial MPPR policy).
_PAYERS = (  # ..., AssistantsBill (all: under the supervising OT, facts §7a), RequiresReferring,
    # AppealDays, CorrectedClaimDays (blank: Medicare's regulatory limits; unknown for the others)
    ("MEDICARE", "Medicare Part B", "medicare", "12402", "cms", "Y", "N", None, 365, "Y", "supervisor", "Y", None, None),
    ("MAPLAN", "Liberty Shore Medicare Advantage HMO", "medicare_advantage", "LSMA1", "cms", "Y", "Y", None, 180, None,
     "supervisor", None, None, None),
    ("MEDICAID", "Garden State Medicaid", "medicaid", "NJMCD", "ama", "Y", "Y", 20, 365, None, "supervisor", None, None, None),
    ("SUMMIT", "Summit Health Plan PPO", "commercial", "04271", "ama", "N", "N", 30, 180, None, "supervisor", None, None, None),
    ("BLUEPEAK", "Bluepeak Insurance EPO", "commercial", "BPK21", "cms", "Y", "Y", None, 90, "Y", "supervisor", None, None, None),
)
_VISIT_CAP = {"MEDICARE": 16, "MAPLAN": 28, "MEDICAID": 17, "SUMMIT": 26, "BLUEPEAK": 20}

_PROVIDERS = (("Delacroix", "Nadia", "OT", "225X00000X"), ("Brennan", "Owen", "OT", "225X00000X"),
              ("Whitcomb", "Jolie", "OTA", "224Z00000X"))
_REFERRERS = (("Ashworth", "Linus"), ("Farrow", "Celeste"), ("Kimura", "Daniel"),
              ("Osei", "Priya"), ("Lindqvist", "Mara"), ("Vance", "Harold"))
_PEDS_REFERRER = 3

_FIRST_F = ("Abigail", "Beatrice", "Carmen", "Delia", "Eleanor", "Fiona", "Gloria", "Harriet", "Imogen",
            "June", "Katrina", "Lorraine", "Marguerite", "Nora", "Opal", "Pauline", "Rosalind", "Sylvia",
            "Theresa", "Vivian", "Wilma", "Yvonne", "Ada", "Bernadette")
_FIRST_M = ("Albert", "Bernard", "Clifford", "Desmond", "Edmund", "Franklin", "Gordon", "Harvey", "Irving",
            "Jerome", "Kenneth", "Leonard", "Milton", "Norman", "Oscar", "Percy", "Raymond", "Stanley",
            "Theodore", "Vernon", "Walter", "Elliot", "Russell", "Curtis")
_KIDS_F = ("Avery", "Maya", "Zoe", "Lila", "Nina", "Ruby", "Ivy")
_KIDS_M = ("Eli", "Milo", "Jonah", "Theo", "Owen", "Silas", "Caleb")
_LAST = ("Abernathy", "Bellweather", "Castellano", "Dunmore", "Ellsworth", "Fairbanks", "Galloway",
         "Hargrove", "Ingersoll", "Jablonski", "Kettering", "Lockhart", "Merriweather", "Northcott",
         "Oyelaran", "Pemberton", "Quimby", "Rutherford", "Sandoval", "Thornbury", "Underhill",
         "Vasquez-Hale", "Wainwright", "Yarborough", "Zielinski", "Ashcombe", "Brightwater", "Coldwell",
         "Devereaux", "Eastlake", "Fenwick", "Greenleaf", "Holloway", "Ivanova", "Juniper", "Kingsley",
         "Larkspur", "Mayfield", "Nakashima", "Okonkwo-Reid", "Prescott", "Redfern")
_STREETS = ("Maple Ave", "Kings Hwy", "Haddon Ave", "Chapel Ave", "Evesham Rd", "Marlton Pike",
            "Kresson Rd", "Springdale Rd", "Brace Rd", "Cooper St", "Park Blvd", "Centennial Blvd",
            "Tuckerton Rd", "Cropwell Rd", "Ellis St", "Burnt Mill Rd")
_TOWNS = (("Cherry Hill", "08002"), ("Cherry Hill", "08003"), ("Cherry Hill", "08034"),
          ("Haddonfield", "08033"), ("Voorhees", "08043"), ("Collingswood", "08108"),
          ("Marlton", "08053"), ("Mount Laurel", "08054"), ("Pennsauken", "08110"))

# Profiles: evaluation codes, diagnosis sets, timed-code pool.
_PROFILES = {
    "hand": (("97165", "97166"),
             (("S52.501D", "M79.641"), ("S63.501D", "M79.641"), ("M19.041", "M79.641"), ("G56.01",),
              ("M65.311",)),
             ("97110", "97140", "97112", "97535")),
    "neuro": (("97167", "97166"),
              (("I69.351", "R26.89"), ("G81.94", "M62.81"), ("I69.351",)),
              ("97112", "97530", "97535", "97110")),
    "peds": (("97166",),
             (("F84.0", "R27.8"), ("F82",), ("R27.8", "R62.50")),
             ("97530", "97112", "97535")),
    "cognitive": (("97166", "97167"),
                  (("I69.311", "R41.844"), ("G31.84",), ("R41.844", "I69.351")),
                  ("97535", "97530", "97112")),
    "general": (("97165", "97166"),
                (("M62.81", "R53.81"), ("R26.89", "M62.81"), ("M62.81",)),
                ("97110", "97530", "97535", "97112")),
}

# (payer, profile, count): 40 patients.
_ROSTER = (
    ("MEDICARE", "hand", 4), ("MEDICARE", "neuro", 3), ("MEDICARE", "cognitive", 2), ("MEDICARE", "general", 3),
    ("MAPLAN", "hand", 2), ("MAPLAN", "neuro", 2), ("MAPLAN", "cognitive", 1), ("MAPLAN", "general", 2),
    ("MEDICAID", "peds", 4), ("MEDICAID", "neuro", 1), ("MEDICAID", "general", 1), ("MEDICAID", "hand", 1),
    ("SUMMIT", "peds", 2), ("SUMMIT", "hand", 3), ("SUMMIT", "neuro", 1), ("SUMMIT", "general", 1),
    ("SUMMIT", "cognitive", 1),
    ("BLUEPEAK", "hand", 2), ("BLUEPEAK", "peds", 1), ("BLUEPEAK", "neuro", 1), ("BLUEPEAK", "general", 1),
    ("BLUEPEAK", "cognitive", 1),
)

#: NCCI pairs (ot-billing-facts.md §6) the sample never bills on one visit.
_NCCI_PAIRS = frozenset(frozenset(p) for p in (
    ("97530", "97140"), ("97150", "97110"), ("97760", "97140"), ("97760", "97110"),
    ("97763", "97140"), ("97763", "97110")))

_UNKNOWN_PATIENT = "P1099"
_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"


def hand_units(minutes: int) -> int:
    """Units of one timed code under the sample's recipe: ``floor(m/15) + (1 if m mod 15 >= 8)``."""
    return minutes // 15 + (1 if minutes % 15 >= 8 else 0)


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------

@dataclass
class _Patient:
    pid: str
    payer: str
    profile: str
    row: dict[str, object]
    dx: tuple[str, ...]
    ot: int
    start: date
    end: date
    freq: int
    cap: int
    poc_end: date


@dataclass
class _Visit:
    patient: _Patient | None
    pid: str
    dos: date
    provider: int
    kind: str
    lines: list[dict[str, object]] = field(default_factory=list)
    planted: bool = False


class _Builder:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.npis: set[str] = set()

    # -- identifiers ---------------------------------------------------------------------------
    def npi(self) -> str:
        while True:
            first_nine = "1" + "".join(str(self.rng.randrange(10)) for _ in range(8))
            value = first_nine + npi.calc_check_digit(first_nine)
            if value not in self.npis:
                self.npis.add(value)
                return value

    def digits(self, n: int) -> str:
        return "".join(str(self.rng.randrange(10)) for _ in range(n))

    def mbi(self) -> str:
        r = self.rng
        alnum = _MBI_LETTERS + "0123456789"
        return (str(r.randint(1, 9)) + r.choice(_MBI_LETTERS) + r.choice(alnum) + str(r.randrange(10))
                + r.choice(_MBI_LETTERS) + r.choice(alnum) + str(r.randrange(10)) + r.choice(_MBI_LETTERS)
                + r.choice(_MBI_LETTERS) + self.digits(2))

    def member_id(self, payer: str) -> str:
        if payer == "MEDICARE":
            return self.mbi()
        return {"MAPLAN": "LSA", "MEDICAID": "0", "SUMMIT": "SHP", "BLUEPEAK": "BPK"}[payer] + self.digits(
            {"MAPLAN": 8, "MEDICAID": 11, "SUMMIT": 9, "BLUEPEAK": 8}[payer])

    def weekday_between(self, first: date, last: date) -> date:
        days = [first + timedelta(d) for d in range((last - first).days + 1)]
        return self.rng.choice([d for d in days if d.weekday() < 5 and d not in _HOLIDAYS])

    # -- reference sheets ----------------------------------------------------------------------
    def build(self) -> None:
        r = self.rng
        tax_id = f"{r.choice(('27', '45', '55', '82', '84'))}-{self.digits(7)}"  # valid EIN prefixes
        self.practice = {
            "PracticeName": "Cedar Lane Hand & Occupational Therapy LLC",
            "BillingNPI": self.npi(), "TaxID": tax_id, "Taxonomy": "225X00000X",
            "Address": "410 Kings Hwy N Suite 200", "City": "Cherry Hill", "State": "NJ", "ZIP": "080343610",
            "Phone": "8565550142", "SubmitterName": "Cedar Lane Hand & Occupational Therapy LLC",
            "SubmitterID": "CLHOT4471", "ContactName": "Dana Whitfield", "ContactPhone": "8565550143",
            "ReceiverName": "Harborline Clearinghouse", "ReceiverID": "HRBRLN",
            "InterchangeSenderQualifier": "ZZ", "InterchangeSenderID": "CLHOT4471",
            "InterchangeReceiverQualifier": "ZZ", "InterchangeReceiverID": "HRBRLN",
            "UsageIndicator": "T", "MedicareLocality": MEDICARE_LOCALITY, "QualifyingAPM": "N",
            "BillingEntityType": "2", "BillingLastName": None, "BillingFirstName": None,
            "PayToAddress": None, "PayToCity": None, "PayToState": None, "PayToZIP": None,
        }
        assert tuple(self.practice) == PRACTICE_SETTINGS
        self.providers = [(self.npi(), *p) for p in _PROVIDERS]
        # The OTA works under the first OT, whose NPI her services are billed under (facts §7a).
        self.providers = [(*p, self.providers[0][0] if p[3] == "OTA" else None) for p in self.providers]
        self.referrers = [(self.npi(), *p) for p in _REFERRERS]
        self.patients = self.make_patients()
        self.visits = [v for p in self.patients for v in self.make_visits(p)]
        self.add_authorizations()
        self.planted: list[tuple[dict[str, object], str, str, str]] = []
        self.plant_errors()
        self.blank_some_units()
        self.kx_patients = self.add_kx()
        self.lines = self.number_lines()
        self.payments = self.make_payments()

    def make_patients(self) -> list[_Patient]:
        r = self.rng
        plan = [(payer, profile) for payer, profile, n in _ROSTER for _ in range(n)]
        r.shuffle(plan)
        last_names = r.sample(_LAST, len(plan))
        spouses = 0
        # The Medicare patient with the earliest start gets a 60-day plan of care (planted error 11).
        patients = []
        for i, (payer, profile) in enumerate(plan):
            pid = f"P{1001 + i}"
            sex = r.choice("fm")
            peds = profile == "peds"
            if payer in ("MEDICARE", "MAPLAN"):
                dob = date(r.randint(1938, 1959), r.randint(1, 12), r.randint(1, 28))
            elif peds:
                dob = date(r.randint(2016, 2022), r.randint(1, 12), r.randint(1, 28))
            else:
                dob = date(r.randint(1964, 2000), r.randint(1, 12), r.randint(1, 28))
            first = r.choice((_KIDS_F if sex == "f" else _KIDS_M) if peds else (_FIRST_F if sex == "f" else _FIRST_M))
            last = last_names[i]
            town, zip_code = r.choice(_TOWNS)
            dx_sets = _PROFILES[profile][1]
            dx = r.choice(dx_sets)
            if r.random() < 0.3:  # some billers type diagnosis codes without the dot
                dx = tuple(d.replace(".", "") for d in dx)
            if payer == "BLUEPEAK":
                start = self.weekday_between(date(2026, 10, 1), date(2026, 10, 9))
            else:
                start = self.weekday_between(date(2026, 8, 3), date(2026, 8, 31))
            medicare = payer == "MEDICARE"
            episode = r.randint(42, 56) if medicare else r.randint(49, 84)
            end = min(start + timedelta(episode), LAST_CLINIC_DAY)
            freq = 2 if medicare or peds or payer == "MEDICAID" else r.choice((2, 3, 3))
            row: dict[str, object] = {
                "PatientID": pid, "LastName": last, "FirstName": first, "DOB": dob, "Sex": sex,
                "Address": f"{r.randint(12, 2980)} {r.choice(_STREETS)}", "City": town, "State": "NJ",
                "ZIP": zip_code, "PayerKey": payer, "MemberID": self.member_id(payer),
                "Relationship": "self",
            }
            if payer == "SUMMIT":
                row["GroupNumber"] = "SHP" + self.digits(5)
            elif payer == "BLUEPEAK":
                row["GroupNumber"] = "00" + self.digits(4)
            if peds:
                parent_sex = r.choice("fm")
                parent = {
                    "Relationship": "child", "SubscriberLastName": last,
                    "SubscriberFirstName": r.choice(_FIRST_F if parent_sex == "f" else _FIRST_M),
                    "SubscriberDOB": date(r.randint(1980, 1992), r.randint(1, 12), r.randint(1, 28)),
                    "SubscriberSex": parent_sex,
                }
                # A Medicaid child is their own subscriber (own member ID; facts §7a, X12 RFI #263). The
                # parent is still drawn, so the random sequence (and every later value) stays the same.
                if payer != "MEDICAID":
                    row.update(parent)
            elif payer in ("SUMMIT", "BLUEPEAK") and spouses < 3:
                spouses += 1
                spouse_sex = "m" if sex == "f" else "f"
                row.update({
                    "Relationship": "spouse", "SubscriberLastName": last,
                    "SubscriberFirstName": r.choice(_FIRST_F if spouse_sex == "f" else _FIRST_M),
                    "SubscriberDOB": date(dob.year + r.randint(-4, 4), r.randint(1, 12), r.randint(1, 28)),
                    "SubscriberSex": spouse_sex,
                })
            ref = self.referrers[_PEDS_REFERRER] if peds else r.choice(
                [x for j, x in enumerate(self.referrers) if j != _PEDS_REFERRER])
            row.update({"ReferringNPI": ref[0], "ReferringLastName": ref[1], "ReferringFirstName": ref[2]})
            patients.append(_Patient(pid, payer, profile, row, dx, ot=i % 2, start=start, end=end, freq=freq,
                                     cap=_VISIT_CAP[payer], poc_end=start + timedelta(89)))
        short = min((p for p in patients if p.payer == "MEDICARE"), key=lambda p: (p.start, p.pid))
        short.poc_end = short.start + timedelta(59)
        short.end = min(short.end, short.start + timedelta(50))
        # Secondary coverage: two dual-eligible Medicare patients, one with a commercial supplement.
        medicare = [p for p in patients if p.payer == "MEDICARE" and p is not short]
        for p, sec in zip(medicare[:3], ("MEDICAID", "MEDICAID", "SUMMIT"), strict=True):
            p.row["SecondaryPayerKey"] = sec
            p.row["SecondaryMemberID"] = self.member_id(sec)
        for p in patients:
            p.row["POCStart"] = p.start
            p.row["POCEnd"] = p.poc_end
        return patients

    def add_authorizations(self) -> None:
        """Auth for payers that require it: covers the plan of care, with visits to spare."""
        requires = {p[0] for p in _PAYERS if p[6] == "Y"}
        limits = {p[0]: p[7] for p in _PAYERS}
        for p in self.patients:
            if p.payer not in requires:
                continue
            visits = sum(1 for v in self.visits if v.patient is p)
            granted = -(-(visits + 4) // 4) * 4
            if limits[p.payer] is not None:
                granted = min(granted, limits[p.payer])
            assert granted >= visits + 2
            p.row.update({"AuthNumber": f"A26{self.digits(7)}", "AuthVisits": granted,
                          "AuthStart": p.start, "AuthEnd": p.poc_end})

    # -- visits --------------------------------------------------------------------------------
    def visit_dates(self, p: _Patient) -> list[date]:
        r = self.rng
        pattern = (0, 2, 4) if p.freq == 3 else r.choice(((0, 3), (1, 4), (1, 3)))
        dates = [p.start]
        day = p.start + timedelta(1)
        while day <= p.end and len(dates) < p.cap:
            if day.weekday() in pattern and day not in _HOLIDAYS and r.random() > 0.08:
                dates.append(day)
            day += timedelta(1)
        return dates

    def make_visits(self, p: _Patient) -> list[_Visit]:
        r = self.rng
        dates = self.visit_dates(p)
        evals = _PROFILES[p.profile][0]
        medicare = p.payer == "MEDICARE"
        reeval_at = len(dates) // 2 if len(dates) >= 12 and r.random() < 0.35 else -1
        orthotic_at = 1 if p.profile == "hand" and len(dates) > 4 and r.random() < 0.6 else -1
        visits = []
        for n, dos in enumerate(dates):
            provider = p.ot
            if n == 0:
                kind = "eval"
                services = [(r.choice(evals), None)]
                if r.random() < 0.5:
                    services += self.timed(["97535"], medicare)
            elif n == reeval_at:
                kind, services = "reeval", [("97168", None)]
            elif n == orthotic_at or (orthotic_at > 0 and n > 3 and r.random() < 0.1):
                kind = "orthotic"
                services = self.timed(["97760" if n == orthotic_at else "97763",
                                       r.choice(("97112", "97535"))], medicare)
            elif p.profile in ("neuro", "peds", "general") and n > 2 and r.random() < 0.12:
                kind, services = "group", [("97150", None)]
                if r.random() < 0.5:
                    services += self.timed(["97535"], medicare)
                provider = 2 if r.random() < 0.3 else p.ot
            else:
                kind, services = "regular", self.regular_services(p, medicare)
                provider = 2 if r.random() < 0.3 else p.ot
            visit = _Visit(p, p.pid, dos, provider, kind)
            for code, minutes in services:
                visit.lines.append(self.line(visit, code, minutes))
            visits.append(visit)
        for a, b in ((x, y) for v in visits for x in v.lines for y in v.lines):
            assert frozenset((a["Code"], b["Code"])) not in _NCCI_PAIRS
        return visits

    def regular_services(self, p: _Patient, medicare: bool) -> list[tuple[str, int | None]]:
        r = self.rng
        _evals, _dx, pool = _PROFILES[p.profile]
        n = 2 if medicare else r.choice((2, 3, 3, 4))
        if p.profile == "cognitive":
            codes = ["COG", *r.sample(pool, n - 1)]
        elif p.profile == "peds":
            codes = ["97533", *r.sample(pool, n - 1)]
        else:
            codes = r.sample(pool, n)
        services = self.timed(codes, medicare, ultrasound=p.profile == "hand" and r.random() < 0.2)
        modality = {"hand": (("97018", 0.35), ("97010", 0.15)), "general": (("97010", 0.2),),
                    "neuro": (("97010", 0.1),)}.get(p.profile, ())
        for code, chance in modality:
            if r.random() < chance:
                services.insert(0, (code, None))
                break
        return services

    def timed(self, codes: list[str], medicare: bool, ultrasound: bool = False) -> list[tuple[str, int | None]]:
        """Minutes for timed codes by the recipe in the module docstring (cognitive time = "COG").

        ``ultrasound`` adds a short 97035 (8-12 minutes) as the visit's one big leftover.
        """
        r = self.rng
        if ultrasound:
            codes = [*codes, "97035"]
        n = len(codes)
        big = n - 1 if ultrasound else (r.randrange(n) if r.random() < 0.5 else None)
        leftovers = [0] * n
        budget = 7
        if big is not None:
            leftovers[big] = r.randint(8, 12)
            budget = min(7, 14 - leftovers[big])
        for i in r.sample(range(n), n):
            if i != big:
                leftovers[i] = r.randint(0, min(budget, 5))
                budget -= leftovers[i]
        services: list[tuple[str, int | None]] = []
        for i, code in enumerate(codes):
            if ultrasound and i == n - 1:
                k = 0
            elif code == "97533":
                k = r.choice((1, 2, 2))
            else:
                k = r.choices((1, 2, 3), (85, 15, 0) if medicare else (70, 27, 3))[0]
            minutes = 15 * k + leftovers[i]
            if code != "COG":
                services.append((code, minutes))
            elif minutes < 23:
                services.append(("97129", minutes))
            else:
                services += [("97129", 15), ("97130", minutes - 15)]
        return services

    def line(self, visit: _Visit, code: str, minutes: int | None) -> dict[str, object]:
        p = visit.patient
        assert p is not None
        units = hand_units(minutes) if minutes is not None else 1
        dx = p.dx
        return {
            "PatientID": visit.pid, "DOS": visit.dos, "RenderingNPI": self.providers[visit.provider][0],
            "Code": code, "Mod1": "GO", "Mod2": "CO" if visit.provider == 2 else None,
            "Minutes": minutes, "Units": units, "Dx1": dx[0], "Dx2": dx[1] if len(dx) > 1 else None,
            "POS": "11", "Charge": CHARGE_PER_UNIT[code] * units,
        }

    # -- planted errors ------------------------------------------------------------------------
    def pick_visit(self, ok) -> _Visit:
        candidates = [v for v in self.visits if not v.planted and ok(v)]
        visit = self.rng.choice(candidates)
        visit.planted = True
        return visit

    def plant(self, line: dict[str, object], rule: str, column: str, description: str) -> None:
        self.planted.append((line, rule, column, description))

    def plant_errors(self) -> None:
        r = self.rng

        def regular(payer: str | None = None, provider: str = "any"):
            def ok(v: _Visit) -> bool:
                return (v.kind == "regular" and (payer is None or v.patient.payer == payer)
                        and (provider == "any" or (v.provider == 2) == (provider == "ota")))
            return ok

        v = self.pick_visit(lambda v: v.kind == "eval" and v.patient.payer != "BLUEPEAK")
        line = v.lines[0]
        line["Code"] = "97003"
        self.plant(line, "code.deleted", "Code",
                   "97003 (OT evaluation, deleted 2017-01-01) on a 2026 date of service; bill 97165-97167")

        v = self.pick_visit(lambda v: regular("SUMMIT", "ot")(v) and any(x["Code"] == "97535" for x in v.lines))
        line = next(x for x in v.lines if x["Code"] == "97535")
        line["Mod1"] = "GP"
        self.plant(line, "mod.wrong-discipline", "Mod1",
                   "OT service (97535 by an OT) coded GP (physical therapy) instead of GO")

        v = self.pick_visit(regular(provider="ota"))
        line = r.choice([x for x in v.lines if x["Minutes"] is not None])
        line["Mod2"] = "CQ"
        self.plant(line, "mod.cq-on-ot", "Mod2", "OTA-rendered line with CQ (PTA modifier) instead of CO")

        v = self.pick_visit(regular("MEDICARE", "ot"))
        line = r.choice([x for x in v.lines if x["Minutes"] is not None])
        line["Mod1"] = None
        self.plant(line, "mod.go-missing", "Mod1", "Medicare OT line without the GO modifier")

        v = self.pick_visit(regular("MEDICARE", "ot"))
        v.lines = [self.line(v, "97530", 20)]
        line = v.lines[0]
        line["Units"] = 3
        line["Charge"] = CHARGE_PER_UNIT["97530"] * 3
        self.plant(line, "units.over-billed", "Units",
                   "97530 for 20 minutes (the visit's only timed code) billed as 3 units; 20 minutes = 1 unit")

        v = self.pick_visit(regular(provider="ot"))
        line = r.choice(v.lines)
        good = str(line["RenderingNPI"])
        line["RenderingNPI"] = good[:9] + str((int(good[9]) + 5) % 10)
        self.plant(line, "npi.rendering-invalid", "RenderingNPI",
                   "rendering NPI with a wrong check digit (a typo of the OT's NPI)")

        v = self.pick_visit(lambda v: regular()(v) and len(v.patient.dx) == 1)
        line = r.choice(v.lines)
        line["Dx1"] = None
        self.plant(line, "dx.missing-primary", "Dx1", "no diagnosis code on the line (Dx1 blank)")

        v = self.pick_visit(lambda v: regular()(v) and v.patient.dx[0].replace(".", "") == "M6281")
        line = r.choice(v.lines)
        line["Dx1"] = "62.81M"
        self.plant(line, "dx.malformed", "Dx1", 'Dx1 "62.81M" is not ICD-10-CM shaped (typo of M62.81)')

        v = self.pick_visit(lambda v: regular()(v) and any(x["Code"] in ("97018", "97010") for x in v.lines))
        i, line = next((i, x) for i, x in enumerate(v.lines) if x["Code"] in ("97018", "97010"))
        dup = dict(line)
        v.lines.insert(i + 1, dup)
        self.plant(dup, "dup.line", "Code",
                   f"exact duplicate of the {line['Code']} line above it (same patient, DOS, code, modifiers)")

        v = self.pick_visit(lambda v: regular()(v) and any(x["Code"] == "97130" for x in v.lines))
        v.lines = [x for x in v.lines if x["Code"] != "97129"]
        line = next(x for x in v.lines if x["Code"] == "97130")
        self.plant(line, "code.addon-without-base", "Code", "add-on 97130 billed without 97129 the same day")

        short = next(p for p in self.patients if p.poc_end - p.start == timedelta(59))
        dos = short.poc_end + timedelta(1)
        while dos.weekday() >= 5 or dos in _HOLIDAYS:
            dos += timedelta(1)
        assert dos <= LAST_CLINIC_DAY
        v = _Visit(short, short.pid, dos, short.ot, "regular", planted=True)
        v.lines = [self.line(v, "97110", 24)]
        self.visits.append(v)
        self.plant(v.lines[0], "date.outside-poc", "DOS", "visit after the patient's plan-of-care end (POCEnd)")

        # A visit of a patient missing from the Patients sheet; a real visit lends its OT and diagnoses.
        lender = r.choice([v for v in self.visits if not v.planted and regular(provider="ot")(v)])
        v = _Visit(lender.patient, _UNKNOWN_PATIENT, date(2026, 9, 16), lender.provider, "regular", planted=True)
        v.lines = [self.line(v, "97110", 32)]
        v.patient = None
        self.visits.append(v)
        self.plant(v.lines[0], "ref.patient-unknown", "PatientID",
                   f"PatientID {_UNKNOWN_PATIENT} is not on the Patients sheet")

        v = self.pick_visit(lambda v: v.kind == "group")
        line = v.lines[0]
        line["Units"] = 2
        line["Charge"] = CHARGE_PER_UNIT["97150"] * 2
        self.plant(line, "units.untimed-over-1", "Units", "group therapy 97150 (untimed) billed as 2 units")

        v = self.pick_visit(regular("MEDICARE", "ota"))
        line = r.choice(v.lines)
        line["Mod2"] = None
        self.plant(line, "mod.co-required", "Mod2", "Medicare line rendered by the OTA without CO")

    def add_kx(self) -> list[tuple[_Patient, Decimal, dict[str, object], Decimal, Decimal]]:
        """KX patients, a Part B deductible, and the planted ``kx.missing`` line (no random draws).

        The Medicare patients with the most visits and no planted line get a PriorTherapySpend that
        puts the KX threshold halfway through the allowed amount of the first line of a visit in the
        second half of their course (a priced line of at least $20, so the crossing has a wide margin
        on both sides), late enough that their year's total stays under the $3,000 targeted-review
        amount. Every line from that visit on carries KX in its first free modifier slot, except
        one line of the next visit of the first such patient: the planted ``kx.missing`` error.
        """
        medicare = [p for p in self.patients if p.payer == "MEDICARE"]
        visits = {p.pid: sorted((v for v in self.visits if v.patient is p), key=lambda v: v.dos) for p in medicare}
        clean = [p for p in medicare if not any(v.planted for v in visits[p.pid])]
        chosen = sorted(sorted(clean, key=lambda p: (-len(visits[p.pid]), p.pid))[:_KX_PATIENT_COUNT],
                        key=lambda p: p.pid)
        out = []
        for p in chosen:
            course = visits[p.pid]
            allowed = [medicare_allowed(v.lines) for v in course]
            totals = [sum((a for a in vis if a is not None), Decimal("0")) for vis in allowed]
            k = next(k for k in range(len(course) // 2, len(course) - 2)
                     if allowed[k][0] is not None and allowed[k][0] >= 20
                     and sum(totals[k:]) - allowed[k][0] / 2 <= _KX_REVIEW_2026 - KX_THRESHOLD_2026 - 20)
            before = sum(totals[:k], Decimal("0"))
            prior = _cents(KX_THRESHOLD_2026 - before - allowed[k][0] / 2)
            p.row["PriorTherapySpend"] = prior
            for v in course[k:]:
                for line in v.lines:
                    line[first_free_modifier(line)] = "KX"
            out.append((p, prior, course[k].lines[0], prior + before, prior + before + allowed[k][0]))
            if len(out) == 1:
                v = course[k + 1]
                v.planted = True
                line = next(x for x in v.lines if x["Minutes"] is not None)
                column = next(m for m in reversed(_MOD_COLUMNS) if line.get(m) == "KX")
                line[column] = None
                self.plant(line, "kx.missing", column,
                           f"Medicare line after the patient's 2026 OT allowed amount (with PriorTherapySpend) "
                           f"passed the KX threshold (${KX_THRESHOLD_2026:,.0f}) without the KX modifier")
        kx_ids = {p.pid for p in chosen}
        deductible = min((p for p in clean if p.pid not in kx_ids), key=lambda p: p.pid)
        deductible.row["DeductibleRemaining"] = DEDUCTIBLE_2026
        return out

    def blank_some_units(self) -> None:
        """About 5% of timed lines have Units (and so Charge) blank: otbill computes them."""
        for v in self.visits:
            if v.planted:
                continue
            for line in v.lines:
                if line["Minutes"] is not None and self.rng.random() < 0.05:
                    line["Units"] = None
                    line["Charge"] = None

    def number_lines(self) -> list[dict[str, object]]:
        order = sorted(self.visits, key=lambda v: (v.dos, v.pid))
        lines = []
        for v in order:
            for line in v.lines:
                line["LineID"] = f"L{len(lines) + 1:06d}"
                line["_visit"] = v
                lines.append(line)
        return lines

    # -- payments ------------------------------------------------------------------------------
    def make_payments(self) -> list[dict[str, object]]:
        r = self.rng
        payday = {"MAPLAN": 3, "MEDICAID": 1, "SUMMIT": 4}
        eligible = [v for v in sorted(self.visits, key=lambda v: (v.dos, v.pid))
                    if v.dos.month == 9 and not v.planted and v.patient is not None
                    and v.patient.payer in payday and v.provider != 2
                    and all(x["Units"] is not None for x in v.lines)]
        fees = fee_schedule()
        checks: dict[tuple[str, date], str] = {}
        rows: list[dict[str, object]] = []
        for v in eligible:
            if len(rows) >= 200:
                break
            if r.random() < 0.3:
                continue
            payer = v.patient.payer
            paid_on = v.dos + timedelta(18)
            while paid_on.weekday() != payday[payer]:
                paid_on += timedelta(1)
            if (payer, paid_on) not in checks:
                checks[payer, paid_on] = {"MAPLAN": "EFT", "MEDICAID": "000", "SUMMIT": ""}[payer] + self.digits(7)
            copay = _COPAY[payer]
            for line in v.lines:
                billed = Decimal(line["Charge"])
                allowed = fees[payer, line["Code"]] * int(line["Units"])
                resp = min(copay, allowed)
                copay -= resp
                rows.append({
                    "PaymentID": f"PMT{len(rows) + 1:05d}", "PayerKey": payer, "CheckNumber": checks[payer, paid_on],
                    "PaymentDate": paid_on, "LineID": line["LineID"], "Code": line["Code"], "Modifiers": "GO",
                    "Billed": billed, "Allowed": allowed, "Paid": allowed - resp, "PatientResp": resp,
                    "AdjGroup": "CO", "AdjReason": "45", "AdjAmount": billed - allowed, "Source": "manual",
                })
        return rows


def fee_schedule() -> dict[tuple[str, str], Decimal]:
    """Contracted allowed per unit for each non-Medicare payer and code."""
    return {(payer, code): (base * factor).quantize(Decimal("0.01"))
            for payer, factor in _PAYER_FACTOR.items() for code, base in sorted(_BASE_ALLOWED.items())}


def _money(value: object) -> object:
    return float(Decimal(value).quantize(Decimal("0.01"))) if value is not None else None


def _table(columns: tuple[str, ...], records: list[dict[str, object]]) -> list[list[object]]:
    return [list(columns)] + [[rec.get(c) for c in columns] for rec in records]


@cache
def _generate() -> tuple[dict[str, tuple[tuple[object, ...], ...]], tuple[PlantedError, ...], tuple[KxPatient, ...]]:
    b = _Builder()
    b.build()
    money_cols = {"ChargePerUnit", "AllowedPerUnit", "Charge", "Billed", "Allowed", "Paid", "PatientResp",
                  "AdjAmount", "PriorTherapySpend", "DeductibleRemaining"}
    decimal_cols = {c.name for c in (*MEDICARE_RVU.columns, *MEDICARE_GPCI.columns) if c.kind is CellKind.DECIMAL}
    cat = catalogue()
    payer_cols = PAYERS.column_names
    sheets: dict[str, list[list[object]]] = {
        PRACTICE.name: [list(PRACTICE.column_names)] + [[k, v] for k, v in b.practice.items()],
        PAYERS.name: [list(payer_cols)] + [list(p) for p in _PAYERS],
        PROVIDERS.name: [list(PROVIDERS.column_names)] + [list(p) for p in b.providers],
        PATIENTS.name: _table(PATIENTS.column_names, [p.row for p in sorted(b.patients, key=lambda p: p.pid)]),
        CHARGE_MASTER.name: _table(CHARGE_MASTER.column_names, [
            {"Code": c, "ChargePerUnit": v, "EffectiveFrom": EFFECTIVE_FROM} for c, v in sorted(CHARGE_PER_UNIT.items())]),
        FEE_SCHEDULE.name: _table(FEE_SCHEDULE.column_names, [
            {"PayerKey": payer, "Code": code, "EffectiveFrom": EFFECTIVE_FROM, "EffectiveTo": EFFECTIVE_TO,
             "AllowedPerUnit": v} for (payer, code), v in fee_schedule().items()]),
        MEDICARE_RVU.name: _table(MEDICARE_RVU.column_names, [
            {"Year": PFS_YEAR, "Code": code, "WorkRVU": work, "PERVUNonFacility": pe_nf, "PERVUFacility": pe_f,
             "MPRVU": mp, "AlwaysTherapy": "Y" if cat.get(code).always_therapy else "N"}
            for code, (work, pe_nf, pe_f, mp) in sorted(MEDICARE_RVUS.items())]),
        MEDICARE_GPCI.name: _table(MEDICARE_GPCI.column_names, [
            {"Year": PFS_YEAR, "Locality": MEDICARE_LOCALITY, "WorkGPCI": LOCALITY_GPCI[0], "PEGPCI": LOCALITY_GPCI[1],
             "MPGPCI": LOCALITY_GPCI[2]}]),
        CHARGES.name: _table(CHARGES.column_names, b.lines),
        PAYMENTS.name: _table(PAYMENTS.column_names, b.payments),
    }
    for rows in sheets.values():
        header = rows[0]
        for row in rows[1:]:
            for i, col in enumerate(header):
                if col in money_cols:
                    row[i] = _money(row[i])
                elif col in decimal_cols:
                    row[i] = float(row[i]) if row[i] is not None else None
                elif row[i] == "":
                    row[i] = None
    planted = tuple(PlantedError(str(line["LineID"]), rule, column, text) for line, rule, column, text in b.planted)
    kx = tuple(KxPatient(p.pid, prior, str(line["LineID"]), before, after) for p, prior, line, before, after in b.kx_patients)
    frozen = {name: tuple(tuple(row) for row in rows) for name, rows in sheets.items()}
    return frozen, planted, kx


def sample_rows() -> dict[str, list[list[object]]]:
    """Sheet name -> rows (header first) exactly as written to the sample workbook.

    The ``Practice`` sheet is given as Setting/Value rows. Money is a float with 2 decimals,
    dates are :class:`datetime.date`, identifiers and codes are text, blank cells are ``None``.
    """
    sheets, _planted, _kx = _generate()
    return {name: [list(row) for row in rows] for name, rows in sheets.items()}  # cell values are immutable


#: The deliberate errors in the sample's Charges sheet, in the order of the scrubber rules.
PLANTED_ERRORS: tuple[PlantedError, ...] = _generate()[1]

#: The Medicare patients whose running 2026 OT allowed amount crosses the KX threshold.
KX_PATIENTS: tuple[KxPatient, ...] = _generate()[2]
