"""Identifier rules: NPIs (rendering, billing, referring), tax ID, and references between sheets
(rendering provider, patient, payer, member ID) (facts §7)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from otbill_xl.domain import npi, taxid
from otbill_xl.domain.address import us_states
from otbill_xl.domain.cob import msp_type, msp_type_problem
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import AssistantsBill, PayerType, Relationship
from otbill_xl.domain.scrub._context import (
    PATIENTS,
    PRACTICE,
    Hit,
    LineFacts,
    SheetContext,
    VisitContext,
    a_an,
    finding,
    hit,
    rule,
)
from otbill_xl.domain.x12_charset import identifier_sendable, text_sendable

E, W = Severity.ERROR, Severity.WARNING


@rule("npi.rendering-invalid", E, "identifiers", "Rendering NPI blank or fails the NPI check digit.", "line")
def rendering_npi_invalid(f: LineFacts) -> Iterator[Hit]:
    """An NPI has 10 digits, starts with 1 or 2, and passes the Luhn check over ``80840`` + the
    digits (facts §7). A bad NPI is denied (CARC 206/207/208)."""
    if not f.npi_ok:
        try:
            npi.validate(f.npi)
        except npi.InvalidNPI as exc:
            yield hit("npi.rendering-invalid", "RenderingNPI", f"Rendering NPI: {exc}.",
                      "Enter the 10-digit NPI of the therapist who treated (see the Providers sheet).")


@rule("ref.rendering-unknown", E, "identifiers", "Rendering NPI is valid but not on the Providers sheet.",
      "line")
def rendering_unknown(f: LineFacts) -> Iterator[Hit]:
    """The rendering provider's credential decides GO/GP/GN and CO/CQ (facts §4) and the claim needs
    the provider's name; both come from the Providers sheet."""
    if f.npi_ok and f.provider is None:
        yield hit("ref.rendering-unknown", "RenderingNPI",
                  f"Rendering NPI {f.npi} is not on the Providers sheet.",
                  "Add the provider (NPI, name, credential) to the Providers sheet, or correct the NPI.")


@rule("ref.supervisor-missing", E, "identifiers",
      "An assistant's line without a supervising therapist to bill it under.", "line")
def supervisor_missing(f: LineFacts) -> Iterator[Hit]:
    """OTAs and PTAs cannot enroll in Medicare: their services are billed under the enrolled
    supervising therapist's NPI, with CO/CQ on the line (MBPM Ch.15 §230.1-230.4; facts §7a), and a
    claim naming the assistant as rendering provider is denied (CARC 185 / B7). The same holds for
    every payer whose ``AssistantsBill`` is ``supervisor`` (the default)."""
    p = f.provider
    if p is None or not p.is_assistant or f.payer is None or f.payer.assistants_bill is AssistantsBill.SELF:
        return
    fix = ("Enter the supervising OT's NPI in SupervisorNPI on the Providers sheet (the OT must be listed "
           "there too), or set AssistantsBill to self for a payer that credentials assistants.")
    if not p.supervisor_npi:
        yield hit("ref.supervisor-missing", "RenderingNPI",
                  f"Rendered by {a_an(p.credential)} who has no SupervisorNPI: {f.payer.payer_key} pays "
                  "assistants' services only under the supervising therapist's NPI.", fix)
    elif f.supervisor is None:
        yield hit("ref.supervisor-missing", "RenderingNPI",
                  f"The {p.credential}'s SupervisorNPI {p.supervisor_npi} is not on the Providers sheet.", fix)
    elif f.supervisor.is_assistant:
        yield hit("ref.supervisor-missing", "RenderingNPI",
                  f"The {p.credential}'s SupervisorNPI belongs to an assistant ({f.supervisor.credential}); "
                  "assistants are billed under a therapist.", fix)


@rule("ref.patient-unknown", E, "identifiers", "PatientID is blank or not on the Patients sheet.",
      "dated")
