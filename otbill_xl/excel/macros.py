"""Ribbon actions. Each is a thin wrapper: wrap the open book in the live port, run the action that
the CLI runs on files, report back. The ribbon's VBA (``ribbon/otbill.bas``) calls the ``*_button``
functions with ``RunPython``; every button is a function of the port, so it runs headless too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from otbill_xl.actions.check import CheckOutcome, check_charges
from otbill_xl.actions.claims import ClaimsOutcome, create_claims
from otbill_xl.actions.price import PriceOutcome, price_charges
from otbill_xl.actions.reconcile import ReconcileOutcome
from otbill_xl.errors import OtbillError
from otbill_xl.workbook.live import LiveWorkbook
from otbill_xl.workbook.port import WorkbookPort

if TYPE_CHECKING:
    from otbill_xl.actions.fee_schedule import FeeScheduleUpdate
    from otbill_xl.actions.pipeline import Pipeline
    from otbill_xl.formats.fee_schedule_import import FeeScheduleRead


def check_charges_action(port: WorkbookPort, today: date) -> CheckOutcome:
    """"Check charges": annotate the book in place (fills, notes, Findings and Check Summary sheets)."""
    return check_charges(port, as_of=today)

def price_charges_action(port: WorkbookPort, today: date) -> PriceOutcome:
    """"Price charges": Pricing and Pricing Totals sheets in the open book, problems marked on cells."""
    return price_charges(port, as_of=today)

def create_claims_action(port: WorkbookPort, out_dir: Path, ledger_path: Path | None, today: date,
                         now: datetime) -> ClaimsOutcome:
    """"Create claims": 837P files into ``out_dir`` (beside the workbook by default), ClaimID/Status
    filled in the open book, and Claims / Held Back summary sheets. The ledger is the submitter's
    (see :mod:`otbill_xl.ledger.location`) unless ``ledger_path`` names one."""
    from otbill_xl.ledger import LedgerChoice

    return create_claims(port, out_dir=out_dir, ledger=LedgerChoice(ledger_path, out_dir), as_of=today,
                         created=now, command="excel")

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


def reconcile_pipeline(port: WorkbookPort, today: date) -> Pipeline:
    """The book read once for a reconciliation (priced: the variances need the expected amounts)."""
    from otbill_xl.actions.pipeline import Pipeline

    return Pipeline(port, as_of=today, prices=True, skip=frozenset())


def reconcile_payments_action(port: WorkbookPort, remits: list[Path], ledger_path: Path | None, today: date,
                              now: datetime, pipeline: Pipeline | None = None) -> ReconcileOutcome:
    """"Reconcile payments": the remittances posted into the open book's Payments sheet (once: the
    ledger remembers), and the Reconciliation, Exceptions, Denials and AR Aging sheets written.
    ``pipeline``: the book already read by :func:`reconcile_pipeline` (else it is read here)."""
    from otbill_xl.actions.reconcile import RemitFile, reconcile_payments
    from otbill_xl.ledger import LedgerChoice
    from otbill_xl.ledger.location import open_ledger

    pipeline = pipeline or reconcile_pipeline(port, today)
    ledger, _notes = open_ledger(LedgerChoice(ledger_path).locate(pipeline.book.practice))
    try:
        ledger.resolve_pending_postings()
        files = [RemitFile(p.name, p.read_bytes()) for p in remits]
        return reconcile_payments(port, files, as_of=today, posted_at=now, ledger=ledger, pipeline=pipeline)
    finally:
        ledger.close()

# ------------------------------------------------------------------------------------------------
# How a button talks to the biller: counts in a message box, the CLI's clear message on an
# OtbillError (never a traceback), the status bar while it runs, and its dialogs. In Excel that is
# ExcelUi; `otbill excel selftest` passes a SelftestUi (answers from a file, messages collected);
# headless tests pass a fake. Every button is a function of (port, workbook folder, ui), so each one
# runs headless on a workbook file exactly as the ribbon runs it on the open book.
# ------------------------------------------------------------------------------------------------

class ButtonUi(Protocol):
    def alert(self, message: str) -> None: ...

    def status(self, text: str | None) -> None: ...

    def pick_files(self, title: str, kinds: str, patterns: tuple[str, ...], *, multiple: bool) -> list[Path]: ...

    def pick_save(self, title: str, default: str) -> Path | None: ...

    def ask(self, prompt: str, title: str, default: str) -> str | None: ...

    def confirm(self, message: str) -> bool: ...

    def open_workbook(self, path: Path) -> None: ...

    def show_sheet(self, name: str) -> None: ...

    def show_help(self, url: str | None, text: str) -> None: ...


class ExcelUi:  # pragma: no cover - needs Excel
    """The open book's message box, status bar and file dialogs."""

    def __init__(self, book: Any) -> None:
        self.book = book

    def alert(self, message: str) -> None:
        self.book.app.alert(message, title="otbill")

    def status(self, text: str | None) -> None:
        self.book.app.status_bar = text  # None gives the status bar back to Excel

    def pick_files(self, title: str, kinds: str, patterns: tuple[str, ...], *, multiple: bool) -> list[Path]:
        spec = ";".join(patterns)
        picked = self.book.app.api.GetOpenFilename(f"{kinds} ({spec}),{spec}", 1, title, None, multiple)
        return [Path(p) for p in (picked if isinstance(picked, (list, tuple)) else [picked]) if p and p is not False]

    def pick_save(self, title: str, default: str) -> Path | None:
        picked = self.book.app.api.GetSaveAsFilename(default, "Excel workbook (*.xlsx),*.xlsx", 1, title)
        return Path(picked) if picked else None

    def ask(self, prompt: str, title: str, default: str) -> str | None:
        answer = self.book.app.api.InputBox(prompt, title, default, Type=2)
        return str(answer).strip() if answer not in (False, None, "") else None

    def confirm(self, message: str) -> bool:
        return self.book.app.alert(message, title="otbill", buttons="yes_no") == "yes"

    def open_workbook(self, path: Path) -> None:
        self.book.app.books.open(str(path))

    def show_sheet(self, name: str) -> None:
        self.book.sheets[name].activate()

    def show_help(self, url: str | None, text: str) -> None:
        import webbrowser

        if url:
            webbrowser.open(url)
        else:
            self.alert(text)


