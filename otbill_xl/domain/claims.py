"""Professional claims (837P) as domain records, and how charge lines become claims.

A :class:`Claim` holds everything the 837P writer needs beyond the practice (billing provider)
settings: payer, patient (and subscriber), rendering and referring providers, place of service,
frequency, diagnoses and service lines. Money is Decimal.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from otbill_xl.domain._gc import gc_paused
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.charge_master import charge_master_by_code, charge_master_charge
from otbill_xl.domain.cob import OtherPayer, secondary_on_primary, secondary_payer
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import (
    AssistantsBill,
    ChargeLine,
    Patient,
    Payer,
    PayerType,
    Provider,
    Relationship,
)
from otbill_xl.domain.money import MAX_AMOUNT, MAX_UNITS

#: SBR09 claim filing indicator by payer type (X12 005010X222A1, element 1032).
FILING_INDICATOR = {
    PayerType.MEDICARE: "MB",            # Medicare Part B
    PayerType.MEDICARE_ADVANTAGE: "16",  # Health Maintenance Organization (HMO) Medicare Risk
    PayerType.MEDICAID: "MC",
    PayerType.COMMERCIAL: "CI",          # Commercial Insurance Co.
    PayerType.WORKERS_COMP: "WC",
    PayerType.AUTO: "AM",                # Automobile Medical
    PayerType.SELF_PAY: "ZZ",            # Mutually Defined (self-pay is not billed electronically)
}

#: Individual relationship code (SBR02 / PAT01): patient's relationship to the subscriber.
RELATIONSHIP_CODE = {Relationship.SELF: "18", Relationship.SPOUSE: "01", Relationship.CHILD: "19",
                     Relationship.OTHER: "G8"}


#: Payer types whose member is always the subscriber: "In the case of the Medicare and Medicaid
#: benefit programs, the subscriber is the patient" (X12 RFI #263; facts §7a).
OWN_SUBSCRIBER = frozenset({PayerType.MEDICARE, PayerType.MEDICAID})


def patient_is_subscriber(payer: Payer, patient: Patient) -> bool:
    """The patient is sent as the subscriber (2000B/2010BA with address and DMG, no 2000C loop):
    when the patient is the insured, and always for Medicare and Medicaid (X12 RFI #263 and #2281,
    facts §7a)."""
    return patient.relationship is Relationship.SELF or payer.payer_type in OWN_SUBSCRIBER


class ServiceLine(NamedTuple):
    """One 2400 loop: a charge line as billed."""

    line_id: str
    row: int
    dos: date
    code: str
    modifiers: tuple[str, ...]
    units: int
    charge: Decimal
    pointers: tuple[int, ...]   # 1-based positions in the claim's diagnosis list, 1 to 4 of them


@dataclass(frozen=True)
class Referring:
    npi: str
    last_name: str
    first_name: str = ""


class Claim(NamedTuple):
    """One claim (2300 loop) with its service lines. (A NamedTuple: a batch builds tens of thousands,
    and a frozen dataclass's per-field ``object.__setattr__`` measured several times slower.)"""

    claim_id: str                       # CLM01 patient control number, ≤ 20 characters
    payer: Payer
    patient: Patient
    member_id: str                      # the subscriber's ID with this payer (2010BA NM109)
    rendering: Provider | None          # 2310B when the rendering provider differs from the billing NPI
    pos: str                            # CLM05-1 place of service
    diagnoses: tuple[str, ...]          # ICD-10-CM without the dot, first is principal (ABK), ≤ 12
    lines: tuple[ServiceLine, ...]
    frequency: str = "1"                # CLM05-3: 1 original, 7 replacement, 8 void
    original_claim_number: str = ""     # REF*F8 for frequency 7/8
    prior_auth: str = ""                # REF*G1
    referring: Referring | None = None  # 2310A
    sequence: str = "P"                 # SBR01: P primary, S secondary, T tertiary
    insurance_type: str = ""            # 2000B SBR05: the MSP insurance type when Medicare is billed as secondary
    other_payers: tuple[OtherPayer, ...] = ()  # 2320/2330A/2330B (and 2430) per other payer (domain.cob)

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0"))

    @property
    def filing_indicator(self) -> str:
        return FILING_INDICATOR[self.payer.payer_type]

    @property
    def relationship_code(self) -> str:
        return RELATIONSHIP_CODE[self.patient.relationship]

    @property
    def is_dependent(self) -> bool:
        """The patient is not the subscriber: the 2000C patient loop is written (never for Medicare
        and Medicaid, see :func:`patient_is_subscriber`)."""
        return not patient_is_subscriber(self.payer, self.patient)

    @property
    def line_control_numbers(self) -> tuple[str, ...]:
        """REF*6R of each service line: see :func:`line_control_numbers`."""
        return line_control_numbers(self.lines)

    @property
    def first_dos(self) -> date:
        return min(line.dos for line in self.lines)

    @property
    def last_dos(self) -> date:
        return max(line.dos for line in self.lines)


LINE_CONTROL_MAX = 50  # REF02 of REF*6R: 1-50 characters (005010X222A1 2400 REF, element 127)
_LINE_CONTROL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._/")
_LINE_IDS = re.compile(r"[A-Za-z0-9\-._/]{1,50}(?:\x1f[A-Za-z0-9\-._/]{1,50})*")


def line_control_numbers(lines: Sequence[ServiceLine]) -> tuple[str, ...]:
    """The line item control number (2400 REF*6R) of each service line of one claim: the line's
    LineID, so that the payer's 835 returns it in its own REF*6R and a remittance line is matched to
    its Charges row exactly (005010X221A1 2110 REF*6R). A LineID that is blank, longer than 50
    characters, holds characters beyond letters, digits and ``-._/``, or repeats within the claim
    is replaced by ``R`` + the Charges row number (unique within a workbook). Unique within the claim
    either way, as the 837P guide requires."""
    ids = [line.line_id for line in lines]
    if _LINE_IDS.fullmatch("\x1f".join(ids)) and len(set(ids)) == len(ids):
        return tuple(ids)  # (the common case, one test per claim: every LineID usable and unique)
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        lid = line.line_id
        if not lid or len(lid) > LINE_CONTROL_MAX or lid in seen or not _LINE_CONTROL_CHARS.issuperset(lid):
            lid = f"R{line.row}"
            while lid in seen:  # (a LineID that happens to read like another line's "R" + row)
                lid += "X"
        seen.add(lid)
        out.append(lid)
    return tuple(out)


# ------------------------------------------------------------------------------------------------
# Assembly: charge lines -> claims
# ------------------------------------------------------------------------------------------------


_POINTERS = tuple(tuple(range(1, n + 1)) for n in range(5))  # (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)
MAX_LINES = 50       # 005010X222A1: at most 50 service lines (2400 loops) per claim
MAX_DIAGNOSES = 12   # HI: at most 12 diagnosis codes per claim (facts §7)
CLAIM_ID_MAX = 20    # CLM01 patient control number

_FREQUENCY = {"": "1", "1": "1", "original": "1", "new": "1", "7": "7", "corrected": "7", "replacement": "7",
              "replace": "7", "8": "8", "void": "8", "cancel": "8"}


class HeldBack(NamedTuple):
    """A charge line held back from billing, and why (no patient data in the reasons)."""

    row: int
    line_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Assembly:
    claims: tuple[Claim, ...]
    held_back: tuple[HeldBack, ...]

    @property
    def claim_of_row(self) -> dict[int, str]:
        return {line.row: c.claim_id for c in self.claims for line in c.lines}


def normalize_frequency(text: str) -> str | None:
    """Claim frequency code from what billers type: 1 / original, 7 / corrected, 8 / void."""
    return _FREQUENCY.get(text.strip().lower())


def dx_key(code: str) -> str:
    """ICD-10-CM as written on an 837: no dot, upper case."""
    return code.replace(".", "").strip().upper()


def claim_id_for(parts: Iterable[str]) -> str:
    """A stable patient control number (CLM01): ``OT`` + the first 18 hex digits (72 bits) of a
    SHA-256 of what identifies the claim — billing NPI, payer, patient, rendering NPI, place of
    service, frequency, original claim number, then ``line_id|dos|code`` per line, joined by U+001F —
    so the same lines give the same ClaimID on every run (20 characters)."""
    return _hashed_id("\x1f".join(parts))


def _hashed_id(text: str) -> str:
    """The one place a ClaimID is made from its identifying text (see :func:`claim_id_for`)."""
    return "OT" + hashlib.sha256(text.encode()).hexdigest()[:18].upper()


def _blocking_findings(book: PracticeBook, findings: Iterable[Finding], strict: bool,
                       sheet_names: Mapping[str, str] | None = None
                       ) -> tuple[dict[int, list[str]], dict[str, list[str]], dict[str, list[str]], list[str]]:
    """Findings that stop billing, by charge row, by patient, by payer, and practice-wide.

    A finding names the contract sheet ("Charges") or, once located in a workbook, the sheet's own
    name ("Visits"): ``sheet_names`` maps contract names to the workbook's names, and both count."""
    stops = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    contract_of = {actual: contract for contract, actual in (sheet_names or {}).items() if actual}
    contract_of.update({c: c for c in ("Charges", "Patients", "Payers", "Practice")})
    patient_at = {p.row: p.patient_id for p in book.patients if p.row}
    payer_at = {p.row: p.payer_key for p in book.payers if p.row}
    by_row: dict[int, list[str]] = defaultdict(list)
    by_patient: dict[str, list[str]] = defaultdict(list)
    by_payer: dict[str, list[str]] = defaultdict(list)
    everywhere: list[str] = []
    for f in findings:
        if f.severity not in stops:
            continue
        text = f"{f.severity.value} [{f.rule}] {f.message}"
        sheet, row = contract_of.get(f.location.sheet, f.location.sheet), f.location.row
        if sheet == "Charges" and row:
            by_row[row].append(text)
        elif sheet == "Patients" and row in patient_at:
            by_patient[patient_at[row]].append(f"Patients sheet: {text}")
        elif sheet == "Payers" and row in payer_at:
            by_payer[payer_at[row]].append(f"Payers sheet: {text}")
        elif sheet == "Practice":
            everywhere.append(f"Practice sheet: {text}")
    return by_row, by_patient, by_payer, everywhere


def assemble_claims(
    book: PracticeBook,
    findings: Iterable[Finding],
    *,
    computed_units: dict[int, int] | None = None,
    prior: Mapping[int, str] | None = None,
    group: str = "visit",
    strict: bool = False,
    sheet_names: Mapping[str, str] | None = None,
) -> Assembly:
    """Turn clean charge lines into claims (facts §7; 005010X222A1 limits).

    * Only lines without scrub errors are billed (with ``strict``, without warnings either);
      errors on a line's patient, payer or on the practice hold back the lines they affect.
    * ``prior`` maps a charge row the ledger holds back (already billed, changed since billing, a
      probable duplicate, a correction already sent — :func:`otbill_xl.domain.identity.prior_billing`)
      to the reason; such a line is not billed.
    * Lines are grouped by patient + payer + rendering provider + place of service + frequency (and
      the original claim number) + date of service (``group="visit"``) or calendar month
      (``group="period"``); a group is split so no claim has more than 50 lines or 12 diagnoses.
    * Diagnoses are listed in first-seen order without the dot; each line points at its 1-4.
    """
    if group not in ("visit", "period"):
        raise ValueError("group must be 'visit' or 'period'")
    with gc_paused():  # tens of thousands of small records, no cycles
        return _assemble(book, findings, computed_units, prior, group, strict, sheet_names)


# Assembly runs over every charge line of a batch (often 100,000 lines and more in one call),
# so its loops are written for CPython speed; each trick is explained where it is used. The rules
# themselves are those in the docstring of ``assemble_claims``.

#: The ChargeLine fields in order: the grouping loop unpacks each line as a plain tuple (one
#: UNPACK_SEQUENCE instead of ~20 attribute look-ups), so a change to the model must show up here.
_CHARGE_FIELDS = ("row", "line_id", "patient_id", "dos", "rendering_npi", "code", "mod1", "mod2", "mod3", "mod4",
                  "minutes", "units", "dx1", "dx2", "dx3", "dx4", "pos", "charge", "claim_id", "status", "note",
                  "frequency", "original_claim_number")
if ChargeLine._fields != _CHARGE_FIELDS:  # pragma: no cover - a guard for whoever edits ChargeLine
    raise ImportError("otbill_xl.domain.claims: ChargeLine fields changed; update _CHARGE_FIELDS and _assemble")

_CLAIM_ID_SEP = "\x1f"  # between the parts hashed by claim_id_for
_ZERO = Decimal(0)  # comparing a Decimal with int 0 converts the 0 to a Decimal every time
# Not looked up in the ChargeMaster yet (None means: no rate). Compared by identity, never stored; a
# Decimal so that ``rates.get(key, _UNRATED)`` keeps the ``Decimal | None`` type of a charge.
_UNRATED = Decimal("NaN")


def _assemble(book: PracticeBook, findings: Iterable[Finding], computed_units: dict[int, int] | None,
              prior: Mapping[int, str] | None, group: str, strict: bool,
              sheet_names: Mapping[str, str] | None = None) -> Assembly:
    units_of = computed_units or {}
    already = prior or {}
    by_row, by_patient, by_payer, everywhere = _blocking_findings(book, findings, strict, sheet_names)
    practice = book.practice
    billing_npi = practice.billing_npi
    charge_master = charge_master_by_code(book.charge_master)

    rates: dict[tuple, Decimal | None] = {}
    held = set(by_row).union(already)  # rows with a blocking finding or held by the ledger: one test per line
    held_back: list[HeldBack] = []
    # groups: claim key -> [diagnosis codes, typed ClaimID, ServiceLine, ServiceLine, ...], the lines in
    # sheet order. A "regular" group is one whose lines all share the codes tuple and typed ClaimID
    # kept at the front, and arrive in (date, row) order: the common case, which becomes one claim
    # without a sort, a split or new pointers, its lines a slice of the list. Any other group is
    # turned into an irregular one, [_IRREGULAR, None, (ServiceLine, codes, typed ClaimID), ...], and
    # goes through the general path (sort, split at 50 lines / 12 diagnoses, per-line pointers).
    groups: dict[tuple, list] = {}
    patients = book.patients_by_id
    payers = book.payers_by_key
    per_patient: dict[str, tuple] = {}
    # (Dx1..Dx4, Mod1..Mod4) as typed -> (diagnosis codes, modifiers, pointers). A handful of code
    # combinations cover a whole batch, so each is normalized once. The codes tuples are interned by
    # value (``dx_tuples``): lines whose diagnoses are the same share one tuple object, so "all lines
    # of a group have the same diagnoses" is an ``is`` test.
    codes_cache: dict[tuple, tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]] = {}
    dx_tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
    visit = group == "visit"
    npi_on_claim: dict[tuple[str, str], str] = {}
    for line in book.charges:
        (row, line_id, pid, dos, rendering_npi, code, mod1, mod2, mod3, mod4, _minutes, units, dx1, dx2, dx3, dx4,
         pos, charge, typed_id, _status, _note, frequency_text, original) = line
        facts = per_patient.get(pid)
        if facts is None:
            patient = patients.get(pid)
            payer = payers.get(patient.payer_key) if patient else None
            fixed = list(everywhere) + list(by_patient.get(pid, ()))
            if payer is not None:
                fixed += by_payer.get(payer.payer_key, ())
            if patient is None or payer is None:
                fixed.append("no patient or payer to bill")
            elif payer.payer_type is PayerType.SELF_PAY:
                fixed.append("self-pay: collected from the patient, not billed to a payer")
            facts = per_patient[pid] = (patient, payer, fixed)
        fixed = facts[2]
        if units is None:
            units = units_of.get(row)
        too_many = units is not None and not -MAX_UNITS <= units <= MAX_UNITS
        if charge is None and units and not too_many and dos is not None:
            # the ChargeMaster rate on that date times the units, once per (code, date, units)
            rated = (code, dos, units)
            charge = rates.get(rated, _UNRATED)
            if charge is _UNRATED:
                charge = rates[rated] = charge_master_charge(charge_master, code, dos, units)
        frequency = _FREQUENCY.get(frequency_text.strip().lower()) if frequency_text else "1"
        if (fixed or row in held or frequency != "1" or not units or units < 0 or too_many or charge is None
                or charge <= _ZERO or charge > MAX_AMOUNT or dos is None or not code or not dx1):
            reasons = list(fixed) + list(by_row.get(row, ()))
            if frequency is None:
                reasons.append(f"Frequency {frequency_text[:20]!r} is not 1 (original), 7 (corrected) or 8 (void)")
            elif frequency in ("7", "8") and not original:
                reasons.append(f"a {'corrected' if frequency == '7' else 'void'} claim needs the payer's "
                               "OriginalClaimNumber (REF*F8)")
            if not units or units < 0:
                reasons.append("no billable units")
            elif too_many:
                reasons.append(f"more than {MAX_UNITS} units on one line")
            if charge is None or charge <= 0:
                reasons.append("no charge (fill Charge, or the code's ChargeMaster rate)")
            elif charge > MAX_AMOUNT:
                reasons.append(f"the charge is over {MAX_AMOUNT}")
            if dos is None or not code or not dx1:
                reasons.append("missing date of service, code or primary diagnosis")
            if row in already:
                reasons.append(already[row])
            # (a line without a DOS or with an unknown Frequency always has a reason: the two tests only
            # tell the type checker that both are known below)
            if reasons or dos is None or frequency is None or units is None or charge is None:
                held_back.append(HeldBack(row, line_id, tuple(dict.fromkeys(reasons))))
                continue
        raw = (dx1, dx2, dx3, dx4, mod1, mod2, mod3, mod4)
        coded = codes_cache.get(raw)
        if coded is None:
            dx = tuple(dict.fromkeys(dx_key(d) for d in raw[:4] if d))
            dx = dx_tuples.setdefault(dx, dx)
            coded = codes_cache[raw] = (dx, tuple(m for m in raw[4:] if m), _POINTERS[min(len(dx), 4)])
        codes, mods, pointers = coded
        # The ServiceLine is built here, pointing at its own diagnoses as 1..n: right whenever the
        # claim's diagnosis list is this line's list, as in every regular group; the general path
        # gives the lines of an irregular group their pointers again.
        service = ServiceLine(line_id, row, dos, code, mods, units, charge, pointers)
        # Who renders on the claim: an assistant's line goes under the supervising therapist (facts §7a).
        payer_key = facts[1].payer_key
        on_claim = npi_on_claim.get((rendering_npi, payer_key))
        if on_claim is None:
            on_claim = npi_on_claim[(rendering_npi, payer_key)] = rendering_on_claim(book, facts[1], rendering_npi)
        # The payer is not in the key: it follows from the patient (per_patient above).
        key = (pid, on_claim, pos or "11", frequency, original, dos if visit else (dos.year, dos.month))
        members = groups.get(key)
        if members is None:
            groups[key] = [codes, typed_id, service]
        elif (members[0] is codes and members[1] == typed_id and row >= members[-1][1]
              and (visit or dos >= members[-1][2])):  # (with group "visit", all lines of a group share the date)
            members.append(service)
        else:
            _add_irregular(members, service, codes, typed_id)

    # Claim order: payer, first date of service, patient ID, ClaimID, then creation order (as a stable
    # sort would keep it). Rather than sorting every claim on a 4-part key (ties on the payer and date
    # are the rule, and each tie costs a generic comparison), claims go into buckets by payer, then by
    # date; each bucket, entered as (patient ID, ClaimID, sequence number, claim), sorts on plain
    # strings, and the unique sequence number means two claims are never compared.
    claims_by_payer: dict[str, dict[date, list[tuple]]] = {}
    seq = 0
    facts_of: dict[str, tuple] = {}
    rendering_of: dict[str, Provider | None] = {}
    dos_text: dict[date, str] = {}
    sep = _CLAIM_ID_SEP
    for key, members in groups.items():
        patient_id, rendering_npi, pos, frequency, original, _ = key
        # What the claims of one patient share, worked out once per patient.
        facts = facts_of.get(patient_id)
        if facts is None:
            patient, payer, _fixed = per_patient[patient_id]
            referring = None
            if patient.referring_npi:
                referring = Referring(patient.referring_npi, patient.referring_last_name, patient.referring_first_name)
            auth = patient.auth_number if patient.auth_number and (payer.requires_auth or patient.auth_start) else ""
            days = claims_by_payer.get(payer.payer_key)
            if days is None:
                days = claims_by_payer[payer.payer_key] = {}
            # the patient's secondary payer, if any: 2320/2330A/2330B on every primary claim (COB)
            other = secondary_payer(patient, payers) if patient.secondary_payer_key else None
            others = (secondary_on_primary(patient, other),) if other is not None else ()
            facts = facts_of[patient_id] = (patient, payer, patient.member_id, auth, referring, days,
                                            sep.join((billing_npi, payer.payer_key, patient_id, "")), others)
        patient, payer, member_id, auth, referring, days, patient_part, others = facts
        try:
            rendering = rendering_of[rendering_npi]
        except KeyError:
            rendering = rendering_of[rendering_npi] = _rendering(book, rendering_npi, billing_npi)
        # What identifies the claim besides its lines (the parts claim_id_for joins before the lines).
        prefix = f"{patient_part}{rendering.npi if rendering else ''}{sep}{pos}{sep}{frequency}{sep}{original}{sep}"
        codes = members[0]
        if codes is _IRREGULAR or len(members) > MAX_LINES + 2:
            if codes is not _IRREGULAR:
                _make_irregular(members)
            chunks = members[2:]
            if len(chunks) > 1:
                chunks.sort(key=_by_dos_row)
            for chunk in _split(chunks):
                claim = _claim(chunk, prefix, patient, payer, rendering, referring, pos, frequency, original, auth,
                               dos_text, others)
                seq += 1
                dos = claim.lines[0].dos
                bucket = days.get(dos)
                if bucket is None:
                    days[dos] = [(patient_id, claim.claim_id, seq, claim)]
                else:
                    bucket.append((patient_id, claim.claim_id, seq, claim))
            continue
        # A regular group, inline: one claim whose diagnoses are the (shared) tuple of its lines.
        typed = members[1]
        first = members[2]
        dos = first.dos
        services: tuple[ServiceLine, ...] = (first,) if len(members) == 3 else tuple(members[2:])
        if typed and len(typed) <= CLAIM_ID_MAX and typed.isalnum():
            claim_id = typed
        elif len(services) == 1 or visit:
            # claim_id_for, inlined: with one line, or one date of service for all lines (a visit),
            # the date's text is looked up once.
            day = dos_text.get(dos)
            if day is None:
                day = dos_text[dos] = f"{dos}"
            if len(services) == 1:
                hashed = f"{prefix}{first.line_id}|{day}|{first.code}"
            else:
                hashed = prefix + sep.join([f"{s.line_id}|{day}|{s.code}" for s in services])
            claim_id = _hashed_id(hashed)
        else:
            claim_id = _claim_id(prefix, services, dos_text)
        seq += 1
        entry = (patient_id, claim_id, seq,
                 Claim(claim_id, payer, patient, member_id, rendering, pos, codes, services, frequency,
                       original, auth, referring, "P", "", others))
        bucket = days.get(dos)
        if bucket is None:
            days[dos] = [entry]
        else:
            bucket.append(entry)
    claims: list[Claim] = []
    for payer_key in sorted(claims_by_payer):
        days = claims_by_payer[payer_key]
        for dos in sorted(days):
            bucket = days[dos]
            if len(bucket) > 1:
                bucket.sort()
            claims += [entry[3] for entry in bucket]
    return Assembly(tuple(claims), tuple(held_back))


