"""Money is :class:`decimal.Decimal`, quantised to cents with ROUND_HALF_UP where payers round."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: The largest amount (per unit or per line) otbill prices or bills, and the most units on one line:
#: the bounds the workbook reader enforces on cells. Arithmetic on anything larger could overflow
#: the 28-digit decimal context (1e30 units x a rate cannot be rounded to cents), so the domain
#: refuses such values itself too, with a finding, whatever reader handed them over.
MAX_AMOUNT = Decimal("9999999.99")
MAX_UNITS = 999


def in_range(amount: Decimal) -> bool:
    """``amount`` is a finite amount no larger than :data:`MAX_AMOUNT` either way."""
    return amount.is_finite() and -MAX_AMOUNT <= amount <= MAX_AMOUNT


def cents(amount: Decimal) -> Decimal:
    """Round to cents the way payers do on a line: half a cent rounds up (ROUND_HALF_UP)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_money(value: object) -> Decimal:
    """Convert a cell value to Decimal money.

    Floats go through ``repr`` (the shortest string that round-trips), so 123.45 stays 123.45
    rather than becoming 123.4500000000000028421709430404007434844970703125. Text may carry a
    dollar sign, thousands separators, or accounting parentheses for negatives.
    Raises ``ValueError`` when the value is not an amount.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a true/false value is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite amount")
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("$", "").replace(" ", "")
        negative = text.startswith("(") and text.endswith(")")
        if negative:
            text = text[1:-1]
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError("not an amount") from None
        if not amount.is_finite():
            raise ValueError("not a finite amount")
        return -amount if negative else amount
    raise ValueError("not an amount")
