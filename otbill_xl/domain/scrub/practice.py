"""Billing provider rules: the Practice sheet as the 837P's loop 2010AA (billing provider) and 2010AB
(pay-to address) needs it (facts §7a). A Practice error holds every line back: the clearinghouse
rejects the whole claim (every claim of the file) for a bad billing provider."""

from __future__ import annotations

import re
from collections.abc import Iterator

from otbill_xl.domain.address import us_states
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.scrub._context import PRACTICE, SheetContext, finding, rule
from otbill_xl.domain.x12_charset import INTERCHANGE_QUALIFIERS, TAXONOMY, digits_only, identifier_sendable

E, W = Severity.ERROR, Severity.WARNING

#: A post office box, lock box or drawer: "PO Box", "P.O. Box", "P O Box", "POB 12", "Post Office Box",
#: "Lockbox", "Lock Box", "Drawer". Whole words only: "Box Hill Rd", "Boxwood Ln" and "Drawbridge Rd"
#: are streets.
_PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*(?:BOX\b|B\b)|POST\s+OFFICE\s+BOX\b|LOCK\s*BOX\b|DRAWER\b)",
                     re.IGNORECASE)
_PAY_TO = (("PayToAddress", "pay_to_address"), ("PayToCity", "pay_to_city"), ("PayToState", "pay_to_state"),
           ("PayToZIP", "pay_to_zip"))


def is_po_box(street: str) -> bool:
    """True when a street line names a post office box, lock box or drawer."""
    return bool(_PO_BOX.search(street or ""))


@rule("practice.address-po-box", E, "practice", "Practice Address is a PO Box or lock box (2010AA needs a street).",
      "sheet")
def address_po_box(s: SheetContext) -> Iterator[Finding]:
    """The billing provider address (837P 2010AA N3) must be the street address where the practice
    is; a PO Box or lock box is rejected there and belongs in the pay-to address, loop 2010AB
    (005010X222A1 note on 2010AA N3, widely applied as a clearinghouse edit; facts §7a [S])."""
    if is_po_box(s.book.practice.address):
        yield finding("practice.address-po-box", PRACTICE, None, "Address",
                      "The practice Address is a PO Box or lock box; the billing provider address must be a street "
                      "address.",
                      "Enter the practice's street address in Address, and put the PO Box in PayToAddress, "
                      "PayToCity, PayToState and PayToZIP (the pay-to address, loop 2010AB).")


@rule("practice.zip-not-9", W, "practice", "Practice ZIP has 5 digits; the billing provider needs ZIP+4.", "sheet")
def zip_not_9(s: SheetContext) -> Iterator[Finding]:
    """The 837P guide requires the 9-digit ZIP+4 in the billing provider's N403 (2010AA), and many
    payers reject the claim without it (facts §7a [S]). A warning: some payers accept 5 digits."""
    z = digits_only(s.book.practice.zip)
    if len(z) == 5:
        yield finding("practice.zip-not-9", PRACTICE, None, "ZIP",
                      "The practice ZIP has 5 digits; the billing provider address needs the 9-digit ZIP+4.",
                      "Enter the ZIP+4 (e.g. 08034-3610; USPS ZIP code lookup).")


@rule("practice.pay-to-incomplete", E, "practice", "Pay-to address partly filled (PayToAddress/City/State/ZIP).",
      "sheet")
def pay_to_incomplete(s: SheetContext) -> Iterator[Finding]:
    """The pay-to address (837P 2010AB N3/N4) is sent whole or not at all: street, city, state and
    ZIP are all required in the loop. Some of them without the others cannot be written."""
    p = s.book.practice
    filled = [(name, bool(getattr(p, attr).strip())) for name, attr in _PAY_TO]
    missing = [name for name, ok in filled if not ok]
    if missing and len(missing) < len(filled):
        yield finding("practice.pay-to-incomplete", PRACTICE, None, missing[0],
                      f"The pay-to address is incomplete: {', '.join(missing)} blank.",
                      "Fill all four PayTo settings (street or PO Box, city, 2-letter state, ZIP), or clear them "
                      "all when payments go to the practice address.")


@rule("practice.entity-type", E, "practice", "Practice BillingEntityType is not 1 (person) or 2 (organisation).",
      "sheet")
def entity_type(s: SheetContext) -> Iterator[Finding]:
    """The billing provider (837P 2010AA NM102) is a person (1: a solo therapist billing under an
    individual NPI) or an organisation (2); no other value exists (facts §7a). Blank means 2."""
    value = s.book.practice.billing_entity_type.strip()
    if value and value not in ("1", "2"):
        yield finding("practice.entity-type", PRACTICE, None, "BillingEntityType",
                      "BillingEntityType must be 1 (a person) or 2 (an organisation).",
                      "Enter 2 for a practice (group NPI), or 1 for a solo therapist billing under an individual "
                      "NPI.")


@rule("practice.billing-name-missing", E, "practice",
      "BillingEntityType 1 (person) without BillingLastName/BillingFirstName.", "sheet")
