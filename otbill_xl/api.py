"""The public API as plain functions: each reads a workbook file, runs one job and returns its outcome
object (the same objects the CLI, the ribbon and batch use). Nothing here writes a file unless asked:
``check`` and ``price`` return outcomes (call ``save_copy`` on the outcome's port to keep an annotated
copy), ``claims`` bills only when ``dry_run=False``.

    import otbill_xl
    outcome = otbill_xl.check("practice.xlsx", as_of=date(2026, 11, 27))
    outcome.to_dict()["summary"]
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from otbill_xl.actions.check import CheckOutcome
    from otbill_xl.actions.claims import ClaimsOutcome
    from otbill_xl.actions.price import PriceOutcome


def _port_and_overrides(workbook: str | Path, columns: str | Path | None):
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.mapping import overrides_from_toml

    return FileWorkbook(workbook), (overrides_from_toml(Path(columns)) if columns else None)


def check(workbook: str | Path, *, as_of: date | None = None, columns: str | Path | None = None) -> CheckOutcome:
    """Scrub the workbook's charge lines (every rule of :data:`otbill_xl.domain.scrub.RULES`) as of
    ``as_of`` (default today): findings per cell, units computed for blank Units cells."""
    from otbill_xl.actions.check import check_charges

    port, overrides = _port_and_overrides(workbook, columns)
    return check_charges(port, as_of=as_of or date.today(), overrides=overrides)


def price(workbook: str | Path, *, as_of: date | None = None, columns: str | Path | None = None) -> PriceOutcome:
    """Expected allowed amount, payer payment and patient share of every line (Decimal, to the cent)."""
    from otbill_xl.actions.price import price_charges

    port, overrides = _port_and_overrides(workbook, columns)
    return price_charges(port, as_of=as_of or date.today(), overrides=overrides)


def claims(workbook: str | Path, *, out_dir: str | Path, as_of: date | None = None, dry_run: bool = True,
           ledger: str | Path | None = None, group: str = "visit", strict: bool = False,
           columns: str | Path | None = None) -> ClaimsOutcome:
    """837P claims for the clean, not-yet-billed lines. A **dry run by default** for library callers:
    pass ``dry_run=False`` to write the files and record them in the submitter's ledger (or ``ledger``)."""
    from otbill_xl.actions.claims import create_claims
    from otbill_xl.ledger import LedgerChoice

    port, overrides = _port_and_overrides(workbook, columns)
    return create_claims(port, out_dir=Path(out_dir), ledger=LedgerChoice(ledger or None,
                                                                          Path(out_dir)),
                         as_of=as_of or date.today(), created=datetime.now(), group=group, strict=strict,
                         dry_run=dry_run, overrides=overrides)


def units(lines: list[dict[str, Any]], *, rule: str = "cms") -> dict[str, Any]:
    """Billable units of one visit's lines (``[{"code": "97110", "minutes": 38}, ...]``) under the CMS
    8-minute rule (``"cms"``) or the AMA per-code rule (``"ama"``); the same JSON as ``otbill units``."""
    import json

    from otbill_xl.formats.units_json import units_from_json

    return units_from_json(json.dumps({"rule": rule, "lines": lines}))