_IRREGULAR = object()  # marks a group list whose members are (ServiceLine, codes, typed ClaimID)


def _make_irregular(members: list) -> None:
    """Turn a regular group list (see _assemble) into an irregular one, in place: while it was
    regular, every line had the codes and typed ClaimID at its front."""
    codes, typed = members[0], members[1]
    members[2:] = [(service, codes, typed) for service in members[2:]]
    members[0], members[1] = _IRREGULAR, None


def _add_irregular(members: list, service: ServiceLine, codes: tuple[str, ...], typed: str) -> None:
    if members[0] is not _IRREGULAR:
        _make_irregular(members)
    members.append((service, codes, typed))


def rendering_on_claim(book: PracticeBook, payer: Payer, rendering_npi: str) -> str:
    """The NPI that renders on the claim for a line the Charges sheet says ``rendering_npi``
    performed: an assistant's (OTA/PTA) services are billed under the enrolled supervising
    therapist's NPI, with CO/CQ on the line, unless the payer credentials assistants
    (``AssistantsBill`` = self). Medicare Benefit Policy Manual Ch.15 §230.1-230.4 (facts §7a).
    An assistant without a supervisor keeps their own NPI: the scrubber holds such lines back."""
    return npi_on_claim(book.providers_by_npi.get(rendering_npi), payer, rendering_npi)


