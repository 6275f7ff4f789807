"""The practice's own charge for a line from its ChargeMaster: one definition, used by pricing
(the Charge column of a line left blank) and by claim assembly (the amount billed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal

from otbill_xl.domain.models import ChargeMasterEntry
from otbill_xl.domain.money import cents, in_range

ChargeMaster = Mapping[str, Sequence[ChargeMasterEntry]]


def charge_master_by_code(entries: Iterable[ChargeMasterEntry]) -> dict[str, list[ChargeMasterEntry]]:
    """The ChargeMaster as a plain dict: code → its entries, undated first, then oldest first."""
    by_code: dict[str, list[ChargeMasterEntry]] = {}
    for e in sorted(entries, key=lambda e: e.effective_from or date.min):
        by_code.setdefault(e.code, []).append(e)
    return by_code


def charge_master_charge(by_code: ChargeMaster, code: str, dos: date, units: int) -> Decimal | None:
    """The charge of ``units`` of ``code`` on ``dos``: the rate in effect that day (the latest entry
    dated on or before it, else an undated one) times the units, to the cent; None when the code has
    no rate that day or the rate is out of range."""
    entry = next((e for e in reversed(by_code.get(code, ())) if e.effective_from is None or e.effective_from <= dos),
                 None)
    if entry is None or not in_range(entry.charge_per_unit):
        return None
    return cents(entry.charge_per_unit * units)
