"""Professional claims (837P) as domain records, and how charge lines become claims.

A :class:`Claim` holds everything the 837P writer needs beyond the practice (billing provider)
settings: payer, patient (and subscriber), rendering and referring providers, place of service,
frequency, diagnoses and service lines. Money is Decimal.
"""

from __future__ import annotations

import gc
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import NamedTuple

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import Patient, Payer, PayerType, Provider, Relationship
from otbill_xl.domain.money import cents

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
        """The patient is not the subscriber: the 2000C patient loop is written."""
        return self.patient.relationship is not Relationship.SELF

    @property
    def first_dos(self) -> date:
        return min(line.dos for line in self.lines)

    @property
    def last_dos(self) -> date:
        return max(line.dos for line in self.lines)


# ------------------------------------------------------------------------------------------------
# Assembly: charge lines -> claims
# ------------------------------------------------------------------------------------------------


_POINTERS = tuple(tuple(range(1, n + 1)) for n in range(5))  # (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)
MAX_LINES = 50       # 005010X222A1: at most 50 service lines (2400 loops) per claim
MAX_DIAGNOSES = 12   # HI: at most 12 diagnosis codes per claim (facts §7)
CLAIM_ID_MAX = 20    # CLM01 patient control number

_FREQUENCY = {"": "1", "1": "1", "original": "1", "new": "1", "7": "7", "corrected": "7", "replacement": "7",
              "replace": "7", "8": "8", "void": "8", "cancel": "8"}


