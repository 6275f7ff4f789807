"""The practice-workbook contract: which sheets a practice workbook has, their columns, and the
header spellings (aliases) otbill_xl accepts for each column.

One workbook per practice (or per month). Each sheet holds one Excel Table of the same name with its
header in row 1; billers' own workbooks may instead have a plain header row in the first 20 rows,
other header spellings, any column order and extra columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from otbill_xl._cells import normalize_header  # noqa: F401 - re-exported: part of the contract API


class CellKind(StrEnum):
    """How a column's cells are read."""

    TEXT = "text"          # free text, trimmed
    ID = "id"              # an identifier typed as text or number: 1234567893.0 -> "1234567893"
    CODE = "code"          # like ID, upper-cased (CPT/HCPCS, modifiers, ICD-10, POS)
    DATE = "date"          # date cell, Excel serial number, or US / ISO text
    INT = "int"            # whole number
    MONEY = "money"        # Decimal amount
    DECIMAL = "decimal"    # Decimal quantity kept as typed (RVUs, GPCIs)
    FLAG = "flag"          # Y / N
    CHOICE = "choice"      # one of a fixed list (lower-cased)


@dataclass(frozen=True)
class Column:
    """One contract column: its name, how its cells are read, and the headers that mean it."""

    name: str
    kind: CellKind = CellKind.TEXT
    required: bool = False
    aliases: tuple[str, ...] = ()
    #: Protected health information: never echo its values in messages.
    phi: bool = False
    choices: tuple[str, ...] = ()
    #: Attribute name on the domain record.
    attr: str = ""
    #: Smallest and largest value accepted (beyond the kind's own bounds, see the reader).
    limits: tuple[int, int] | None = None

    @property
    def attribute(self) -> str:
        return self.attr or _snake(self.name)


@dataclass(frozen=True)
class Sheet:
    """One contract sheet: name, purpose, columns (in template order) and whether it must exist."""

    name: str
    purpose: str
    columns: tuple[Column, ...]
    required: bool = True
    aliases: tuple[str, ...] = ()
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _snake(name: str) -> str:
    name = name.replace("NPI", "Npi").replace("POS", "Pos").replace("ID", "Id").replace("DOS", "Dos")
    name = name.replace("GO", "Go").replace("ZIP", "Zip").replace("DOB", "Dob").replace("POC", "Poc")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


T, I, C, D, N, M, F, H = (CellKind.TEXT,  # noqa: E741 - short kinds keep the tables readable
                          CellKind.ID, CellKind.CODE, CellKind.DATE, CellKind.INT,
                          CellKind.MONEY, CellKind.FLAG, CellKind.CHOICE)

PAYER_TYPES = ("medicare", "medicare_advantage", "medicaid", "commercial", "workers_comp", "auto", "self_pay")
UNIT_RULES = ("cms", "ama")
RELATIONSHIPS = ("self", "spouse", "child", "other")
ASSISTANTS_BILL = ("supervisor", "self")
SEXES = ("f", "m", "u")

#: Settings of the ``Practice`` sheet (two columns, Setting and Value), in template order.
PRACTICE_SETTINGS: tuple[str, ...] = (
    "PracticeName", "BillingNPI", "TaxID", "Taxonomy", "Address", "City", "State", "ZIP", "Phone",
    "SubmitterName", "SubmitterID", "ContactName", "ContactPhone", "ReceiverName", "ReceiverID",
    "InterchangeSenderQualifier", "InterchangeSenderID", "InterchangeReceiverQualifier",
    "InterchangeReceiverID", "UsageIndicator", "MedicareLocality", "QualifyingAPM",
    "BillingEntityType", "BillingLastName", "BillingFirstName",
    "PayToAddress", "PayToCity", "PayToState", "PayToZIP",
)

PRACTICE = Sheet("Practice", "Billing provider and EDI settings (one Setting/Value pair per row).", (
    Column("Setting", T, True, ("Name", "Key", "Field")),
    Column("Value", T, True, ("Setting Value",)),
), aliases=("Settings", "Practice Info", "Practice Settings", "Clinic", "Clinic Info"))

