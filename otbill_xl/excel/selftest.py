"""``otbill excel selftest``: the release check of the add-in in real Excel on Windows.

What Linux cannot check — the VBA compiling, the ribbon's icons, xlwings' DLL and COM server, the Trust
Center letting the add-in run — is checked here by using the add-in as a biller would, on a fresh copy of
the bundled sample practice (its own ledger beside it, so nothing reaches a real ledger):

1. every ribbon icon is one Excel has (``Application.CommandBars.GetImageMso``);
2. every ribbon button's macro runs through ``Application.Run`` — the same VBA Sub the button calls, with a
   request file answering its dialogs (:class:`otbill_xl.excel.macros.SelftestUi`) — and its effect is
   checked in the saved copy (Findings sheet, Pricing sheet, 837P files, Payments posted, rates imported,
   a new workbook, help text);
3. every worksheet function is entered as a formula and its spilled result compared with the same
   function called in Python on the same values.

Each item prints PASS or FAIL with what was expected. Excel is reached through :class:`ExcelDriver`, so
the whole sequence also runs on Linux against a fake Excel (tests/test_excel_selftest.py).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from otbill_xl.errors import OtbillError

ADDIN_BOOK = "otbill.xlam"
SAMPLE = "selftest-sample.xlsx"


class SelftestError(OtbillError):
    """The selftest cannot start (not Windows, no Excel, no add-in)."""


@dataclass(frozen=True)
class Check:
    item: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.item}" + (f" — {self.detail}" if self.detail else "")


class ExcelDriver(Protocol):
    """What the selftest needs from Excel (xlwings in :class:`XlwingsDriver`; a fake in the tests)."""

    def open(self, workbook: Path) -> None: ...

    def run(self, macro: str, *args: str) -> None: ...

    def save(self) -> None: ...

    def spill(self, formula: str) -> list[list[Any]]: ...

    def has_image(self, image_mso: str) -> bool: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------------------------------------
# Worksheet functions: each formula, and what the same function gives in Python
# ------------------------------------------------------------------------------------------------

def _literal(value: Any) -> str:
    """An Excel formula literal: a number, a "text", DATE(y,m,d), or an array constant {a;b} (a column)."""
    if isinstance(value, list):
        return "{" + ";".join(_literal(v) for v in value) + "}"
    if isinstance(value, date):
        return f"DATE({value.year},{value.month},{value.day})"
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


def _serial(day: date) -> int:
    """Excel's 1900 date serial of a date after 1900-02-28 (days since 1899-12-30)."""
    return (day - date(1899, 12, 30)).days


def _excel_value(value: Any) -> Any:
    """A literal as Excel hands it to xlwings: numbers as floats, dates as serial numbers, a column as rows."""
    if isinstance(value, list):
        return [[_excel_value(v)] for v in value]
    if isinstance(value, date):
        return float(_serial(value))
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return float(value)
    return value


@dataclass(frozen=True)
class SheetRange:
    """A block of a sheet passed to a function (header row included), e.g. 'Charges'!A1:V6."""

    sheet: str
    rows: int
    columns: int

    def formula(self) -> str:
        from otbill_xl.domain.findings import column_letter

        return f"'{self.sheet}'!A1:{column_letter(self.columns)}{self.rows}"


@dataclass(frozen=True)
class UdfCase:
    name: str
    args: tuple[Any, ...]

    def formula(self) -> str:
        return "=" + self.name + "(" + ",".join(a.formula() if isinstance(a, SheetRange) else _literal(a)
                                               for a in self.args) + ")"


def udf_cases(book: Any) -> list[UdfCase]:
    """One formula per worksheet function, built from the sample's own payers, rates and locality."""
    from otbill_xl.domain.models import PayerType

    entry = next(e for e in book.fee_schedule if book.payers_by_key.get(e.payer_key) is not None
                 and book.payers_by_key[e.payer_key].payer_type is not PayerType.MEDICARE)
    medicare = next(p.payer_key for p in book.payers if p.payer_type is PayerType.MEDICARE)
    day = date(2026, 8, 3)
    return [
        UdfCase("OT_UNITS", (["97112", "97110"], [24, 23])),          # CMS §20.2 example 1: 2 + 1 units
        UdfCase("OT_UNITS_EXPLAIN", (["97112", "97110"], [24, 23])),
        UdfCase("OT_NPI_VALID", (["1234567893", "1234567890"],)),
        UdfCase("OT_CODE_INFO", (["97110", "97003"], day)),
        UdfCase("OT_CARC", (["CO-97", "50"],)),
        UdfCase("OT_CARC_CATEGORY", (["CO-97", "50"],)),
        UdfCase("OT_NEXT_ACTION", (["CO", "PR"], ["97", "1"])),
        UdfCase("OT_FEE", (entry.payer_key, [entry.code], entry.modifier or "", entry.effective_from, 2)),
        UdfCase("OT_FEE", (medicare, ["97110", "97530"], "GO", day, 1)),
        UdfCase("OT_MEDICARE_ALLOWED", (["97110", "97530"], book.practice.medicare_locality, day, 2)),
        UdfCase("OT_EXPECTED", (SheetRange("Charges", 6, 22),)),
    ]