def patient_unknown(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Every charge line belongs to a patient of the Patients sheet: coverage, member ID, plan of
    care and authorization come from there."""
    if v.pf.patient is not None:
        return
    if not v.patient_id:
        h = hit("ref.patient-unknown", "PatientID", "PatientID is blank.",
                "Enter the patient's ID as on the Patients sheet.")
    else:
        h = hit("ref.patient-unknown", "PatientID",
                "This PatientID is not on the Patients sheet.",
                "Add the patient to the Patients sheet, or correct the PatientID.")
    for i in range(len(v.entries)):
        yield i, h


@rule("npi.billing-invalid", E, "identifiers", "Practice BillingNPI blank or fails the NPI check digit.",
      "sheet")
def billing_npi_invalid(s: SheetContext) -> Iterator[Finding]:
    """The billing provider's NPI (837P Loop 2010AA) must be a valid NPI (facts §7)."""
    try:
        npi.validate(s.book.practice.billing_npi)
    except npi.InvalidNPI as exc:
        yield finding("npi.billing-invalid", PRACTICE, None, "BillingNPI", f"BillingNPI: {exc}.",
                      "Enter the practice's 10-digit (type 2, or the solo therapist's) NPI in BillingNPI.")


@rule("ref.taxid-format", E, "identifiers", "Practice TaxID is not an EIN (NN-NNNNNNN or 9 digits).", "sheet")
def taxid_format(s: SheetContext) -> Iterator[Finding]:
    """The billing provider's tax ID (837P REF*EI) is a 9-digit EIN, written NN-NNNNNNN."""
    try:
        taxid.validate(s.book.practice.tax_id)
    except taxid.InvalidTaxID as exc:
        yield finding("ref.taxid-format", PRACTICE, None, "TaxID", f"TaxID: {exc}.",
                      "Enter the practice's EIN as NN-NNNNNNN.")


@rule("npi.referring-invalid", E, "identifiers", "Patient's ReferringNPI fails the NPI check digit.", "sheet")
def referring_npi_invalid(s: SheetContext) -> Iterator[Finding]:
    """The referring physician's NPI (837P Loop 2310A) must be a valid NPI when given (facts §7);
    an ineligible referrer is denied CARC 183."""
    for p in s.book.patients:
        if p.referring_npi and not npi.is_valid(p.referring_npi):
            try:
                npi.validate(p.referring_npi)
            except npi.InvalidNPI as exc:
                yield finding("npi.referring-invalid", PATIENTS, p.row, "ReferringNPI",
                              f"Referring NPI: {exc}.",
                              "Enter the referring physician's 10-digit NPI (NPPES lookup), or clear it.")


@rule("ref.payer-unknown", E, "identifiers", "Patient's PayerKey is blank or not on the Payers sheet.",
      "sheet")
def payer_unknown(s: SheetContext) -> Iterator[Finding]:
    """A patient's primary PayerKey must name a row of the Payers sheet: unit rule, GO and auth
    requirements and the claim's payer come from there. A blank PayerKey is reported for patients
    with charge lines."""
    payers = s.book.payers_by_key
    for p in s.book.patients:
        if p.payer_key and p.payer_key not in payers:
            yield finding("ref.payer-unknown", PATIENTS, p.row, "PayerKey",
                          f"Payer {p.payer_key} is not on the Payers sheet.",
                          "Add the payer to the Payers sheet, or correct the patient's PayerKey.")
        elif not p.payer_key and p.patient_id in s.charged:
            yield finding("ref.payer-unknown", PATIENTS, p.row, "PayerKey",
                          "This patient has charge lines but no PayerKey.",
                          "Enter the patient's primary payer (a PayerKey of the Payers sheet; a self-pay "
                          "payer for private pay).")


@rule("ref.member-id-missing", E, "identifiers", "Insured patient without a MemberID.", "sheet")
def member_id_missing(s: SheetContext) -> Iterator[Finding]:
    """The claim identifies the insured by member ID (837P NM109 in Loop 2010BA); without it the payer
    cannot find the member (CARC 31). Not needed for self-pay."""
    payers = s.book.payers_by_key
    for p in s.book.patients:
        payer = payers.get(p.payer_key)
        if payer is None or payer.payer_type is PayerType.SELF_PAY or p.member_id:
            continue
        yield finding("ref.member-id-missing", PATIENTS, p.row, "MemberID",
                      f"This patient has payer {payer.payer_key} but no MemberID.",
                      "Enter the member ID from the insurance card (for Medicare, the MBI).")


@rule("ref.patient-duplicate", E, "identifiers", "The same PatientID on more than one row of the Patients sheet.",
      "sheet")
def patient_duplicate(s: SheetContext) -> Iterator[Finding]:
    """One PatientID, one person: with two rows otbill cannot tell whose name, birth date and member ID
    go on the claim (a dependent's services would go out under another person's). Every row of a
    repeated ID is an error, so all of that ID's lines are held back until it is resolved."""
    rows: dict[str, list[int | None]] = {}
    for p in s.book.patients:
        if p.patient_id:
            rows.setdefault(p.patient_id, []).append(p.row)
    for p in s.book.patients:
        same = rows.get(p.patient_id, [])
        if len(same) > 1:
            others = ", ".join(str(r) for r in same if r != p.row)
            yield finding("ref.patient-duplicate", PATIENTS, p.row, "PatientID",
                          f"This PatientID is also on row {others} of the Patients sheet; otbill cannot tell which "
                          "record is the patient's.",
                          "Give each patient one row with a unique PatientID (merge the rows or renumber one, and "
                          "its charge lines). The patient's lines are held back until then.")


@rule("ref.patient-unsendable", E, "identifiers",
      "A patient's name or member ID cannot be sent in an 837P (no letters left, or a character X12 cannot carry).",
      "sheet")
def patient_unsendable(s: SheetContext) -> Iterator[Finding]:
    """The 837P writer cleans names (accents dropped, other characters removed) and never changes an
    identifier (X12 5010 basic/extended character set, without the delimiters * : ^ ~). A last name
    with no letter left, or a member ID with a character X12 cannot carry, would stop the claim:
    flag it on its cell so only this patient's lines wait (issue #8)."""
    payers = s.book.payers_by_key
    for p in s.book.patients:
        payer = payers.get(p.payer_key)
        if payer is None or payer.payer_type is PayerType.SELF_PAY:
            continue
        if not text_sendable(p.last_name):
            yield finding("ref.patient-unsendable", PATIENTS, p.row, "LastName",
                          "The patient's last name has no letter or digit an 837P can carry.",
                          "Enter the last name in Latin letters as on the insurance card.")
        sub = p.subscriber
        if sub is not None and p.relationship is not Relationship.SELF and not text_sendable(sub.last_name):
            yield finding("ref.patient-unsendable", PATIENTS, p.row, "SubscriberLastName",
                          "The subscriber's last name has no letter or digit an 837P can carry.",
                          "Enter the subscriber's last name in Latin letters as on the insurance card.")
        if p.member_id and not identifier_sendable(p.member_id):
            yield finding("ref.patient-unsendable", PATIENTS, p.row, "MemberID",
                          "The member ID holds a character an 837P cannot carry (one of * : ^ ~, or a character "
                          "outside the X12 character set).",
                          "Copy the member ID exactly from the insurance card (letters and digits, usually).")


def _needs_referring(payer) -> bool:
    """Medicare (Part B) always needs the certifying physician/NPP as referring provider (facts §7a);
    other payers when their RequiresReferring setting says so."""
    return payer is not None and (payer.payer_type is PayerType.MEDICARE or payer.requires_referring)


@rule("ref.referring-missing", E, "identifiers",
      "Medicare (or a RequiresReferring payer) patient without ReferringNPI or the referrer's last name.", "sheet")
def referring_missing(s: SheetContext) -> Iterator[Finding]:
    """Medicare requires the certifying physician/NPP (who signs the plan of care) as the claim-level
    referring provider, 837P loop 2310A / CMS-1500 item 17 (Noridian, "Certifying Physician: Identify
    for Claim Processing"; facts §7a); denials include RARC N264/N265. Loop 2310A is an individual,
    NM102=1, and needs the last name (NM103) with the NPI (NM109). Reported on the Patients row, so
    that patient's lines are held back until it is filled."""
    payers = s.book.payers_by_key
    for p in s.book.patients:
        payer = payers.get(p.payer_key)
        if not _needs_referring(payer):
            continue
        why = ("Medicare needs the certifying physician/NPP as referring provider" if payer.payer_type is
               PayerType.MEDICARE else f"payer {payer.payer_key} requires a referring provider (RequiresReferring)")
        if not p.referring_npi:
            yield finding("ref.referring-missing", PATIENTS, p.row, "ReferringNPI",
                          f"No ReferringNPI: {why} (claim loop 2310A).",
                          "Enter the NPI, last and first name of the physician/NPP who certified the plan of care "
                          "(as registered in NPPES/PECOS).")
        elif not p.referring_last_name:
            yield finding("ref.referring-missing", PATIENTS, p.row, "ReferringLastName",
                          f"ReferringNPI is given but ReferringLastName is blank: {why}, named as a person "
                          "(claim loop 2310A).",
                          "Enter the referring physician's last and first name as registered for the NPI (NPPES).")


#: Words that name an organisation, not a person (legal forms and kinds of facility). The referring
#: provider of loop 2310A is an individual (NM102=1); clearinghouses reject an organisation there
#: (facts §7a). A heuristic word list, matched as whole words after dropping dots ("P.C." = PC).
ORGANISATION_WORDS = frozenset({
    "LLC", "LLP", "PLLC", "INC", "INCORPORATED", "CORP", "CORPORATION", "LTD", "PC", "PA",
    "CLINIC", "CLINICS", "HOSPITAL", "HOSPITALS", "CENTER", "CENTERS", "CENTRE", "GROUP", "ASSOCIATES",
    "HEALTH", "HEALTHCARE", "MEDICAL", "PHYSICIANS", "PRACTICE", "SERVICES", "REHABILITATION", "UNIVERSITY",
})
_WORDS = re.compile(r"[A-Z]+")


def looks_like_organisation(*names: str) -> bool:
    """True when a name holds one of :data:`ORGANISATION_WORDS` as a whole word."""
    text = " ".join(names).upper().replace(".", "")
    return any(w in ORGANISATION_WORDS for w in _WORDS.findall(text))


@rule("ref.referring-organisation", W, "identifiers",
      "The referring provider's name looks like an organisation (LLC, Clinic, Hospital ...), not a person.",
      "sheet")
def referring_organisation(s: SheetContext) -> Iterator[Finding]:
    """The referring provider (837P 2310A) must be an individual, NM102=1, with the name registered for
    the NPI in PECOS; clearinghouses reject an organisation there (facts §7a). A name with a word of
    :data:`ORGANISATION_WORDS` is probably the clinic's name instead of the physician's: a warning,
    since a surname may be such a word."""
    for p in s.book.patients:
        if p.referring_npi and looks_like_organisation(p.referring_last_name, p.referring_first_name):
            yield finding("ref.referring-organisation", PATIENTS, p.row, "ReferringLastName",
                          "The referring provider's name looks like an organisation (a legal form or facility word); "
                          "the referring provider on a claim is a person.",
                          "Enter the individual physician/NPP who referred or certified (their own NPI, last and "
                          "first name), not the group or facility.")


@rule("ref.subscriber-not-self", W, "identifiers",
      "Medicare/Medicaid patient whose Relationship is not self: the patient is sent as the subscriber.", "sheet")
def subscriber_not_self(s: SheetContext) -> Iterator[Finding]:
    """"In the case of the Medicare and Medicaid benefit programs, the subscriber is the patient"
    (X12 RFI #263; facts §7a): the claim names the patient as subscriber (2000B/2010BA, no 2000C loop)
    with the patient's own member ID (Medicare: the MBI). A warning, not an error: the claim is right
    when MemberID is the patient's own, and the subscriber columns are then not used."""
    payers = s.book.payers_by_key
    for p in s.book.patients:
        payer = payers.get(p.payer_key)
        if (payer is not None and payer.payer_type in (PayerType.MEDICARE, PayerType.MEDICAID)
                and p.relationship is not Relationship.SELF):
            yield finding("ref.subscriber-not-self", PATIENTS, p.row, "Relationship",
                          f"Relationship is {p.relationship.value}, but a {payer.payer_type.value} member is always "
                          "their own subscriber: the claim sends the patient as the subscriber with MemberID, and the "
                          "Subscriber columns are ignored.",
                          "Make sure MemberID is the patient's own ID from their card (Medicare: the MBI), and set "
                          "Relationship to self.")


_ADDRESS = (("Address", "address"), ("City", "city"), ("State", "state"), ("ZIP", "zip"))


@rule("ref.patient-address-missing", E, "identifiers", "Insured patient without a full address (Address/City/State/ZIP).",
      "sheet")
def patient_address_missing(s: SheetContext) -> Iterator[Finding]:
    """The 837P needs the subscriber's address (2010BA N3/N4, required when the patient is the
    subscriber, X12 RFI #2281; facts §7a) or the patient's (2010CA N3/N4). Without it the claim cannot
    be written; reported on the Patients row so only this patient's lines wait. Not needed for
    self-pay."""
    payers = s.book.payers_by_key
    for p in s.book.patients:
        payer = payers.get(p.payer_key)
        if payer is None or payer.payer_type is PayerType.SELF_PAY:
            continue
        missing = [name for name, attr in _ADDRESS if not getattr(p, attr).strip()]
        if missing:
            yield finding("ref.patient-address-missing", PATIENTS, p.row, missing[0],
                          f"The patient's address is incomplete ({', '.join(missing)} blank); the claim needs it.",
                          "Enter the patient's street, city, 2-letter state and ZIP as on the insurance record.")
        elif p.state.strip().upper() not in us_states():
            yield finding("ref.patient-address-missing", PATIENTS, p.row, "State",
                          "The patient's State is not a US state code; the claim cannot carry it.",
                          "Enter the 2-letter USPS code (e.g. NJ).")


@rule("ref.secondary-unbillable", W, "identifiers",
      "SecondaryPayerKey given but the secondary payer cannot be billed (unknown, self-pay, the primary, "
      "or no SecondaryMemberID).", "sheet")
def secondary_unbillable(s: SheetContext) -> Iterator[Finding]:
    """A secondary payer goes on the primary claim (2320/2330, coordination of benefits) and is billed
    the balance later (``otbill claims --secondary``) only when it is on the Payers sheet, is not
    self-pay, is not the primary payer, and the patient has a SecondaryMemberID. Otherwise the primary
    claim is sent without it: a warning, since the primary is still payable."""
    payers = s.book.payers_by_key
    for p in s.book.patients:
        key = p.secondary_payer_key
        if not key:
            continue
        payer = payers.get(key)
        if payer is None:
            why, column = "is not on the Payers sheet", "SecondaryPayerKey"
        elif payer.payer_type is PayerType.SELF_PAY:
            why, column = "is self-pay", "SecondaryPayerKey"
        elif key == p.payer_key:
            why, column = "is the primary payer too", "SecondaryPayerKey"
        elif not p.secondary_member_id.strip():
            why, column = "has no SecondaryMemberID", "SecondaryMemberID"
        else:
            problem = msp_type_problem(msp_type(p)) if payer.payer_type is PayerType.MEDICARE else ""
            if problem:
                yield finding("ref.secondary-unbillable", PATIENTS, p.row, "MedicareSecondaryType",
                              f"{problem}.", "Enter the MSP insurance type from the list (blank means 12).")
            continue
        yield finding("ref.secondary-unbillable", PATIENTS, p.row, column,
                      f"The secondary payer {why}: claims go to the primary without it, and it cannot be billed.",
                      "Correct SecondaryPayerKey / SecondaryMemberID, or clear them if there is no secondary.")
