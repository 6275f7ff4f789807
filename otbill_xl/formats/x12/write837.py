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
      2000B HL*n*1*22*0|1 SBR    subscriber
        2010BA NM1*IL [N3 N4 DMG when the patient is the subscriber]
        2010BB NM1*PR
        [2000C HL*m*n*23*0 PAT, 2010CA NM1*QC N3 N4 DMG]    dependent patient
          2300 CLM [REF*F8] [REF*G1] HI
            [2310A NM1*DN] [2310B NM1*82 [PRV*PE]]
            2400 LX SV1 DTP*472   per service line
    SE GE IEA

The writer is built for volume (100,000 service lines in well under half a second): segments are
plain strings made with ``str.join`` / f-strings, and the values that repeat (procedure composites,
amounts, dates, pointers, diagnosis codes) are checked once and cached per call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from otbill_xl.domain import npi as npi_check
from otbill_xl.domain.claims import (
    CLAIM_ID_MAX,
    FILING_INDICATOR,
    MAX_DIAGNOSES,
    MAX_LINES,
    RELATIONSHIP_CODE,
    Claim,
    ServiceLine,
    dx_key,
)
from otbill_xl.domain.models import Patient, Practice, Relationship
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
_TAXONOMY = re.compile(r"[0-9A-Z]{9}X")
#: Dates an 837P can carry: CCYYMMDD from 1900 (X12 validators refuse years before 1800; nobody billed
#: today was born before 1900) to 2199 (the range the workbook reader accepts).
MIN_X12_YEAR, MAX_X12_YEAR = 1900, 2199
#: The longest phone number there is (ITU E.164: 15 digits); PER04 itself allows 256 characters.
_PHONE_MAX_DIGITS = 15
_STATE = re.compile(r"[A-Z]{2}")
_NOTHING = object()  # matches no provider

#: Claim fields in order: the writer unpacks a claim as a plain tuple.
if Claim._fields != ("claim_id", "payer", "patient", "member_id", "rendering", "pos", "diagnoses", "lines",
                     "frequency", "original_claim_number", "prior_auth", "referring", "sequence"):  # pragma: no cover
    raise ImportError("write837: Claim fields changed; update _Writer.claim")
if ServiceLine._fields[2:] != ("dos", "code", "modifiers", "units", "charge", "pointers"):  # pragma: no cover
    raise ImportError("write837: ServiceLine fields changed; update _Writer.claim")

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
    writer = _Writer(practice, separators, terminator)
    body = writer.header(control, created)
    for group in _group_by_subscriber(claims):
        writer.subscriber(body, group)
    # body items are segments, except that each claim's are a few pre-joined items (see claim())
    count = len(body) + writer.joined + 1
    body.append(se_segment(count, control.transaction, separators))
    # the final "" puts a terminator after the IEA without copying the whole text again
    segments = [writer.isa, writer.gs, *body,
                ge_segment(control.group, separators), iea_segment(control.interchange, separators), ""]
    return X12File(text=terminator.join(segments), warnings=tuple(writer.clean.warnings),
                   claims=len(claims), lines=writer.line_count, segments=count)


def _group_by_subscriber(claims: Sequence[Claim]) -> list[list[Claim]]:
    """Claims by subscriber loop (payer ID, name and type, member ID, patient ID, relationship and
    payer sequence), in first-claim order."""
    groups: dict[tuple, list[Claim]] = {}
    # The claims of one subscriber normally share their payer and patient objects (assembly hands out
    # one of each), so a claim is first matched on those objects' identity plus its member ID and
    # sequence (a key that hashes in C), and the key above is built once per distinct combination.
    # The claims hold the objects, so no id is reused while this runs.
    by_identity: dict[tuple, list[Claim]] = {}
    for claim in claims:
        payer, patient = claim[1], claim[2]
        fast = (id(payer), id(patient), claim[3], claim[12])
        group = by_identity.get(fast)
        if group is None:
            key = (payer.payer_id, payer.payer_name, payer.payer_type, claim.member_id,
                   patient.patient_id, patient.relationship, claim.sequence)
            group = groups.get(key)
            if group is None:
                group = groups[key] = []
            by_identity[fast] = group
        group.append(claim)
    return list(groups.values())