def expected_result(case: UdfCase, port: Any, book: Any) -> Any:
    """What the function gives in Python on the values Excel passes for ``case`` (money as Excel numbers)."""
    from otbill_xl.excel import udfs

    args = []
    for a in case.args:
        if isinstance(a, SheetRange):
            args.append([row[:a.columns] for row in port.values(a.sheet)[:a.rows]])
        else:
            args.append(_excel_value(a))
    function = getattr(udfs, case.name)
    if case.name in ("OT_FEE", "OT_MEDICARE_ALLOWED", "OT_EXPECTED"):
        return udfs.excel_safe(function, *args, book=book)
    return udfs.excel_safe(function, *args)


def _cells(value: Any) -> list[list[Any]]:
    """A result as rows of cells, normalised as Excel shows it: numbers as floats, dates as serials,
    blanks as None."""
    def cell(v: Any) -> Any:
        if v is None or v == "":
            return None
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float, Decimal)):
            return round(float(v), 6)
        if isinstance(v, datetime):
            return float(_serial(v.date()))
        if isinstance(v, date):
            return float(_serial(v))
        return v
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [[cell(v) for v in row] for row in value]
    if isinstance(value, list):
        return [[cell(v)] for v in value]
    return [[cell(value)]]


# ------------------------------------------------------------------------------------------------
# The buttons: the macro, the dialog answers, and what must be true afterwards
# ------------------------------------------------------------------------------------------------

@dataclass
class Workspace:
    folder: Path
    sample: Path
    today: date

    @property
    def ledger(self) -> Path:
        return self.folder / "selftest-ledger.sqlite"


def prepare(folder: Path, today: date) -> Workspace:
    """A fresh copy of the sample practice in ``folder`` whose Practice sheet names its own ledger."""
    from otbill_xl.templates.build import build_sample
    from otbill_xl.workbook.files import FileWorkbook

    folder.mkdir(parents=True, exist_ok=True)
    space = Workspace(folder, folder / SAMPLE, today)
    built = build_sample(folder / "sample-source.xlsx")
    port = FileWorkbook(built)
    rows = port.values("Practice")
    port.write_values("Practice", len(rows) + 1, 1, [["LedgerPath", str(space.ledger)]])
    port.save(str(space.sample))
    built.unlink()
    return space


def _request(space: Workspace, button: str, answers: dict[str, Any]) -> Path:
    path = space.folder / f"selftest-{button}.json"
    path.write_text(json.dumps({"answers": answers}), encoding="utf-8")
    return path


def _outcome(request: Path, button: str) -> dict[str, Any] | None:
    from otbill_xl.excel.macros import results_path

    results = results_path(request)
    if not results.exists():
        return None
    found = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    found = [r for r in found if r.get("button") == button]
    return found[-1] if found else None


def _sheets(space: Workspace) -> set[str]:
    from otbill_xl.workbook.files import FileWorkbook

    return set(FileWorkbook(space.sample).sheet_names())


def _fee_file(space: Workspace, book: Any) -> tuple[Path, str]:
    """A fee-schedule CSV for the sample's first contracted payer: its rates + 1.00 (so the import changes them)."""
    from otbill_xl.domain.models import PayerType

    payer = next(p.payer_key for p in book.payers if p.payer_type is not PayerType.MEDICARE
                 and any(e.payer_key == p.payer_key for e in book.fee_schedule))
    lines = ["PayerKey,Code,Modifier,EffectiveFrom,EffectiveTo,AllowedPerUnit"]
    for e in book.fee_schedule:
        if e.payer_key == payer:
            lines.append(f"{payer},{e.code},{e.modifier or ''},{e.effective_from.isoformat()},"
                         f"{e.effective_to.isoformat() if e.effective_to else ''},{e.allowed_per_unit + 1}")
    path = space.folder / "selftest-fees.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, payer


