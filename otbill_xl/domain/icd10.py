"""ICD-10-CM diagnosis code structure check (not a code-set lookup).

A code has 3 to 7 characters: a letter first, a digit second, letters or digits after that. On
paper a dot follows the third character (``M25.511``); on the 837P the code goes without the dot
(``M25511``). Codes that need a 7th character fill empty positions with the placeholder ``X``
(``S52.5XXA``). Source: ``ot-billing-facts.md`` §7 (ICD-10-CM Official Guidelines §I.A).

This only checks the shape: a well-formed code may still not exist or not be valid on the date of
service (CARC 146). Same small API as python-stdnum: ``compact``, ``validate``, ``is_valid``,
``format``.
"""

from __future__ import annotations

from otbill_xl.errors import OtbillError


class InvalidICD10(OtbillError, ValueError):
    """The value is not a well-formed ICD-10-CM code; the message says why."""


_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def compact(code: str) -> str:
    """Upper case, without spaces and without the dot: ``"m25.511 "`` -> ``"M25511"``."""
    return str(code).replace(" ", "").replace(".", "").strip().upper()


def validate(code: str) -> str:
    """Return the compact code or raise :class:`InvalidICD10` saying what is wrong.

    The dot is optional; when present it must come right after the third character and be
    followed by at least one character.
    """
    text = str(code).replace(" ", "").strip().upper()
    if not text:
        raise InvalidICD10("the diagnosis code is blank")
    if "." in text:
        if text.count(".") > 1 or text.index(".") != 3:
            raise InvalidICD10("the dot in an ICD-10-CM code goes after the 3rd character (e.g. M25.511)")
        if text.endswith("."):
            raise InvalidICD10("nothing follows the dot")
    value = text.replace(".", "")
    if not 3 <= len(value) <= 7:
        raise InvalidICD10(f"an ICD-10-CM code has 3 to 7 characters, this one has {len(value)}")
    if not ("A" <= value[0] <= "Z"):
        raise InvalidICD10("an ICD-10-CM code starts with a letter (ICD-9 codes are not accepted)")
    if not value[1].isdigit():
        raise InvalidICD10("the 2nd character of an ICD-10-CM code is a digit")
    if any(ch not in _ALNUM for ch in value[2:]):
        raise InvalidICD10("an ICD-10-CM code holds only letters and digits (and one dot)")
    return value


def is_valid(code: str) -> bool:
    """True when ``code`` has the structure of an ICD-10-CM code (with or without the dot)."""
    try:
        validate(code)
    except InvalidICD10:
        return False
    return True


def format(code: str) -> str:  # noqa: A001 - python-stdnum naming
    """The printed form with the dot after the third character: ``"M25511"`` -> ``"M25.511"``."""
    value = compact(code)
    return value if len(value) <= 3 else f"{value[:3]}.{value[3:]}"