class _Writer:
    """State of one file being written: separators, cleaner, HL counter, caches."""

    def __init__(self, practice: Practice, separators: Separators, terminator: str) -> None:
        self.practice = practice
        self.sep = separators
        self.t = terminator
        self.joined = 0  # segments beyond one per body item (service lines are joined per claim)
        self.e = separators.element
        self.c = separators.component
        self.clean = ElementCleaner(separators)
        self.hl = 0
        self.line_count = 0
        # caches of checked values: (code, modifiers) -> SV101 composite, pointers -> SV107, ...
        self._procedures: dict[tuple[str, tuple[str, ...]], str] = {}
        self._persons: dict[tuple[str, ...], str] = {}
        self._hi: dict[tuple[str, ...], str] = {}
        self._valid_pos: set[str] = set()
        self._pointers: dict[tuple[int, ...], tuple[str, int]] = {}
        self._diagnoses: dict[str, str] = {}
        self._units: dict[object, str] = {}
        self._amounts: dict[Decimal, str] = {}
        self._dtps: dict[object, str] = {}
        self._npis: set[str] = set()
        self._service_lines: dict[tuple, tuple[str, int, int]] = {}
        self._totals: dict[int, str] = {}
        self._clm_tails: dict[tuple[str, str], str] = {}
        self._references: dict[tuple[str, str], str] = {}
        self._g1: dict[str, str] = {}
        self._providers: dict[tuple[int, int], tuple] = {}
        self._last_providers: tuple = (_NOTHING, _NOTHING, "", 0)
        # "LX*n~SV1*" for n = 1..50: the start of the n-th service line of a claim
        self._lx = [f"LX{self.e}{n}{terminator}SV1{self.e}" for n in range(MAX_LINES + 1)]

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

    def header(self, control: ControlNumbers, created: datetime) -> list[str]:
        """ST through the 2010AA billing provider; returns the segment list (ST first)."""
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
        body = [st_segment(control.transaction, self.sep),
                f"BHT{e}0019{e}00{e}{st02}{e}{date8}{e}{time4}{e}CH",
                f"NM1{e}41{e}2{e}{submitter_name}{e}{e}{e}{e}{e}46{e}{submitter_id}",
                f"PER{e}IC{e}{contact}{e}TE{e}{phone}" if contact else f"PER{e}IC{e}{e}TE{e}{phone}",
                f"NM1{e}40{e}2{e}{receiver_name}{e}{e}{e}{e}{e}46{e}{receiver_id}",
                f"HL{e}1{e}{e}20{e}1"]
        if p.taxonomy.strip():
            body.append(f"PRV{e}BI{e}PXC{e}{self.taxonomy(p.taxonomy, owner, 'billing taxonomy (PRV03)')}")
        body += [f"NM1{e}85{e}2{e}{billing_name}{e}{e}{e}{e}{e}XX{e}{billing_npi}", n3, n4,
                 f"REF{e}EI{e}{tax_id}"]
        self.hl = 1
        self.billing_npi = billing_npi
        return body

    # ----------------------------------------------------------------------------------------------
    # Shared element helpers

    def npi(self, value: str, owner: str, where: str) -> str:
        s = (value or "").strip()
        if s in self._npis:
            return s
        try:
            checked = npi_check.validate(s)
        except npi_check.InvalidNPI as exc:
            raise X12Error(f"{owner}: {where}: {exc}") from None
        if checked != s:
            raise X12Error(f"{owner}: {where}: an NPI has 10 digits and nothing else")
        self._npis.add(s)
        return s

    def taxonomy(self, value: str, owner: str, where: str) -> str:
        s = value.strip().upper()
        if not _TAXONOMY.fullmatch(s):
            raise X12Error(f"{owner}: {where} must be a 10-character provider taxonomy code ending in X")
        return s

    def address(self, street: str, city: str, state: str, zip_code: str, owner: str, who: str, loop: str,
                *, billing: bool = False) -> tuple[str, str]:
        clean, e = self.clean, self.e
        n301 = clean.text(street, owner, f"{who} address ({loop} N301)", max_len=55, required=True)
        n401 = clean.text(city, owner, f"{who} city ({loop} N401)", max_len=30, min_len=2, required=True)
        n402 = (state or "").strip().upper()
        if not _STATE.fullmatch(n402):
            raise X12Error(f"{owner}: {who} state ({loop} N402) must be a 2-letter state code")
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
        # The same referring/rendering provider recurs on thousands of claims: reuse a segment that
        # needed no cleaning (one that did is rebuilt, so each claim reports its own warning).
        key = (entity, last, first, id_qualifier, id_value)
        hit = self._persons.get(key)
        if hit is not None:
            return hit
        warned = self.clean.warning_count
        segment = self._person(entity, last, first, owner, who, loop, id_qualifier, id_value)
        if self.clean.warning_count == warned:
            self._persons[key] = segment
        return segment

    def _person(self, entity: str, last: str, first: str, owner: str, who: str, loop: str,
                id_qualifier: str, id_value: str) -> str:
        clean, e = self.clean, self.e
        nm103 = clean.text(last, owner, f"{who} last name ({loop} NM103)", max_len=60, required=True)
        nm104 = clean.text(first, owner, f"{who} first name ({loop} NM104)", max_len=35)
        if id_value:
            return f"NM1{e}{entity}{e}1{e}{nm103}{e}{nm104}{e}{e}{e}{e}{id_qualifier}{e}{id_value}"
        return f"NM1{e}{entity}{e}1{e}{nm103}{e}{nm104}" if nm104 else f"NM1{e}{entity}{e}1{e}{nm103}"

    # ----------------------------------------------------------------------------------------------
    # 2000B / 2000C

    def subscriber(self, body: list[str], group: list[Claim]) -> None:
        first = group[0]
        e, clean = self.e, self.clean
        owner = f"claim {first.claim_id}"
        patient: Patient = first.patient
        dependent = patient.relationship is not Relationship.SELF
        payer = first.payer
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
        body.append(f"HL{e}{sub_hl}{e}1{e}22{e}{1 if dependent else 0}")
        sbr = e.join(("SBR", sequence, "" if dependent else "18", group_number, "", "", "", "", "", filing))
        body.append(sbr)
        if dependent:
            sub = patient.subscriber
            if sub is None:
                raise X12Error(f"{owner}: the patient is a dependent but the subscriber (insured) is missing")
            body.append(self.person("IL", sub.last_name, sub.first_name, owner, "subscriber", "2010BA", "MI",
                                    member_id))
            body.append(f"NM1{e}PR{e}2{e}{payer_name}{e}{e}{e}{e}{e}PI{e}{payer_id}")
            code = RELATIONSHIP_CODE.get(patient.relationship)
            if code is None:
                raise X12Error(f"{owner}: unknown patient relationship (PAT01)")
            self.hl += 1
            body.append(f"HL{e}{self.hl}{e}{sub_hl}{e}23{e}0")
            body.append(f"PAT{e}{code}")
            body.append(self.person("QC", patient.last_name, patient.first_name, owner, "patient", "2010CA"))
            body.extend(self.address(patient.address, patient.city, patient.state, patient.zip, owner,
                                     "patient", "2010CA"))
            body.append(self.dmg(patient.dob, patient.sex, owner, "patient", "2010CA"))
        else:
            body.append(self.person("IL", patient.last_name, patient.first_name, owner, "subscriber", "2010BA",
                                    "MI", member_id))
            body.extend(self.address(patient.address, patient.city, patient.state, patient.zip, owner,
                                     "subscriber", "2010BA"))
            body.append(self.dmg(patient.dob, patient.sex, owner, "subscriber", "2010BA"))
            body.append(f"NM1{e}PR{e}2{e}{payer_name}{e}{e}{e}{e}{e}PI{e}{payer_id}")
        joined, write_claim = 0, self.claim
        for claim in group:
            joined += write_claim(body, claim)
        self.joined += joined

    # ----------------------------------------------------------------------------------------------
    # 2300 / 2310 / 2400

    def claim(self, body: list[str], claim: Claim) -> int:
        """CLM through the claim's last DTP, appended to ``body`` as 1 + (number of lines) items
        (CLM .. 2310B, then each line's LX/SV1/DTP, pre-joined); returns the number of segments in them
        beyond one per item.

        This runs once per claim (tens of thousands per file), so it is written as a fast path over
        caches of values already checked, with every check still made for each distinct value:

        * the checks and caches are the same as the helpers below; a cache miss goes to the helper,
          which checks the value (raising the same error as ever) and caches it;
        * messages, and the ``claim ...`` owner they start with, are only built when something is
          wrong (or a helper needs them);
        * the claim is a few pre-joined strings instead of dozens of segment strings.
        """
        (claim_id, _payer, _patient, _member_id, rendering, pos, diagnoses, lines, frequency, original, prior_auth,
         referring, _sequence) = claim  # one unpack instead of ten attribute look-ups (order checked below)
        e, t = self.e, self.t
        # CLM01: letters and digits only, ≤ 20 characters, is exactly what ident() accepts unchanged
        # for such a value; anything else (spaces, symbols, blank, too long) takes the full check.
        if not (type(claim_id) is str and claim_id.isalnum() and claim_id.isascii()
                and len(claim_id) <= CLAIM_ID_MAX):
            claim_id = self.clean.ident(claim_id, f"claim {claim_id!r}", "claim ID (CLM01)", max_len=CLAIM_ID_MAX)
        n_lines = len(lines)
        if not n_lines:
            raise X12Error(f"claim {claim_id}: the claim has no service lines")
        if n_lines > MAX_LINES:
            raise X12Error(f"claim {claim_id}: {n_lines} service lines; an 837P claim holds at most {MAX_LINES} "
                           f"(split the claim)")
        if pos not in self._valid_pos:
            pos = (pos or "").strip()
            if not _POS.fullmatch(pos):
                raise X12Error(f"claim {claim_id}: place of service (CLM05-1) must be a 2-digit code")
            self._valid_pos.add(pos)
        if frequency not in FREQUENCIES:  # a valid code is its own strip()
            frequency = (frequency or "").strip()
            if frequency not in FREQUENCIES:
                raise X12Error(f"claim {claim_id}: claim frequency (CLM05-3) must be 1 (original), 7 (replacement) "
                               f"or 8 (void)")
        hi = self._hi.get(diagnoses)  # the same diagnosis lists recur claim after claim
        if hi is None:
            hi = self.hi(diagnoses, f"claim {claim_id}")
        ndx = len(diagnoses)

        # Service lines first (they give the total), then the claim segments before them (body[at]).
        # A line's SV1 .. terminator text is cached under (code, modifiers, units, charge, pointers),
        # a slice of the ServiceLine tuple, so a line already seen costs one look-up. Only a Decimal
        # charge uses the cache: equal values of other types (an int, a float) hash alike and would
        # otherwise skip the type check in format_amount.
        # The total is summed in whole cents (ints; a checked charge is whole cents): adding
        # Decimals makes a new Decimal per line, and looking the total up would hash it each time.
        service_lines, dtps, lx = self._service_lines, self._dtps, self._lx
        total = 0
        # The lines go straight into the body after a placeholder for the claim segments, so no
        # per-claim list is made and joined (the file's final join copies the text once).
        at = len(body)
        add = body.append
        add("")
        for n, line in enumerate(lines, 1):
            sv = service_lines.get(line[3:]) if type(line[6]) is Decimal else None
            if sv is None:
                sv = self.service(line, f"claim {claim_id}", n)
            if sv[1] > ndx:
                raise X12Error(f"claim {claim_id}: line {n} diagnosis pointer {sv[1]} (SV107) points past the "
                               f"{ndx} diagnoses of the claim")
            dtp = dtps.get(line[2])
            if dtp is None:
                dtp = self.service_date(line[2], f"claim {claim_id}", n)
            total += sv[2]
            add(f"{lx[n]}{sv[0]}{dtp}")

        clm02 = self._totals.get(total)
        if clm02 is None:
            # the same text and checks as format_amount(sum of the Decimal charges): the sum is exact
            clm02 = self._totals[total] = format_amount(Decimal(total).scaleb(-2),
                                                        f"claim {claim_id}: total charge (CLM02)")
        clm_tail = self._clm_tails.get((pos, frequency))
        if clm_tail is None:
            c = self.c
            clm_tail = self._clm_tails[(pos, frequency)] = f"{e}{e}{e}{pos}{c}B{c}{frequency}{e}Y{e}A{e}Y{e}Y"
        segments = 2 + 3 * n_lines  # CLM, HI, LX/SV1/DTP per line, and the counts added below
        refs = ""
        if frequency != "1":
            refs = f"{t}{self.reference('F8', original, claim_id)}"
            segments += 1
        if prior_auth:
            g1 = self._g1.get(prior_auth)
            if g1 is None:
                g1 = self._g1[prior_auth] = self.reference("G1", prior_auth, claim_id)
            if g1:
                refs = f"{refs}{t}{g1}"
                segments += 1
        if referring is None and rendering is None:
            providers = ""
        else:
            # 2310A/2310B: the same provider objects recur on thousands of claims (one claim after
            # another for a patient); their segments (names cleaned, NPIs and taxonomy checked) are
            # kept under the objects' identity, the last pair used first. An entry holds the objects,
            # so an id cannot be reused while the cache lives; and only a result that raised no
            # cleaning warning is kept, so each claim reports its own.
            entry = self._last_providers
            if entry[0] is not referring or entry[1] is not rendering:
                cached = self._providers.get((id(referring), id(rendering)))
                if cached is None or cached[0] is not referring or cached[1] is not rendering:
                    entry = self.providers(referring, rendering, claim_id)  # (becomes the last pair if kept)
                else:
                    entry = self._last_providers = cached
            providers = entry[2]
            segments += entry[3]
        body[at] = f"CLM{e}{claim_id}{e}{clm02}{clm_tail}{refs}{t}{hi}{providers}"
        self.line_count += n_lines
        return segments - 1 - n_lines  # the body items are the CLM .. 2310B segments and one per line

    def hi(self, diagnoses: tuple[str, ...], owner: str) -> str:
        """The HI segment of a diagnosis list (checked, cached)."""
        if not diagnoses:
            raise X12Error(f"{owner}: the claim has no diagnosis (HI)")
        if len(diagnoses) > MAX_DIAGNOSES:
            raise X12Error(f"{owner}: {len(diagnoses)} diagnoses; an 837P claim holds at most {MAX_DIAGNOSES}")
        codes = [self.diagnosis(dx, owner, i) for i, dx in enumerate(diagnoses, 1)]
        if len(set(codes)) != len(codes):
            raise X12Error(f"{owner}: the same diagnosis is listed twice (HI)")
        c = self.c
        hi = self._hi[diagnoses] = self.e.join(("HI", f"ABK{c}{codes[0]}", *(f"ABF{c}{dx}" for dx in codes[1:])))
        return hi

    def service(self, line: ServiceLine, owner: str, n: int) -> tuple[str, int, int]:
        """A line's SV1 after "SV1*" (which self._lx holds) through its terminator, its highest
        diagnosis pointer, and its charge in cents (checked, cached)."""
        e = self.e
        sv101 = self._procedures.get((line.code, line.modifiers))
        if sv101 is None:
            sv101 = self.procedure(line, owner, n)
        charge = line.charge
        amount = self._amounts.get(charge) if type(charge) is Decimal else None
        if amount is None:
            amount = format_amount(charge, f"{owner}: line {n} charge (SV102)")
            if type(charge) is Decimal:
                self._amounts[charge] = amount
        units = self._units.get(line.units)
        if units is None:
            units = self._units[line.units] = format_quantity(line.units, f"{owner}: line {n} units (SV104)")
        ptr = self._pointers.get(line.pointers)
        if ptr is None:
            ptr = self.pointers(line.pointers, owner, n)
        sv = (f"{sv101}{e}{amount}{e}UN{e}{units}{e}{e}{e}{ptr[0]}{self.t}", ptr[1],
              int(Decimal(charge).scaleb(2)))  # format_amount passed it: whole cents, not negative
        self._service_lines[line[3:]] = sv
        return sv

    def reference(self, qualifier: str, value: str, claim_id: str) -> str:
        """REF*F8 (original claim number) or REF*G1 (prior authorization); each value checked once.
        A blank prior authorization gives "" (no REF*G1)."""
        key = (qualifier, value)
        hit = self._references.get(key)
        if hit is None and qualifier == "G1" and not value.strip():
            hit = self._references[key] = ""
        if hit is None:
            owner = f"claim {claim_id}"
            if qualifier == "F8":
                checked = self.clean.ident(value, owner, "original claim number (REF*F8) for a replacement or void "
                                           "claim", max_len=50)
            else:
                checked = self.clean.ident(value, owner, "prior authorization (REF*G1)", max_len=50)
            hit = self._references[key] = f"REF{self.e}{qualifier}{self.e}{checked}"
        return hit

    def providers(self, referring, rendering, claim_id: str) -> tuple:
        """The 2310A/2310B segments of a claim, each preceded by the terminator, and their count:
        ``(referring, rendering, text, count)``, cached when no cleaning warning was raised."""
        e, t = self.e, self.t
        owner = f"claim {claim_id}"
        warned = self.clean.warning_count
        text, count = "", 0
        if referring is not None:
            ref = referring
            text += t + self.person("DN", ref.last_name, ref.first_name, owner, "referring provider", "2310A", "XX",
                                    self.npi(ref.npi, owner, "referring provider NPI (2310A NM109)"))
            count += 1
        if rendering is not None:
            ren = rendering
            text += t + self.person("82", ren.last_name, ren.first_name, owner, "rendering provider", "2310B", "XX",
                                    self.npi(ren.npi, owner, "rendering provider NPI (2310B NM109)"))
            count += 1
            if ren.taxonomy.strip():
                text += (f"{t}PRV{e}PE{e}PXC{e}"
                         f"{self.taxonomy(ren.taxonomy, owner, 'rendering provider taxonomy (2310B PRV03)')}")
                count += 1
        entry = (referring, rendering, text, count)
        if self.clean.warning_count == warned:
            self._providers[(id(referring), id(rendering))] = self._last_providers = entry
        return entry

    def service_date(self, dos, owner: str, n: int) -> str:
        """DTP*472 of a date of service (checked, cached)."""
        if type(dos) is not date:
            raise X12Error(f"{owner}: line {n} date of service (DTP03) is blank or not a date")
        if not MIN_X12_YEAR <= dos.year <= MAX_X12_YEAR:
            raise X12Error(f"{owner}: line {n} date of service (DTP03) is not in the years {MIN_X12_YEAR} to "
                           f"{MAX_X12_YEAR}")
        dtp = self._dtps[dos] = f"DTP{self.e}472{self.e}D8{self.e}{format_date(dos)}"
        return dtp

    def diagnosis(self, code: str, owner: str, position: int) -> str:
        hit = self._diagnoses.get(code)
        if hit is not None:
            return hit
        s = dx_key(code or "")
        if not _ICD10.fullmatch(s):
            raise X12Error(f"{owner}: diagnosis {position} (HI) is not an ICD-10-CM code (3 to 7 characters, "
                           f"letter then digit, no dot)")
        self._diagnoses[code] = s
        return s

    def procedure(self, line: ServiceLine, owner: str, n: int) -> str:
        code = (line.code or "").strip()
        if not _PROCEDURE.fullmatch(code):
            raise X12Error(f"{owner}: line {n} procedure code (SV101-2) must be a 5-character CPT/HCPCS code")
        mods = line.modifiers
        if len(mods) > MAX_MODIFIERS:
            raise X12Error(f"{owner}: line {n} has {len(mods)} modifiers; SV101 holds at most {MAX_MODIFIERS}")
        for m in mods:
            if not _MODIFIER.fullmatch(m or ""):
                raise X12Error(f"{owner}: line {n} modifier (SV101-3..6) must be 2 letters or digits")
        sv101 = self.c.join(("HC", code, *mods))
        self._procedures[(line.code, line.modifiers)] = sv101
        return sv101

    def pointers(self, pointers: tuple[int, ...], owner: str, n: int) -> tuple[str, int]:
        if not pointers or len(pointers) > MAX_POINTERS:
            raise X12Error(f"{owner}: line {n} needs 1 to {MAX_POINTERS} diagnosis pointers (SV107)")
        for p in pointers:
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= MAX_DIAGNOSES:
                raise X12Error(f"{owner}: line {n} diagnosis pointer (SV107) must be a number from 1 to 12")
        if len(set(pointers)) != len(pointers):
            raise X12Error(f"{owner}: line {n} lists the same diagnosis pointer twice (SV107)")
        value = (self.c.join(map(str, pointers)), max(pointers))
        self._pointers[pointers] = value
        return value