def _simulated_835(space: Workspace) -> Path:
    from otbill_xl.actions.simulate import simulate_remittances, write_simulated_remit

    sim = simulate_remittances(space.sample, space.folder, None, as_of=space.today)
    target = space.folder / "selftest-remit.835"
    write_simulated_remit(sim, target)
    return target


@dataclass(frozen=True)
class ButtonStep:
    button: str      # the Python name (macros.BUTTONS)
    macro: str       # the public VBA Sub the ribbon callback runs (otbill.bas)
    answers: Callable[[Workspace], dict[str, Any]]
    effect: Callable[[Workspace, dict[str, Any]], str | None]   # None when the effect is there, else what is missing


def _no_answers(space: Workspace) -> dict[str, Any]:
    return {}


def _has_sheet(name: str) -> Callable[[Workspace, dict[str, Any]], str | None]:
    return lambda space, outcome: None if name in _sheets(space) else f"no {name} sheet in the saved copy"


def _claims_written(space: Workspace, outcome: dict[str, Any]) -> str | None:
    files = list(space.folder.glob("*.837"))
    if not files:
        return "no 837P file beside the workbook"
    return None if "Claims" in _sheets(space) else "no Claims sheet in the saved copy"


def _posted(space: Workspace, outcome: dict[str, Any]) -> str | None:
    message = " ".join(outcome.get("messages", []))
    m = re.search(r"(\d+) Payments rows posted", message)
    if not m or int(m.group(1)) == 0:
        return "no Payments rows posted"
    return None if "Reconciliation" in _sheets(space) else "no Reconciliation sheet in the saved copy"


def _imported(space: Workspace, outcome: dict[str, Any]) -> str | None:
    message = " ".join(outcome.get("messages", []))
    return None if re.search(r"[1-9]\d* changed", message) else "no rate changed"


def _new_workbook(space: Workspace, outcome: dict[str, Any]) -> str | None:
    return None if (space.folder / "selftest-new.xlsx").exists() else "the new workbook was not written"


def _help_shown(space: Workspace, outcome: dict[str, Any]) -> str | None:
    return None if any(s.startswith("help") for s in outcome.get("shown", [])) else "no help shown"


def _findings_shown(space: Workspace, outcome: dict[str, Any]) -> str | None:
    return None if "sheet Findings" in outcome.get("shown", []) else "the Findings sheet was not shown"


def _fee_answers(space: Workspace) -> dict[str, Any]:
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.reader import read_book

    path, payer = _fee_file(space, read_book(FileWorkbook(space.sample)).book)
    return {"pick_files": [str(path)], "ask": payer, "confirm": False}


STEPS: tuple[ButtonStep, ...] = (
    ButtonStep("check_charges", "CheckCharges", _no_answers, _has_sheet("Findings")),
    ButtonStep("show_findings", "ShowFindings", _no_answers, _findings_shown),
    ButtonStep("price_charges", "PriceCharges", _no_answers, _has_sheet("Pricing")),
    ButtonStep("create_claims", "CreateClaims", _no_answers, _claims_written),
    ButtonStep("reconcile_payments", "ReconcilePayments",
               lambda space: {"pick_files": [str(_simulated_835(space))]}, _posted),
    ButtonStep("import_fee_schedule", "ImportFeeSchedule", _fee_answers, _imported),
    ButtonStep("new_practice_workbook", "NewPracticeWorkbook",
               lambda space: {"pick_save": str(space.folder / "selftest-new.xlsx")}, _new_workbook),
    ButtonStep("help", "ShowHelp", _no_answers, _help_shown),
)


def ribbon_images() -> list[str]:
    from otbill_xl.excel.build import ribbon_xml

    return re.findall(r'imageMso="([^"]+)"', ribbon_xml())


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------

def run_selftest(driver: ExcelDriver, folder: Path, today: date | None = None,
                 progress: Callable[[Check], None] | None = None) -> list[Check]:
    """Every ribbon icon, button and worksheet function of the add-in, on a fresh sample in ``folder``."""
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.reader import read_book

    checks: list[Check] = []

    def record(check: Check) -> None:
        checks.append(check)
        if progress:
            progress(check)

    space = prepare(folder, today or date.today())
    driver.open(space.sample)
    try:
        for image in ribbon_images():
            known = driver.has_image(image)
            record(Check(f"ribbon icon {image}", known,
                         "" if known else "Excel has no such imageMso: the button shows no icon"))
        for step in STEPS:
            record(_press(driver, space, step))
        driver.save()
        port = FileWorkbook(space.sample)
        book = read_book(port).book
        for case in udf_cases(book):
            record(_formula(driver, case, port, book))
    finally:
        driver.close()
    return checks