def npi_on_claim(provider: Provider | None, payer: Payer | None, rendering_npi: str) -> str:
    """:func:`rendering_on_claim` for a line whose provider (Providers row, or None) is known."""
    if (provider is None or not provider.is_assistant or payer is None
            or payer.assistants_bill is AssistantsBill.SELF or not provider.supervisor_npi):
        return rendering_npi
    return provider.supervisor_npi


def _rendering(book: PracticeBook, rendering_npi: str, billing_npi: str) -> Provider | None:
    """The 2310B rendering provider: None when it is the billing provider."""
    if not rendering_npi or rendering_npi == billing_npi:
        return None
    rendering = book.providers_by_npi.get(rendering_npi)
    if rendering is None:
        rendering = Provider(npi=rendering_npi)  # an unlisted rendering NPI still goes on the claim
    return rendering


def _claim_id(prefix: str, services: Iterable[ServiceLine], dos_text: dict[date, str]) -> str:
    """claim_id_for(parts + one ``line_id|dos|code`` per line), from the parts already joined as
    ``prefix``; each date's text is made once (``dos_text``)."""
    pieces = []
    for s in services:
        dos = s.dos
        text = dos_text.get(dos)
        if text is None:
            text = dos_text[dos] = f"{dos}"
        pieces.append(f"{s.line_id}|{text}|{s.code}")
    return _hashed_id(prefix + _CLAIM_ID_SEP.join(pieces))


