"""National Provider Identifier (NPI) check digit.

An NPI has 10 digits, starts with 1 or 2, and its last digit is a Luhn (mod 10) check digit
computed over the number prefixed with ``80840`` (the ISO health-industry card issuer prefix).
Source: CMS NPI check-digit specification as restated in ``ot-billing-facts.md`` §7 (test values:
1234567893 valid, 1234567890 invalid). Same small API as python-stdnum: ``compact``,
``calc_check_digit``, ``validate``, ``is_valid``.
"""

from __future__ import annotations

from otbill_xl.errors import OtbillError


class InvalidNPI(OtbillError, ValueError):
    """The value is not a valid NPI; the message says why."""


def compact(number: str) -> str:
    """Strip spaces and dashes."""
    return "".join(ch for ch in str(number) if ch not in " -").strip()


def calc_check_digit(first_nine: str) -> str:
    """Check digit for the first nine digits of an NPI (Luhn over ``80840`` + digits)."""
    digits = "80840" + first_nine
    total = 0
    # Double every second digit from the right of the payload (the check digit's neighbour first).
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def validate(number: str) -> str:
    """Return the compact NPI or raise :class:`InvalidNPI` saying what is wrong."""
    npi = compact(number)
    if not npi:
        raise InvalidNPI("the NPI is blank")
    if not npi.isdigit():
        raise InvalidNPI("an NPI has digits only")
    if len(npi) != 10:
        raise InvalidNPI(f"an NPI has 10 digits, this one has {len(npi)}")
    if npi[0] not in "12":
        raise InvalidNPI("an NPI starts with 1 or 2")
    if calc_check_digit(npi[:9]) != npi[9]:
        raise InvalidNPI("the NPI check digit is wrong (typo?)")
    return npi


def is_valid(number: str) -> bool:
    """True when ``number`` is a well-formed NPI with a correct check digit."""
    try:
        validate(number)
    except InvalidNPI:
        return False
    return True
