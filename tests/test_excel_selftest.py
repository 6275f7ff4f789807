"""`otbill excel selftest`, run against a fake Excel (tests/excel_fake.py): every ribbon icon, button and
worksheet function of the add-in is tried on a fresh sample copy, each reported PASS/FAIL; the real run
needs Windows and Excel (README "Release check")."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from excel_fake import FakeExcel
from typer.testing import CliRunner

pytest.importorskip("xlwings")

from otbill_xl.excel import macros, selftest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 27)  # the demo's as-of date: the sample's services are inside every payer's filing limit


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(macros, "_today", lambda: DAY)
    monkeypatch.setenv("OTBILL_LEDGER", str(tmp_path / "must-not-be-used.sqlite"))


def _declared_udfs() -> set[str]:
    tree = ast.parse((ROOT / "otbill_xl" / "excel" / "addin.py").read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)
            and any(ast.unparse(d).startswith("xw.func") for d in n.decorator_list)}


def test_every_function_and_button_has_a_selftest_item(tmp_path: Path) -> None:
    """Adding a worksheet function or a button without a selftest item fails here."""
    from otbill_xl.templates.build import build_sample
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.reader import read_book

    book = read_book(FileWorkbook(build_sample(tmp_path / "sample.xlsx"))).book
    assert {c.name for c in selftest.udf_cases(book)} == _declared_udfs()
    assert {s.button for s in selftest.STEPS} == set(macros.BUTTONS)


def test_selftest_passes_every_item_on_the_sample(pinned: None, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    excel = FakeExcel(monkeypatch)
    checks = selftest.run_selftest(excel, tmp_path / "st", DAY)
    failed = [c.line() for c in checks if not c.ok]
    assert not failed, failed
    # 8 icons, 8 buttons, 11 formulas (OT_FEE twice: a contract rate and Medicare's PFS)
    assert len(checks) == 8 + 8 + 11
    assert excel.closed
    # each button ran its own RunPython string with the request file
    assert len(excel.ran) == 8 and all("selftest='" in code for code in excel.ran)
    # the claims were billed into the sample's own ledger, never the environment's one
    assert (tmp_path / "st" / "selftest-ledger.sqlite").exists()
    assert not (tmp_path / "must-not-be-used.sqlite").exists()
    assert list((tmp_path / "st").glob("*.837"))
    assert "PASS  button CreateClaims" in "\n".join(c.line() for c in checks)


def test_a_failing_macro_a_missing_icon_and_a_wrong_function_are_reported_and_the_rest_run(
        pinned: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from otbill_xl.excel import addin

    excel = FakeExcel(monkeypatch, missing_images=("AutoSum",), failing=("PriceCharges",))
    real = addin.OT_CARC
    monkeypatch.setattr(addin, "OT_CARC", lambda codes: [["wrong"] for _ in real(codes)])
    checks = {c.item: c for c in selftest.run_selftest(excel, tmp_path / "st", DAY)}
    failed = sorted(item for item, c in checks.items() if not c.ok)
    assert failed == ['button PriceCharges', 'function =OT_CARC({"CO-97";"50"})', "ribbon icon AutoSum"]
    assert "Cannot run the macro" in checks["button PriceCharges"].detail
    assert "Excel gave [['wrong'], ['wrong']]" in checks['function =OT_CARC({"CO-97";"50"})'].detail
    assert checks["button CreateClaims"].ok  # the buttons after the failing one still ran


def test_a_button_that_fails_in_python_is_a_fail_with_its_message(pinned: None, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    from otbill_xl.errors import OtbillError

    def broken(port, folder, ui):
        raise OtbillError("The Charges sheet is missing its Code column.")

    monkeypatch.setitem(macros.BUTTONS, "check_charges", macros.Button("s", broken))
    checks = {c.item: c for c in selftest.run_selftest(FakeExcel(monkeypatch), tmp_path / "st", DAY)}
    assert not checks["button CheckCharges"].ok
    assert checks["button CheckCharges"].detail == "The Charges sheet is missing its Code column."


def test_selftest_command_elsewhere_than_windows_exits_2_with_the_reason() -> None:
    from otbill_xl.cli import app

    result = CliRunner().invoke(app, ["excel", "selftest"])
    assert result.exit_code == 2
    assert "Windows with Excel" in result.output