class Excluded(NamedTuple):
    """A charge line held back from billing, and why (no patient data in the reasons)."""

    row: int
    line_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Assembly:
    claims: tuple[Claim, ...]
    excluded: tuple[Excluded, ...]

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
    SHA-256 of what identifies the claim, so the same lines give the same ClaimID on every run
    (20 characters)."""
    return "OT" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:18].upper()


def _blocking_findings(book: PracticeBook, findings: Iterable[Finding], strict: bool
                       ) -> tuple[dict[int, list[str]], dict[str, list[str]], dict[str, list[str]], list[str]]:
    """Findings that stop billing, by charge row, by patient, by payer, and practice-wide."""
    stops = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
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
        sheet, row = f.location.sheet, f.location.row
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
    billed: dict[int, str] | None = None,
    rebill: frozenset[str] | set[str] = frozenset(),
    group: str = "visit",
    strict: bool = False,
) -> Assembly:
    """Turn clean charge lines into claims (facts §7; 005010X222A1 limits).

    * Only lines without scrub errors are billed (with ``strict``, without warnings either);
      errors on a line's patient, payer or on the practice hold back the lines they affect.
    * ``billed`` maps a charge row to the claim it was already billed in (from the ledger): such a
      line is held back unless its LineID is in ``rebill`` or it is a corrected/void line (7/8).
    * Lines are grouped by patient + payer + rendering provider + place of service + frequency (and
      the original claim number) + date of service (``group="visit"``) or calendar month
      (``group="period"``); a group is split so no claim has more than 50 lines or 12 diagnoses.
    * Diagnoses are listed in first-seen order without the dot; each line points at its 1-4.
    """
    if group not in ("visit", "period"):
        raise ValueError("group must be 'visit' or 'period'")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # tens of thousands of small records, no cycles (as in scrub and pricing)
    try:
        return _assemble(book, findings, computed_units, billed, rebill, group, strict)
    finally:
        if gc_was_enabled:
            gc.enable()


def _assemble(book: PracticeBook, findings: Iterable[Finding], computed_units: dict[int, int] | None,
              billed: dict[int, str] | None, rebill, group: str, strict: bool) -> Assembly:
    units_of = computed_units or {}
    already = billed or {}
    by_row, by_patient, by_payer, everywhere = _blocking_findings(book, findings, strict)
    practice = book.practice
    billing_npi = practice.billing_npi
    charge_master: dict[str, list] = defaultdict(list)
    for e in sorted(book.charge_master, key=lambda e: e.effective_from or date.min):
        charge_master[e.code].append(e)

    excluded: list[Excluded] = []
    groups: dict[tuple, list[tuple]] = {}
    patients = book.patients_by_id
    payers = book.payers_by_key
    per_patient: dict[str, tuple] = {}
    codes_cache: dict[tuple, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    visit = group == "visit"
    for line in book.charges:
        pid = line.patient_id
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
        patient, payer, fixed = facts
        row = line.row
        units = line.units if line.units is not None else units_of.get(row)
        charge = line.charge
        if charge is None and units and line.dos is not None:
            entry = next((e for e in reversed(charge_master.get(line.code, ()))
                          if e.effective_from is None or e.effective_from <= line.dos), None)
            charge = cents(entry.charge_per_unit * units) if entry else None
        frequency = _FREQUENCY.get(line.frequency.strip().lower()) if line.frequency else "1"
        if (fixed or row in by_row or frequency != "1" or not units or units < 0 or charge is None or charge <= 0
                or line.dos is None or not line.code or not line.dx1 or row in already):
            reasons = list(fixed) + list(by_row.get(row, ()))
            if frequency is None:
                reasons.append(f"Frequency {line.frequency!r} is not 1 (original), 7 (corrected) or 8 (void)")
            elif frequency in ("7", "8") and not line.original_claim_number:
                reasons.append(f"a {'corrected' if frequency == '7' else 'void'} claim needs the payer's "
                               "OriginalClaimNumber (REF*F8)")
            if not units or units < 0:
                reasons.append("no billable units")
            if charge is None or charge <= 0:
                reasons.append("no charge (fill Charge, or the code's ChargeMaster rate)")
            if line.dos is None or not line.code or not line.dx1:
                reasons.append("missing date of service, code or primary diagnosis")
            if row in already and frequency == "1" and line.line_id not in rebill:
                reasons.append(f"already billed in claim {already[row]} (use --rebill {line.line_id} or a "
                               "corrected claim to bill it again)")
            if reasons:
                excluded.append(Excluded(row, line.line_id, tuple(dict.fromkeys(reasons))))
                continue
        raw = (line.dx1, line.dx2, line.dx3, line.dx4, line.mod1, line.mod2, line.mod3, line.mod4)
        coded = codes_cache.get(raw)
        if coded is None:
            coded = codes_cache[raw] = (tuple(dict.fromkeys(dx_key(d) for d in raw[:4] if d)),
                                        tuple(m for m in raw[4:] if m))
        dos = line.dos
        key = (pid, payer.payer_key, line.rendering_npi, line.pos or "11", frequency, line.original_claim_number,
               dos if visit else (dos.year, dos.month))
        group = groups.get(key)
        member = (dos, row, line, units, charge, coded[0], coded[1])
        if group is None:
            groups[key] = [member]
        else:
            group.append(member)

    claims: list[tuple] = []
    referring_of: dict[str, Referring] = {}
    for key, members in groups.items():
        if len(members) > 1:
            members.sort(key=_BY_DOS_ROW)
        patient_id, payer_key, rendering_npi, pos, frequency, original, _ = key
        patient = patients[patient_id]
        payer = payers[payer_key]
        rendering = book.providers_by_npi.get(rendering_npi) if rendering_npi and rendering_npi != billing_npi else None
        if rendering is None and rendering_npi and rendering_npi != billing_npi:
            from otbill_xl.domain.models import Provider  # an unlisted rendering NPI still goes on the claim
            rendering = Provider(npi=rendering_npi)
        referring = referring_of.get(patient_id)
        if referring is None and patient.referring_npi:
            referring = referring_of[patient_id] = Referring(patient.referring_npi, patient.referring_last_name,
                                                             patient.referring_first_name)
        for chunk in _split(members):
            claim = _claim(book, chunk, patient, payer, rendering, referring, pos, frequency, original)
            claims.append((payer_key, chunk[0][0], patient_id, claim.claim_id, claim))
    claims.sort(key=_claim_order)
    return Assembly(tuple(c[4] for c in claims), tuple(excluded))


def _claim_order(entry: tuple) -> tuple:
    """Claims by payer, first date of service, patient, ClaimID (the claim itself is not compared)."""
    return entry[:4]


_BY_DOS_ROW = itemgetter(0, 1)  # members are (dos, row, line, ...): date order, then sheet order


def _split(members: list) -> Iterable[list]:
    if len(members) == 1:
        yield members
        return
    chunk: list = []
    dx: set[str] = set()
    for m in members:
        codes = m[5]
        if chunk and (len(chunk) >= MAX_LINES or len(dx.union(codes)) > MAX_DIAGNOSES):
            yield chunk
            chunk, dx = [], set()
        chunk.append(m)
        dx.update(codes)
    if chunk:
        yield chunk


def _claim(book: PracticeBook, chunk: list, patient: Patient, payer: Payer, rendering: Provider | None,
           referring: Referring | None, pos: str, frequency: str, original: str) -> Claim:
    new = tuple.__new__
    first_dx = chunk[0][5]
    if all(m[5] is first_dx for m in chunk):
        # The common case: every line of the claim carries the same diagnoses (one cached tuple), so
        # the claim's list is that tuple and each line points at positions 1..n (at most 4).
        position = dict.fromkeys(first_dx)
        ptrs = _POINTERS[min(len(first_dx), 4)]
        services = tuple(new(ServiceLine, (line.line_id, row, dos, line.code, mods, units, charge, ptrs))
                         for dos, row, line, units, charge, _dx, mods in chunk)
    else:
        position = {}
        for m in chunk:
            for k in m[5]:
                if k not in position:
                    position[k] = len(position) + 1
        services = tuple(new(ServiceLine, (line.line_id, row, dos, line.code, mods, units, charge,
                                           tuple(position[k] for k in dx[:4])))
                         for dos, row, line, units, charge, dx, mods in chunk)
    if len(chunk) == 1:
        typed = chunk[0][2].claim_id
    else:
        typed_ids = {m[2].claim_id for m in chunk}
        typed = typed_ids.pop() if len(typed_ids) == 1 else ""
    if typed and len(typed) <= CLAIM_ID_MAX and typed.isalnum():
        claim_id = typed
    else:
        claim_id = claim_id_for([book.practice.billing_npi, payer.payer_key, patient.patient_id,
                                 rendering.npi if rendering else "", pos, frequency, original,
                                 *(f"{s.line_id}|{s.dos}|{s.code}" for s in services)])
    auth = patient.auth_number if patient.auth_number and (payer.requires_auth or patient.auth_start) else ""
    return Claim(claim_id, payer, patient, patient.member_id, rendering, pos, tuple(position), services, frequency,
                 original, auth, referring)