PAYERS = Sheet("Payers", "Payers billed by the practice and the rules for each.", (
    Column("PayerKey", I, True, ("Payer Key", "Payer Code", "Payer", "Key", "Plan Code", "Payor", "Payor Code",
                                 "Insurance Code", "Ins Code")),
    Column("PayerName", T, False, ("Payer Name", "Insurance", "Insurance Name", "Plan Name", "Name", "Payor Name",
                                   "Insurance Company", "Carrier")),
    Column("PayerType", H, False, ("Payer Type", "Type", "Plan Type", "Financial Class", "Payor Type", "Insurance Type",
                                   "Coverage Type"), choices=PAYER_TYPES),
    Column("PayerID", I, False, ("Payer ID", "EDI Payer ID", "Electronic Payer ID", "Payor ID", "EDI ID")),
    Column("UnitRule", H, False, ("Unit Rule", "Units Rule", "Unit Method"), choices=UNIT_RULES),
    Column("RequiresGO", F, False, ("Requires GO", "GO Required", "Needs GO")),
    Column("RequiresAuth", F, False, ("Requires Auth", "Auth Required", "Prior Auth Required")),
    Column("VisitLimitPerYear", N, False, ("Visit Limit Per Year", "Visit Limit", "Annual Visit Limit"),
           limits=(0, 366)),
    Column("TimelyFilingDays", N, False, ("Timely Filing Days", "Timely Filing", "Filing Limit Days"),
           limits=(0, 3650)),
    Column("ApplyMPPR", F, False, ("Apply MPPR", "MPPR", "Multiple Procedure Reduction"), attr="apply_mppr"),
    Column("AssistantsBill", H, False, ("Assistants Bill", "Assistant Billing", "OTA Billing"),
           choices=ASSISTANTS_BILL),
    Column("RequiresReferring", F, False, ("Requires Referring", "Referring Required", "Needs Referring")),
    Column("AppealDays", N, False, ("Appeal Days", "Appeal Limit Days", "Appeal Filing Limit", "Appeal Deadline Days"),
           limits=(0, 3650)),
    Column("CorrectedClaimDays", N, False, ("Corrected Claim Days", "Corrected Claim Limit", "Resubmission Days",
                                            "Corrected Claim Filing Limit"), limits=(0, 3650)),
), aliases=("Insurance", "Insurances", "Insurance Companies", "Insurers", "Payors", "Payor", "Payer List",
            "Payor List", "Insurance List"))

PROVIDERS = Sheet("Providers", "Rendering providers (therapists and assistants).", (
    Column("NPI", I, True, ("Rendering NPI", "Provider NPI", "Therapist NPI", "NPI Number", "NPI #", "Individual NPI")),
    Column("LastName", T, False, ("Last Name", "Last", "Surname")),
    Column("FirstName", T, False, ("First Name", "First")),
    Column("Credential", C, False, ("Credentials", "Cred", "Title", "License Type")),
    Column("Taxonomy", C, False, ("Taxonomy Code",)),
    Column("SupervisorNPI", I, False, ("Supervisor NPI", "Supervising NPI", "Supervising Therapist NPI")),
), aliases=("Therapists", "Staff", "Clinicians", "Therapist", "Clinician", "Rendering Providers"))

