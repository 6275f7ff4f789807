"""X12 envelope pieces shared by the 837P writer and reader.

Separators, control numbers, the ISA/GS/ST/SE/GE/IEA segments, amount and date formatting, and
element cleaning. Cleaning follows one rule: **text** (names, addresses) is upper-cased and any
character that is a separator in use or outside the X12 basic/extended character set is replaced
(accented letters become plain letters) or removed, each change reported as a warning that names
the claim and the element, never the value; an **identifier** (NPI, member ID, payer ID, claim ID,
codes) is never changed: a bad character there raises :class:`X12Error`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from otbill_xl.errors import OtbillError

#: Implementation guide of the 837 professional claim written here.
VERSION_837P = "005010X222A1"

from otbill_xl.domain.x12_charset import (  # noqa: E402
    BASIC_CHARACTERS,
    EXTENDED_CHARACTERS,
    INTERCHANGE_QUALIFIERS,
    LOWER_CASE,
    digits_only,  # noqa: F401 - the writers take it from here with the other element helpers
)


class X12Error(OtbillError, ValueError):
    """The data cannot make a valid X12 file. The message names the claim id (or the practice
    setting) and the element at fault, never patient data."""


@dataclass(frozen=True)
class Separators:
    """Delimiters of an interchange: ISA byte 4 (element), ISA11 (repetition), ISA16 (component)
    and the character after ISA16 (segment terminator)."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    def __post_init__(self) -> None:
        chars = (self.element, self.component, self.repetition, self.segment)
        for ch in chars:
            if len(ch) != 1 or not ch.isascii() or ch.isalnum() or ch == " ":
                raise X12Error(f"X12 separators must be single ASCII characters other than letters, digits "
                               f"and space; got {ch!r}")
        if len(set(chars)) != 4:
            raise X12Error(f"X12 separators must all differ; got {chars!r}")


@dataclass(frozen=True)
class ControlNumbers:
    """ISA13 / GS06 / ST02 control numbers, taken from the ledger and never reused."""

    interchange: int
    group: int
    transaction: int


# --------------------------------------------------------------------------------------------------
# Formatting


_CENT = Decimal("0.01")
_AMOUNTS: dict[Decimal, str] = {}
_DATES: dict[date, str] = {}


def format_amount(value: Decimal, where: str) -> str:
    """A money amount as an X12 ``R`` value: no float, no exponent, no trailing zeros after the
    cents (``130``, ``130.5``, ``130.55``). Sub-cent and negative amounts raise :class:`X12Error`."""
    if type(value) is Decimal:
        hit = _AMOUNTS.get(value)
        if hit is not None:
            return hit
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise X12Error(f"{where}: amount must be a Decimal, not {type(value).__name__}")
    dec = Decimal(value)
    if not dec.is_finite():
        raise X12Error(f"{where}: amount is not a number")
    if dec < 0:
        raise X12Error(f"{where}: amount is negative")
    try:
        q = dec.quantize(_CENT)
    except InvalidOperation:
        raise X12Error(f"{where}: amount is too large") from None
    if q != dec:
        raise X12Error(f"{where}: amount has fractions of a cent (round it to cents first)")
    text = format(q, "f")
    if text.endswith(".00"):
        text = text[:-3]
    elif text.endswith("0"):
        text = text[:-1]
    if len(text.replace(".", "")) > 18:
        raise X12Error(f"{where}: amount is too large")
    if len(_AMOUNTS) < 100_000:
        _AMOUNTS[dec] = text
    return text


def format_quantity(value: Decimal | int, where: str) -> str:
    """A quantity (units) as an X12 ``R`` value; it must be positive."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise X12Error(f"{where}: units must be more than 0")
        return str(value)
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise X12Error(f"{where}: units must be a positive number")
    text = format(value.normalize(), "f")
    if len(text.replace(".", "")) > 15:
        raise X12Error(f"{where}: units value is too long")
    return text


def format_date(value: date) -> str:
    """CCYYMMDD (X12 ``DT`` with 8 digits, qualifier D8)."""
    try:
        return _DATES[value]
    except KeyError:
        text = f"{value.year:04d}{value.month:02d}{value.day:02d}"
        if len(_DATES) < 50_000:
            _DATES[value] = text
        return text


# --------------------------------------------------------------------------------------------------
# Element cleaning


@lru_cache(maxsize=16)
def _patterns(separators: Separators) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(characters not allowed in upper-cased text, characters not allowed in identifiers)."""
    used = {separators.element, separators.component, separators.repetition, separators.segment}
    text_ok = (BASIC_CHARACTERS | EXTENDED_CHARACTERS) - used
    id_ok = text_ok | LOWER_CASE
    return (re.compile("[^" + re.escape("".join(sorted(text_ok))) + "]"),
            re.compile("[^" + re.escape("".join(sorted(id_ok))) + "]"))


