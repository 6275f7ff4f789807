"""Immutable billing records.

Reference entities (practice, payers, providers, patients, charge master, fee schedule) are
pydantic v2 frozen models: few rows, validated on the way in.

Charge lines and posted payments are the high-volume rows (100,000+ per workbook). They are
``typing.NamedTuple`` records, as beancount does for its directives: measured on 100,000 rows,
building them as pydantic models (``model_validate`` 0.96 s, ``model_construct`` 1.34 s) costs
more than the whole load budget (1.3 × the 0.94 s python-calamine read), while a NamedTuple
costs 0.06 s. The workbook reader converts and checks every cell itself, column by column,
and reports bad cells as findings, so nothing is lost by skipping pydantic's validation here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field


class PayerType(StrEnum):
    """Kind of payer. Decides defaults (unit rule, GO requirement) and the 837P filing indicator."""

    MEDICARE = "medicare"
    MEDICARE_ADVANTAGE = "medicare_advantage"
    MEDICAID = "medicaid"
    COMMERCIAL = "commercial"
    WORKERS_COMP = "workers_comp"
    AUTO = "auto"
    SELF_PAY = "self_pay"

    @property
    def is_medicare(self) -> bool:
        """Original (fee-for-service) Medicare Part B."""
        return self is PayerType.MEDICARE


class UnitRule(StrEnum):
    """How timed minutes become units: CMS 8-minute rule (pooled) or AMA/CPT per-code midpoint rule."""

    CMS = "cms"
    AMA = "ama"


class AssistantsBill(StrEnum):
    """Whose NPI an assistant's (OTA/PTA) service is billed under (facts §7a): ``supervisor`` — the
    enrolled supervising therapist renders on the claim (Medicare: assistants cannot enroll, MBPM
    Ch.15 §230.1-230.4); ``self`` — payers that credential assistants bill them as rendering."""

    SUPERVISOR = "supervisor"
    SELF = "self"


class Relationship(StrEnum):
    """Patient's relationship to the subscriber (insured)."""

    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    OTHER = "other"


class Discipline(StrEnum):
    """Therapy discipline and its plan-of-care modifier (GO / GP / GN)."""

    OT = "OT"
    PT = "PT"
    SLP = "SLP"

    @property
    def modifier(self) -> str:
        return {"OT": "GO", "PT": "GP", "SLP": "GN"}[self.value]


#: Credentials of therapy assistants (services need CO/CQ). COTA is the older OTA title.
ASSISTANT_CREDENTIALS = frozenset({"OTA", "COTA", "PTA"})
_CREDENTIAL_DISCIPLINE = {
    "OT": Discipline.OT, "OTR": Discipline.OT, "OTR/L": Discipline.OT, "OTA": Discipline.OT,
    "COTA": Discipline.OT, "PT": Discipline.PT, "DPT": Discipline.PT, "PTA": Discipline.PT,
    "SLP": Discipline.SLP, "CCC-SLP": Discipline.SLP,
}

_FROZEN = ConfigDict(frozen=True, str_strip_whitespace=True)


class Practice(BaseModel):
    """The billing provider (practice) and its EDI settings, from the ``Practice`` sheet."""

    model_config = _FROZEN

    practice_name: str = ""
    billing_npi: str = ""
    tax_id: str = ""
    taxonomy: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    phone: str = ""
    submitter_name: str = ""
    submitter_id: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    receiver_name: str = ""
    receiver_id: str = ""
    interchange_sender_qualifier: str = ""
    interchange_sender_id: str = ""
    interchange_receiver_qualifier: str = ""
    interchange_receiver_id: str = ""
    usage_indicator: str = "T"
    medicare_locality: str = ""
    #: Y when the practice's clinicians are Qualifying APM Participants (2026 has two conversion factors).
    qualifying_apm: str = ""
    #: 1 = the billing provider is a person (a solo therapist: 2010AA NM102=1 with last/first name),
    #: 2 = an organisation (the default).
    billing_entity_type: str = "2"
    #: For a person billing provider (entity type 1): the name as registered for the billing NPI.
    billing_last_name: str = ""
    billing_first_name: str = ""
    #: Where payments go when it is not the billing address (2010AB; a PO Box belongs here, never
    #: in the 2010AA service address).
    pay_to_address: str = ""
    pay_to_city: str = ""
    pay_to_state: str = ""
    pay_to_zip: str = ""
    #: Settings the contract does not name, kept as text (later features read them).
    extra: dict[str, str] = Field(default_factory=dict)