PATIENTS = Sheet("Patients", "Patients, coverage, authorizations and plan-of-care dates.", (
    # Small practices use names as patient IDs: PatientID is never echoed either.
    Column("PatientID", I, True, ("Patient ID", "Patient #", "Patient No", "MRN", "Account", "Acct", "Chart",
                                  "Client", "Client ID", "Client #", "Patient"), phi=True),
    Column("LastName", T, False, ("Last Name", "Patient Last Name", "Last"), phi=True),
    Column("FirstName", T, False, ("First Name", "Patient First Name", "First"), phi=True),
    Column("DOB", D, False, ("Date of Birth", "Birth Date", "Birthdate", "Patient DOB"), phi=True),
    Column("Sex", H, False, ("Gender", "Patient Sex"), phi=True, choices=SEXES),
    Column("Address", T, False, ("Street", "Address 1", "Address1"), phi=True),
    Column("City", T, False, (), phi=True),
    Column("State", C, False, ("St",), phi=True),
    Column("ZIP", I, False, ("Zip Code", "Postal Code", "Zipcode"), phi=True),
    Column("PayerKey", I, False, ("Payer Key", "Payer", "Primary Payer", "Insurance", "Primary Insurance", "Payor",
                                  "Primary Payor")),
    Column("MemberID", I, False, ("Member ID", "Member #", "Subscriber ID", "Insured ID", "Policy Number", "MBI",
                                  "Insurance ID", "Ins ID", "Member Number", "Policy #", "Policy ID"), phi=True),
    Column("GroupNumber", I, False, ("Group Number", "Group #", "Group No", "Group"), phi=True),
    Column("Relationship", H, False, ("Relationship to Subscriber", "Rel", "Patient Relationship"), phi=True,
           choices=RELATIONSHIPS),  # free text ("mother of Jane Doe"): never echoed
    Column("SubscriberLastName", T, False, ("Subscriber Last Name", "Insured Last Name"), phi=True),
    Column("SubscriberFirstName", T, False, ("Subscriber First Name", "Insured First Name"), phi=True),
    Column("SubscriberDOB", D, False, ("Subscriber Date of Birth", "Insured DOB"), phi=True),
    Column("SubscriberSex", H, False, ("Subscriber Gender", "Insured Sex"), phi=True, choices=SEXES),
    Column("AuthNumber", I, False, ("Auth Number", "Auth #", "Authorization", "Authorization Number", "Prior Auth")),
    Column("AuthVisits", N, False, ("Auth Visits", "Authorized Visits", "Visits Authorized"), limits=(0, 9999)),
    Column("AuthStart", D, False, ("Auth Start", "Auth Start Date", "Authorization Start")),
    Column("AuthEnd", D, False, ("Auth End", "Auth End Date", "Authorization End")),
    Column("POCStart", D, False, ("POC Start", "Plan of Care Start", "Cert Start", "Certification Start")),
    Column("POCEnd", D, False, ("POC End", "Plan of Care End", "Cert End", "Certification End")),
    Column("ReferringNPI", I, False, ("Referring NPI", "Referring Provider NPI", "Physician NPI")),
    Column("ReferringLastName", T, False, ("Referring Last Name", "Referring Provider Last Name")),
    Column("ReferringFirstName", T, False, ("Referring First Name", "Referring Provider First Name")),
    Column("SecondaryPayerKey", I, False, ("Secondary Payer Key", "Secondary Payer", "Secondary Insurance")),
    Column("SecondaryMemberID", I, False, ("Secondary Member ID", "Secondary ID"), phi=True),
    Column("PriorTherapySpend", M, False, ("Prior Therapy Spend", "Prior Spend", "Therapy Spend Elsewhere")),
    Column("DeductibleRemaining", M, False, ("Deductible Remaining", "Part B Deductible Remaining", "Deductible")),
    Column("DeductibleYear", N, False, ("Deductible Year", "Part B Deductible Year"), limits=(1900, 2199)),
    Column("Copay", M, False, ("Copay Per Visit", "Co-pay", "Copayment", "Visit Copay")),
    Column("MedicareSecondaryType", C, False, ("MSP Type", "MSPType", "MSP Insurance Type", "Medicare Secondary Type")),
), aliases=("Patient List", "Clients", "Client List", "Patient Info"))

CHARGE_MASTER = Sheet("ChargeMaster", "The practice's own charge per unit for each code.", (
    Column("Code", C, True, ("CPT", "HCPCS", "CPT Code", "Procedure Code")),
    Column("ChargePerUnit", M, True, ("Charge Per Unit", "Charge", "Fee", "Price", "Rate")),
    Column("EffectiveFrom", D, False, ("Effective From", "Effective Date", "Effective", "From")),
), required=False, aliases=("Charge Master", "CDM", "Fee List", "Price List"))

FEE_SCHEDULE = Sheet("FeeSchedule", "Payers' allowed amounts per unit (contracted rates).", (
    Column("PayerKey", I, True, ("Payer Key", "Payer")),
    Column("Code", C, True, ("CPT", "HCPCS", "CPT Code", "Procedure Code")),
    Column("Modifier", C, False, ("Mod", "Modifiers")),
    Column("EffectiveFrom", D, False, ("Effective From", "Effective Date", "Start", "From")),
    Column("EffectiveTo", D, False, ("Effective To", "End Date", "End", "To", "Through")),
    Column("AllowedPerUnit", M, True, ("Allowed Per Unit", "Allowed", "Allowed Amount", "Rate", "Fee")),
), required=False, aliases=("Fee Schedule", "Fee Schedules", "Contract Rates"))