class SelftestUi:
    """The dialogs of ``otbill excel selftest``: answers come from its request file (JSON:
    ``{"answers": {"pick_files": [...], "pick_save": "...", "ask": "...", "confirm": true}}``), messages are
    collected, and :meth:`finish` appends one JSON line per button to ``<request>.results.jsonl``. With
    Excel (``book``), sheets and new workbooks are really shown (and the new workbook closed again)."""

    def __init__(self, request: Path, button: str, book: Any = None) -> None:
        import json

        self.request, self.button, self.book = Path(request), button, book
        self.answers: dict[str, Any] = json.loads(self.request.read_text(encoding="utf-8")).get("answers", {})
        self.messages: list[str] = []
        self.shown: list[str] = []

    def alert(self, message: str) -> None:
        self.messages.append(message)

    def status(self, text: str | None) -> None:
        if self.book is not None:  # pragma: no cover - needs Excel
            self.book.app.status_bar = text

    def pick_files(self, title: str, kinds: str, patterns: tuple[str, ...], *, multiple: bool) -> list[Path]:
        return [Path(p) for p in self.answers.get("pick_files", [])]

    def pick_save(self, title: str, default: str) -> Path | None:
        answer = self.answers.get("pick_save")
        return Path(answer) if answer else None

    def ask(self, prompt: str, title: str, default: str) -> str | None:
        return self.answers.get("ask") or None

    def confirm(self, message: str) -> bool:
        self.messages.append(message)
        return bool(self.answers.get("confirm", False))

    def open_workbook(self, path: Path) -> None:
        self.shown.append(f"workbook {Path(path).name}")
        if self.book is not None:  # pragma: no cover - needs Excel
            self.book.app.books.open(str(path)).close()

    def show_sheet(self, name: str) -> None:
        self.shown.append(f"sheet {name}")
        if self.book is not None:  # pragma: no cover - needs Excel
            self.book.sheets[name].activate()

    def show_help(self, url: str | None, text: str) -> None:
        self.shown.append("help " + (url or "text"))  # no browser in a selftest
        self.messages.append(url or text)

    def finish(self, ok: bool) -> None:
        import json

        line = json.dumps({"button": self.button, "ok": ok, "messages": self.messages, "shown": self.shown})
        with self.results.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    @property
    def results(self) -> Path:
        return results_path(self.request)