class ElementCleaner:
    """Cleans text elements (with warnings) and checks identifiers (raising) for one file."""

    def __init__(self, separators: Separators) -> None:
        self.separators = separators
        self._bad_text, self._bad_id = _patterns(separators)
        self._used = {separators.element, separators.component, separators.repetition, separators.segment}
        self._warnings: dict[str, None] = {}  # insertion-ordered, each message once
        self._texts: dict[tuple, str] = {}

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

    @property
    def warning_count(self) -> int:
        return len(self._warnings)

    def warn(self, message: str) -> None:
        self._warnings[message] = None

    def text(self, value: str | None, owner: str, where: str, *, max_len: int, required: bool = False,
             min_len: int = 1) -> str:
        """Upper-cased text element; forbidden characters replaced or removed (reported)."""
        # Names and addresses repeat across a file's claims: reuse a result that needed no change
        # (anything cleaned, cut or refused goes through the full path, so each claim is reported).
        key = (value, max_len, min_len)
        hit = self._texts.get(key)
        if hit is not None:
            return hit
        s = self._text(value, owner, where, max_len=max_len, required=required, min_len=min_len)
        if s and s == (value or "").strip().upper():
            self._texts[key] = s
        return s

    def _text(self, value: str | None, owner: str, where: str, *, max_len: int, required: bool,
              min_len: int) -> str:
        s = (value or "").strip().upper()
        if self._bad_text.search(s):
            s = self._clean(s, owner, where)
        if not s:
            if required:
                raise X12Error(f"{owner}: {where} is blank")
            return ""
        if len(s) < min_len:
            raise X12Error(f"{owner}: {where} is too short (at least {min_len} characters)")
        if len(s) > max_len:
            s = s[:max_len].rstrip()
            self.warn(f"{owner}: {where} cut to {max_len} characters (the X12 maximum)")
        return s

    def _clean(self, s: str, owner: str, where: str) -> str:
        bad = self._bad_text
        out: list[str] = []
        replaced = 0
        separators: set[str] = set()
        removed = 0
        for ch in s:
            if not bad.match(ch):
                out.append(ch)
            elif ch in self._used:
                separators.add(ch)
                out.append(" ")
            elif ch.isspace():
                out.append(" ")
            else:
                plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii").upper()
                plain = bad.sub("", plain)
                if plain:
                    out.append(plain)
                    replaced += 1
                else:
                    removed += 1
        cleaned = " ".join("".join(out).split())
        parts = []
        if separators:
            parts.append("removed X12 separator " + " ".join(repr(c) for c in sorted(separators)))
        if replaced:
            parts.append(f"replaced {replaced} accented or non-ASCII letter(s) with plain letters")
        if removed:
            parts.append(f"removed {removed} character(s) outside the X12 character set")
        if not parts:
            parts.append("replaced tabs or line breaks with spaces")
        self.warn(f"{owner}: {where}: " + "; ".join(parts))
        return cleaned

    def ident(self, value: str | None, owner: str, where: str, *, max_len: int = 80, min_len: int = 1,
              required: bool = True) -> str:
        """An identifier, never changed: blank (when required), bad characters or bad length raise."""
        s = (value or "").strip()
        if not s:
            if required:
                raise X12Error(f"{owner}: {where} is blank")
            return ""
        if self._bad_id.search(s):
            raise X12Error(f"{owner}: {where} contains a character that cannot be sent in X12 (a separator "
                           f"or a character outside the X12 character set); correct the identifier")
        if not min_len <= len(s) <= max_len:
            raise X12Error(f"{owner}: {where} must have {min_len} to {max_len} characters, it has {len(s)}")
        return s


# --------------------------------------------------------------------------------------------------
# Envelope segments


