"""Ribbon actions. Each is a thin wrapper: wrap the open book in the live port, run the action that
the CLI runs on files, report back. The ribbon XML/VBA calls these with ``RunPython``."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from otbill_xl.actions.check import CheckOutcome, check_charges
from otbill_xl.actions.claims import ClaimsOutcome, create_claims
from otbill_xl.actions.price import PriceOutcome, price_charges
from otbill_xl.actions.reconcile import ReconcileOutcome
from otbill_xl.workbook.live import LiveWorkbook
from otbill_xl.workbook.port import WorkbookPort


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


def create_claims_action(port: WorkbookPort, out_dir: Path, ledger_path: Path | None, today: date,
                         now: datetime) -> ClaimsOutcome:
    """"Create claims": 837P files into ``out_dir`` (beside the workbook by default), ClaimID/Status
    filled in the open book, and Claims / Held Back summary sheets. The ledger is the submitter's
    (see :mod:`otbill_xl.ledger.location`) unless ``ledger_path`` names one."""
    from otbill_xl.ledger import LedgerChoice

    return create_claims(port, out_dir=out_dir, ledger=LedgerChoice(ledger_path, out_dir), as_of=today,
                         created=now, command="excel")


def create_claims_button(book: Any = None, out_dir: str | None = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's Create claims button: files go next to the workbook."""
    import xlwings as xw

    book = book or xw.Book.caller()
    folder = Path(out_dir) if out_dir else Path(book.fullname).parent
    outcome = create_claims_action(LiveWorkbook(book), folder, None, date.today(),
                                   datetime.now())
    book.app.alert(f"{len(outcome.assembly.claims)} claims ({outcome.lines_billed} lines) in {len(outcome.files)} "
                   f"file(s) in {folder}; {len(outcome.assembly.held_back)} lines held back — see the Claims and "
                   "Held Back sheets.", title="otbill")


#: The Practice setting naming the remittance file (or folder of 835/CSV files) the Reconcile
#: payments button reads; without it the button asks with a file dialog.
REMIT_SETTING = "RemittancePath"


def remittance_files(setting: str, base: Path) -> list[Path]:
    """The remittance files a ``RemittancePath`` setting names: a file, or every ``*.835``/``*.txt``/
    ``*.csv`` file of a folder (sorted by name, so the order is the same on every run). A relative
    path is taken from the workbook's folder."""
    path = Path(setting.strip()).expanduser()
    if not path.is_absolute():
        path = base / path
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".835", ".txt", ".csv", ".era"))
    return [path]


def reconcile_payments_action(port: WorkbookPort, remits: list[Path], ledger_path: Path | None, today: date,
                              now: datetime) -> ReconcileOutcome:
    """"Reconcile payments": the remittances posted into the open book's Payments sheet (once: the
    ledger remembers), and the Reconciliation, Exceptions, Denials and AR Aging sheets written."""
    from otbill_xl.actions.pipeline import Pipeline
    from otbill_xl.actions.reconcile import RemitFile, reconcile_payments
    from otbill_xl.ledger import LedgerChoice
    from otbill_xl.ledger.location import open_ledger

    pipeline = Pipeline(port, as_of=today, prices=True, skip=frozenset())
    ledger, _notes = open_ledger(LedgerChoice(ledger_path).locate(pipeline.book.practice))
    try:
        ledger.resolve_pending_postings()
        files = [RemitFile(p.name, p.read_bytes()) for p in remits]
        return reconcile_payments(port, files, as_of=today, posted_at=now, ledger=ledger, pipeline=pipeline)
    finally:
        ledger.close()


def reconcile_payments_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's Reconcile payments button: the files of the Practice setting
    ``RemittancePath``, else the ones picked in a file dialog."""
    import xlwings as xw

    book = book or xw.Book.caller()
    port = LiveWorkbook(book)
    base = Path(book.fullname).parent
    from otbill_xl.actions.pipeline import Pipeline

    setting = Pipeline(port, as_of=date.today()).book.practice.extra.get(REMIT_SETTING, "")
    if setting:
        remits = remittance_files(setting, base)
    else:
        picked = book.app.api.GetOpenFilename("Remittances (*.835;*.txt;*.csv),*.835;*.txt;*.csv", 1,
                                              "Choose the 835 or CSV remittance files", None, True)
        remits = [Path(p) for p in (picked if isinstance(picked, (list, tuple)) else [picked])
                  if p and p is not False]
    if not remits:
        return
    outcome = reconcile_payments_action(port, remits, None, date.today(), datetime.now())
    counts = outcome.result.counts()
    book.app.alert(f"{outcome.posted_rows} Payments rows posted; {counts['paid']} lines paid, {counts['denied']} "
                   f"denied, {counts['underpaid']} underpaid, {len(outcome.result.exceptions)} exceptions — see the "
                   "Reconciliation, Exceptions, Denials and AR Aging sheets.", title="otbill")
