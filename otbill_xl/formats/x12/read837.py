"""837P reader: the claim data of a professional claim file, for round trips and for checking
files made elsewhere.

Separators come from the ISA segment (element separator after ``ISA``, component separator in
ISA16, segment terminator right after it). A byte-order mark, line breaks and indentation between
segments are ignored. Segments the reader does not need are skipped; other-payer (2320/2330) and
line-level provider loops do not overwrite claim-level values. Problems raise
:class:`X12ReadError` naming the segment number (ISA = 1) and segment id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from otbill_xl.errors import OtbillError
from otbill_xl.formats.x12.envelope import parse_isa

__all__ = ["Parsed837", "ParsedClaim", "ParsedLine", "X12ReadError", "read_837p"]

#: HI qualifiers that carry diagnoses: ICD-10 principal/other (ABK/ABF) and ICD-9 (BK/BF).
DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF"})
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class X12ReadError(OtbillError, ValueError):
    """The file cannot be read as an 837P; the message names the segment number and id."""


@dataclass(frozen=True)
class ParsedLine:
    code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal
    dos: date | None
    pointers: tuple[int, ...]
    #: REF*6R line item control number (the Charges LineID the writer sends; "" when absent).
    line_control_number: str = ""


@dataclass(frozen=True)
class ParsedClaim:
    claim_id: str
    total_charge: Decimal
    payer_id: str
    payer_name: str
    frequency: str
    pos: str
    diagnoses: tuple[str, ...]
    lines: tuple[ParsedLine, ...]
    original_claim_number: str
    prior_auth: str
    rendering_npi: str
    referring_npi: str
    subscriber_member_id: str = field(repr=False)
    patient_is_subscriber: bool = True


@dataclass(frozen=True)
class Parsed837:
    """``sender_id``/``receiver_id`` are the interchange IDs (ISA06/ISA08, padding removed); the
    control numbers are those of the first ISA, GS and ST; ``claims`` come from every ST.
    ``warnings`` lists irregularities that did not stop the reading."""

    sender_id: str
    receiver_id: str
    interchange_control: int
    group_control: int
    transaction_control: int
    usage_indicator: str
    claims: tuple[ParsedClaim, ...]
    #: Irregularities that did not stop the reading (e.g. an SE01 count that does not match).
    warnings: tuple[str, ...] = ()


class _Claim:
    """A claim being read (mutable until its loop ends)."""

    __slots__ = ("claim_id", "total", "ctx", "frequency", "pos", "diagnoses", "lines", "original",
                 "prior_auth", "rendering", "referring")

    def __init__(self, claim_id: str, total: Decimal, ctx: dict, pos: str, frequency: str) -> None:
        self.claim_id, self.total, self.ctx, self.pos, self.frequency = claim_id, total, ctx, pos, frequency
        self.diagnoses: list[str] = []
        self.lines: list[list] = []
        self.original = self.prior_auth = self.rendering = self.referring = ""

    def freeze(self) -> ParsedClaim:
        ctx = self.ctx
        return ParsedClaim(
            claim_id=self.claim_id, total_charge=self.total, payer_id=ctx["payer_id"],
            payer_name=ctx["payer_name"], frequency=self.frequency, pos=self.pos,
            diagnoses=tuple(self.diagnoses),
            lines=tuple(ParsedLine(*line) for line in self.lines if line[0] is not None),
            original_claim_number=self.original, prior_auth=self.prior_auth,
            rendering_npi=self.rendering, referring_npi=self.referring,
            subscriber_member_id=ctx["member_id"], patient_is_subscriber=ctx["is_subscriber"])


def _element(el: list[str], i: int) -> str:
    return el[i] if len(el) > i else ""


def read_837p(text: str) -> Parsed837:
    """Read an 837P interchange (see the module docstring)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.lstrip()
    try:
        seps, isa, start = parse_isa(text)
    except ValueError as exc:
        raise X12ReadError(f"segment 1 (ISA): {exc}") from None
    reader = _Reader(seps.element, seps.component)
    reader.isa(isa)
    number = 1
    e = seps.element
    handlers = reader.handlers
    for raw in text[start:].split(seps.segment):
        seg = raw.strip()
        if not seg:
            continue
        number += 1
        el = seg.split(e)
        handler = handlers.get(el[0])
        if reader.seen_iea:
            raise reader.fail(number, el[0], "data after the IEA segment")
        if handler is not None:
            handler(number, el[0], el)
    return reader.result(number)


