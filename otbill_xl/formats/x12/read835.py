"""835 reader: the payer's remittance advice (005010X221A1) as immutable records, money as Decimal.

Separators come from each ISA (element after ``ISA``, repetition in ISA11, component in ISA16,
segment terminator right after it), so a file may hold several ISA/GS/ST envelopes with different
separators. A UTF-8 byte-order mark, line breaks after terminators, indentation and lower-case
segment ids or qualifiers are tolerated. Segments the reader does not use (N3, N4, ...) are skipped.

What is read, beyond payment (BPR), trace (TRN), payer and payee (N1 with their REF, the payer's
PER), claims (CLP), adjustments (CAS), services (SVC), line control numbers (REF*6R), dates (DTM),
remarks (LQ) and provider adjustments (PLB): the production date (DTM*405) and receiver (REF*EV);
the provider summaries (LX with TS3/TS2; an LX without TS3 gives none); per claim the filing
indicator, facility and frequency (CLP06/08/09), the people (NM1*QC patient, IL insured,
74 corrected patient, 82 rendering, any other entity in ``other_parties``), MIA/MOA (raw elements,
and their remark codes in order), AMT, QTY, DTM*050 received and DTM*036 coverage expiration and
every REF but 6R; per line AMT (AMT*B6 also as ``allowed``), QTY, REF other than 6R and SVC07
(original units).

What the reader cannot use at all raises :class:`X835Error` (the file, the segment number with
ISA = 1, the segment id and what was expected; never patient data). What it can read but that does
not add up is a :class:`Problem835` on the remittance, never an exception;
:func:`remittance_findings` turns them into :class:`~otbill_xl.domain.findings.Finding` records:

* a claim whose charge (CLP03) is not its payment (CLP04) plus every CAS amount at claim and line
  level (X221A1 claim balancing, which pyx12 does not check);
* a remittance whose BPR02 is not Σ CLP04 − Σ PLB amounts (X221A1 §1.10.2.1 balancing);
* an SVC composite written with a component separator other than ISA16 (the LinuxForHealth samples
  write ``HC>55669`` under ``ISA16 = :``). It is **read** with the separator it uses and reported
  as a warning: the code is unambiguous (a two-character qualifier, then the separator), the
  amounts do not depend on it, and refusing would leave a whole payment unposted for a cosmetic
  defect the biller cannot fix;
* a date that is not a calendar date (BPR16 ``20002316`` in one sample): read as ``None``;
* a bare CLP without charge or payment (an oop sample ends its reversals with ``CLP*090909*22``):
  the amounts read as 0.

Speed: the segments of one interchange are split in one C-level call, the common segments are
dispatched straight from a table, and amounts and dates are parsed once per distinct text (an
835 repeats the same fee amounts and service dates many times). ``benchmarks/bench_835.py``
measures it against a plain split of the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.errors import OtbillError
from otbill_xl.formats.x12.envelope import Separators, X12Error, parse_isa

__all__ = ["Adjustment", "ClaimPayment", "Party", "Problem835", "ProviderAdjustment", "ProviderSummary",
           "Remittance", "Procedure", "ServicePayment", "X835Error", "iter_remittances", "read_835",
           "remittance_findings"]

_NUMBER = re.compile(r"-?(?:[0-9]{1,18}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})")
_ZERO = Decimal(0)
_ONE = Decimal(1)
#: Claim status CLP02 of a reversal of a previously paid claim.
REVERSAL = "22"
#: Parsed amounts and dates kept per reader; past this many distinct texts the cache starts over.
_CACHE_LIMIT = 50_000


class X835Error(OtbillError, ValueError):
    """The file cannot be read as an 835; the message names the file, segment number and id."""

    message = "The file cannot be read as an 835 remittance."


class Adjustment(NamedTuple):
    """One CAS reason/amount/quantity triplet: group (CO, PR, OA, PI, CR), CARC reason code."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None


class Procedure(NamedTuple):
    qualifier: str
    code: str
    modifiers: tuple[str, ...]


class Party(NamedTuple):
    """One NM1 of a claim: entity NM101 (QC patient, IL insured, 74 corrected patient, 82 rendering,
    TT crossover carrier, PR corrected payer, GB other subscriber), names and NM108/NM109 id."""

    entity: str
    last: str
    first: str
    middle: str
    id_qualifier: str
    id: str


