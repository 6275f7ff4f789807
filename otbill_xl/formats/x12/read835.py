"""835 reader: the payer's remittance advice (005010X221A1) as immutable records, money as Decimal.

Separators come from each ISA (element after ``ISA``, repetition in ISA11, component in ISA16,
segment terminator right after it), so a file may hold several ISA/GS/ST envelopes with different
separators. A UTF-8 byte-order mark, line breaks after terminators, indentation and lower-case
segment ids or qualifiers are tolerated. Segments the reader does not use (N3, N4, PER, NM1, MIA,
MOA, AMT, QTY, TS3, TS2 ...) are skipped.

What the reader cannot use at all raises :class:`X835Error` (the file, the segment number with
ISA = 1, the segment id and what was expected; never patient data). What it can read but that does
not add up is a :class:`Problem835` on the remittance, never an exception:

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
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from otbill_xl.errors import OtbillError
from otbill_xl.formats.x12.envelope import Separators, X12Error, parse_isa

__all__ = ["Adjustment", "ClaimPayment", "Problem835", "ProviderAdjustment", "Remittance",
           "Procedure", "ServicePayment", "X835Error", "iter_remittances", "read_835"]

_NUMBER = re.compile(r"-?(?:[0-9]{1,18}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})")
_ZERO = Decimal(0)
_ONE = Decimal(1)
#: Claim status CLP02 of a reversal of a previously paid claim.
REVERSAL = "22"


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


class Problem835(NamedTuple):
    """Something read but not as expected. ``kind``: unbalanced_claim, unbalanced_remittance,
    separator_mismatch, invalid_date, missing_amount, segment_count."""

    kind: str
    severity: str
    segment: int
    segment_id: str
    message: str


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


def read_835(data: bytes | str, source: str = "the 835 file") -> tuple[Remittance, ...]:
    """Every remittance of an 835 file (see the module docstring)."""
    return tuple(iter_remittances(data, source))


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
        term = seps.segment
        while True:
            end = text.find(term, pos)
            if end < 0:
                end = size
            raw = text[pos:end].strip()
            pos = end + 1
            if raw:
                reader.number += 1
                done = yield from reader.segment(raw)
                if done:
                    break
            if pos >= size:
                if reader.remit is not None:
                    raise reader.fail(reader.sid, "expected an SE segment before the end of the file (the file is cut short)")
                if reader.in_interchange:
                    raise reader.fail(reader.sid, "expected an IEA segment before the end of the file")
                return
    if reader.number == 0:
        raise X835Error(f"{source}: the file is empty; expected an ISA segment")


class _Claim:
    __slots__ = ("pcn", "status", "charge", "paid", "patient", "payer_claim", "cas", "services",
                 "start", "end", "segment")

    def __init__(self, segment: int) -> None:
        self.segment = segment
        self.pcn = self.status = self.payer_claim = ""
        self.charge = self.paid = self.patient = _ZERO
        self.cas: list[Adjustment] = []
        self.services: list[_Line] = []
        self.start: date | None = None
        self.end: date | None = None


class _Line:
    __slots__ = ("proc", "charge", "paid", "units", "original", "cas", "ref6r", "d472", "d150", "d151",
                 "lq", "segment")

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

    def freeze(self) -> ServicePayment:
        p = self.proc
        return ServicePayment(p.qualifier, p.code, p.modifiers, self.charge, self.paid, self.units,
                              self.original, tuple(self.cas), self.ref6r, self.d472, self.d150, self.d151,
                              tuple(self.lq), self.segment)


class _Remit:
    def __init__(self, control: str, segment: int) -> None:
        self.control, self.segment = control, segment
        self.payer_name = self.payer_id = self.payee_name = self.payee_qual = self.payee_id = ""
        self.payee_npi = ""
        self.payee_refs: list[tuple[str, str]] = []
        self.amount = _ZERO
        self.credit_debit = self.method = self.trace = ""
        self.date: date | None = None
        self.claims: list[ClaimPayment] = []
        self.plb: list[ProviderAdjustment] = []
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

    # -- helpers -----------------------------------------------------------------------------------

    def fail(self, sid: str, expected: str) -> X835Error:
        return X835Error(f"{self.source}: segment {self.number} ({sid}): {expected}")

    def problem(self, kind: str, message: str, severity: str = "warning", segment: int | None = None,
                sid: str | None = None) -> None:
        assert self.remit is not None
        self.remit.problems.append(Problem835(kind, severity, self.number if segment is None else segment,
                                              self.sid if sid is None else sid,
                                              f"{self.source}: segment {self.number if segment is None else segment} "
                                              f"({self.sid if sid is None else sid}): {message}"))

    def amount(self, el: list[str], i: int, *, required: bool = True) -> Decimal | None:
        s = el[i].strip() if len(el) > i else ""
        if not s:
            if required:
                self.problem("missing_amount", f"{self.sid}{i:02d} is blank; read as 0")
                return _ZERO
            return None
        if not _NUMBER.fullmatch(s):
            raise self.fail(self.sid, f"expected a number in {self.sid}{i:02d}")
        return Decimal(s)

    def day(self, value: str, what: str) -> date | None:
        v = value.strip()
        if not v:
            return None
        try:
            if len(v) != 8 or not v.isdigit():
                raise ValueError
            return date(int(v[:4]), int(v[4:6]), int(v[6:]))
        except ValueError:
            if self.remit is not None:
                self.problem("invalid_date", f"{what} is not a CCYYMMDD date; read as no date")
            return None

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
        services = tuple(line.freeze() for line in c.services)
        claim = ClaimPayment(c.pcn, c.status, c.charge, c.paid, c.patient, c.payer_claim, tuple(c.cas),
                             services, c.start, c.end, c.segment)
        # X221A1 claim balancing: charge = paid + every claim- and line-level CAS amount.
        adjusted = sum((a.amount for a in claim.adjustments), _ZERO) + sum(
            (a.amount for s in services for a in s.adjustments), _ZERO)
        if claim.charge != claim.paid + adjusted:
            self.problem("unbalanced_claim", f"claim {len(r.claims) + 1} of the remittance does not balance: "
                         f"charge {claim.charge} ≠ paid {claim.paid} + adjustments {adjusted}",
                         severity="error", segment=c.segment, sid="CLP")
        r.claims.append(claim)
        self.claim = None
        self.line = None

    # -- segments ----------------------------------------------------------------------------------

    def interchange(self, seps: Separators, isa: list[str]) -> None:
        self.e, self.c, self.r = seps.element, seps.component, seps.repetition
        self.in_interchange = True
        self.sid = "ISA"

    def segment(self, raw: str) -> Generator[Remittance, None, bool]:
        """Handle one segment; yields the remittance its SE completes. Returns True at IEA."""
        el = raw.split(self.e)
        sid = self.sid = el[0].strip().upper()
        remit = self.remit
        if sid == "IEA":
            if remit is not None:
                raise self.fail(sid, "expected an SE segment before IEA")
            self.in_interchange = False
            return True
        if sid in ("GS", "GE"):
            if remit is not None:
                raise self.fail(sid, "expected an SE segment first")
            return False
        if sid == "ISA":
            raise self.fail(sid, "expected an IEA segment before the next ISA")
        if sid == "ST":
            if remit is not None:
                raise self.fail(sid, "expected an SE segment before the next ST")
            if len(el) < 3 or el[1].strip() != "835":
                raise self.fail(sid, "expected ST*835 (this is not a remittance advice)")
            self.remit = _Remit(el[2].strip(), self.number)
            return False
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
            yield Remittance(remit.control, remit.payer_name, remit.payer_id, remit.payee_name, remit.payee_qual,
                             remit.payee_id, remit.payee_npi, tuple(remit.payee_refs), remit.amount,
                             remit.credit_debit, remit.method, remit.date, remit.trace, tuple(remit.claims),
                             tuple(remit.plb), tuple(remit.problems), remit.segment)
            return False
        handler = _HANDLERS.get(sid)
        if handler is not None:
            handler(self, el, remit)
        return False

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

    def seg_ref(self, el: list[str], remit: _Remit) -> None:
        qual = _at(el, 1).upper()
        if self.line is not None:
            if qual == "6R":
                self.line.ref6r = _at(el, 2)
        elif self.claim is None:
            if remit.party == "PR" and qual == "2U":
                remit.payer_id = _at(el, 2)
            elif remit.party == "PE":
                remit.payee_refs.append((qual, _at(el, 2)))

    def seg_lx(self, el: list[str], remit: _Remit) -> None:
        self.close_claim()

    def seg_clp(self, el: list[str], remit: _Remit) -> None:
        self.close_claim()
        c = _Claim(self.number)
        c.pcn = _at(el, 1)
        c.status = _at(el, 2)
        c.charge = self.amount(el, 3) or _ZERO
        c.paid = self.amount(el, 4) or _ZERO
        c.patient = self.amount(el, 5, required=False) or _ZERO
        c.payer_claim = _at(el, 7)
        self.claim = c

    def seg_cas(self, el: list[str], remit: _Remit) -> None:
        target = self.line.cas if self.line is not None else self.claim.cas if self.claim is not None else None
        if target is None:
            raise self.fail("CAS", "expected a CLP or SVC segment before CAS")
        group = _at(el, 1).upper()
        if not group:
            raise self.fail("CAS", "expected a claim adjustment group code in CAS01")
        for i in range(2, 20, 3):  # up to six reason/amount/quantity triplets
            reason = _at(el, i)
            if not reason:
                continue
            amount = self.amount(el, i + 1)
            assert amount is not None
            target.append(Adjustment(group, reason.upper(), amount, self.amount(el, i + 2, required=False)))

    def seg_svc(self, el: list[str], remit: _Remit) -> None:
        if self.claim is None:
            raise self.fail("SVC", "expected a CLP segment before SVC")
        line = _Line(self.number, self.procedure(_at(el, 1)))
        line.charge = self.amount(el, 2) or _ZERO
        line.paid = self.amount(el, 3) or _ZERO
        line.units = self.amount(el, 5, required=False) or _ONE
        line.original = self.procedure(_at(el, 6)) if _at(el, 6) else None
        self.claim.services.append(line)
        self.line = line

    def seg_dtm(self, el: list[str], remit: _Remit) -> None:
        qual = _at(el, 1)
        if self.line is not None:
            if qual in ("472", "150", "151"):
                setattr(self.line, "d" + qual, self.day(_at(el, 2), f"DTM*{qual} service date"))
        elif self.claim is not None:
            if qual == "232":
                self.claim.start = self.day(_at(el, 2), "DTM*232 statement start date")
            elif qual == "233":
                self.claim.end = self.day(_at(el, 2), "DTM*233 statement end date")

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


_HANDLERS = {name[4:].upper(): fn for name, fn in vars(_Reader).items() if name.startswith("seg_")}
