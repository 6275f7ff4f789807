"""The ``otbill`` command: version, info (human and JSON), exit codes."""

from __future__ import annotations

import json

from conftest import CHARGE_HEADER, charge_row, contract_sheets, make_workbook
from typer.testing import CliRunner

from otbill_xl import __version__
from otbill_xl.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout


def test_info_json_reports_mapping_and_counts(tmp_path):
    sheets = contract_sheets()
    header = list(CHARGE_HEADER)
    header[2] = "Date of Service"
    sheets["Charges"] = [header + ["Therapist initials"], charge_row() + ["AR"]]
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    result = runner.invoke(app, ["info", str(path), "--json"])
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    charges = next(s for s in data["sheets"] if s["contract"] == "Charges")
    dos = next(c for c in charges["columns"] if c["column"] == "DOS")
    assert dos == {"column": "DOS", "header": "Date of Service", "cell": "C1", "how": "alias"}
    assert charges["extra_headers"] == ["Therapist initials"] and charges["rows"] == 1
    assert data["summary"]["charges"] == 1 and data["summary"]["error"] == 0


def test_info_exit_1_on_errors_and_names_the_cell(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER, charge_row(dos="someday")]
    result = runner.invoke(app, ["info", str(make_workbook(tmp_path / "p.xlsx", sheets)), "--json"])
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert findings[0]["severity"] == "error"  # errors first
    finding = next(f for f in findings if f["rule"] == "read.bad-date")
    assert (finding["rule"], finding["sheet"], finding["cell"], finding["column"]) == ("read.bad-date", "Charges", "C2", "DOS")


def test_info_exit_2_on_unusable_file(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_text("not a workbook")
    result = runner.invoke(app, ["info", str(path)])
    assert result.exit_code == 2


def test_every_command_is_registered_on_the_main_app():
    result = runner.invoke(app, ["--help"])
    for command in ("info", "check", "units", "price", "claims", "batch", "demo", "templates", "fee-schedule"):
        assert command in result.stdout, command
    sub = runner.invoke(app, ["fee-schedule", "--help"])
    assert sub.exit_code == 0 and "import-cms" in sub.stdout


def test_the_old_feeschedule_spelling_still_runs_but_is_not_listed():
    """One spelling (``fee-schedule``) in help and docs; scripts written for ``feeschedule`` keep working."""
    listed = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert "fee-schedule" in listed and "feeschedule" not in listed.replace("fee-schedule", "")
    old = runner.invoke(app, ["feeschedule", "import", "--help"])
    assert old.exit_code == 0 and "--payer" in old.stdout


def test_progress_shows_on_a_terminal_only(monkeypatch):
    """Long steps show a spinner with what is happening on a terminal's stderr; pipes get nothing."""
    import io

    from rich.console import Console

    from otbill_xl import cli_common

    screen = io.StringIO()
    monkeypatch.setattr(cli_common, "err", Console(file=screen, force_terminal=True, width=100))
    with cli_common.progress("Reading and checking big.xlsx ..."):
        pass
    assert "Reading and checking big.xlsx" in screen.getvalue()
    piped = io.StringIO()
    monkeypatch.setattr(cli_common, "err", Console(file=piped, force_terminal=False))
    with cli_common.progress("Reading and checking big.xlsx ..."):
        pass
    assert piped.getvalue() == ""