X = CellKind.DECIMAL  # noqa: E741

MEDICARE_RVU = Sheet("MedicareRVU", "Medicare Physician Fee Schedule RVUs per code (from CMS's PPRRVU file).", (
    Column("Year", N, True, ("PFS Year", "Fee Schedule Year"), limits=(1900, 2199)),
    Column("Code", C, True, ("HCPCS", "CPT", "HCPCS Code")),
    Column("Modifier", C, False, ("Mod",)),
    Column("WorkRVU", X, True, ("Work RVU", "RVU Work"), attr="work_rvu"),
    Column("PERVUNonFacility", X, True, ("Non-Facility PE RVU", "PE RVU Non-Facility", "Non-Fac PE RVU"),
           attr="pe_rvu_nonfacility"),
    Column("PERVUFacility", X, False, ("Facility PE RVU", "PE RVU Facility", "Fac PE RVU"), attr="pe_rvu_facility"),
    Column("MPRVU", X, True, ("MP RVU", "Malpractice RVU", "Mal Practice RVU"), attr="mp_rvu"),
    Column("AlwaysTherapy", F, False, ("Always Therapy",)),
    Column("Status", C, False, ("Status Code", "PFS Status", "Status Indicator")),
), required=False, aliases=("Medicare RVU", "RVU", "RVUs"))

MEDICARE_GPCI = Sheet("MedicareGPCI", "Medicare geographic practice cost indices per locality (CMS GPCI file).", (
    Column("Year", N, True, ("PFS Year",), limits=(1900, 2199)),
    Column("Locality", I, True, ("Locality Number", "Medicare Locality", "Carrier Locality")),
    Column("WorkGPCI", X, True, ("Work GPCI", "PW GPCI"), attr="work_gpci"),
    Column("PEGPCI", X, True, ("PE GPCI",), attr="pe_gpci"),
    Column("MPGPCI", X, True, ("MP GPCI", "Malpractice GPCI"), attr="mp_gpci"),
), required=False, aliases=("Medicare GPCI", "GPCI", "GPCIs"))

CHARGES = Sheet("Charges", "One row per service line.", (
    Column("LineID", I, False, ("Line ID", "Line #", "Line No", "Charge ID", "Line")),
    Column("PatientID", I, True, ("Patient ID", "Patient #", "Patient No", "MRN", "Account", "Acct", "Chart",
                                  "Client", "Client ID", "Client #", "Patient"), phi=True),
    Column("DOS", D, True, ("Date of Service", "Svc Date", "Service Date", "Visit Date", "Date", "Treatment Date",
                            "Session Date", "Appointment Date", "Appt Date")),
    Column("RenderingNPI", I, False, ("Rendering NPI", "Provider NPI", "Therapist NPI", "NPI", "Rendering",
                                      "Rendering Provider NPI", "Clinician NPI")),
    Column("Code", C, True, ("CPT", "HCPCS", "CPT Code", "HCPCS Code", "CPT/HCPCS", "Procedure", "Procedure Code", "Proc Code",
                             "Service Code", "Billing Code")),
    # One cell may hold several modifiers ("GO CO", "GO,59"): the reader spreads them over Mod1-Mod4.
    Column("Mod1", C, False, ("Modifier 1", "Mod 1", "Modifier", "Mod", "Modifier1", "Modifiers", "Mods",
                              "Modifier(s)")),
    Column("Mod2", C, False, ("Modifier 2", "Mod 2", "Modifier2")),
    Column("Mod3", C, False, ("Modifier 3", "Mod 3", "Modifier3")),
    Column("Mod4", C, False, ("Modifier 4", "Mod 4", "Modifier4")),
    Column("Minutes", N, False, ("Mins", "Min", "Treatment Minutes", "Timed Minutes", "Time (min)", "Time",
                                 "Total Minutes", "Tx Minutes"), limits=(0, 1440)),  # a day
    Column("Units", N, False, ("Unit", "Qty", "Quantity", "Billed Units", "Units Billed", "# Units"), limits=(0, 999)),
    # One cell may hold several diagnoses ("M62.81, R26.89"): the reader spreads them over Dx1-Dx4.
    Column("Dx1", C, False, ("Diagnosis 1", "Dx 1", "ICD-10 1", "ICD10 1", "Primary Dx", "Diagnosis", "ICD-10", "ICD10", "Dx",
                             "Diagnoses", "Diagnosis Codes", "Dx Codes", "ICD-10 Codes", "ICD10 Codes", "ICD Codes")),
    Column("Dx2", C, False, ("Diagnosis 2", "Dx 2", "ICD-10 2", "ICD10 2")),
    Column("Dx3", C, False, ("Diagnosis 3", "Dx 3", "ICD-10 3", "ICD10 3")),
    Column("Dx4", C, False, ("Diagnosis 4", "Dx 4", "ICD-10 4", "ICD10 4")),
    Column("POS", C, False, ("Place of Service", "Place Of Svc", "Location Code", "POS Code")),
    Column("Charge", M, False, ("Charges", "Charge Amount", "Billed", "Billed Amount", "Amount", "Fee", "Line Charge",
                                "Billed Charge")),
    Column("ClaimID", I, False, ("Claim ID", "Claim #", "Claim No", "Claim Number")),
    Column("Status", T, False, ("Claim Status", "Line Status")),
    Column("Note", T, False, ("Notes", "Comment", "Comments", "Memo")),
    Column("Frequency", C, False, ("Claim Frequency", "Frequency Code", "Resubmission Code", "Claim Type"),
           choices=(), attr="frequency"),
    Column("OriginalClaimNumber", I, False, ("Original Claim Number", "Original Claim #", "Payer Claim Number",
                                             "ICN", "Original Reference Number"), attr="original_claim_number"),
), aliases=("Charge Sheet", "Charge Entry", "Visits", "Services", "Charge Log", "Visit Log", "Sessions",
            "Treatment Log"))

