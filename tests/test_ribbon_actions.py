"""The ribbon's actions run headless through the workbook port (the ``*_button`` wrappers only add
Excel's dialogs): Import fee schedule, New practice workbook, Show findings, Help, and how every
button reports (counts, the CLI's message on an OtbillError, never a traceback, the status bar)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import contract_sheets, make_workbook

from otbill_xl import read_practice
from otbill_xl.errors import OtbillError, WorkbookNotFound
from otbill_xl.excel import macros
from otbill_xl.workbook.files import FileWorkbook

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "tests" / "data" / "payer_acme_fees.csv"
FEE_HEADER = ["PayerKey", "Code", "Modifier", "EffectiveFrom", "EffectiveTo", "AllowedPerUnit", "My note"]


class FakeUi:
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None]] = []

    def alert(self, message: str) -> None:
        self.events.append(("alert", message))

    def status(self, text: str | None) -> None:
        self.events.append(("status", text))


@pytest.fixture
def practice(tmp_path):
    # The same FeeSchedule as tests/test_fee_schedule_import.py's workbook, so the counts match the CLI's.
    sheets = contract_sheets()
    sheets["FeeSchedule"] = [FEE_HEADER,
                             ["ACME", "97110", "GO", "1/1/2026", None, 30.0, "replaced"],
                             ["ACME", "97110", "GO", "1/1/2025", None, 28.0, "older period"],
                             ["MCR", "97110", "", None, None, 25.0, "other payer"]]
    return make_workbook(tmp_path / "practice.xlsx", sheets)


def test_reported_success_shows_the_counts_with_the_status_bar_around_the_work():
    ui = FakeUi()
    assert macros.run_reported(ui, "otbill: working...", lambda: "3 lines checked")
    assert ui.events == [("status", "otbill: working..."), ("status", None), ("alert", "3 lines checked")]


def test_reported_otbill_error_shows_the_clis_message():
    ui = FakeUi()

    def work() -> str:
        raise WorkbookNotFound()

    assert not macros.run_reported(ui, "s", work)
    assert ui.events == [("status", "s"), ("status", None), ("alert", WorkbookNotFound.message)]


def test_reported_other_exception_shows_no_traceback_and_no_cell_text():
    ui = FakeUi()

    def work() -> str:
        raise KeyError("Jane Doe")

    assert not macros.run_reported(ui, "s", work)
    [(kind, text)] = [e for e in ui.events if e[0] == "alert"]
    assert "KeyError" in text and "Jane Doe" not in text and "Traceback" not in text
    assert ui.events[1] == ("status", None)


def test_reported_nothing_to_say_shows_no_box():
    ui = FakeUi()
    assert macros.run_reported(ui, "s", lambda: None)
    assert [e[0] for e in ui.events] == ["status", "status"]


def test_import_fee_schedule_refuses_a_file_with_bad_rows(practice):
    port = FileWorkbook(practice)
    before = port.values("FeeSchedule")
    with pytest.raises(macros.FeeRowsInError) as err:
        macros.import_fee_schedule_action(port, ACME, "ACME")
    # payer_acme_fees.csv: lines 11 (bad amount) and 12 (bad code) are in error, 5 rates are good
    # (97165, 97168, 97110-GO, 97530, 97799; see test_fee_schedule_import.py).
    assert (err.value.errors, err.value.good) == (2, 5)
    assert "2 rows had errors, so nothing was imported" in err.value.text
    assert port.values("FeeSchedule") == before


def test_import_fee_schedule_partial_merges_the_good_rates_into_the_open_book(practice, tmp_path):
    port = FileWorkbook(practice)
    read, update = macros.import_fee_schedule_action(port, ACME, "ACME", partial=True)
    message = macros.fee_import_message(read, update)
    # As the CLI with --partial: 97110-GO 2026 changed (30 -> 32.15), 4 new rates added.
    assert "5 rates for ACME" in message and "(2 rows in error left out)" in message
    assert "4 added, 1 changed" in message
    port.save(str(tmp_path / "out.xlsx"))
    book, report = read_practice(tmp_path / "out.xlsx")
    assert not report.errors
    rows = {(e.payer_key, e.code, e.modifier, e.effective_from): e.allowed_per_unit for e in book.fee_schedule}
    assert rows[("ACME", "97110", "GO", date(2026, 1, 1))] == Decimal("32.15")
    assert rows[("ACME", "97110", "GO", date(2025, 1, 1))] == Decimal("28")
    assert len(rows) == 7


def test_import_fee_schedule_unusable_file_is_an_otbill_error(practice, tmp_path):
    with pytest.raises(OtbillError):
        macros.import_fee_schedule_action(FileWorkbook(practice), tmp_path / "missing.csv", "ACME")


def test_new_practice_workbook_is_the_template_and_never_overwrites(tmp_path):
    made = macros.new_practice_workbook_action(tmp_path / "mine.xlsx")
    # The committed template is a fresh build (tests/test_templates.py), so the bytes match.
    assert made.read_bytes() == (ROOT / "workbook_templates" / "otbill-practice.xlsx").read_bytes()
    made.write_bytes(b"my work")
    with pytest.raises(OtbillError, match="already exists"):
        macros.new_practice_workbook_action(made)
    assert made.read_bytes() == b"my work"


def test_show_findings_before_and_after_check(practice, tmp_path):
    port = FileWorkbook(practice)
    with pytest.raises(OtbillError, match="press Check charges first"):
        macros.show_findings_action(port)
    macros.check_charges_action(port, date(2026, 11, 27))
    port.save(str(tmp_path / "checked.xlsx"))
    assert macros.show_findings_action(FileWorkbook(tmp_path / "checked.xlsx")) == "Findings"


def test_help_opens_the_local_readme_else_shows_its_in_excel_section(tmp_path):
    assert macros.help_target() == (ROOT / "README.md").as_uri()
    (tmp_path / "site-packages" / "otbill_xl").mkdir(parents=True)
    assert macros.help_target(tmp_path / "site-packages" / "otbill_xl") is None
    text = macros.help_text((ROOT / "README.md").read_text(encoding="utf-8"))
    assert text.startswith("In Excel")
    assert "otbill excel install" in text and "Import fee schedule" in text
    assert "### Worksheet functions" in text and "\n## " not in text  # the whole section, not the next one
    assert "README" in macros.help_text("# no such section")