def _press(driver: ExcelDriver, space: Workspace, step: ButtonStep) -> Check:
    item = f"button {step.macro}"
    try:
        driver.save()  # the steps that read the copy (simulated 835, fee file) see what the last one did
        request = _request(space, step.button, step.answers(space))
        driver.run(step.macro, str(request))
        driver.save()
    except Exception as exc:  # noqa: BLE001 - one failing item never stops the selftest
        return Check(item, False, f"{type(exc).__name__}: {exc}"[:300])
    outcome = _outcome(request, step.button)
    if outcome is None:
        return Check(item, False, "the macro ran but Python never reported back (check `otbill excel doctor`)")
    messages = " / ".join(m.replace("\n", " ") for m in outcome.get("messages", []))[:300]
    if not outcome.get("ok"):
        return Check(item, False, messages or "failed without a message")
    missing = step.effect(space, outcome)
    return Check(item, missing is None, missing or messages)


def _formula(driver: ExcelDriver, case: UdfCase, port: Any, book: Any) -> Check:
    formula = case.formula()
    try:
        got = _cells(driver.spill(formula))
    except Exception as exc:  # noqa: BLE001
        return Check(f"function {formula}", False, f"{type(exc).__name__}: {exc}"[:300])
    want = _cells(expected_result(case, port, book))
    if got == want:
        return Check(f"function {formula}", True)
    return Check(f"function {formula}", False, f"Excel gave {got!r}, Python gives {want!r}"[:300])


class XlwingsDriver:  # pragma: no cover - needs Windows and Excel
    """Excel through xlwings: a hidden instance with the installed add-in opened explicitly (Excel started
    by automation loads nothing from XLSTART)."""

    def __init__(self, addin: Path) -> None:
        import xlwings as xw

        self.app = xw.App(visible=False, add_book=False)
        self.app.display_alerts = False
        self.addin = self.app.books.open(str(addin))
        self.book: Any = None
        self.scratch: Any = None

    def open(self, workbook: Path) -> None:
        self.book = self.app.books.open(str(workbook))

    def run(self, macro: str, *args: str) -> None:
        self.app.api.Run(f"'{self.addin.name}'!{macro}", *args)

    def save(self) -> None:
        self.book.save()

    def spill(self, formula: str) -> list[list[Any]]:
        if self.scratch is None:
            self.scratch = self.book.sheets.add("otbill selftest", after=self.book.sheets[-1])
        cell = self.scratch["A1"]
        self.scratch.cells.clear()
        cell.formula2 = formula
        self.app.calculate()
        if cell.api.HasSpill:
            return self.scratch.range(cell.api.SpillingToRange.Address).options(ndim=2).value
        return [[cell.value]]

    def has_image(self, image_mso: str) -> bool:
        try:
            self.app.api.CommandBars.GetImageMso(image_mso, 16, 16)
        except Exception:  # noqa: BLE001 - Excel raises a COM error for an unknown name
            return False
        return True

    def close(self) -> None:
        try:
            if self.book is not None:
                self.book.close()
        finally:
            self.app.quit()


def installed_addin() -> Path:
    """The add-in Excel loads: the XLSTART copy `otbill excel install` made."""
    from otbill_xl.excel import install

    env = install.WindowsEnv()
    if not env.is_windows():
        raise SelftestError("otbill excel selftest runs on Windows with Excel installed: it opens Excel, presses "
                            "every button and enters every function. On Linux, `make test` runs the checks "
                            "Linux can do (tests/test_excel_build.py, test_ribbon.py, test_excel_selftest.py).")
    target = install.xlstart_folder(env) / ADDIN_BOOK
    if not target.exists():
        raise SelftestError(f"The add-in is not installed ({target} is missing): run `otbill excel install` first.")
    return target


def summary(checks: Sequence[Check]) -> str:
    failed = [c for c in checks if not c.ok]
    return (f"{len(checks) - len(failed)} of {len(checks)} checks passed"
            + (f"; {len(failed)} failed" if failed else ": the add-in is ready to release"))


def keep_or_remove(folder: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["Check", "ExcelDriver", "STEPS", "SelftestError", "UdfCase", "XlwingsDriver", "installed_addin",
           "run_selftest", "summary"]
