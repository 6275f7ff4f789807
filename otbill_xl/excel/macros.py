"""Ribbon actions. Each is a thin wrapper: wrap the open book in the live port, run the action that
the CLI runs on files, report back. The ribbon XML/VBA calls these with ``RunPython``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from otbill_xl.actions.check import CheckOutcome, check_charges
from otbill_xl.actions.claims import ClaimsOutcome, create_claims
from otbill_xl.actions.price import PriceOutcome, price_charges
from otbill_xl.actions.reconcile import ReconcileOutcome
from otbill_xl.errors import OtbillError
from otbill_xl.workbook.live import LiveWorkbook
from otbill_xl.workbook.port import WorkbookPort

if TYPE_CHECKING:
    from otbill_xl.actions.fee_schedule import FeeScheduleUpdate
    from otbill_xl.formats.fee_schedule_import import FeeScheduleRead


def check_charges_action(port: WorkbookPort, today: date) -> CheckOutcome:
    """"Check charges": annotate the book in place (fills, notes, Findings and Check Summary sheets)."""
    return check_charges(port, as_of=today)


def check_charges_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon button (``RunPython "import otbill_xl.excel.macros as m; m.check_charges_button()"``)."""
    import xlwings as xw

    book = book or xw.Book.caller()

    def work() -> str:
        s = check_charges_action(LiveWorkbook(book), date.today()).summary
        return (f"{s['lines_checked']} lines checked: {s['errors']} errors, {s['warnings']} warnings, "
                f"{s['infos']} infos. See the Findings sheet.")

    run_reported(ExcelUi(book), "otbill: checking the charges...", work)


def price_charges_action(port: WorkbookPort, today: date) -> PriceOutcome:
    """"Price charges": Pricing and Pricing Totals sheets in the open book, problems marked on cells."""
    return price_charges(port, as_of=today)


def price_charges_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's Price charges button."""
    import xlwings as xw

    book = book or xw.Book.caller()

    def work() -> str:
        outcome = price_charges_action(LiveWorkbook(book), date.today())
        total = sum((t.expected_payer_payment for t in outcome.result.totals), start=0)
        return (f"{len(outcome.result.lines)} lines priced; expected payer payments {total:,.2f}. "
                "See the Pricing and Pricing Totals sheets.")

    run_reported(ExcelUi(book), "otbill: pricing the charges...", work)


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

    def work() -> str:
        outcome = create_claims_action(LiveWorkbook(book), folder, None, date.today(), datetime.now())
        return (f"{len(outcome.assembly.claims)} claims ({outcome.lines_billed} lines) in {len(outcome.files)} "
                f"file(s) in {folder}; {len(outcome.assembly.held_back)} lines held back — see the Claims and "
                "Held Back sheets.")

    run_reported(ExcelUi(book), "otbill: creating the claims...", work)


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

    def work() -> str | None:
        setting = Pipeline(port, as_of=date.today()).book.practice.extra.get(REMIT_SETTING, "")
        if setting:
            remits = remittance_files(setting, base)
        else:
            picked = book.app.api.GetOpenFilename("Remittances (*.835;*.txt;*.csv),*.835;*.txt;*.csv", 1,
                                                  "Choose the 835 or CSV remittance files", None, True)
            remits = [Path(p) for p in (picked if isinstance(picked, (list, tuple)) else [picked])
                      if p and p is not False]
        if not remits:
            return None
        outcome = reconcile_payments_action(port, remits, None, date.today(), datetime.now())
        counts = outcome.result.counts()
        return (f"{outcome.posted_rows} Payments rows posted; {counts['paid']} lines paid, {counts['denied']} "
                f"denied, {counts['underpaid']} underpaid, {len(outcome.result.exceptions)} exceptions — see the "
                "Reconciliation, Exceptions, Denials and AR Aging sheets.")

    run_reported(ExcelUi(book), "otbill: reconciling the payments...", work)


# ------------------------------------------------------------------------------------------------
# How a button reports: counts in a message box, the CLI's clear message on an OtbillError (never a
# traceback), the status bar while it runs. Headless tests pass a fake ``ButtonUi``.
# ------------------------------------------------------------------------------------------------

