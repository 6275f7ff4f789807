"""Billing provider rules: the Practice sheet as the 837P's loop 2010AA (billing provider) and 2010AB
(pay-to address) needs it (facts §7a). A Practice error holds every line back: the clearinghouse
rejects the whole claim (every claim of the file) for a bad billing provider."""

from __future__ import annotations

import re
from collections.abc import Iterator

from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.scrub._context import PRACTICE, SheetContext, finding, rule

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


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


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
    z = _digits(s.book.practice.zip)
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
