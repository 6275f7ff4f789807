"""835 writer: remittance advice (005010X221A1) from :class:`~otbill_xl.formats.x12.read835.Remittance`
records — the payer's side, for the payer simulator (``otbill simulate-remit``) and for tests.

One interchange (ISA/IEA) holding one functional group (GS*HP/GE) holding one transaction set
(ST/SE) per remittance. Loop map of what is written::

    ISA GS*HP
      ST*835 (no ST03: X221A1 does not use it) BPR TRN*1 DTM*405
      1000A N1*PR N3 N4 REF*2U PER*BL        payer (REF*2U: the payer ID, which the reader takes back)
      1000B N1*PE N3 N4 REF*TJ...            payee (the record's payee_refs: TJ tax ID, PQ, D3, 0B)
      2000 LX*1
        2100 CLP CAS... NM1*QC DTM*232 DTM*233        per claim
          2110 SVC DTM*472|150,151 CAS... REF*6R AMT*B6 LQ*HE...    per service line
      PLB...                                 provider adjustments, six pairs a segment
      SE
    GE IEA

What a :class:`Remittance` does not carry (addresses, contacts, the claim filing indicator CLP06, the
patient's name) comes from :class:`PayerDetails`, :class:`PayeeDetails` and :class:`PatientName`
arguments, with plain defaults. Amounts may be negative (reversals, CAS and PLB credits); BPR02 may
not (X221A1: a payment that would be negative is carried forward with PLB FB by the payer), nor may
a charge of a claim that is not a reversal. CAS segments hold at most six reason triplets (X221A1
CAS02-CAS19); more adjustments of one group continue in another CAS segment.

Raises :class:`~otbill_xl.formats.x12.envelope.X12Error` for data that cannot make a valid file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from otbill_xl.formats.x12.envelope import (
    ControlNumbers,
    ElementCleaner,
    Separators,
    X12Error,
    control_number,
    digits_only,
    format_amount,
    format_date,
    format_quantity,
    iea_segment,
    isa_segment,
    se_segment,
)
from otbill_xl.formats.x12.read835 import Adjustment, ClaimPayment, Procedure, Remittance, ServicePayment

__all__ = ["VERSION_835", "Address", "filing_indicator_835", "PatientName", "PayeeDetails", "PayerDetails", "write_835"]

#: Implementation guide of the 835 written here.
VERSION_835 = "005010X221A1"
#: CAS02-CAS19: six reason/amount/quantity triplets per CAS segment.
CAS_TRIPLETS = 6
#: PLB03-PLB14: six adjustment identifier/amount pairs per PLB segment.
PLB_PAIRS = 6
#: 1000B REF01 qualifiers the guide allows for the payee.
PAYEE_REF_QUALIFIERS = frozenset({"0B", "D3", "PQ", "TJ"})
_CAS_GROUPS = frozenset({"CO", "OA", "PI", "PR"})
#: CLP06 claim filing indicator codes of X221A1 (a shorter list than the 837's SBR09).
FILING_INDICATORS_835 = frozenset({"12", "13", "14", "15", "16", "17", "AM", "CH", "DS", "HM", "LM", "MA", "MB",
                                   "MC", "OF", "TV", "VA", "WC", "ZZ"})
#: 837 SBR09 codes the 835 does not have: commercial (CI) and Blue Cross/Blue Shield (BL) plans are
#: reported as 12 (preferred provider organization, the commonest commercial plan type) [U: the payer
#: decides]; any other code the 835 does not have as ZZ (mutually defined).
_FILING_FROM_837 = {"CI": "12", "BL": "12"}


def filing_indicator_835(code: str) -> str:
    """The 835 CLP06 code for an 837 SBR09 claim filing indicator (see :data:`_FILING_FROM_837`)."""
    code = (code or "").strip().upper()
    if code in FILING_INDICATORS_835:
        return code
    return _FILING_FROM_837.get(code, "ZZ")


class Address(NamedTuple):
    line1: str
    city: str
    state: str = ""
    zip: str = ""
    line2: str = ""


class PayerDetails(NamedTuple):
    """The payer's 1000A address and contact, and the claim filing indicator (CLP06) of its claims."""

    address: Address = Address("PO BOX 1000", "HARRISBURG", "PA", "17101")
    contact_name: str = "PROVIDER SERVICES"
    contact_phone: str = "8005550100"
    #: CLP06, e.g. MB Medicare Part B, MC Medicaid, 16 Medicare Advantage HMO, 12 PPO; an 837 code the
    #: 835 lacks (CI commercial) is mapped by :func:`filing_indicator_835`.
    filing_indicator: str = "12"
    #: TRN03: "1" + the payer's 9-digit tax ID; blank: "1" + the payer ID's digits, zero-padded.
    trace_originator: str = ""