class ButtonUi(Protocol):
    def alert(self, message: str) -> None: ...

    def status(self, text: str | None) -> None: ...


class ExcelUi:  # pragma: no cover - needs Excel
    """The open book's message box and status bar."""

    def __init__(self, book: Any) -> None:
        self.book = book

    def alert(self, message: str) -> None:
        self.book.app.alert(message, title="otbill")

    def status(self, text: str | None) -> None:
        self.book.app.status_bar = text  # None gives the status bar back to Excel


def run_reported(ui: ButtonUi, status: str, work: Callable[[], str | None]) -> bool:
    """Run ``work`` with ``status`` in the status bar and show the message it returns (``None``:
    nothing to say, e.g. a cancelled dialog). An :class:`OtbillError` shows the same text the CLI
    prints; any other exception a short note instead of a traceback. True when ``work`` succeeded."""
    ui.status(status)
    ok = False
    try:
        message = work()
        ok = True
    except OtbillError as exc:
        message = exc.text
    except Exception as exc:  # noqa: BLE001 - a dialog must never show a Python traceback
        # The type only: an exception's text may quote a cell (a patient's name or ID).
        message = (f"otbill stopped on an unexpected {type(exc).__name__}. Nothing more was changed; run the same "
                   "step with the otbill command on a copy of the workbook to see the details.")
    finally:
        ui.status(None)  # cleared before the message box, which waits for the biller
    if message:
        ui.alert(message)
    return ok


# ------------------------------------------------------------------------------------------------
# Import fee schedule
# ------------------------------------------------------------------------------------------------

class FeeRowsInError(OtbillError):
    """Rows of the fee-schedule file have errors and the biller has not (yet) said to import the rest."""

    def __init__(self, msg: str, errors: int, good: int) -> None:
        super().__init__(msg)
        self.errors, self.good = errors, good


def import_fee_schedule_action(port: WorkbookPort, file: Path, payer: str, *, partial: bool = False
                               ) -> tuple[FeeScheduleRead, FeeScheduleUpdate]:
    """"Import fee schedule": a payer's contracted rates (CSV or Excel) merged into the open book's
    FeeSchedule sheet, as ``otbill fee-schedule import FILE --payer KEY`` does to a copy. Rows in error
    stop it (:class:`FeeRowsInError`) unless ``partial`` (then their codes keep their current rates)."""
    from otbill_xl.actions.fee_schedule import import_fee_schedule
    from otbill_xl.formats.fee_schedule_import import read_fee_schedule

    read = read_fee_schedule(file, payer=payer)
    if not read.entries:
        raise OtbillError(f"{read.file}: no usable rows for payer {read.payer!r}. "
                          + "; ".join(str(f) for f in read.errors[:3]))
    if read.errors and not partial:
        n = len(read.errors)
        raise FeeRowsInError(f"{read.file}: {n} row{'s' * (n != 1)} had errors, so nothing was imported:\n"
                             + "\n".join(str(f) for f in read.errors[:5]), n, len(read.entries))
    update = import_fee_schedule(port, read.entries, payer=read.payer, protect=read.rejected_codes)
    return read, update


def fee_import_message(read: FeeScheduleRead, update: FeeScheduleUpdate) -> str:
    u = update
    return (f"{len(read.entries)} rates for {read.payer} read from {read.file}"
            + (f" ({len(read.errors)} rows in error left out)" if read.errors else "") + ". "
            f"{u.sheet}: {len(u.added_rates)} added, {len(u.changed_rates)} changed, {len(u.unchanged_rates)} "
            f"unchanged, {len(u.kept_rates)} kept. Save the workbook to keep them.")


