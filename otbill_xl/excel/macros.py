"""Ribbon actions. Each is a thin wrapper: wrap the open book in the live port, run the action that
the CLI runs on files, report back. The ribbon XML/VBA calls these with ``RunPython``."""

from __future__ import annotations

from datetime import date
from typing import Any

from otbill_xl.workbook.check import CheckOutcome, check_charges
from otbill_xl.workbook.live import LiveWorkbook
from otbill_xl.workbook.port import WorkbookPort
from otbill_xl.workbook.price import PriceOutcome, price_charges


def check_charges_action(port: WorkbookPort, today: date) -> CheckOutcome:
    """"Check charges": annotate the book in place (fills, notes, Findings and Check Summary sheets)."""
    return check_charges(port, as_of=today)


def check_charges_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon button (``RunPython "import otbill_xl.excel.macros as m; m.check_charges_button()"``)."""
    import xlwings as xw

    book = book or xw.Book.caller()
    outcome = check_charges_action(LiveWorkbook(book), date.today())
    s = outcome.summary
    book.app.alert(f"{s['lines_checked']} lines checked: {s['errors']} errors, {s['warnings']} warnings, "
                   f"{s['infos']} infos. See the Findings sheet.", title="otbill")


def price_charges_action(port: WorkbookPort, today: date) -> PriceOutcome:
    """"Price charges": Pricing and Pricing Totals sheets in the open book, problems marked on cells."""
    return price_charges(port, as_of=today)


def price_charges_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's Price charges button."""
    import xlwings as xw

    book = book or xw.Book.caller()
    outcome = price_charges_action(LiveWorkbook(book), date.today())
    total = sum((t.expected_payer_payment for t in outcome.result.totals), start=0)
    book.app.alert(f"{len(outcome.result.lines)} lines priced; expected payer payments {total:,.2f}. "
                   "See the Pricing and Pricing Totals sheets.", title="otbill")
