"""US federal Employer Identification Number (EIN / TIN) format check.

An EIN has 9 digits, written ``NN-NNNNNNN`` (the 837P sends the 9 digits without the dash, REF*EI).
Only the format is checked: whether the IRS issued the number cannot be known offline. Same small
API as python-stdnum: ``compact``, ``validate``, ``is_valid``, ``format``.
"""

from __future__ import annotations

import re

from otbill_xl.errors import OtbillError


class InvalidTaxID(OtbillError, ValueError):
    """The value is not a well-formed EIN; the message says why."""


_FORMAT = re.compile(r"^(\d{9}|\d{2}-\d{7})$")


def compact(number: str) -> str:
    """Strip spaces and dashes: ``"12-3456789"`` -> ``"123456789"``."""
    return "".join(ch for ch in str(number) if ch not in " -").strip()


def validate(number: str) -> str:
    """Return the 9 digits or raise :class:`InvalidTaxID` saying what is wrong.

    Accepted: ``NN-NNNNNNN`` or 9 digits (surrounding spaces ignored).
    """
    text = str(number).strip()
    if not text:
        raise InvalidTaxID("the tax ID is blank")
    digits = compact(text)
    if not digits.isdigit():
        raise InvalidTaxID("an EIN has digits only (NN-NNNNNNN)")
    if len(digits) != 9:
        hint = " (a leading zero lost when the cell was typed as a number?)" if len(digits) == 8 else ""
        raise InvalidTaxID(f"an EIN has 9 digits, this one has {len(digits)}{hint}")
    if not _FORMAT.match(text):
        raise InvalidTaxID("write the EIN as NN-NNNNNNN or as 9 digits")
    return digits


def is_valid(number: str) -> bool:
    """True when ``number`` is written as an EIN (``NN-NNNNNNN`` or 9 digits)."""
    try:
        validate(number)
    except InvalidTaxID:
        return False
    return True


def format(number: str) -> str:  # noqa: A001 - python-stdnum naming
    """``"123456789"`` -> ``"12-3456789"``."""
    digits = compact(number)
    return f"{digits[:2]}-{digits[2:]}" if len(digits) == 9 else digits
