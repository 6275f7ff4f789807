"""837P (005010X222A1) professional claim writer.

One interchange (ISA/IEA) holding one functional group (GS/GE) holding one transaction set
(ST/SE) with all the claims. Claims of the same subscriber (same payer, member ID, patient and
payer sequence) share one 2000B subscriber loop (and its 2000C patient loop for a dependent),
in the order their first claim was given; HL numbers run 1, 2, 3, ... with correct parents.

Loop map of what is written::

    ISA GS ST BHT
    1000A NM1*41 PER*IC          submitter and its contact
    1000B NM1*40                 receiver
    2000A HL*1**20*1 [PRV*BI]    billing provider level
      2010AA NM1*85 N3 N4 REF*EI
      [2010AB NM1*87 N3 N4]        pay-to address, when it is not the billing address
      2000B HL*n*1*22*0|1 SBR    subscriber
        2010BA NM1*IL [N3 N4 DMG when the patient is the subscriber]
        2010BB NM1*PR
        [2000C HL*m*n*23*0 PAT, 2010CA NM1*QC N3 N4 DMG]    dependent patient (never Medicare/Medicaid)
          2300 CLM [REF*F8] [REF*G1] HI
            [2310A NM1*DN] [2310B NM1*82 [PRV*PE]]
            [2320 SBR OI [AMT*D], 2330A NM1*IL, 2330B NM1*PR]    per other payer (COB)
            2400 LX SV1 DTP*472 REF*6R   per service line (REF*6R: the line item control number)
              [2430 SVD CAS... DTP*573 AMT*EAF]    per other payer that adjudicated the claim
    SE GE IEA

Every segment is one item of the writer's list from ST on, so SE01 is that list's length plus
the SE. Values are checked where they are written; three per-file caches (a service line's SV1, a
diagnosis list's HI, a provider pair's 2310A/2310B) are kept because the claims benchmark shows each
is worth more than 10% of the write (figures where they are used). ``tests/reference_write837.py`` is
the plain oracle the output is compared with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from otbill_xl.domain import npi as npi_check
from otbill_xl.domain.address import us_states
from otbill_xl.domain.claims import (
    CLAIM_ID_MAX,
    FILING_INDICATOR,
    MAX_DIAGNOSES,
    MAX_LINES,
    RELATIONSHIP_CODE,
    Claim,
    ServiceLine,
    dx_key,
    line_control_numbers,
    patient_is_subscriber,
)
from otbill_xl.domain.cob import CAS_GROUPS, CAS_MAX_REASONS, OtherPayer, msp_insurance_types
from otbill_xl.domain.models import Patient, Practice
from otbill_xl.domain.x12_charset import TAXONOMY
from otbill_xl.formats.x12.envelope import (
    VERSION_837P,
    ControlNumbers,
    ElementCleaner,
    Separators,
    X12Error,
    digits_only,
    format_amount,
    format_date,
    format_quantity,
    ge_segment,
    gs_segment,
    iea_segment,
    isa_segment,
    se_segment,
    st_control,
    st_segment,
)

__all__ = ["VERSION_837P", "ControlNumbers", "Separators", "X12Error", "X12File", "write_837p"]

#: 837P limits (005010X222A1): 50 service lines per claim (2400 repeat), 12 diagnoses (HI), 4 modifiers.
MAX_MODIFIERS = 4
MAX_POINTERS = 4
FREQUENCIES = frozenset({"1", "7", "8"})
PAYER_SEQUENCES = frozenset("PSTABCDEFGHU")

_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")
_PROCEDURE = re.compile(r"[A-Z0-9]{5}")
_MODIFIER = re.compile(r"[A-Z0-9]{2}")
_POS = re.compile(r"[0-9]{2}")
#: Dates an 837P can carry: CCYYMMDD from 1900 (X12 validators refuse years before 1800; nobody billed
#: today was born before 1900) to 2199 (the range the workbook reader accepts).
MIN_X12_YEAR, MAX_X12_YEAR = 1900, 2199
#: The longest phone number there is (ITU E.164: 15 digits); PER04 itself allows 256 characters.
_PHONE_MAX_DIGITS = 15

_SEX = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "U": "U", "UNKNOWN": "U"}


@dataclass(frozen=True)
class X12File:
    """A written 837P: the text, cleaning warnings, and counts (``segments`` = ST..SE count)."""

    text: str
    warnings: tuple[str, ...]
    claims: int
    lines: int
    segments: int


def write_837p(claims: Sequence[Claim], practice: Practice, control: ControlNumbers, *,
               created: datetime, separators: Separators = Separators(), newline: bool = True) -> X12File:
    """Write ``claims`` as one 837P interchange.

    ``created`` is the file creation time (ISA09/10, GS04/05, BHT04/05); ``control`` holds the
    ledger's interchange, group and transaction control numbers. ``newline`` puts a line break
    after every segment terminator (receivers accept it; ISA stays 106 characters) unless the
    terminator is itself a line break.
    Raises :class:`X12Error` for data that cannot make a valid file.
    """
    if not claims:
        raise X12Error("there are no claims to write")
    terminator = separators.segment + ("\n" if newline and separators.segment not in "\r\n" else "")
    writer = _Writer(practice, separators)
    writer.header(control, created)
    for group in _group_by_subscriber(claims):
        writer.subscriber(group)
    segments = writer.segments
    count = len(segments) + 1  # SE01: every segment from ST (segments[0]) to SE, both included
    segments.append(se_segment(count, control.transaction, separators))
    # the final "" puts a terminator after the IEA
    text = terminator.join([writer.isa, writer.gs, *segments, ge_segment(control.group, separators),
                            iea_segment(control.interchange, separators), ""])
    return X12File(text=text, warnings=tuple(writer.clean.warnings), claims=len(claims), lines=writer.line_count,
                   segments=count)


def _group_by_subscriber(claims: Sequence[Claim]) -> list[list[Claim]]:
    """Claims by subscriber loop (payer ID, name and type, member ID, patient ID, relationship and
    payer sequence), in first-claim order."""
    groups: dict[tuple, list[Claim]] = {}
    for claim in claims:
        payer, patient = claim.payer, claim.patient
        key = (payer.payer_id, payer.payer_name, payer.payer_type, claim.member_id, patient.patient_id,
               patient.relationship, claim.sequence)
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
        group.append(claim)
    return list(groups.values())


class _Writer:
    """State of one file being written: separators, cleaner, HL counter and the segments from ST on,
    one segment per item of ``segments`` (SE01 is their number plus the SE)."""

    def __init__(self, practice: Practice, separators: Separators) -> None:
        self.practice = practice
        self.sep = separators
        self.e = separators.element
        self.c = separators.component
        self.clean = ElementCleaner(separators)
        self.segments: list[str] = []
        self.hl = 0
        self.line_count = 0
        # the three caches the claims benchmark shows are worth keeping (figures where they are used)
        self._sv1: dict[tuple, tuple[str, int]] = {}
        self._hi: dict[tuple[str, ...], str] = {}
        self._providers: dict[tuple, list[str]] = {}

    # ----------------------------------------------------------------------------------------------
    # Envelope and header

    def interchange(self, control: ControlNumbers, created: datetime) -> tuple[str, str]:
        p, clean = self.practice, self.clean
        owner = "practice settings"
        submitter_id = clean.ident(p.submitter_id, owner, "submitter ID (GS02, 1000A NM109)", min_len=2,
                                   max_len=15)
        receiver_id = clean.ident(p.receiver_id, owner, "receiver ID (GS03, 1000B NM109)", min_len=2,
                                  max_len=15)
        sender_q = clean.ident(p.interchange_sender_qualifier or "ZZ", owner,
                               "interchange sender qualifier (ISA05)", min_len=2, max_len=2)
        sender = clean.ident(p.interchange_sender_id or submitter_id, owner, "interchange sender ID (ISA06)",
                             max_len=15)
        receiver_q = clean.ident(p.interchange_receiver_qualifier or "ZZ", owner,
                                 "interchange receiver qualifier (ISA07)", min_len=2, max_len=2)
        receiver = clean.ident(p.interchange_receiver_id or receiver_id, owner,
                               "interchange receiver ID (ISA08)", max_len=15)
        usage = (p.usage_indicator or "T").strip().upper()
        isa = isa_segment(sender_qualifier=sender_q, sender_id=sender, receiver_qualifier=receiver_q,
                          receiver_id=receiver, created=created, interchange=control.interchange,
                          usage=usage, separators=self.sep)
        gs = gs_segment(sender=submitter_id, receiver=receiver_id, created=created, group=control.group,
                        separators=self.sep)
        return isa, gs

    def header(self, control: ControlNumbers, created: datetime) -> None:
        """The ISA and GS, and ST through the 2010AA billing provider."""
        p, clean, e = self.practice, self.clean, self.e
        owner = "practice settings"
        # Practice checks first so a bad setting is reported before any claim problem.
        self.isa, self.gs = self.interchange(control, created)
        submitter_name = clean.text(p.submitter_name or p.practice_name, owner, "submitter name (1000A NM103)",
                                    max_len=60, required=True)
        submitter_id = clean.ident(p.submitter_id, owner, "submitter ID (1000A NM109)", min_len=2, max_len=80)
        contact = clean.text(p.contact_name or submitter_name, owner, "contact name (1000A PER02)", max_len=60)
        phone = digits_only(p.contact_phone or p.phone)
        if not 10 <= len(phone) <= _PHONE_MAX_DIGITS:
            raise X12Error(f"{owner}: contact phone (1000A PER04) must have 10 to {_PHONE_MAX_DIGITS} digits "
                           "(a phone number, area code first)")
        receiver_name = clean.text(p.receiver_name, owner, "receiver name (1000B NM103)", max_len=60,
                                   required=True)
        receiver_id = clean.ident(p.receiver_id, owner, "receiver ID (1000B NM109)", min_len=2, max_len=80)
        person = (p.billing_entity_type or "2").strip() == "1"
        if person:  # a solo therapist billing as a person (facts §7a): NM1*85*1 with last and first name
            billing_name = clean.text(p.billing_last_name, owner, "billing provider last name (BillingLastName)",
                                      max_len=60, required=True)
            billing_first = clean.text(p.billing_first_name, owner, "billing provider first name (BillingFirstName)",
                                       max_len=35)
        else:
            billing_name = clean.text(p.practice_name, owner, "practice name (2010AA NM103)", max_len=60,
                                      required=True)
        billing_npi = self.npi(p.billing_npi, owner, "billing NPI (2010AA NM109)")
        tax_id = digits_only(p.tax_id)
        if len(tax_id) != 9 or any(ch not in "0123456789- " for ch in p.tax_id.strip()):
            raise X12Error(f"{owner}: tax ID (2010AA REF02) must be a 9-digit EIN or SSN")
        n3, n4 = self.address(p.address, p.city, p.state, p.zip, owner, "billing provider", "2010AA",
                              billing=True)

        st02 = st_control(control.transaction)
        date8, time4 = created.strftime("%Y%m%d"), created.strftime("%H%M")
        out = self.segments
        out += [st_segment(control.transaction, self.sep),
                f"BHT{e}0019{e}00{e}{st02}{e}{date8}{e}{time4}{e}CH",
                f"NM1{e}41{e}2{e}{submitter_name}{e}{e}{e}{e}{e}46{e}{submitter_id}",
                f"PER{e}IC{e}{contact}{e}TE{e}{phone}" if contact else f"PER{e}IC{e}{e}TE{e}{phone}",
                f"NM1{e}40{e}2{e}{receiver_name}{e}{e}{e}{e}{e}46{e}{receiver_id}",
                f"HL{e}1{e}{e}20{e}1"]
        if p.taxonomy.strip():
            out.append(f"PRV{e}BI{e}PXC{e}{self.taxonomy(p.taxonomy, owner, 'billing taxonomy (PRV03)')}")
        if person:
            out.append(f"NM1{e}85{e}1{e}{billing_name}{e}{billing_first}{e}{e}{e}{e}XX{e}{billing_npi}")
        else:
            out.append(f"NM1{e}85{e}2{e}{billing_name}{e}{e}{e}{e}{e}XX{e}{billing_npi}")
        out += [n3, n4, f"REF{e}EI{e}{tax_id}"]
        if p.pay_to_address.strip():  # 2010AB: where payments go (a PO Box belongs here, facts §7a)
            pay_n3, pay_n4 = self.address(p.pay_to_address, p.pay_to_city, p.pay_to_state, p.pay_to_zip, owner,
                                          "pay-to", "2010AB")
            out += [f"NM1{e}87{e}{'1' if person else '2'}", pay_n3, pay_n4]
        self.hl = 1

    # ----------------------------------------------------------------------------------------------
    # Shared element helpers

    def npi(self, value: str, owner: str, where: str) -> str:
        s = (value or "").strip()
        try:
            checked = npi_check.validate(s)
        except npi_check.InvalidNPI as exc:
            raise X12Error(f"{owner}: {where}: {exc}") from None
        if checked != s:
            raise X12Error(f"{owner}: {where}: an NPI has 10 digits and nothing else")
        return s

    def taxonomy(self, value: str, owner: str, where: str) -> str:
        s = value.strip().upper()
        if not TAXONOMY.fullmatch(s):
            raise X12Error(f"{owner}: {where} must be a 10-character provider taxonomy code ending in X")
        return s

    def address(self, street: str, city: str, state: str, zip_code: str, owner: str, who: str, loop: str,
                *, billing: bool = False) -> tuple[str, str]:
        clean, e = self.clean, self.e
        n301 = clean.text(street, owner, f"{who} address ({loop} N301)", max_len=55, required=True)
        n401 = clean.text(city, owner, f"{who} city ({loop} N401)", max_len=30, min_len=2, required=True)
        n402 = (state or "").strip().upper()
        if n402 not in us_states():
            raise X12Error(f"{owner}: {who} state ({loop} N402) must be a US state code (USPS, e.g. NJ)")
        n403 = digits_only(zip_code or "")
        if len(n403) not in (5, 9) or any(ch not in "0123456789- " for ch in (zip_code or "").strip()):
            raise X12Error(f"{owner}: {who} ZIP code ({loop} N403) must have 5 or 9 digits")
        if billing and len(n403) != 9:
            clean.warn(f"{owner}: {who} ZIP code ({loop} N403) has 5 digits; the 837P guide requires the "
                       f"9-digit ZIP+4 for the billing provider, and many payers reject the claim without it")
        return f"N3{e}{n301}", f"N4{e}{n401}{e}{n402}{e}{n403}"

    def dmg(self, dob, sex: str, owner: str, who: str, loop: str) -> str:
        if dob is None:
            raise X12Error(f"{owner}: {who} date of birth ({loop} DMG02) is blank")
        if not MIN_X12_YEAR <= dob.year <= MAX_X12_YEAR:
            raise X12Error(f"{owner}: {who} date of birth ({loop} DMG02) is not in the years {MIN_X12_YEAR} to "
                           f"{MAX_X12_YEAR}")
        code = _SEX.get((sex or "").strip().upper())
        if code is None:
            code = "U"
            self.clean.warn(f"{owner}: {who} sex ({loop} DMG03) is not M or F; sent as U (unknown)")
        return f"DMG{self.e}D8{self.e}{format_date(dob)}{self.e}{code}"

    def person(self, entity: str, last: str, first: str, owner: str, who: str, loop: str,
               id_qualifier: str = "", id_value: str = "") -> str:
        clean, e = self.clean, self.e
        nm103 = clean.text(last, owner, f"{who} last name ({loop} NM103)", max_len=60, required=True)
        nm104 = clean.text(first, owner, f"{who} first name ({loop} NM104)", max_len=35)
        if id_value:
            return f"NM1{e}{entity}{e}1{e}{nm103}{e}{nm104}{e}{e}{e}{e}{id_qualifier}{e}{id_value}"
        return f"NM1{e}{entity}{e}1{e}{nm103}{e}{nm104}" if nm104 else f"NM1{e}{entity}{e}1{e}{nm103}"

    # ----------------------------------------------------------------------------------------------
    # 2000B / 2000C

    def subscriber(self, group: list[Claim]) -> None:
        first = group[0]
        e, clean, out = self.e, self.clean, self.segments
        owner = f"claim {first.claim_id}"
        patient: Patient = first.patient
        payer = first.payer
        dependent = not patient_is_subscriber(payer, patient)
        sequence = (first.sequence or "P").strip().upper()
        if sequence not in PAYER_SEQUENCES:
            raise X12Error(f"{owner}: payer sequence (SBR01) must be P, S or T")
        filing = FILING_INDICATOR.get(payer.payer_type)
        if filing is None:
            raise X12Error(f"{owner}: unknown payer type (SBR09)")
        group_number = clean.ident(patient.group_number, owner, "group number (SBR03)", max_len=50,
                                   required=False)
        member_id = clean.ident(first.member_id, owner, "member ID (2010BA NM109)", min_len=2, max_len=80)
        payer_name = clean.text(payer.payer_name, owner, "payer name (2010BB NM103)", max_len=60,
                                required=True)
        payer_id = clean.ident(payer.payer_id, owner, "payer ID (2010BB NM109)", min_len=2, max_len=80)

        self.hl += 1
        sub_hl = self.hl
        out.append(f"HL{e}{sub_hl}{e}1{e}22{e}{1 if dependent else 0}")
        insurance_type = self.insurance_type(first.insurance_type, owner, "2000B") if first.insurance_type else ""
        out.append(e.join(("SBR", sequence, "" if dependent else "18", group_number, "", insurance_type, "", "", "",
                           filing)))
        if dependent:
            sub = patient.subscriber
            if sub is None:
                raise X12Error(f"{owner}: the patient is a dependent but the subscriber (insured) is missing")
            out.append(self.person("IL", sub.last_name, sub.first_name, owner, "subscriber", "2010BA", "MI",
                                   member_id))
            out.append(f"NM1{e}PR{e}2{e}{payer_name}{e}{e}{e}{e}{e}PI{e}{payer_id}")
            code = RELATIONSHIP_CODE.get(patient.relationship)
            if code is None:
                raise X12Error(f"{owner}: unknown patient relationship (PAT01)")
            self.hl += 1
            out.append(f"HL{e}{self.hl}{e}{sub_hl}{e}23{e}0")
            out.append(f"PAT{e}{code}")
            out.append(self.person("QC", patient.last_name, patient.first_name, owner, "patient", "2010CA"))
            out.extend(self.address(patient.address, patient.city, patient.state, patient.zip, owner,
                                    "patient", "2010CA"))
            out.append(self.dmg(patient.dob, patient.sex, owner, "patient", "2010CA"))
        else:
            out.append(self.person("IL", patient.last_name, patient.first_name, owner, "subscriber", "2010BA",
                                   "MI", member_id))
            out.extend(self.address(patient.address, patient.city, patient.state, patient.zip, owner,
                                    "subscriber", "2010BA"))
            out.append(self.dmg(patient.dob, patient.sex, owner, "subscriber", "2010BA"))
            out.append(f"NM1{e}PR{e}2{e}{payer_name}{e}{e}{e}{e}{e}PI{e}{payer_id}")
        for claim in group:
            self.claim(claim)

    # ----------------------------------------------------------------------------------------------
    # 2300 / 2310 / 2400

    def claim(self, claim: Claim) -> None:
        """CLM through the claim's last DTP. The checks run in this order: claim ID, line count, place
        of service, frequency, diagnoses, each service line, the references, the providers."""
        e, c, clean = self.e, self.c, self.clean
        claim_id = claim.claim_id
        claim_id = clean.ident(claim_id, f"claim {claim_id!r}", "claim ID (CLM01)", max_len=CLAIM_ID_MAX)
        owner = f"claim {claim_id}"
        lines = claim.lines
        if not lines:
            raise X12Error(f"{owner}: the claim has no service lines")
        if len(lines) > MAX_LINES:
            raise X12Error(f"{owner}: {len(lines)} service lines; an 837P claim holds at most {MAX_LINES} "
                           f"(split the claim)")
        pos = (claim.pos or "").strip()
        if not _POS.fullmatch(pos):
            raise X12Error(f"{owner}: place of service (CLM05-1) must be a 2-digit code")
        frequency = (claim.frequency or "").strip()
        if frequency not in FREQUENCIES:
            raise X12Error(f"{owner}: claim frequency (CLM05-3) must be 1 (original), 7 (replacement) or 8 (void)")
        # HI by diagnosis list — measured on the claims benchmark (97,822 lines, 35,902 claims): without
        # it the writer takes 23% longer
        hi = self._hi.get(claim.diagnoses)
        if hi is None:
            hi = self._hi[claim.diagnoses] = self.hi(claim.diagnoses, owner)

        line_segments: list[str] = []
        controls = line_control_numbers(lines)
        adjudicated = [o for o in claim.other_payers if o.lines] if claim.other_payers else ()
        total = Decimal(0)
        for n, line in enumerate(lines, 1):
            # SV1 by (code, modifiers, units, charge, pointers) — measured: without it the writer takes
            # 69% longer. Only for a Decimal charge and int units: an equal float or bool hashes alike
            # and would skip the type checks.
            key = (line.code, line.modifiers, line.units, line.charge, line.pointers)
            hit = self._sv1.get(key) if type(line.charge) is Decimal and type(line.units) is int else None
            if hit is None:
                hit = self._sv1[key] = self.service(line, owner, n)
            sv1, highest = hit
            if highest > len(claim.diagnoses):
                raise X12Error(f"{owner}: line {n} diagnosis pointer {highest} (SV107) points past the "
                               f"{len(claim.diagnoses)} diagnoses of the claim")
            total += line.charge
            line_segments += (f"LX{e}{n}", sv1, self.service_date(line.dos, owner, n), f"REF{e}6R{e}{controls[n - 1]}")
            if adjudicated:
                line_segments += self.line_adjudications(adjudicated, line, n, owner)
        clm02 = format_amount(total, f"{owner}: total charge (CLM02)")

        out = self.segments
        out.append(f"CLM{e}{claim_id}{e}{clm02}{e}{e}{e}{pos}{c}B{c}{frequency}{e}Y{e}A{e}Y{e}Y")
        if frequency != "1":
            original = clean.ident(claim.original_claim_number, owner, "original claim number (REF*F8) for a "
                                   "replacement or void claim", max_len=50)
            out.append(f"REF{e}F8{e}{original}")
        if claim.prior_auth and claim.prior_auth.strip():
            prior_auth = clean.ident(claim.prior_auth, owner, "prior authorization (REF*G1)", max_len=50)
            out.append(f"REF{e}G1{e}{prior_auth}")
        out.append(hi)
        referring, rendering = claim.referring, claim.rendering
        # 2310A/2310B by the (referring, rendering) pair (frozen models: hashed and compared by value) —
        # measured: without it the writer takes 35% longer. Only segments that raised no cleaning
        # warning are kept, so each claim reports its own.
        pair = (referring, rendering)
        providers = self._providers.get(pair)
        if providers is None:
            warned = self.clean.warning_count
            providers = self.providers(referring, rendering, owner)
            if self.clean.warning_count == warned:
                self._providers[pair] = providers
        out += providers
        if claim.other_payers:
            out += self.other_payers(claim, owner)
        out += line_segments
        self.line_count += len(lines)

    def providers(self, referring, rendering, owner: str) -> list[str]:
        """The 2310A referring and 2310B rendering provider segments."""
        e, out = self.e, []
        if referring is not None:
            out.append(self.person("DN", referring.last_name, referring.first_name, owner, "referring provider",
                                   "2310A", "XX",
                                   self.npi(referring.npi, owner, "referring provider NPI (2310A NM109)")))
        if rendering is not None:
            out.append(self.person("82", rendering.last_name, rendering.first_name, owner, "rendering provider",
                                   "2310B", "XX",
                                   self.npi(rendering.npi, owner, "rendering provider NPI (2310B NM109)")))
            if rendering.taxonomy.strip():
                taxonomy = self.taxonomy(rendering.taxonomy, owner, "rendering provider taxonomy (2310B PRV03)")
                out.append(f"PRV{e}PE{e}PXC{e}{taxonomy}")
        return out

    def hi(self, diagnoses: tuple[str, ...], owner: str) -> str:
        """The HI segment of a diagnosis list (checked)."""
        if not diagnoses:
            raise X12Error(f"{owner}: the claim has no diagnosis (HI)")
        if len(diagnoses) > MAX_DIAGNOSES:
            raise X12Error(f"{owner}: {len(diagnoses)} diagnoses; an 837P claim holds at most {MAX_DIAGNOSES}")
        codes = [self.diagnosis(dx, owner, i) for i, dx in enumerate(diagnoses, 1)]
        if len(set(codes)) != len(codes):
            raise X12Error(f"{owner}: the same diagnosis is listed twice (HI)")
        c = self.c
        return self.e.join(("HI", f"ABK{c}{codes[0]}", *(f"ABF{c}{dx}" for dx in codes[1:])))

    def diagnosis(self, code: str, owner: str, position: int) -> str:
        s = dx_key(code or "")
        if not _ICD10.fullmatch(s):
            raise X12Error(f"{owner}: diagnosis {position} (HI) is not an ICD-10-CM code (3 to 7 characters, "
                           f"letter then digit, no dot)")
        return s

    def service(self, line: ServiceLine, owner: str, n: int) -> tuple[str, int]:
        """A line's SV1 segment (checked) and its highest diagnosis pointer."""
        e = self.e
        sv101 = self.procedure(line.code, line.modifiers, owner, n)
        amount = format_amount(line.charge, f"{owner}: line {n} charge (SV102)")
        units = format_quantity(line.units, f"{owner}: line {n} units (SV104)")
        sv107, highest = self.pointers(line.pointers, owner, n)
        return f"SV1{e}{sv101}{e}{amount}{e}UN{e}{units}{e}{e}{e}{sv107}", highest

    def service_date(self, dos, owner: str, n: int) -> str:
        """DTP*472 of a date of service (checked)."""
        if type(dos) is not date:
            raise X12Error(f"{owner}: line {n} date of service (DTP03) is blank or not a date")
        if not MIN_X12_YEAR <= dos.year <= MAX_X12_YEAR:
            raise X12Error(f"{owner}: line {n} date of service (DTP03) is not in the years {MIN_X12_YEAR} to "
                           f"{MAX_X12_YEAR}")
        return f"DTP{self.e}472{self.e}D8{self.e}{format_date(dos)}"

    def procedure(self, code: str, modifiers: tuple[str, ...], owner: str, n: int) -> str:
        """SV101: HC, the procedure code and its modifiers (checked)."""
        code = (code or "").strip()
        if not _PROCEDURE.fullmatch(code):
            raise X12Error(f"{owner}: line {n} procedure code (SV101-2) must be a 5-character CPT/HCPCS code")
        if len(modifiers) > MAX_MODIFIERS:
            raise X12Error(f"{owner}: line {n} has {len(modifiers)} modifiers; SV101 holds at most {MAX_MODIFIERS}")
        for m in modifiers:
            if not _MODIFIER.fullmatch(m or ""):
                raise X12Error(f"{owner}: line {n} modifier (SV101-3..6) must be 2 letters or digits")
        return self.c.join(("HC", code, *modifiers))

    def pointers(self, pointers: tuple[int, ...], owner: str, n: int) -> tuple[str, int]:
        """SV107 (checked) and the highest pointer."""
        if not pointers or len(pointers) > MAX_POINTERS:
            raise X12Error(f"{owner}: line {n} needs 1 to {MAX_POINTERS} diagnosis pointers (SV107)")
        for p in pointers:
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= MAX_DIAGNOSES:
                raise X12Error(f"{owner}: line {n} diagnosis pointer (SV107) must be a number from 1 to 12")
        if len(set(pointers)) != len(pointers):
            raise X12Error(f"{owner}: line {n} lists the same diagnosis pointer twice (SV107)")
        return self.c.join(map(str, pointers)), max(pointers)

    # ----------------------------------------------------------------------------------------------
    # Coordination of benefits: 2320 / 2330A / 2330B and 2430 (domain.cob)

    def insurance_type(self, code: str, owner: str, loop: str) -> str:
        """SBR05: a Medicare Secondary Payer insurance type code (refdata/msp_insurance_types.csv)."""
        code = code.strip()
        if code not in msp_insurance_types():
            raise X12Error(f"{owner}: the Medicare secondary payer type ({loop} SBR05) must be one of "
                           f"{', '.join(sorted(msp_insurance_types()))}")
        return code

    def other_payers(self, claim: Claim, owner: str) -> list[str]:
        """One 2320 (SBR, [AMT*D], OI), 2330A (NM1*IL) and 2330B (NM1*PR) per other payer of the claim."""
        e, clean, out = self.e, self.clean, []
        for other in claim.other_payers:
            sequence = (other.sequence or "").strip().upper()
            if sequence not in PAYER_SEQUENCES or sequence == (claim.sequence or "P").strip().upper():
                raise X12Error(f"{owner}: the other payer's sequence (2320 SBR01) must be P, S or T and differ "
                               "from the claim's own")
            filing = FILING_INDICATOR.get(other.payer.payer_type)
            if filing is None:
                raise X12Error(f"{owner}: unknown other payer type (2320 SBR09)")
            if other.relationship_code not in RELATIONSHIP_CODE.values():
                raise X12Error(f"{owner}: unknown relationship to the other insured (2320 SBR02)")
            group_number = clean.ident(other.group_number, owner, "other payer group number (2320 SBR03)",
                                       max_len=50, required=False)
            insurance_type = self.insurance_type(other.insurance_type, owner, "2320") if other.insurance_type else ""
            member_id = clean.ident(other.member_id, owner, "other insured member ID (2330A NM109)", min_len=2,
                                    max_len=80)
            payer_name = clean.text(other.payer.payer_name, owner, "other payer name (2330B NM103)", max_len=60,
                                    required=True)
            payer_id = clean.ident(other.payer.payer_id, owner, "other payer ID (2330B NM109)", min_len=2,
                                   max_len=80)
            out.append(e.join(("SBR", sequence, other.relationship_code, group_number, "", insurance_type, "", "",
                               "", filing)))
            if other.paid is not None:
                if other.lines and other.paid != sum((a.paid for a in other.lines), Decimal(0)):
                    raise X12Error(f"{owner}: the other payer's paid amount (2320 AMT*D) is not the sum of its line "
                                   "paid amounts (2430 SVD02)")
                out.append(f"AMT{e}D{e}{format_amount(other.paid, f'{owner}: other payer paid amount (AMT*D)')}")
            # OI03 benefits assignment and OI06 release of information, as CLM08/CLM09 (Y)
            out.append(f"OI{e}{e}{e}Y{e}{e}{e}Y")
            out.append(self.person("IL", other.insured.last_name, other.insured.first_name, owner, "other insured",
                                   "2330A", "MI", member_id))
            out.append(f"NM1{e}PR{e}2{e}{payer_name}{e}{e}{e}{e}{e}PI{e}{payer_id}")
        return out

    def line_adjudications(self, others: Sequence[OtherPayer], line: ServiceLine, n: int, owner: str) -> list[str]:
        """2430 of line ``n`` for each other payer that adjudicated it: SVD, CAS per group, DTP*573, AMT*EAF.
        The line must balance: charge (SV102) = paid (SVD02) + the CAS amounts."""
        e, out = self.e, []
        for other in others:
            if len(other.lines) < n:
                raise X12Error(f"{owner}: line {n} has no adjudication by the other payer (2430)")
            adj = other.lines[n - 1]
            if adj.paid + sum((a.amount for a in adj.adjustments), Decimal(0)) != line.charge:
                raise X12Error(f"{owner}: line {n} does not balance: the charge must equal the other payer's paid "
                               "amount plus its adjustments (SV102 = SVD02 + CAS)")
            payer_id = self.clean.ident(other.payer.payer_id, owner, "other payer ID (2430 SVD01)", min_len=2,
                                        max_len=80)
            paid = format_amount(adj.paid, f"{owner}: line {n} other payer paid amount (SVD02)")
            units = format_quantity(line.units, f"{owner}: line {n} paid units (SVD05)")
            out.append(f"SVD{e}{payer_id}{e}{paid}{e}{self.procedure(line.code, line.modifiers, owner, n)}{e}{e}{units}")
            by_group: dict[str, list[str]] = {}
            for a in adj.adjustments:
                if a.group not in CAS_GROUPS or not a.reason:
                    raise X12Error(f"{owner}: line {n} adjustment group (CAS01) must be one of "
                                   f"{', '.join(sorted(CAS_GROUPS))}, with a reason code")
                by_group.setdefault(a.group, []).append(
                    f"{a.reason}{e}{format_amount(a.amount, f'{owner}: line {n} adjustment amount (CAS03)')}")
            for group, pairs in by_group.items():
                if len(pairs) > CAS_MAX_REASONS:
                    raise X12Error(f"{owner}: line {n} has more than {CAS_MAX_REASONS} adjustments in group {group}")
                out.append(f"CAS{e}{group}{e}" + f"{e}{e}".join(pairs))
            if type(adj.paid_on) is not date or not MIN_X12_YEAR <= adj.paid_on.year <= MAX_X12_YEAR:
                raise X12Error(f"{owner}: line {n} adjudication date (DTP*573) is blank or out of range")
            out.append(f"DTP{e}573{e}D8{e}{format_date(adj.paid_on)}")
            out.append(f"AMT{e}EAF{e}"
                       f"{format_amount(adj.patient_liability, f'{owner}: line {n} remaining patient liability')}")
        return out