def billing_name_missing(s: SheetContext) -> Iterator[Finding]:
    """A person billing provider is NM1*85*1 with last and first name (2010AA NM103/NM104), the name
    registered for the billing NPI (facts §7a: "A billing provider that is a person is NM1*85*1 with
    last/first name")."""
    p = s.book.practice
    if p.billing_entity_type.strip() != "1":
        return
    missing = [name for name, value in (("BillingLastName", p.billing_last_name),
                                        ("BillingFirstName", p.billing_first_name)) if not value.strip()]
    if missing:
        yield finding("practice.billing-name-missing", PRACTICE, None, missing[0],
                      f"BillingEntityType is 1 (a person) but {' and '.join(missing)} "
                      f"{'is' if len(missing) == 1 else 'are'} blank.",
                      "Enter the therapist's last and first name as registered for the billing NPI (NPPES), or set "
                      "BillingEntityType to 2 for a practice.")


_BILLING_ADDRESS = (("Address", "address"), ("City", "city"), ("State", "state"), ("ZIP", "zip"))


@rule("practice.address-missing", E, "practice",
      "Practice Address/City/State/ZIP blank, or State not a US state code (2010AA N3/N4).", "sheet")
def address_missing(s: SheetContext) -> Iterator[Finding]:
    """The billing provider's street address, city, state and ZIP are required in every 837P (loop
    2010AA N3/N4, 005010X222A1); the state is a USPS code (refdata/us_states.csv). Without them no file
    can be written for any payer."""
    practice = s.book.practice
    missing = [name for name, attr in _BILLING_ADDRESS if not getattr(practice, attr).strip()]
    if missing:
        yield finding("practice.address-missing", PRACTICE, None, missing[0],
                      f"The practice address is incomplete ({', '.join(missing)} blank); every claim needs it.",
                      "Fill Address, City, State (2 letters) and ZIP on the Practice sheet.")
    for column, attr in (("State", "state"), ("PayToState", "pay_to_state")):
        state = getattr(practice, attr).strip().upper()
        if state and state not in us_states():
            yield finding("practice.address-missing", PRACTICE, None, column,
                          f"The practice {column} is not a US state code.",
                          f"Enter the 2-letter USPS code in {column} (e.g. NJ).")


@rule("practice.edi-setting", E, "practice",
      "A Practice EDI setting the 837P envelope needs is blank or malformed (submitter, receiver, phone, "
      "qualifiers, taxonomy).", "sheet")
def edi_setting(s: SheetContext) -> Iterator[Finding]:
    """The settings every 837P file carries in its envelope and header (005010X222A1 ISA, GS, 1000A,
    1000B, 2000A PRV): submitter ID and receiver ID (GS02/GS03, 2-15 characters), their names, a contact
    phone of 10-15 digits (1000A PER04), the interchange ID qualifiers (ISA05/ISA07, element I05 codes)
    and, when given, the billing taxonomy (10 characters ending in X). A bad one stops every payer's
    file, so `check` names it before `claims` runs."""
    p = s.book.practice

    def bad(column: str, message: str, fix: str) -> Finding:
        return finding("practice.edi-setting", PRACTICE, None, column, message, fix)

    for column, value in (("SubmitterID", p.submitter_id), ("ReceiverID", p.receiver_id)):
        v = value.strip()
        if not 2 <= len(v) <= 15 or not identifier_sendable(v):
            yield bad(column, f"{column} must have 2 to 15 letters or digits (it goes in the file's envelope).",
                      f"Enter the {column} your clearinghouse gave you.")
    if not p.receiver_name.strip():
        yield bad("ReceiverName", "ReceiverName is blank.", "Enter the clearinghouse's name.")
    if not (p.submitter_name or p.practice_name).strip():
        yield bad("SubmitterName", "SubmitterName (or PracticeName) is blank.", "Enter the practice's name.")
    phone = digits_only(p.contact_phone or p.phone)
    if not 10 <= len(phone) <= 15:
        yield bad("ContactPhone" if p.contact_phone else "Phone",
                  "The contact phone must have 10 to 15 digits (area code first).", "Enter the billing office's phone.")
    for column, value in (("InterchangeSenderQualifier", p.interchange_sender_qualifier),
                          ("InterchangeReceiverQualifier", p.interchange_receiver_qualifier)):
        if value.strip() and value.strip() not in INTERCHANGE_QUALIFIERS:  # (as written: "zz" is not ZZ)
            yield bad(column, f"{column} must be one of {', '.join(INTERCHANGE_QUALIFIERS)}.",
                      "Use ZZ (mutually defined) unless the clearinghouse asks for another.")
    if p.taxonomy.strip() and not TAXONOMY.fullmatch(p.taxonomy.strip().upper()):
        yield bad("Taxonomy", "Taxonomy must be a 10-character provider taxonomy code ending in X (OT: 225X00000X).",
                  "Enter the practice's taxonomy code, or leave it blank.")