def _by_dos_row(member: tuple) -> tuple:
    """Sort key of an irregular group's member (ServiceLine, codes, typed ClaimID): date, then sheet row."""
    service = member[0]
    return service.dos, service.row


def _split(members: list) -> Iterable[list]:
    """A group's members in chunks of at most 50 lines and 12 diagnoses."""
    if len(members) == 1:
        yield members
        return
    chunk: list = []
    dx: set[str] = set()
    for m in members:
        codes = m[1]
        if chunk and (len(chunk) >= MAX_LINES or len(dx.union(codes)) > MAX_DIAGNOSES):
            yield chunk
            chunk, dx = [], set()
        chunk.append(m)
        dx.update(codes)
    if chunk:
        yield chunk


def _claim(chunk: list, prefix: str, patient: Patient, payer: Payer, rendering: Provider | None,
           referring: Referring | None, pos: str, frequency: str, original: str, auth: str,
           dos_text: dict[date, str], others: tuple[OtherPayer, ...] = ()) -> Claim:
    """One claim of an irregular group: diagnoses in first-seen order, each line's pointers into them."""
    first_dx = chunk[0][1]
    if all(m[1] is first_dx for m in chunk):
        # every line carries the same diagnoses: the lines already point at 1..n
        position = dict.fromkeys(first_dx)
        services = tuple([m[0] for m in chunk])
    else:
        position = {}
        for m in chunk:
            for k in m[1]:
                if k not in position:
                    position[k] = len(position) + 1
        services = tuple([ServiceLine._make((*s[:7], tuple([position[k] for k in dx[:4]])))
                          for s, dx, _typed in chunk])
    if len(chunk) == 1:
        typed = chunk[0][2]
    else:
        typed_ids = {m[2] for m in chunk}
        typed = typed_ids.pop() if len(typed_ids) == 1 else ""
    if typed and len(typed) <= CLAIM_ID_MAX and typed.isalnum():
        claim_id = typed
    else:
        claim_id = _claim_id(prefix, services, dos_text)
    return Claim(claim_id, payer, patient, patient.member_id, rendering, pos, tuple(position), services,
                 frequency, original, auth, referring, "P", "", others)