class PayeeDetails(NamedTuple):
    """The payee's 1000B address (N3/N4); the tax ID and other IDs are the record's ``payee_refs``."""

    address: Address | None = None


class PatientName(NamedTuple):
    """2100 NM1*QC: the patient's name and member ID (NM109 with qualifier MI)."""

    last: str
    first: str = ""
    member_id: str = ""


def write_835(remittances: Sequence[Remittance], *, sender_id: str, receiver_id: str, control: ControlNumbers,
              created: datetime, usage: str = "T", sender_qualifier: str = "ZZ", receiver_qualifier: str = "ZZ",
              payers: Mapping[str, PayerDetails] | None = None, payee: PayeeDetails | None = None,
              patients: Mapping[str, PatientName] | None = None, separators: Separators = Separators(),
              newline: bool = True, allowed_of: Callable[[ServicePayment], Decimal | None] | None = None) -> str:
    """The 835 interchange of ``remittances`` (see the module docstring).

    ``sender_id``/``receiver_id``: ISA06/ISA08 and GS02/GS03 (the payer or its clearinghouse, and the
    provider's submitter ID); ``control``: ISA13, GS06 and the first ST02 (each further transaction
    set takes the next number unless the record's ``transaction_control`` is 4 to 9 digits);
    ``payers`` by payer ID (``Remittance.payer_id``); ``patients`` by CLP01, for a claim record without
    its own ``patient``; ``allowed_of``: a line's allowed amount (AMT*B6), by default the record's
    ``allowed`` when it has one.
    """
    if not remittances:
        raise X12Error("there are no remittances to write")
    writer = _Writer(separators, payers or {}, payee or PayeeDetails(), patients or {}, allowed_of or _record_allowed)
    owner = "835 envelope"
    sender = writer.clean.ident(sender_id, owner, "interchange sender ID (ISA06)", max_len=15)
    receiver = writer.clean.ident(receiver_id, owner, "interchange receiver ID (ISA08)", max_len=15)
    isa = isa_segment(sender_qualifier=sender_qualifier, sender_id=sender, receiver_qualifier=receiver_qualifier,
                      receiver_id=receiver, created=created, interchange=control.interchange, usage=usage,
                      separators=separators)
    control_number(control.group, "group (GS06)")
    e = separators.element
    gs = e.join(("GS", "HP", sender, receiver, created.strftime("%Y%m%d"), created.strftime("%H%M"),
                 str(control.group), "X", VERSION_835))
    segments = [isa, gs]
    used: set[str] = set()
    for n, remit in enumerate(remittances):
        st02 = remit.transaction_control.strip()
        if not (st02.isdigit() and 4 <= len(st02) <= 9) or st02 in used:
            st02 = f"{control_number(control.transaction + n, 'transaction set (ST02)'):04d}"
        used.add(st02)
        segments += writer.transaction(remit, st02, created)
    segments += [e.join(("GE", str(len(remittances)), str(control.group))),
                 iea_segment(control.interchange, separators)]
    terminator = separators.segment + ("\n" if newline and separators.segment not in "\r\n" else "")
    return terminator.join([*segments, ""])


def _record_allowed(s: ServicePayment) -> Decimal | None:
    """AMT*B6 from the record, when the 835 record type carries it (``ServicePayment.allowed``)."""
    allowed = getattr(s, "allowed", None)
    return allowed if isinstance(allowed, Decimal) else None


def _record_patient(claim: ClaimPayment) -> PatientName | None:
    """NM1*QC from the record, when the 835 record type carries it (``ClaimPayment.patient``)."""
    party = getattr(claim, "patient", None)
    if party is None:
        return None
    return PatientName(getattr(party, "last", ""), getattr(party, "first", ""), getattr(party, "id", ""))


def signed_amount(value: Decimal, where: str) -> str:
    """A money amount that may be negative (``-12.5``), in cents."""
    if isinstance(value, Decimal) and value < 0:
        return "-" + format_amount(-value, where)
    return format_amount(value, where)