class Payer(BaseModel):
    """A payer (insurance plan) and the rules otbill_xl applies to its claims."""

    model_config = _FROZEN

    payer_key: str
    #: Worksheet row the record was read from (``None`` when built in code); findings point at it.
    row: int | None = None
    payer_name: str = ""
    payer_type: PayerType = PayerType.COMMERCIAL
    payer_id: str = ""
    unit_rule: UnitRule = UnitRule.AMA
    requires_go: bool = False
    requires_auth: bool = False
    visit_limit_per_year: int | None = None
    timely_filing_days: int | None = None
    #: Apply the therapy multiple-procedure payment reduction (Medicare always does; some commercial
    #: policies copy it, facts §5.2).
    apply_mppr: bool = False
    #: Assistants' services billed under the supervising therapist (default, facts §7a) or themselves.
    assistants_bill: AssistantsBill = AssistantsBill.SUPERVISOR
    #: The claim needs a referring provider (2310A); Medicare always does (facts §7a).
    requires_referring: bool = False
    #: Days after the remittance date to appeal a denial; None = Medicare's 120-day redetermination
    #: (42 CFR 405.942(a)) for Medicare, unknown for other payers (domain/denials.deadlines).
    appeal_days: int | None = None
    #: Days after the remittance date to send a corrected claim; None = Medicare's 1-year reopening
    #: (42 CFR 405.980(b)(1)) for Medicare, unknown for other payers.
    corrected_claim_days: int | None = None


class Provider(BaseModel):
    """A rendering provider (therapist or assistant)."""

    model_config = _FROZEN

    npi: str
    row: int | None = None
    last_name: str = ""
    first_name: str = ""
    credential: str = ""
    taxonomy: str = ""
    #: An assistant's supervising therapist (their NPI on the Providers sheet): the rendering
    #: provider on claims to payers that bill assistants under the supervisor (facts §7a).
    supervisor_npi: str = ""

    @property
    def is_assistant(self) -> bool:
        """OTA/COTA/PTA: services they furnish in whole or in part carry CO/CQ (from 2020)."""
        return self.credential.upper() in ASSISTANT_CREDENTIALS

    @property
    def discipline(self) -> Discipline | None:
        return _CREDENTIAL_DISCIPLINE.get(self.credential.upper())


class Subscriber(BaseModel):
    """The insured person when the patient is a dependent."""

    model_config = _FROZEN

    last_name: str = Field(default="", repr=False)
    first_name: str = Field(default="", repr=False)
    dob: date | None = Field(default=None, repr=False)
    sex: str = Field(default="", repr=False)


class Patient(BaseModel):
    """A patient with coverage, authorization and plan-of-care dates.

    Names, birth date, address and member ID are hidden from ``repr`` so they cannot leak into
    logs or error text by accident.
    """

    model_config = _FROZEN

    patient_id: str
    row: int | None = None
    last_name: str = Field(default="", repr=False)
    first_name: str = Field(default="", repr=False)
    dob: date | None = Field(default=None, repr=False)
    sex: str = Field(default="", repr=False)
    address: str = Field(default="", repr=False)
    city: str = Field(default="", repr=False)
    state: str = Field(default="", repr=False)
    zip: str = Field(default="", repr=False)
    payer_key: str = ""
    member_id: str = Field(default="", repr=False)
    group_number: str = Field(default="", repr=False)
    relationship: Relationship = Relationship.SELF
    subscriber: Subscriber | None = Field(default=None, repr=False)
    auth_number: str = ""
    auth_visits: int | None = None
    auth_start: date | None = None
    auth_end: date | None = None
    poc_start: date | None = None
    poc_end: date | None = None
    referring_npi: str = ""
    referring_last_name: str = Field(default="", repr=False)
    referring_first_name: str = Field(default="", repr=False)
    secondary_payer_key: str = ""
    secondary_member_id: str = Field(default="", repr=False)
    #: Therapy allowed amounts already spent this year at other providers (counts toward KX).
    prior_therapy_spend: Decimal = Decimal("0")
    #: Part B deductible still to meet this year (0 = met).
    deductible_remaining: Decimal = Decimal("0")
    #: The year DeductibleRemaining is for (None: the year of the patient's first date of service).
    deductible_year: int | None = None
    #: The plan's copay per visit (commercial and Medicare Advantage; None: no copay).
    copay: Decimal | None = None
    #: SBR05 Medicare Secondary Payer insurance type when Medicare is the secondary payer ('' = the
    #: stated default, domain.cob.DEFAULT_MSP_TYPE; codes in refdata/msp_insurance_types.csv).
    medicare_secondary_type: str = ""