def results_path(request: Path) -> Path:
    """Where :class:`SelftestUi` appends each button's outcome for ``request``."""
    return Path(request).with_name(Path(request).stem + ".results.jsonl")


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

def show_findings_action(port: WorkbookPort) -> str:
    """"Show findings": the name of the Findings sheet to activate, or the step that makes it."""
    from otbill_xl.actions.check import FINDINGS_SHEET

    names = {n.casefold(): n for n in port.sheet_names()}
    if FINDINGS_SHEET.casefold() not in names:
        raise OtbillError("This workbook has no Findings sheet yet: press Check charges first.")
    return names[FINDINGS_SHEET.casefold()]

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


# ------------------------------------------------------------------------------------------------
# The buttons: what each does with the open book (port), its folder and the biller (ui). The ribbon's
# VBA (ribbon/otbill.bas) runs ``m.<name>_button()``; `otbill excel selftest` runs the same with
# ``selftest=<request file>``.
# ------------------------------------------------------------------------------------------------

def _today() -> date:
    """The date the buttons check, price and bill as of (tests pin it)."""
    return date.today()


def _check(port: WorkbookPort, folder: Path, ui: ButtonUi) -> str:
    s = check_charges_action(port, _today()).summary
    return (f"{s['lines_checked']} lines checked: {s['errors']} errors, {s['warnings']} warnings, "
            f"{s['infos']} infos. See the Findings sheet.")


def _price(port: WorkbookPort, folder: Path, ui: ButtonUi) -> str:
    outcome = price_charges_action(port, _today())
    total = sum((t.expected_payer_payment for t in outcome.result.totals), start=Decimal(0))
    return (f"{len(outcome.result.lines)} lines priced; expected payer payments {total:,.2f}. "
            "See the Pricing and Pricing Totals sheets.")


def _claims(port: WorkbookPort, folder: Path, ui: ButtonUi) -> str:
    """Files go next to the workbook; the ledger is the submitter's."""
    outcome = create_claims_action(port, folder, None, _today(), datetime.now())
    return (f"{len(outcome.assembly.claims)} claims ({outcome.lines_billed} lines) in {len(outcome.files)} "
            f"file(s) in {folder}; {len(outcome.assembly.held_back)} lines held back — see the Claims and "
            "Held Back sheets.")


def _reconcile(port: WorkbookPort, folder: Path, ui: ButtonUi) -> str | None:
    """The files of the Practice setting ``RemittancePath``, else the ones picked in a file dialog."""
    pipeline = reconcile_pipeline(port, _today())  # read once: for the setting, then for the reconciliation
    setting = pipeline.book.practice.extra.get(REMIT_SETTING, "")
    if setting:
        remits = remittance_files(setting, folder)
    else:
        remits = ui.pick_files("Choose the 835 or CSV remittance files", "Remittances", ("*.835", "*.txt", "*.csv"),
                               multiple=True)
    if not remits:
        return None
    outcome = reconcile_payments_action(port, remits, None, _today(), datetime.now(), pipeline)
    counts = outcome.result.counts()
    return (f"{outcome.posted_rows} Payments rows posted; {counts['paid']} lines paid, {counts['denied']} "
            f"denied, {counts['underpaid']} underpaid, {len(outcome.result.exceptions)} exceptions — see the "
            "Reconciliation, Exceptions, Denials and AR Aging sheets.")