class _Writer:
    def __init__(self, separators: Separators, payers: Mapping[str, PayerDetails], payee: PayeeDetails,
                 patients: Mapping[str, PatientName], allowed_of: Callable[[ServicePayment], Decimal | None]) -> None:
        self.sep = separators
        self.allowed_of = allowed_of
        self.e, self.c = separators.element, separators.component
        self.clean = ElementCleaner(separators)
        self.payers, self.payee, self.patients = payers, payee, patients

    def seg(self, *elements: str) -> str:
        """A segment with its trailing empty elements dropped."""
        items = list(elements)
        while items and items[-1] == "":
            items.pop()
        return self.e.join(items)

    def transaction(self, remit: Remittance, st02: str, created: datetime) -> list[str]:
        owner = f"remittance {remit.trace_number or st02}"
        clean = self.clean
        details = self.payers.get(remit.payer_id, PayerDetails())
        out = [self.seg("ST", "835", st02)]  # ST03 is not used in X221A1 (the version is in GS08)
        if remit.amount < 0:
            raise X12Error(f"{owner}: the payment (BPR02) is negative; carry the balance forward with PLB FB")
        bpr02 = format_amount(remit.amount, f"{owner}: payment amount (BPR02)")
        bpr01 = "I" if remit.amount > 0 else "H"   # H: notification only, no payment
        method = (remit.method or ("CHK" if remit.amount > 0 else "NON")).upper()
        paid_on = remit.payment_date or created.date()
        out.append(self.seg("BPR", bpr01, bpr02, remit.credit_debit or "C", method, *([""] * 11),
                            format_date(paid_on)))
        trace = clean.ident(remit.trace_number, owner, "check or EFT trace number (TRN02)", max_len=50)
        originator = details.trace_originator or "1" + digits_only(remit.payer_id).rjust(9, "0")[-9:]
        out.append(self.seg("TRN", "1", trace, originator))
        out.append(self.seg("DTM", "405", format_date(created.date())))
        # 1000A payer
        out.append(self.seg("N1", "PR", clean.text(remit.payer_name, owner, "payer name (N102)", max_len=60,
                                                   required=True)))
        out += self.address(details.address, owner, "payer")
        if remit.payer_id:
            out.append(self.seg("REF", "2U", clean.ident(remit.payer_id, owner, "payer ID (REF*2U)", max_len=50)))
        phone = digits_only(details.contact_phone)
        out.append(self.seg("PER", "BL", clean.text(details.contact_name, owner, "payer contact (PER02)", max_len=60),
                            "TE" if phone else "", phone))
        # 1000B payee
        qualifier = (remit.payee_id_qualifier or "XX").upper()
        out.append(self.seg("N1", "PE", clean.text(remit.payee_name, owner, "payee name (N102)", max_len=60,
                                                   required=True), qualifier,
                            clean.ident(remit.payee_id or remit.payee_npi, owner, "payee ID (N104)", max_len=80)))
        if self.payee.address is not None:
            out += self.address(self.payee.address, owner, "payee")
        for ref, value in remit.payee_refs:
            if ref.upper() in PAYEE_REF_QUALIFIERS and value:
                out.append(self.seg("REF", ref.upper(), clean.ident(value, owner, f"payee REF*{ref}", max_len=50)))
        if remit.claims:
            out.append(self.seg("LX", "1"))
            for claim in remit.claims:
                out += self.claim(claim, details, owner)
        out += self.provider_adjustments(remit, paid_on, owner)
        out.append(se_segment(len(out) + 1, int(st02), self.sep))
        return out

    def address(self, address: Address, owner: str, who: str) -> list[str]:
        clean = self.clean
        line1 = clean.text(address.line1, owner, f"{who} address (N301)", max_len=55, required=True)
        line2 = clean.text(address.line2, owner, f"{who} address line 2 (N302)", max_len=55)
        city = clean.text(address.city, owner, f"{who} city (N401)", max_len=30, required=True)
        state = clean.text(address.state, owner, f"{who} state (N402)", max_len=2)
        return [self.seg("N3", line1, line2), self.seg("N4", city, state, digits_only(address.zip))]

    def claim(self, claim: ClaimPayment, details: PayerDetails, owner: str) -> list[str]:
        clean = self.clean
        owner = f"{owner} claim {claim.patient_control_number}"
        pcn = clean.ident(claim.patient_control_number, owner, "patient control number (CLP01)", max_len=38)
        if claim.charge < 0 and not claim.is_reversal:
            raise X12Error(f"{owner}: the charge (CLP03) is negative on a claim that is not a reversal (CLP02=22)")
        payer_claim = clean.ident(claim.payer_claim_number, owner, "payer claim control number (CLP07)", max_len=50)
        out = [self.seg("CLP", pcn, claim.status or "1", signed_amount(claim.charge, f"{owner}: CLP03"),
                        signed_amount(claim.paid, f"{owner}: CLP04"),
                        signed_amount(claim.patient_responsibility, f"{owner}: CLP05")
                        if claim.patient_responsibility else "",
                        filing_indicator_835(getattr(claim, "filing_indicator", "") or details.filing_indicator),
                        payer_claim)]
        out += self.adjustments(claim.adjustments, owner)
        name = self.patients.get(claim.patient_control_number) or _record_patient(claim)
        if name is None:
            out.append(self.seg("NM1", "QC", "1"))
        else:
            member = clean.ident(name.member_id, owner, "member ID (NM109)", max_len=80, required=False)
            out.append(self.seg("NM1", "QC", "1", clean.text(name.last, owner, "patient last name", max_len=60),
                                clean.text(name.first, owner, "patient first name", max_len=35), "", "", "",
                                "MI" if member else "", member))
        if claim.statement_from:
            out.append(self.seg("DTM", "232", format_date(claim.statement_from)))
        if claim.statement_to:
            out.append(self.seg("DTM", "233", format_date(claim.statement_to)))
        for n, service in enumerate(claim.services, 1):
            out += self.service(service, f"{owner} line {n}")
        return out

    def procedure(self, p: Procedure | ServicePayment, owner: str) -> str:
        qualifier = self.clean.ident(p.qualifier or "HC", owner, "procedure qualifier", min_len=2, max_len=2)
        code = self.clean.ident(p.code, owner, "procedure code", max_len=48)
        mods = [self.clean.ident(m, owner, "modifier", min_len=2, max_len=2) for m in p.modifiers[:4]]
        return self.c.join((qualifier, code, *mods))

    def service(self, s: ServicePayment, owner: str) -> list[str]:
        # SVC05: required when the paid units are not one (X221A1); the reader takes a blank as one
        units = format_quantity(s.units, f"{owner}: units (SVC05)") if s.units != 1 else ""
        original = self.procedure(s.original, owner) if s.original is not None else ""
        out = [self.seg("SVC", self.procedure(s, owner), signed_amount(s.charge, f"{owner}: SVC02"),
                        signed_amount(s.paid, f"{owner}: SVC03"), "", units, original)]
        if s.service_date:
            out.append(self.seg("DTM", "472", format_date(s.service_date)))
        else:
            if s.service_from:
                out.append(self.seg("DTM", "150", format_date(s.service_from)))
            if s.service_to:
                out.append(self.seg("DTM", "151", format_date(s.service_to)))
        out += self.adjustments(s.adjustments, owner)
        if s.line_control_number:
            out.append(self.seg("REF", "6R", self.clean.ident(s.line_control_number, owner, "line item control "
                                                              "number (REF*6R)", max_len=50)))
        allowed = self.allowed_of(s)
        if allowed is not None:
            out.append(self.seg("AMT", "B6", signed_amount(allowed, f"{owner}: allowed amount (AMT*B6)")))
        for remark in s.remark_codes:
            out.append(self.seg("LQ", "HE", self.clean.ident(remark, owner, "remark code (LQ02)", max_len=30)))
        return out

    def adjustments(self, adjustments: Iterable[Adjustment], owner: str) -> list[str]:
        """CAS segments: adjustments grouped by group code in first-seen order, six triplets a segment."""
        groups: dict[str, list[Adjustment]] = {}
        for a in adjustments:
            group = a.group.upper()
            if group not in _CAS_GROUPS:
                raise X12Error(f"{owner}: adjustment group {a.group!r} (CAS01) is not CO, OA, PI or PR")
            groups.setdefault(group, []).append(a)
        out: list[str] = []
        for group, items in groups.items():
            for start in range(0, len(items), CAS_TRIPLETS):
                elements = ["CAS", group]
                for a in items[start:start + CAS_TRIPLETS]:
                    reason = self.clean.ident(a.reason, owner, "adjustment reason code (CAS02)", max_len=5)
                    quantity = signed_amount(a.quantity, f"{owner}: CAS quantity") if a.quantity is not None else ""
                    elements += [reason, signed_amount(a.amount, f"{owner}: CAS amount"), quantity]
                out.append(self.seg(*elements))
        return out

    def provider_adjustments(self, remit: Remittance, paid_on: date, owner: str) -> list[str]:
        """PLB segments: per provider and fiscal period, six identifier/amount pairs a segment."""
        grouped: dict[tuple[str, date], list[str]] = {}
        for p in remit.provider_adjustments:
            provider = self.clean.ident(p.provider_id or remit.payee_npi or remit.payee_id, owner,
                                        "provider identifier (PLB01)", max_len=50)
            period = p.fiscal_period or date(paid_on.year, 12, 31)  # PLB02 is required: the year's end
            reason = self.clean.ident(p.reason, owner, "provider adjustment reason (PLB03-1)", min_len=2, max_len=2)
            ref = self.clean.ident(p.reference, owner, "provider adjustment reference (PLB03-2)", max_len=50,
                                   required=False)
            grouped.setdefault((provider, period), []).extend(
                (self.c.join((reason, ref)) if ref else reason, signed_amount(p.amount, f"{owner}: PLB amount")))
        out: list[str] = []
        for (provider, period), pairs in grouped.items():
            for start in range(0, len(pairs), 2 * PLB_PAIRS):
                out.append(self.seg("PLB", provider, format_date(period), *pairs[start:start + 2 * PLB_PAIRS]))
        return out