class ServicePayment(NamedTuple):
    qualifier: str
    code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    units: Decimal
    #: SVC06: the code as billed when the payer adjudicated a different one.
    original: Procedure | None
    adjustments: tuple[Adjustment, ...]
    line_control_number: str
    service_date: date | None
    service_from: date | None
    service_to: date | None
    remark_codes: tuple[str, ...]
    segment: int
    #: AMT*B6: the allowed amount of the line (also listed in ``amounts``).
    allowed: Decimal | None = None
    #: Every line AMT as (qualifier, amount), B6 included.
    amounts: tuple[tuple[str, Decimal], ...] = ()
    quantities: tuple[tuple[str, Decimal], ...] = ()
    #: Line REF segments other than 6R, as (qualifier, value).
    refs: tuple[tuple[str, str], ...] = ()
    #: SVC07: the units as billed when the payer paid a different number.
    original_units: Decimal | None = None


class ClaimPayment(NamedTuple):
    patient_control_number: str
    status: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    adjustments: tuple[Adjustment, ...]
    services: tuple[ServicePayment, ...]
    statement_from: date | None
    statement_to: date | None
    segment: int
    filing_indicator: str = ""
    facility: str = ""
    frequency: str = ""
    patient: Party | None = None
    insured: Party | None = None
    corrected_patient: Party | None = None
    rendering: Party | None = None
    other_parties: tuple[Party, ...] = ()
    #: MIA and MOA remark codes in the order they appear (MIA05, MIA20–23; MOA03–07).
    remark_codes: tuple[str, ...] = ()
    #: MIA elements as written (MIA01 first), trailing blanks kept.
    inpatient: tuple[str, ...] = ()
    #: MOA elements as written (MOA01 first).
    outpatient: tuple[str, ...] = ()
    amounts: tuple[tuple[str, Decimal], ...] = ()
    quantities: tuple[tuple[str, Decimal], ...] = ()
    #: DTM*050: the date the payer received the claim.
    received: date | None = None
    #: DTM*036: coverage expiration date.
    coverage_expiration: date | None = None
    #: Claim REF segments other than 6R, as (qualifier, value).
    refs: tuple[tuple[str, str], ...] = ()

    @property
    def is_reversal(self) -> bool:
        return self.status == REVERSAL


class ProviderAdjustment(NamedTuple):
    """One PLB reason/amount pair (PLB03/04 ... PLB13/14). A positive amount reduces the payment."""

    provider_id: str
    fiscal_period: date | None
    reason: str
    reference: str
    amount: Decimal


class ProviderSummary(NamedTuple):
    """One header number (LX) with its TS3 provider summary and the TS2 that may follow it."""

    number: str
    provider_id: str                  # TS301
    facility: str                     # TS302 facility type code
    fiscal_period: date | None        # TS303
    claim_count: Decimal              # TS304
    total_charge: Decimal             # TS305
    ts3_rest: tuple[str, ...] = ()    # TS306 onwards, as written
    ts2: tuple[str, ...] = ()         # TS201 onwards, as written


class Problem835(NamedTuple):
    """Something read but not as expected. ``kind``: unbalanced_claim, unbalanced_remittance,
    separator_mismatch, invalid_date, missing_amount, segment_count (and, from the CSV reader,
    bad_row). ``segment`` is the segment number (a CSV: the line number); ``detail`` the message
    without the file and place."""

    kind: str
    severity: str
    segment: int
    segment_id: str
    message: str
    detail: str = ""


class Remittance(NamedTuple):
    """One ST/SE transaction: one payment (BPR) from one payer to one payee."""

    transaction_control: str
    payer_name: str
    payer_id: str
    payee_name: str
    payee_id_qualifier: str
    payee_id: str
    payee_npi: str
    payee_refs: tuple[tuple[str, str], ...]
    amount: Decimal
    credit_debit: str
    method: str
    payment_date: date | None
    trace_number: str
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    problems: tuple[Problem835, ...]
    segment: int
    provider_summaries: tuple[ProviderSummary, ...] = ()
    #: REF segments of the payer's N1 loop (2U payer id, EO submitter, NF NAIC, ...).
    payer_refs: tuple[tuple[str, str], ...] = ()
    #: PER segments of the payer (CX claims contact, BL technical, IC web site), elements as written.
    payer_contacts: tuple[tuple[str, ...], ...] = ()
    #: DTM*405: the date the payer produced the remittance.
    production_date: date | None = None
    #: REF*EV: the receiver identification.
    receiver_id: str = ""
    #: "835", or "CSV" for a clearinghouse export read by :mod:`otbill_xl.formats.remit_csv`.
    source: str = "835"