#: The modifier columns of a charge line, in order.
MOD_COLUMNS = ("Mod1", "Mod2", "Mod3", "Mod4")


#: What separates modifiers typed in one cell ("GO,KX"), besides spaces.
MODIFIER_SEPARATORS = ",;/|"
_SEPARATORS_TO_SPACES = str.maketrans(MODIFIER_SEPARATORS, " " * len(MODIFIER_SEPARATORS))


def first_free_modifier(cells: Sequence[object], *, when_full: str = "Mod1") -> str:
    """The first of Mod1..Mod4 (their cells given in order) that holds no modifier: where a missing
    modifier goes. ``when_full``: the column named when all four hold one."""
    for column, cell in zip(MOD_COLUMNS, cells, strict=True):
        if not cell or not str(cell).translate(_SEPARATORS_TO_SPACES).split():
            return column
    return when_full


class ChargeMasterEntry(BaseModel):
    """The practice's own charge for a code, from a date on."""

    model_config = _FROZEN

    code: str
    charge_per_unit: Decimal
    effective_from: date | None = None


class FeeScheduleEntry(BaseModel):
    """A payer's allowed amount per unit for a code (and modifier, blank = any) over a date range."""

    model_config = _FROZEN

    payer_key: str
    code: str
    modifier: str = ""
    effective_from: date | None = None
    effective_to: date | None = None
    allowed_per_unit: Decimal
    row: int | None = None

    def covers(self, dos: date) -> bool:
        """True when the date of service falls inside this entry's (inclusive) date range."""
        if self.effective_from is not None and dos < self.effective_from:
            return False
        return not (self.effective_to is not None and dos > self.effective_to)


class MedicareRVU(BaseModel):
    """One code's relative value units for a fee-schedule year (CMS PPRRVU file)."""

    model_config = _FROZEN

    year: int
    code: str
    modifier: str = ""
    work_rvu: Decimal
    pe_rvu_nonfacility: Decimal
    pe_rvu_facility: Decimal | None = None
    mp_rvu: Decimal
    always_therapy: bool = False
    row: int | None = None
    #: PFS status code (PPRRVU STATUS CODE); blank means A (active). B, I and N are not paid.
    status: str = "A"


class MedicareGPCI(BaseModel):
    """A Medicare payment locality's geographic practice cost indices for a year (CMS GPCI file)."""

    model_config = _FROZEN

    year: int
    locality: str
    work_gpci: Decimal
    pe_gpci: Decimal
    mp_gpci: Decimal
    row: int | None = None


class ChargeLine(NamedTuple):
    """One service line of the ``Charges`` sheet.

    Text fields are ``""`` when the cell is blank; numbers and dates are ``None`` when blank or
    unreadable (the reader reports unreadable cells). ``row`` is the worksheet row number, so
    every finding can point at the cell the biller has to fix.
    """

    row: int
    line_id: str
    patient_id: str
    dos: date | None
    rendering_npi: str
    code: str
    mod1: str
    mod2: str
    mod3: str
    mod4: str
    minutes: int | None
    units: int | None
    dx1: str
    dx2: str
    dx3: str
    dx4: str
    pos: str
    charge: Decimal | None
    claim_id: str
    status: str
    note: str
    #: Claim frequency: blank/1 original, 7 replacement (corrected), 8 void — with the payer's claim number.
    frequency: str = ""
    original_claim_number: str = ""

    @property
    def modifiers(self) -> tuple[str, ...]:
        """The non-blank modifiers in Mod1..Mod4 order."""
        return tuple(m for m in (self.mod1, self.mod2, self.mod3, self.mod4) if m)

    @property
    def diagnoses(self) -> tuple[str, ...]:
        """The non-blank diagnosis codes in Dx1..Dx4 order (as typed, dot or no dot)."""
        return tuple(d for d in (self.dx1, self.dx2, self.dx3, self.dx4) if d)


class PostedPayment(NamedTuple):
    """One posted payment or adjustment row of the ``Payments`` sheet."""

    row: int
    payment_id: str
    payer_key: str
    check_number: str
    payment_date: date | None
    claim_id: str
    line_id: str
    code: str
    modifiers: tuple[str, ...]
    billed: Decimal | None
    allowed: Decimal | None
    paid: Decimal | None
    patient_resp: Decimal | None
    adj_group: str
    adj_reason: str
    adj_amount: Decimal | None
    source: str