def control_number(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999_999_999:
        raise X12Error(f"{what} control number must be a whole number from 1 to 999999999")
    return value


def isa_segment(*, sender_qualifier: str, sender_id: str, receiver_qualifier: str, receiver_id: str,
                created: datetime, interchange: int, usage: str, separators: Separators) -> str:
    """The fixed-width ISA segment (106 characters with its terminator)."""
    e = separators.element
    for what, val, size in (("interchange sender qualifier (ISA05)", sender_qualifier, 2),
                            ("interchange sender ID (ISA06)", sender_id, 15),
                            ("interchange receiver qualifier (ISA07)", receiver_qualifier, 2),
                            ("interchange receiver ID (ISA08)", receiver_id, 15)):
        if not val or len(val) > size:
            raise X12Error(f"practice settings: {what} must have 1 to {size} characters")
    for what, val in (("interchange sender qualifier (ISA05)", sender_qualifier),
                      ("interchange receiver qualifier (ISA07)", receiver_qualifier)):
        if val not in INTERCHANGE_QUALIFIERS:
            raise X12Error(f"practice settings: {what} must be one of {', '.join(INTERCHANGE_QUALIFIERS)} "
                           "(ZZ = mutually defined, what most clearinghouses use)")
    if usage not in ("T", "P"):
        raise X12Error("practice settings: usage indicator (ISA15) must be T (test) or P (production)")
    control_number(interchange, "interchange (ISA13)")
    seg = e.join(("ISA", "00", " " * 10, "00", " " * 10, sender_qualifier, sender_id.ljust(15),
                  receiver_qualifier, receiver_id.ljust(15), created.strftime("%y%m%d"),
                  created.strftime("%H%M"), separators.repetition, "00501", f"{interchange:09d}", "0",
                  usage, separators.component)) + separators.segment
    assert len(seg) == 106, len(seg)
    return seg[:-1]


def gs_segment(*, sender: str, receiver: str, created: datetime, group: int, separators: Separators,
               version: str = VERSION_837P) -> str:
    control_number(group, "group (GS06)")
    return separators.element.join(("GS", "HC", sender, receiver, created.strftime("%Y%m%d"),
                                    created.strftime("%H%M"), str(group), "X", version))


def st_control(transaction: int) -> str:
    """ST02: 4 to 9 digits."""
    return f"{control_number(transaction, 'transaction set (ST02)'):04d}"


def st_segment(transaction: int, separators: Separators, *, code: str = "837",
               version: str = VERSION_837P) -> str:
    return separators.element.join(("ST", code, st_control(transaction), version))


def se_segment(count: int, transaction: int, separators: Separators) -> str:
    return separators.element.join(("SE", str(count), st_control(transaction)))


def ge_segment(group: int, separators: Separators, *, transactions: int = 1) -> str:
    return separators.element.join(("GE", str(transactions), str(group)))


def iea_segment(interchange: int, separators: Separators, *, groups: int = 1) -> str:
    return separators.element.join(("IEA", str(groups), f"{interchange:09d}"))


def parse_isa(text: str) -> tuple[Separators, list[str], int]:
    """Separators and elements of the ISA at the start of ``text`` (BOM and leading whitespace
    already removed), and the index just past the ISA's segment terminator.

    Works for the standard fixed-width ISA and for one whose elements were not padded."""
    if not text.startswith("ISA") or len(text) < 16:
        raise ValueError("the data does not start with an ISA segment")
    e = text[3]
    pos = 3  # the first element separator
    for _ in range(15):
        pos = text.find(e, pos + 1)
        if pos < 0:
            raise ValueError("the ISA segment has fewer than 16 elements")
    # pos is the 16th element separator; ISA16 (component separator) and the terminator follow.
    if pos + 2 >= len(text):
        raise ValueError("the ISA segment is cut short (no ISA16 or no segment terminator)")
    component = text[pos + 1]
    segment = text[pos + 2]
    elements = text[:pos + 2].split(e)
    repetition = elements[11] if len(elements) > 11 and len(elements[11]) == 1 else "^"
    if repetition in (e, component, segment) or repetition.isalnum():
        repetition = next(c for c in "^|!{" if c not in (e, component, segment))
    seps = Separators(element=e, component=component, repetition=repetition, segment=segment)
    return seps, elements, pos + 3