class _Reader:
    def __init__(self, element: str, component: str) -> None:
        self.e, self.c = element, component
        self.sender = self.receiver = self.usage = ""
        self.interchange: int | None = None
        self.group: int | None = None
        self.transaction: int | None = None
        self.claims: list[ParsedClaim] = []
        self.hl: dict[str, dict] = {}
        self.ctx: dict | None = None
        self.state = "envelope"
        self.claim: _Claim | None = None
        self.line: list | None = None
        self.in_st = False
        self.st_start = 0
        self.seen_iea = False
        self.warnings: list[str] = []
        self.dates: dict[str, date] = {}
        self.numbers: dict[str, Decimal] = {}
        self.procedures: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.pointer_sets: dict[str, tuple[int, ...]] = {}
        self.handlers = {name[4:]: getattr(self, name) for name in dir(self) if name.startswith("seg_")}

    # -- helpers -----------------------------------------------------------------------------------

    def fail(self, n: int, sid: str, message: str) -> X12ReadError:
        return X12ReadError(f"segment {n} ({sid}): {message}")

    def number(self, n: int, sid: str, el: list[str], i: int, *, blank: Decimal | None = None) -> Decimal:
        s = el[i] if len(el) > i else ""
        hit = self.numbers.get(s)
        if hit is not None:
            return hit
        if not s and blank is not None:
            return blank
        if not _NUMBER.fullmatch(s):
            raise self.fail(n, sid, f"{sid}{i:02d} is not a number")
        hit = Decimal(s)
        if len(self.numbers) < 50_000:
            self.numbers[s] = hit
        return hit

    def control(self, n: int, sid: str, value: str) -> int:
        v = value.strip()
        if not v.isdigit():
            raise self.fail(n, sid, "the control number is not a whole number")
        return int(v)

    def day(self, n: int, sid: str, value: str) -> date:
        hit = self.dates.get(value)
        if hit is not None:
            return hit
        try:
            if len(value) != 8 or not value.isdigit():
                raise ValueError
            hit = self.dates[value] = date(int(value[:4]), int(value[4:6]), int(value[6:]))
            return hit
        except ValueError:
            raise self.fail(n, sid, "the date is not a valid CCYYMMDD date") from None

    def close_claim(self) -> None:
        if self.claim is not None:
            self.claims.append(self.claim.freeze())
        self.claim = None
        self.line = None

    # -- segments ----------------------------------------------------------------------------------

    def isa(self, el: list[str]) -> None:
        if len(el) < 17:
            raise X12ReadError("segment 1 (ISA): the ISA segment must have 16 elements")
        self.sender, self.receiver = el[6].strip(), el[8].strip()
        self.interchange = self.control(1, "ISA", el[13])
        self.usage = el[15].strip()

    def seg_ISA(self, n: int, sid: str, el: list[str]) -> None:
        raise self.fail(n, sid, "a second interchange in one file is not supported")

    def seg_GS(self, n: int, sid: str, el: list[str]) -> None:
        if _element(el, 1) != "HC":
            raise self.fail(n, sid, "not a health care claim group (GS01 must be HC)")
        if self.group is None:
            self.group = self.control(n, sid, _element(el, 6))

    def seg_ST(self, n: int, sid: str, el: list[str]) -> None:
        if _element(el, 1) != "837":
            raise self.fail(n, sid, f"transaction set {_element(el, 1)!r} is not an 837")
        if self.in_st:
            raise self.fail(n, sid, "ST inside an open transaction set (SE missing)")
        control = self.control(n, sid, _element(el, 2))
        if self.transaction is None:
            self.transaction = control
        self.in_st, self.st_start = True, n
        self.state, self.ctx, self.hl = "header", None, {}

    def seg_SE(self, n: int, sid: str, el: list[str]) -> None:
        if not self.in_st:
            raise self.fail(n, sid, "SE without ST")
        self.close_claim()
        count = n - self.st_start + 1
        if self.control(n, sid, _element(el, 1)) != count:
            self.warnings.append(f"segment {n} (SE): SE01 says {_element(el, 1)} segments, the transaction "
                                 f"set has {count}")
        self.in_st, self.state, self.ctx = False, "envelope", None

    def seg_IEA(self, n: int, sid: str, el: list[str]) -> None:
        if self.in_st:
            raise self.fail(n, sid, "IEA inside an open transaction set (SE missing)")
        self.seen_iea = True

    def seg_HL(self, n: int, sid: str, el: list[str]) -> None:
        if not self.in_st:
            raise self.fail(n, sid, "HL outside a transaction set")
        self.close_claim()
        level = _element(el, 3)
        if level == "22":
            self.ctx = {"payer_id": "", "payer_name": "", "member_id": "", "is_subscriber": True}
            self.hl[_element(el, 1)] = self.ctx
            self.state = "subscriber"
        elif level == "23":
            parent = self.hl.get(_element(el, 2))
            if parent is None:
                raise self.fail(n, sid, f"patient level's parent HL {_element(el, 2)!r} is not a subscriber level")
            self.ctx = dict(parent, is_subscriber=False)
            self.state = "patient"
        else:
            self.ctx = None
            self.state = "billing" if level == "20" else "other"

    def seg_SBR(self, n: int, sid: str, el: list[str]) -> None:
        if self.state in ("claim", "line"):
            self.state = "other payer"  # 2320 loop: its NM1s describe another payer/subscriber

    def seg_NM1(self, n: int, sid: str, el: list[str]) -> None:
        entity = _element(el, 1)
        if self.state == "subscriber" and self.ctx is not None:
            if entity == "IL":
                self.ctx["member_id"] = _element(el, 9)
            elif entity == "PR":
                self.ctx["payer_name"] = _element(el, 3)
                self.ctx["payer_id"] = _element(el, 9)
        elif self.state == "claim" and self.claim is not None:
            npi = _element(el, 9) if _element(el, 8) == "XX" else ""
            if entity == "82":
                self.claim.rendering = npi
            elif entity == "DN":
                self.claim.referring = npi

    def seg_CLM(self, n: int, sid: str, el: list[str]) -> None:
        self.close_claim()
        if self.ctx is None or self.state not in ("subscriber", "patient", "claim", "line", "other payer"):
            raise self.fail(n, sid, "CLM outside a subscriber (HL 22) or patient (HL 23) level")
        clm05 = _element(el, 5).split(self.c)
        self.claim = _Claim(_element(el, 1), self.number(n, sid, el, 2), self.ctx,
                            clm05[0], clm05[2] if len(clm05) > 2 else "")
        self.state = "claim"

    def seg_REF(self, n: int, sid: str, el: list[str]) -> None:
        if self.state == "claim" and self.claim is not None:
            qualifier = _element(el, 1)
            if qualifier == "F8":
                self.claim.original = _element(el, 2)
            elif qualifier == "G1":
                self.claim.prior_auth = _element(el, 2)
        elif self.state == "line" and self.line is not None and _element(el, 1) == "6R":
            self.line[6] = _element(el, 2)

    def seg_HI(self, n: int, sid: str, el: list[str]) -> None:
        if self.state != "claim" or self.claim is None:
            return
        items = iter(el[1:])
        for item in items:
            parts = item.split(self.c)
            if parts[0] not in DIAGNOSIS_QUALIFIERS:
                continue
            if len(parts) > 1:
                self.claim.diagnoses.append(parts[1])
            else:  # a qualifier and its code in separate elements (seen in parser test data)
                code = next(items, "")
                if code and self.c not in code:
                    self.claim.diagnoses.append(code)

    def seg_LX(self, n: int, sid: str, el: list[str]) -> None:
        if self.claim is None or self.state not in ("claim", "line", "other payer"):
            raise self.fail(n, sid, "service line (LX) outside a claim")
        self.line = [None, (), Decimal(0), Decimal(0), None, (), ""]
        self.claim.lines.append(self.line)
        self.state = "line"

    def seg_SV1(self, n: int, sid: str, el: list[str]) -> None:
        if self.state != "line" or self.line is None:
            raise self.fail(n, sid, "SV1 outside a service line loop (LX missing)")
        size = len(el)
        composite = el[1] if size > 1 else ""
        procedure = self.procedures.get(composite)
        if procedure is None:
            parts = composite.split(self.c)
            procedure = self.procedures[composite] = (parts[1] if len(parts) > 1 else "",
                                                      tuple(m for m in parts[2:6] if m))
        raw = el[7] if size > 7 else ""
        pointers = self.pointer_sets.get(raw)
        if pointers is None:
            items = [p for p in raw.split(self.c) if p]
            if not all(p.isdigit() for p in items):
                raise self.fail(n, sid, "SV107 diagnosis pointer is not a number")
            pointers = self.pointer_sets[raw] = tuple(map(int, items))
        line = self.line
        line[0], line[1] = procedure
        line[2] = self.number(n, sid, el, 2)
        line[3] = self.number(n, sid, el, 4, blank=Decimal(0))
        line[5] = pointers

    def seg_DTP(self, n: int, sid: str, el: list[str]) -> None:
        if self.state == "line" and self.line is not None and _element(el, 1) == "472":
            value = _element(el, 3)
            if _element(el, 2) == "RD8":
                value = value.split("-")[0]
            self.line[4] = self.day(n, sid, value)

    def result(self, last: int) -> Parsed837:
        if self.in_st:
            raise X12ReadError(f"segment {last}: the file ends inside a transaction set (SE missing, "
                               f"file cut short?)")
        if self.transaction is None:
            raise X12ReadError(f"segment {last}: the file has no ST segment")
        if not self.seen_iea:
            raise X12ReadError(f"segment {last}: the file ends without an IEA segment (file cut short?)")
        return Parsed837(sender_id=self.sender, receiver_id=self.receiver,
                         interchange_control=self.interchange or 0, group_control=self.group or 0,
                         transaction_control=self.transaction, usage_indicator=self.usage,
                         claims=tuple(self.claims), warnings=tuple(self.warnings))