def read_835(data: bytes | str, source: str = "the 835 file") -> tuple[Remittance, ...]:
    """Every remittance of an 835 file (see the module docstring)."""
    return tuple(iter_remittances(data, source))


@lru_cache(maxsize=32)
def _end_of_interchange(term: str) -> re.Pattern[str]:
    """The IEA segment: a terminator, optional white space, IEA (any case), then no letter/digit."""
    return re.compile(re.escape(term) + r"\s*IEA(?![A-Za-z0-9])", re.IGNORECASE)


def iter_remittances(data: bytes | str, source: str = "the 835 file") -> Iterator[Remittance]:
    """Remittances one at a time, each as soon as its SE is read."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise X835Error(f"{source}: byte {exc.start} is not text (an 835 is plain ASCII text)") from None
    else:
        text = data[1:] if data.startswith("\ufeff") else data
    reader = _Reader(source)
    handlers = _HANDLERS
    pos = 0
    size = len(text)
    while True:
        while pos < size and text[pos].isspace():
            pos += 1
        if pos >= size:
            break
        reader.number += 1
        try:
            seps, isa, start = parse_isa(text[pos:pos + 200])
        except (ValueError, X12Error) as exc:
            raise reader.fail("ISA", f"expected an ISA segment with valid separators ({exc})") from None
        pos += start
        reader.interchange(seps, isa)
        term, e = seps.segment, seps.element
        # The interchange runs to its IEA: split it in one go (pos - 1 is the ISA's terminator).
        found = _end_of_interchange(term).search(text, pos - 1)
        stop = size if found is None else text.find(term, found.end())
        if stop < 0:
            stop = size
        chunk = text[pos:stop]
        pos = stop + 1
        ended = False
        for raw in chunk.split(term):
            raw = raw.strip()
            if not raw:
                continue
            reader.number += 1
            el = raw.split(e)
            handler = handlers.get(el[0])
            remit = reader.remit
            if handler is not None and remit is not None:  # the common case: a known upper-case id
                reader.sid = el[0]
                handler(reader, el, remit)
                continue
            result = reader.segment(el)
            if result is None:
                continue
            if result is _END:
                ended = True
                break
            assert isinstance(result, Remittance)
            yield result
        if not ended:
            if reader.remit is not None:
                raise reader.fail(reader.sid, "expected an SE segment before the end of the file (the file is cut short)")
            raise reader.fail(reader.sid, "expected an IEA segment before the end of the file")
    if reader.number == 0:
        raise X835Error(f"{source}: the file is empty; expected an ISA segment")


#: Returned by :meth:`_Reader.segment` at IEA.
_END = object()


class _Claim:
    __slots__ = ("pcn", "status", "charge", "paid", "patient", "payer_claim", "cas", "services",
                 "start", "end", "segment", "filing", "facility", "frequency", "parties", "remarks",
                 "mia", "moa", "amounts", "quantities", "received", "expires", "refs")

    def __init__(self, segment: int) -> None:
        self.segment = segment
        self.pcn = self.status = self.payer_claim = self.filing = self.facility = self.frequency = ""
        self.charge = self.paid = self.patient = _ZERO
        self.cas: list[Adjustment] = []
        self.services: list[_Line] = []
        self.start: date | None = None
        self.end: date | None = None
        self.parties: list[Party] = []
        self.remarks: list[str] = []
        self.mia: tuple[str, ...] = ()
        self.moa: tuple[str, ...] = ()
        self.amounts: list[tuple[str, Decimal]] = []
        self.quantities: list[tuple[str, Decimal]] = []
        self.received: date | None = None
        self.expires: date | None = None
        self.refs: list[tuple[str, str]] = []


class _Line:
    __slots__ = ("proc", "charge", "paid", "units", "original", "cas", "ref6r", "d472", "d150", "d151",
                 "lq", "segment", "allowed", "amounts", "quantities", "refs", "original_units")

    def __init__(self, segment: int, proc: Procedure) -> None:
        self.segment, self.proc = segment, proc
        self.charge = self.paid = _ZERO
        self.units = _ONE
        self.original: Procedure | None = None
        self.cas: list[Adjustment] = []
        self.ref6r = ""
        self.d472: date | None = None
        self.d150: date | None = None
        self.d151: date | None = None
        self.lq: list[str] = []
        self.allowed: Decimal | None = None
        self.amounts: list[tuple[str, Decimal]] = []
        self.quantities: list[tuple[str, Decimal]] = []
        self.refs: list[tuple[str, str]] = []
        self.original_units: Decimal | None = None

    def freeze(self) -> ServicePayment:
        p = self.proc
        # tuple.__new__ skips the generated __new__'s keyword handling: one line per SVC, many SVCs.
        return tuple.__new__(ServicePayment, (
            p.qualifier, p.code, p.modifiers, self.charge, self.paid, self.units, self.original, tuple(self.cas),
            self.ref6r, self.d472, self.d150, self.d151, tuple(self.lq), self.segment, self.allowed,
            tuple(self.amounts), tuple(self.quantities), tuple(self.refs), self.original_units))


class _Summary:
    __slots__ = ("number", "ts3", "ts2")

    def __init__(self, number: str) -> None:
        self.number = number
        self.ts3: ProviderSummary | None = None
        self.ts2: tuple[str, ...] = ()


class _Remit:
    def __init__(self, control: str, segment: int) -> None:
        self.control, self.segment = control, segment
        self.payer_name = self.payer_id = self.payee_name = self.payee_qual = self.payee_id = ""
        self.payee_npi = self.receiver = ""
        self.payee_refs: list[tuple[str, str]] = []
        self.payer_refs: list[tuple[str, str]] = []
        self.contacts: list[tuple[str, ...]] = []
        self.amount = _ZERO
        self.credit_debit = self.method = self.trace = ""
        self.date: date | None = None
        self.production: date | None = None
        self.claims: list[ClaimPayment] = []
        self.plb: list[ProviderAdjustment] = []
        self.summaries: list[_Summary] = []
        self.problems: list[Problem835] = []
        self.party = ""  # the N1 loop REF segments belong to (PR or PE)
        self.seen_bpr = False


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.number = 0
        self.e = "*"
        self.c = ":"
        self.r = "^"
        self.in_interchange = False
        self.remit: _Remit | None = None
        self.claim: _Claim | None = None
        self.line: _Line | None = None
        self.sid = ""
        self.amounts: dict[str, Decimal] = {}
        self.dates: dict[str, date] = {}

    # -- helpers -----------------------------------------------------------------------------------

    def fail(self, sid: str, expected: str) -> X835Error:
        return X835Error(f"{self.source}: segment {self.number} ({sid}): {expected}")

    def problem(self, kind: str, message: str, severity: str = "warning", segment: int | None = None,
                sid: str | None = None) -> None:
        assert self.remit is not None
        number = self.number if segment is None else segment
        sid = self.sid if sid is None else sid
        self.remit.problems.append(Problem835(kind, severity, number, sid,
                                              f"{self.source}: segment {number} ({sid}): {message}", message))

    def amount(self, el: list[str], i: int, *, required: bool = True) -> Decimal | None:
        s = el[i] if len(el) > i else ""
        hit = self.amounts.get(s)
        if hit is not None:
            return hit
        t = s.strip()
        if not t:
            if required:
                self.problem("missing_amount", f"{self.sid}{i:02d} is blank; read as 0")
                return _ZERO
            return None
        if not _NUMBER.fullmatch(t):
            raise self.fail(self.sid, f"expected a number in {self.sid}{i:02d}")
        value = Decimal(t)
        if len(self.amounts) >= _CACHE_LIMIT:
            self.amounts.clear()
        self.amounts[s] = value
        return value

    def day(self, value: str, what: str) -> date | None:
        hit = self.dates.get(value)
        if hit is not None:
            return hit
        v = value.strip()
        if not v:
            return None
        try:
            if len(v) != 8 or not v.isdigit():
                raise ValueError
            d = date(int(v[:4]), int(v[4:6]), int(v[6:]))
        except ValueError:
            if self.remit is not None:
                self.problem("invalid_date", f"{what} is not a CCYYMMDD date; read as no date")
            return None
        if len(self.dates) >= _CACHE_LIMIT:
            self.dates.clear()
        self.dates[value] = d
        return d

    def composite(self, value: str) -> list[str]:
        """Split a composite; a composite written with another separator than ISA16 (qualifier, then
        a punctuation character) is split on that one and reported."""
        if self.c in value or not value:
            return value.split(self.c)
        if len(value) > 3 and value[:2].isalnum() and not value[2].isalnum() and value[2] not in " -." \
                and value[2] not in (self.e, self.r):
            other = value[2]
            self.problem("separator_mismatch", f"the composite uses {other!r} as component separator while "
                         f"ISA16 declares {self.c!r}; read with {other!r}")
            return value.split(other)
        return [value]

    def procedure(self, value: str) -> Procedure:
        parts = [p.strip() for p in self.composite(value)]
        if len(parts) < 2 or not parts[1]:
            raise self.fail(self.sid, "expected a procedure composite (qualifier, code, modifiers)")
        return Procedure(parts[0].upper(), parts[1], tuple(m for m in parts[2:6] if m))

    def close_claim(self) -> None:
        c, r = self.claim, self.remit
        if c is None or r is None:
            return
        services = tuple([line.freeze() for line in c.services])
        people: dict[str, Party] = {}
        others: list[Party] = []
        for p in c.parties:
            if p.entity in _CLAIM_PEOPLE and p.entity not in people:
                people[p.entity] = p
            else:
                others.append(p)
        claim = tuple.__new__(ClaimPayment, (
            c.pcn, c.status, c.charge, c.paid, c.patient, c.payer_claim, tuple(c.cas), services, c.start, c.end,
            c.segment, c.filing, c.facility, c.frequency, people.get("QC"), people.get("IL"), people.get("74"),
            people.get("82"), tuple(others), tuple(c.remarks), c.mia, c.moa, tuple(c.amounts),
            tuple(c.quantities), c.received, c.expires, tuple(c.refs)))
        # X221A1 claim balancing: charge = paid + every claim- and line-level CAS amount.
        adjusted = sum([a.amount for a in c.cas], _ZERO)
        for s in services:
            for a in s.adjustments:
                adjusted += a.amount
        if c.charge != c.paid + adjusted:
            self.problem("unbalanced_claim", f"claim {len(r.claims) + 1} of the remittance does not balance: "
                         f"charge {c.charge} ≠ paid {c.paid} + adjustments {adjusted}",
                         severity="error", segment=c.segment, sid="CLP")
        r.claims.append(claim)
        self.claim = None
        self.line = None

    # -- segments ----------------------------------------------------------------------------------

    def interchange(self, seps: Separators, isa: list[str]) -> None:
        self.e, self.c, self.r = seps.element, seps.component, seps.repetition
        self.in_interchange = True
        self.sid = "ISA"

    def segment(self, el: list[str]) -> Remittance | object | None:
        """Handle a segment the fast path did not: envelopes, lower-case ids, segments outside a
        transaction. Returns the remittance an SE completes, ``_END`` at IEA, else None."""
        sid = self.sid = el[0].strip().upper()
        remit = self.remit
        if sid == "IEA":
            if remit is not None:
                raise self.fail(sid, "expected an SE segment before IEA")
            self.in_interchange = False
            return _END
        if sid in ("GS", "GE"):
            if remit is not None:
                raise self.fail(sid, "expected an SE segment first")
            return None
        if sid == "ISA":
            raise self.fail(sid, "expected an IEA segment before the next ISA")
        if sid == "ST":
            if remit is not None:
                raise self.fail(sid, "expected an SE segment before the next ST")
            if len(el) < 3 or el[1].strip() != "835":
                raise self.fail(sid, "expected ST*835 (this is not a remittance advice)")
            self.remit = _Remit(el[2].strip(), self.number)
            return None
        if remit is None:
            raise self.fail(sid, "expected an ST segment first (segment outside a transaction)")
        if sid == "SE":
            self.close_claim()
            count = el[1].strip() if len(el) > 1 else ""
            if count != str(self.number - remit.segment + 1):
                self.problem("segment_count", f"SE01 says {count or 'nothing'}, the transaction has "
                             f"{self.number - remit.segment + 1} segments")
            self.check_payment(remit)
            self.remit = None
            summaries = tuple(s.ts3._replace(ts2=s.ts2) for s in remit.summaries if s.ts3 is not None)
            return Remittance(remit.control, remit.payer_name, remit.payer_id, remit.payee_name, remit.payee_qual,
                              remit.payee_id, remit.payee_npi, tuple(remit.payee_refs), remit.amount,
                              remit.credit_debit, remit.method, remit.date, remit.trace, tuple(remit.claims),
                              tuple(remit.plb), tuple(remit.problems), remit.segment, summaries,
                              tuple(remit.payer_refs), tuple(remit.contacts), remit.production, remit.receiver)
        handler = _HANDLERS.get(sid)
        if handler is not None:
            handler(self, el, remit)
        return None

    def check_payment(self, remit: _Remit) -> None:
        # X221A1 §1.10.2.1: BPR02 = Σ CLP04 − Σ PLB adjustment amounts.
        if not remit.seen_bpr:
            self.problem("missing_amount", "the transaction has no BPR segment; payment read as 0")
        paid = sum((c.paid for c in remit.claims), _ZERO)
        plb = sum((p.amount for p in remit.plb), _ZERO)
        if remit.amount != paid - plb:
            self.problem("unbalanced_remittance", f"BPR02 {remit.amount} ≠ claims paid {paid} − provider "
                         f"adjustments {plb}", severity="error", segment=remit.segment, sid="ST")

    def seg_bpr(self, el: list[str], remit: _Remit) -> None:
        remit.seen_bpr = True
        remit.amount = self.amount(el, 2) or _ZERO
        remit.credit_debit = _at(el, 3).upper()
        remit.method = _at(el, 4).upper()
        remit.date = self.day(_at(el, 16), "BPR16 payment date")

    def seg_trn(self, el: list[str], remit: _Remit) -> None:
        if not remit.trace:
            remit.trace = _at(el, 2)
            if not remit.payer_id:
                remit.payer_id = _at(el, 3)

    def seg_n1(self, el: list[str], remit: _Remit) -> None:
        if self.claim is not None:
            return
        party = remit.party = _at(el, 1).upper()
        if party == "PR":
            remit.payer_name = _at(el, 2)
            if _at(el, 4):
                remit.payer_id = _at(el, 4)
        elif party == "PE":
            remit.payee_name = _at(el, 2)
            remit.payee_qual = _at(el, 3).upper()
            remit.payee_id = _at(el, 4)
            if remit.payee_qual == "XX":
                remit.payee_npi = remit.payee_id

    def seg_per(self, el: list[str], remit: _Remit) -> None:
        if self.claim is None and remit.party != "PE":  # 1000A payer contacts (PER is not used elsewhere)
            remit.contacts.append(tuple(v.strip() for v in el[1:]))

    def seg_ref(self, el: list[str], remit: _Remit) -> None:
        qual = el[1].strip().upper() if len(el) > 1 else ""
        value = _at(el, 2)
        line = self.line
        if line is not None:
            if qual == "6R":
                line.ref6r = value
            else:
                line.refs.append((qual, value))
        elif self.claim is not None:
            if qual != "6R":
                self.claim.refs.append((qual, value))
        elif remit.party == "PR":
            remit.payer_refs.append((qual, value))
            if qual == "2U":
                remit.payer_id = value
        elif remit.party == "PE":
            remit.payee_refs.append((qual, value))
        elif qual == "EV":
            remit.receiver = value

    def seg_lx(self, el: list[str], remit: _Remit) -> None:
        self.close_claim()
        remit.summaries.append(_Summary(_at(el, 1)))

    def seg_ts3(self, el: list[str], remit: _Remit) -> None:
        if self.claim is not None or not remit.summaries:
            return  # TS3 belongs right after LX; elsewhere it is ignored
        summary = remit.summaries[-1]
        summary.ts3 = ProviderSummary(
            summary.number, _at(el, 1), _at(el, 2), self.day(_at(el, 3), "TS303 fiscal period date"),
            self.amount(el, 4) or _ZERO, self.amount(el, 5) or _ZERO, tuple(v.strip() for v in el[6:]))

    def seg_ts2(self, el: list[str], remit: _Remit) -> None:
        if self.claim is None and remit.summaries:
            remit.summaries[-1].ts2 = tuple(v.strip() for v in el[1:])

    def seg_clp(self, el: list[str], remit: _Remit) -> None:
        self.close_claim()
        c = _Claim(self.number)
        c.pcn = _at(el, 1)
        c.status = _at(el, 2)
        c.charge = self.amount(el, 3) or _ZERO
        c.paid = self.amount(el, 4) or _ZERO
        c.patient = self.amount(el, 5, required=False) or _ZERO
        n = len(el)
        if n > 6:
            c.filing = el[6].strip().upper()
            if n > 7:
                c.payer_claim = el[7].strip()
                if n > 8:
                    c.facility = el[8].strip()
                    if n > 9:
                        c.frequency = el[9].strip()
        self.claim = c

    def seg_cas(self, el: list[str], remit: _Remit) -> None:
        target = self.line.cas if self.line is not None else self.claim.cas if self.claim is not None else None
        if target is None:
            raise self.fail("CAS", "expected a CLP or SVC segment before CAS")
        group = el[1].strip().upper() if len(el) > 1 else ""
        if not group:
            raise self.fail("CAS", "expected a claim adjustment group code in CAS01")
        for i in range(2, min(len(el), 20), 3):  # up to six reason/amount/quantity triplets
            reason = el[i].strip()
            if not reason:
                continue
            amount = self.amount(el, i + 1)
            assert amount is not None
            target.append(Adjustment(group, reason.upper(), amount,
                                     self.amount(el, i + 2, required=False) if len(el) > i + 2 else None))

    def seg_nm1(self, el: list[str], remit: _Remit) -> None:
        if self.claim is None:
            return  # the 835 has no NM1 outside a claim
        n = len(el)
        self.claim.parties.append(Party(el[1].strip().upper() if n > 1 else "", _at(el, 3), _at(el, 4),
                                        _at(el, 5), _at(el, 8).upper(), _at(el, 9)))

    def seg_mia(self, el: list[str], remit: _Remit) -> None:
        if self.claim is not None:
            self.claim.mia = raw = tuple(v.strip() for v in el[1:])
            self.claim.remarks.extend(raw[i - 1].upper() for i in (5, 20, 21, 22, 23) if len(raw) >= i and raw[i - 1])

    def seg_moa(self, el: list[str], remit: _Remit) -> None:
        if self.claim is not None:
            self.claim.moa = raw = tuple(v.strip() for v in el[1:])
            self.claim.remarks.extend(v.upper() for v in raw[2:7] if v)

    def seg_amt(self, el: list[str], remit: _Remit) -> None:
        qual = el[1].strip().upper() if len(el) > 1 else ""
        amount = self.amount(el, 2)
        assert amount is not None
        line = self.line
        if line is not None:
            line.amounts.append((qual, amount))
            if qual == "B6":
                line.allowed = amount
        elif self.claim is not None:
            self.claim.amounts.append((qual, amount))

    def seg_qty(self, el: list[str], remit: _Remit) -> None:
        qual = el[1].strip().upper() if len(el) > 1 else ""
        quantity = self.amount(el, 2)
        assert quantity is not None
        if self.line is not None:
            self.line.quantities.append((qual, quantity))
        elif self.claim is not None:
            self.claim.quantities.append((qual, quantity))

    def seg_svc(self, el: list[str], remit: _Remit) -> None:
        if self.claim is None:
            raise self.fail("SVC", "expected a CLP segment before SVC")
        line = _Line(self.number, self.procedure(_at(el, 1)))
        line.charge = self.amount(el, 2) or _ZERO
        line.paid = self.amount(el, 3) or _ZERO
        n = len(el)
        if n > 5:
            line.units = self.amount(el, 5, required=False) or _ONE
            if n > 6:
                line.original = self.procedure(el[6]) if el[6].strip() else None
                if n > 7:
                    line.original_units = self.amount(el, 7, required=False)
        self.claim.services.append(line)
        self.line = line

    def seg_dtm(self, el: list[str], remit: _Remit) -> None:
        qual = el[1].strip() if len(el) > 1 else ""
        value = el[2] if len(el) > 2 else ""
        line = self.line
        if line is not None:
            if qual == "472":
                line.d472 = self.day(value, "DTM*472 service date")
            elif qual == "150":
                line.d150 = self.day(value, "DTM*150 service date")
            elif qual == "151":
                line.d151 = self.day(value, "DTM*151 service date")
        elif self.claim is not None:
            if qual == "232":
                self.claim.start = self.day(value, "DTM*232 statement start date")
            elif qual == "233":
                self.claim.end = self.day(value, "DTM*233 statement end date")
            elif qual == "050":
                self.claim.received = self.day(value, "DTM*050 received date")
            elif qual == "036":
                self.claim.expires = self.day(value, "DTM*036 coverage expiration date")
        elif qual == "405":
            remit.production = self.day(value, "DTM*405 production date")

    def seg_lq(self, el: list[str], remit: _Remit) -> None:
        if self.line is not None and _at(el, 2):
            self.line.lq.append(_at(el, 2).upper())

    def seg_plb(self, el: list[str], remit: _Remit) -> None:
        self.close_claim()
        provider = _at(el, 1)
        period = self.day(_at(el, 2), "PLB02 fiscal period date")
        for i in range(3, 15, 2):  # up to six adjustment identifier/amount pairs
            if not _at(el, i):
                continue
            parts = self.composite(_at(el, i))
            amount = self.amount(el, i + 1)
            assert amount is not None
            remit.plb.append(ProviderAdjustment(provider, period, parts[0].strip().upper(),
                                                parts[1].strip() if len(parts) > 1 else "", amount))


def _at(el: list[str], i: int) -> str:
    return el[i].strip() if len(el) > i else ""


#: The NM1 entities a claim keeps in a field of their own (the first of each); others go to other_parties.
_CLAIM_PEOPLE = frozenset({"QC", "IL", "74", "82"})

_HANDLERS: dict[str, Callable[[_Reader, list[str], _Remit], None]] = {
    name[4:].upper(): fn for name, fn in vars(_Reader).items() if name.startswith("seg_")}


# --------------------------------------------------------------------------------------------------
# Findings

#: Problem kind → (rule id, what the biller does about it).
_RULES = {
    "unbalanced_claim": ("remit.unbalanced-claim",
                         "Post this claim by hand after checking it against the payer's paper or portal EOB; "
                         "ask the payer for a corrected remittance if the amounts are wrong."),
    "unbalanced_remittance": ("remit.unbalanced-remittance",
                              "Compare the deposit with the claims and provider adjustments of this payment; ask the "
                              "payer or clearinghouse for the missing part before posting."),
    "separator_mismatch": ("remit.separator-mismatch",
                           "Nothing to do for posting; tell the payer or clearinghouse their 835 uses the wrong "
                           "component separator."),
    "invalid_date": ("remit.invalid-date", "Take the date from the payer's portal or paper EOB."),
    "missing_amount": ("remit.missing-amount", "Check the amount on the payer's portal or paper EOB."),
    "segment_count": ("remit.segment-count",
                      "The file may have been edited or cut; get a fresh copy from the clearinghouse."),
    "bad_row": ("remit.bad-row", "Correct the row in the export (or the column mapping) and read the file again."),
}


def remittance_findings(remit: Remittance, source: str) -> tuple[Finding, ...]:
    """The remittance's problems as findings (rule ``remit.<kind>``): the file in the location, the
    segment number and id (a CSV: the line) in the message, never patient data."""
    out = []
    for p in remit.problems:
        rule, fix = _RULES.get(p.kind, (f"remit.{p.kind.replace('_', '-')}", ""))
        detail = p.detail or p.message
        if remit.source == "CSV":
            location = Location(file=source, row=p.segment)
            message = f"Line {p.segment}: {detail}"
        else:
            location = Location(file=source)
            message = f"Segment {p.segment} ({p.segment_id}): {detail}"
        severity = Severity.ERROR if p.severity == "error" else Severity.INFO if p.severity == "info" else Severity.WARNING
        out.append(Finding(rule=rule, severity=severity, location=location, message=message, fix=fix))
    return tuple(out)