PAYMENTS = Sheet("Payments", "Posted payments and adjustments.", (
    Column("PaymentID", I, False, ("Payment ID", "Payment #", "Posting ID")),
    Column("PayerKey", I, False, ("Payer Key", "Payer")),
    Column("CheckNumber", I, False, ("Check Number", "Check #", "Check No", "EFT Number", "Trace Number")),
    Column("PaymentDate", D, False, ("Payment Date", "Check Date", "Paid Date", "Deposit Date")),
    Column("ClaimID", I, False, ("Claim ID", "Claim #", "Patient Control Number", "Claim No")),
    Column("LineID", I, False, ("Line ID", "Line #", "Line Item Control Number")),
    Column("Code", C, False, ("CPT", "HCPCS", "CPT Code", "Procedure Code")),
    Column("Modifiers", C, False, ("Modifier", "Mods")),
    Column("Billed", M, False, ("Billed Amount", "Charge", "Charges", "Submitted")),
    Column("Allowed", M, False, ("Allowed Amount", "Allowable")),
    Column("Paid", M, True, ("Paid Amount", "Payment", "Payment Amount", "Insurance Paid", "Amount Paid")),
    Column("PatientResp", M, False, ("Patient Resp", "Patient Responsibility", "Pt Resp", "PR Amount")),
    Column("AdjGroup", C, False, ("Adj Group", "Group Code", "Adjustment Group")),
    Column("AdjReason", C, False, ("Adj Reason", "Reason Code", "CARC", "Adjustment Reason")),
    Column("AdjAmount", M, False, ("Adj Amount", "Adjustment", "Adjustment Amount")),
    Column("Source", T, False, ("Posted From", "Origin")),
), required=False, aliases=("Payment Posting", "Posted Payments", "Remits"))

#: Every contract sheet, in template order.
SHEETS: tuple[Sheet, ...] = (PRACTICE, PAYERS, PROVIDERS, PATIENTS, CHARGE_MASTER, FEE_SCHEDULE, MEDICARE_RVU,
                             MEDICARE_GPCI, CHARGES, PAYMENTS)
SHEETS_BY_NAME: dict[str, Sheet] = {s.name: s for s in SHEETS}

#: Modifiers the templates offer in their dropdowns (therapy-relevant; not a validity list).
COMMON_MODIFIERS = ("GO", "GP", "GN", "CO", "CQ", "KX", "59", "XE", "XS", "XP", "XU", "GA", "GY", "GZ", "95", "76", "77", "52")
#: Places of service the templates offer (ot-billing-facts.md §7).
COMMON_POS = ("11", "12", "19", "22", "31", "32", "03", "02", "10", "99")