def import_fee_schedule_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's Import fee schedule button: a file dialog, then the PayerKey."""
    import xlwings as xw

    from otbill_xl.actions.fee_schedule import payer_keys

    book = book or xw.Book.caller()
    ui, port = ExcelUi(book), LiveWorkbook(book)
    picked = book.app.api.GetOpenFilename("Fee schedules (*.csv;*.xlsx;*.xls),*.csv;*.xlsx;*.xls", 1,
                                          "Choose the payer's fee schedule")
    if not picked:
        return
    keys = sorted(payer_keys(port) or ())
    payer = book.app.api.InputBox("PayerKey of these rates" + (f" ({', '.join(keys)})" if keys else ""),
                                  "otbill: Import fee schedule", keys[0] if len(keys) == 1 else "", Type=2)
    if not payer:
        return

    def work() -> str | None:
        try:
            return fee_import_message(*import_fee_schedule_action(port, Path(picked), str(payer).strip()))
        except FeeRowsInError as exc:
            if book.app.alert(f"{exc.text}\n\nImport the {exc.good} good rates anyway?", title="otbill",
                              buttons="yes_no") != "yes":
                return None
            return fee_import_message(*import_fee_schedule_action(port, Path(picked), str(payer).strip(),
                                                                  partial=True))

    run_reported(ui, "otbill: importing the fee schedule...", work)


# ------------------------------------------------------------------------------------------------
# New practice workbook, Show findings, Help
# ------------------------------------------------------------------------------------------------

def new_practice_workbook_action(path: Path) -> Path:
    """"New practice workbook": the empty practice template (Instructions + one table per sheet) at
    ``path``; an existing file is never overwritten."""
    from otbill_xl.templates.build import build_template

    path = Path(path)
    if path.exists():
        raise OtbillError(f"{path} already exists; choose another name (otbill never overwrites a workbook).")
    return build_template(path)


def new_practice_workbook_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's New practice workbook button: a Save As dialog, then the new book opens."""
    import xlwings as xw

    book = book or xw.Book.caller()
    picked = book.app.api.GetSaveAsFilename("otbill-practice.xlsx", "Excel workbook (*.xlsx),*.xlsx", 1,
                                            "Where to save the new practice workbook")
    if not picked:
        return

    def work() -> str:
        path = new_practice_workbook_action(Path(picked))
        book.app.books.open(str(path))
        return f"New practice workbook {path.name} created and opened; the Instructions sheet says what goes where."

    run_reported(ExcelUi(book), "otbill: creating the workbook...", work)


def show_findings_action(port: WorkbookPort) -> str:
    """"Show findings": the name of the Findings sheet to activate, or the step that makes it."""
    from otbill_xl.actions.check import FINDINGS_SHEET

    names = {n.casefold(): n for n in port.sheet_names()}
    if FINDINGS_SHEET.casefold() not in names:
        raise OtbillError("This workbook has no Findings sheet yet: press Check charges first.")
    return names[FINDINGS_SHEET.casefold()]


def show_findings_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's Show findings button."""
    import xlwings as xw

    book = book or xw.Book.caller()
    run_reported(ExcelUi(book), "", lambda: book.sheets[show_findings_action(LiveWorkbook(book))].activate())


#: The README's section the Help button shows.
HELP_SECTION = "## In Excel"


def help_target(package_dir: Path | None = None) -> str | None:
    """The README.md of a source checkout beside the package (it matches the installed code exactly),
    as a ``file:`` URI; ``None`` for an installed wheel (no README file on disk)."""
    root = (package_dir or Path(__file__).resolve().parent.parent).parent
    readme = root / "README.md"
    return readme.as_uri() if readme.is_file() else None


def help_text(readme: str | None = None) -> str:
    """The README's "In Excel" section as plain text; the README comes with the installed package's
    metadata (pip stores it as the long description), so Help works without a network or a checkout."""
    if readme is None:
        from importlib.metadata import PackageNotFoundError, metadata

        try:
            meta = metadata("otbill-xl")
            readme = meta.get_payload() or meta.get("Description") or ""  # type: ignore[attr-defined]
        except PackageNotFoundError:
            readme = ""
    start = readme.find(HELP_SECTION)
    if start < 0:
        return "Help: see the \"In Excel\" section of the otbill-xl README (`pip show -f otbill-xl`)."
    end = readme.find("\n## ", start + len(HELP_SECTION))
    return readme[start + 3:end if end > 0 else None].strip()


def help_button(book: Any = None) -> None:  # pragma: no cover - needs Excel
    """Entry point for the ribbon's Help button: the README in the browser, else its In Excel section."""
    import webbrowser

    import xlwings as xw

    target = help_target()
    if target:
        webbrowser.open(target)
    else:
        (book or xw.Book.caller()).app.alert(help_text(), title="otbill help")