def _import_fees(port: WorkbookPort, folder: Path, ui: ButtonUi) -> str | None:
    """A file dialog, then the PayerKey; rows in error ask before the good rates are imported."""
    from otbill_xl.actions.fee_schedule import payer_keys

    picked = ui.pick_files("Choose the payer's fee schedule", "Fee schedules", ("*.csv", "*.xlsx", "*.xls"),
                           multiple=False)
    if not picked:
        return None
    keys = sorted(payer_keys(port) or ())
    payer = ui.ask("PayerKey of these rates" + (f" ({', '.join(keys)})" if keys else ""),
                   "otbill: Import fee schedule", keys[0] if len(keys) == 1 else "")
    if not payer:
        return None
    try:
        return fee_import_message(*import_fee_schedule_action(port, picked[0], payer.strip()))
    except FeeRowsInError as exc:
        if not ui.confirm(f"{exc.text}\n\nImport the {exc.good} good rates anyway?"):
            return None
        return fee_import_message(*import_fee_schedule_action(port, picked[0], payer.strip(), partial=True))


def _new_workbook(port: WorkbookPort, folder: Path, ui: ButtonUi) -> str | None:
    """A Save As dialog, then the new book opens."""
    picked = ui.pick_save("Where to save the new practice workbook", "otbill-practice.xlsx")
    if not picked:
        return None
    path = new_practice_workbook_action(picked)
    ui.open_workbook(path)
    return f"New practice workbook {path.name} created and opened; the Instructions sheet says what goes where."


def _show_findings(port: WorkbookPort, folder: Path, ui: ButtonUi) -> None:
    ui.show_sheet(show_findings_action(port))


def _help(port: WorkbookPort, folder: Path, ui: ButtonUi) -> None:
    """The README in the browser (a source checkout), else its In Excel section in a message box."""
    target = help_target()
    ui.show_help(target, "" if target else help_text())


class Button(NamedTuple):
    status: str                                                  # the status bar while it runs
    press: Callable[[WorkbookPort, Path, ButtonUi], str | None]  # its message (None: nothing to say)


#: Every ribbon button by its Python name (``m.<name>_button()`` in otbill.bas).
BUTTONS: dict[str, Button] = {
    "check_charges": Button("otbill: checking the charges...", _check),
    "price_charges": Button("otbill: pricing the charges...", _price),
    "create_claims": Button("otbill: creating the claims...", _claims),
    "reconcile_payments": Button("otbill: reconciling the payments...", _reconcile),
    "import_fee_schedule": Button("otbill: importing the fee schedule...", _import_fees),
    "new_practice_workbook": Button("otbill: creating the workbook...", _new_workbook),
    "show_findings": Button("", _show_findings),
    "help": Button("", _help),
}


def _caller() -> tuple[WorkbookPort, Path, Any]:  # pragma: no cover - needs Excel
    """The workbook the button was pressed in: the live port, its folder, the xlwings book."""
    import xlwings as xw

    book = xw.Book.caller()
    return LiveWorkbook(book), Path(book.fullname).parent, book


def press(name: str, selftest: str = "") -> bool:
    """Run button ``name`` on the calling workbook and report (``selftest``: a request file of `otbill
    excel selftest`, which answers the dialogs and records the outcome). True when it succeeded."""
    button = BUTTONS[name]
    port, folder, book = _caller()
    if not selftest:  # pragma: no cover - needs Excel
        ui = ExcelUi(book)
        return run_reported(ui, button.status, lambda: button.press(port, folder, ui))
    test_ui = SelftestUi(Path(selftest), name, book)
    ok = run_reported(test_ui, button.status, lambda: button.press(port, folder, test_ui))
    test_ui.finish(ok)
    return ok


# The RunPython targets, one per button (their names are checked against otbill.bas by the tests).
def check_charges_button(selftest: str = "") -> None:
    press("check_charges", selftest)


def price_charges_button(selftest: str = "") -> None:
    press("price_charges", selftest)


def create_claims_button(selftest: str = "") -> None:
    press("create_claims", selftest)


def reconcile_payments_button(selftest: str = "") -> None:
    press("reconcile_payments", selftest)


def import_fee_schedule_button(selftest: str = "") -> None:
    press("import_fee_schedule", selftest)


def new_practice_workbook_button(selftest: str = "") -> None:
    press("new_practice_workbook", selftest)


def show_findings_button(selftest: str = "") -> None:
    press("show_findings", selftest)


def help_button(selftest: str = "") -> None:
    press("help", selftest)
