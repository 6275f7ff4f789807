"""Exit codes and messages of check / price / info / fee-schedule / units as documented (issue 9 §5), and
the output rules they share: run-stamped default copies that never erase an earlier run, an explicit
--out that replaces (never a folder or a read-only file), files created with the user's umask, and
rich markup in user strings printed as given."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, contract_sheets, fingerprint, make_workbook
from typer.testing import CliRunner

from otbill_xl import cli, cli_common, cli_fee_schedule
from otbill_xl.cli import app
from otbill_xl.workbook.files import FileWorkbook, atomic_save

runner = CliRunner()
FEE = [["PayerKey", "Code", "Modifier", "EffectiveFrom", "EffectiveTo", "AllowedPerUnit"],
       ["ACME", "97110", None, "1/1/2026", "12/31/2026", 40.00]]
PATIENTS = [PATIENT_ROWS[0] + ["AuthNumber", "AuthVisits", "AuthStart", "AuthEnd"],
            PATIENT_ROWS[1] + ["", None, None, None],
            PATIENT_ROWS[2] + ["A-1", 30, "8/1/2026", "12/31/2026"]]
STAMPED = re.compile(r"^p\.(checked|priced)-\d{8}-\d{6}(-\d+)?\.xlsx$")


def acme_line(line_id: str, code: str, units: int, minutes: int) -> list:
    """A clean charge line for P002 (ACME, commercial, authorized) on 8/3/2026."""
    return [line_id, "P002", "8/3/2026", "1234567893", code, "GO", "", "", "", minutes, units, "M62.81", "", "", "",
            "11", None, "", "", ""]


def acme_book(path: Path, *lines: list) -> Path:
    charges = [CHARGE_HEADER, *(lines or [acme_line("L1", "97110", 2, 38)])]
    return make_workbook(path, contract_sheets(Charges=charges, Patients=PATIENTS, FeeSchedule=FEE))


def words(text: str) -> str:
    """Console output with its line wrapping undone."""
    return " ".join(text.split())


def outputs(folder: Path, pattern: str = "p.*-*.xlsx") -> list[Path]:
    return sorted(folder.glob(pattern))


# ------------------------------------------------------------------------------------------------
# price: exit 1 when a line cannot be priced
# ------------------------------------------------------------------------------------------------

def test_price_exits_0_when_every_line_is_priced(tmp_path):
    path = acme_book(tmp_path / "p.xlsx")
    result = runner.invoke(app, ["price", str(path), "--json", "--as-of", "2026-08-20"])
    assert result.exit_code == 0, result.stdout + result.stderr
    [line] = json.loads(result.stdout)["lines"]
    assert line["ExpectedAllowed"] == "80.00"  # 2 units x $40.00 from the FeeSchedule row


def test_price_exits_1_when_a_line_cannot_be_priced_although_nothing_is_an_error(tmp_path):
    # ACME has no rate for 97530: that line cannot be priced; the only finding is a warning.
    path = acme_book(tmp_path / "p.xlsx", acme_line("L1", "97110", 2, 38), acme_line("L2", "97530", 1, 15))
    result = runner.invoke(app, ["price", str(path), "--json", "--as-of", "2026-08-20"])
    assert result.exit_code == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert {x["LineID"]: x["ExpectedAllowed"] for x in data["lines"]} == {"L1": "80.00", "L2": None}
    assert [f["severity"] for f in data["findings"]] == ["warning"]
    result = runner.invoke(app, ["price", str(path), "--as-of", "2026-08-20"])
    assert result.exit_code == 1 and "1 could not be priced" in result.stdout
    assert len(outputs(tmp_path, "p.priced-*.xlsx")) == 2  # the copy is still written, on each run


# ------------------------------------------------------------------------------------------------
# No Charges sheet: exit 2, no annotated copy
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "price"])
def test_no_charges_sheet_exits_2_without_a_copy(tmp_path, command):
    sheets = contract_sheets()
    del sheets["Charges"]
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    for extra in ([], ["--out", str(tmp_path / "explicit.xlsx")], ["--json"]):
        result = runner.invoke(app, [command, str(path), "--as-of", "2026-08-20", *extra])
        assert result.exit_code == 2, (extra, result.stdout, result.stderr)
        message = words(result.stderr)
        assert "p.xlsx: the workbook has no Charges sheet" in message
        assert "no copy was written" in message and "Fix: add a sheet named Charges" in message
        assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.xlsx"]


def test_a_renamed_charges_sheet_is_still_found(tmp_path):
    sheets = contract_sheets()
    sheets["Visits"] = sheets.pop("Charges")  # an accepted alias: not "missing"
    path = make_workbook(tmp_path / "p.xlsx", sheets, tables=False)
    result = runner.invoke(app, ["check", str(path), "--as-of", "2026-08-20", "--json"])
    assert result.exit_code in (0, 1), result.stderr
    assert json.loads(result.stdout)["summary"]["lines_checked"] == 2
    assert len(outputs(tmp_path, "p.checked-*.xlsx")) == 1


# ------------------------------------------------------------------------------------------------
# Run-stamped default names; --out replaces
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "price"])
def test_a_rerun_never_erases_the_earlier_copy(tmp_path, command):
    path = acme_book(tmp_path / "p.xlsx")
    before = fingerprint(path)
    first = runner.invoke(app, [command, str(path), "--as-of", "2026-08-20"])
    assert first.exit_code == 0, first.stdout + first.stderr
    [copy1] = outputs(tmp_path)
    assert STAMPED.match(copy1.name), copy1.name
    stamp = datetime.strptime(copy1.name.split("-", 1)[1][:15], "%Y%m%d-%H%M%S")
    assert abs((datetime.now() - stamp).total_seconds()) < 120
    kept = fingerprint(copy1)
    second = runner.invoke(app, [command, str(path), "--as-of", "2026-08-20"])
    assert second.exit_code == 0
    copies = outputs(tmp_path)
    assert len(copies) == 2 and all(STAMPED.match(c.name) for c in copies)
    assert fingerprint(copy1) == kept and fingerprint(path) == before
    [copy2] = [c for c in copies if c != copy1]
    assert str(copy2) in second.stdout.replace("\n", "")


def test_default_name_in_the_same_second_gets_a_counter(tmp_path):
    book = tmp_path / "p.xlsx"
    now = datetime(2026, 11, 29, 19, 45, 1)
    first = cli_common.default_output(book, "fees", ".xlsx", now=now)
    assert first.name == "p.fees-20261129-194501.xlsx"
    first.write_bytes(b"earlier run")
    second = cli_common.default_output(book, "fees", ".xlsx", now=now)
    assert second.name == "p.fees-20261129-194501-2.xlsx"
    second.write_bytes(b"second run")
    assert cli_common.default_output(book, "fees", ".xlsx", now=now).name == "p.fees-20261129-194501-3.xlsx"


def test_explicit_out_replaces_an_earlier_output(tmp_path):
    path = acme_book(tmp_path / "p.xlsx")
    target = tmp_path / "mine.xlsx"
    target.write_bytes(b"an earlier copy")
    result = runner.invoke(app, ["check", str(path), "--out", str(target), "--as-of", "2026-08-20"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert FileWorkbook(target).sheet_names()[-2:] == ["Findings", "Check Summary"]
    assert outputs(tmp_path, "p.checked*") == []  # no default copy besides


def test_help_says_out_replaces_and_default_is_new(tmp_path):
    for args in (["check", "--help"], ["price", "--help"], ["fee-schedule", "import", "--help"],
                 ["fee-schedule", "import-cms", "--help"]):
        text = words(runner.invoke(app, args, env={"COLUMNS": "200"}).stdout.replace("│", " "))
        assert "replaces FILE if it exists" in text and "HHMMSS.xlsx on every run" in text, args


# ------------------------------------------------------------------------------------------------
# --out that cannot be written, in words
# ------------------------------------------------------------------------------------------------

def test_out_naming_a_folder_says_so(tmp_path):
    path = acme_book(tmp_path / "p.xlsx")
    folder = tmp_path / "results"
    folder.mkdir()
    for args in (["check", str(path)], ["price", str(path)]):
        result = runner.invoke(app, [*args, "--out", str(folder), "--as-of", "2026-08-20"])
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "--out results is a folder, not a file name" in words(result.stderr)
        assert "Errno" not in result.stderr
    assert list(folder.iterdir()) == []


def test_out_naming_a_read_only_file_is_refused_in_words(tmp_path):
    path = acme_book(tmp_path / "p.xlsx")
    target = tmp_path / "locked.xlsx"
    target.write_bytes(b"keep me")
    target.chmod(0o444)
    result = runner.invoke(app, ["check", str(path), "--out", str(target), "--as-of", "2026-08-20"])
    assert result.exit_code == 2
    message = words(result.stderr)
    assert "locked.xlsx: the file already exists and is read-only, so otbill will not replace it" in message
    assert "Errno" not in message and target.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_out_under_a_file_is_refused_in_words(tmp_path):
    path = acme_book(tmp_path / "p.xlsx")
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    result = runner.invoke(app, ["price", str(path), "--out", str(tmp_path / "notes.txt" / "copy.xlsx"),
                                 "--as-of", "2026-08-20"])
    assert result.exit_code == 2
    assert "notes.txt in the output path is a file, not a folder" in words(result.stderr)


def test_fee_schedule_out_naming_a_folder_says_so(tmp_path):
    path = acme_book(tmp_path / "p.xlsx")
    fees = tmp_path / "acme.csv"
    fees.write_text("CPT,Allowed,Effective Date\n97110,41.00,1/1/2026\n", encoding="utf-8")
    folder = tmp_path / "results"
    folder.mkdir()
    result = runner.invoke(app, ["fee-schedule", "import", str(fees), str(path), "--payer", "ACME", "--out",
                                 str(folder)])
    assert result.exit_code == 2 and "is a folder, not a file name" in words(result.stderr)


# ------------------------------------------------------------------------------------------------
# Output files get the user's umask
# ------------------------------------------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize(("umask", "mode"), [(0o027, 0o640), (0o002, 0o664), (0o077, 0o600)])
def test_output_file_mode_follows_the_umask(tmp_path, umask, mode):
    path = acme_book(tmp_path / "p.xlsx")
    out = tmp_path / f"copy-{umask:o}.xlsx"
    proc = subprocess.run([sys.executable, "-m", "otbill_xl", "check", str(path), "--out", str(out), "--as-of",
                           "2026-08-20"], capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(umask))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_atomic_save_gives_0666_less_umask_not_0600(tmp_path):
    current = os.umask(0o022)
    os.umask(current)
    target = tmp_path / "x.bin"
    atomic_save(lambda p: Path(p).write_bytes(b"data"), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current
    with pytest.raises(FileExistsError):
        atomic_save(lambda p: Path(p).write_bytes(b"other"), target, replace=False)
    assert target.read_bytes() == b"data" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]


# ------------------------------------------------------------------------------------------------
# Rich markup in user strings prints as given
# ------------------------------------------------------------------------------------------------

def test_markup_in_file_names_prints_as_given(tmp_path):
    for args in (["check", str(tmp_path / "missing[bold].xlsx")], ["price", str(tmp_path / "missing[bold].xlsx")],
                 ["info", str(tmp_path / "missing[bold].xlsx")], ["units", str(tmp_path / "missing[bold].json")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "missing[bold]." in result.stderr, (args, result.stderr)
    path = acme_book(tmp_path / "p.xlsx")
    result = runner.invoke(app, ["fee-schedule", "import", str(tmp_path / "missing[bold].csv"), str(path),
                                 "--payer", "ACME"])
    assert result.exit_code == 2 and "missing[bold].csv: the file does not exist" in words(result.stderr)


def test_markup_in_output_names_and_payer_keys_prints_as_given(tmp_path):
    path = acme_book(tmp_path / "p.xlsx")
    target = tmp_path / "out[red].xlsx"
    result = runner.invoke(app, ["price", str(path), "--out", str(target), "--as-of", "2026-08-20"])
    assert result.exit_code == 0, result.stderr
    assert "out[red].xlsx" in result.stdout.replace("\n", "") and target.exists()
    fees = tmp_path / "x.csv"
    fees.write_text("Payer,CPT,Allowed,Effective Date\n[b]ACME,97110,41.00,1/1/2026\n", encoding="utf-8")
    result = runner.invoke(app, ["fee-schedule", "import", str(fees), str(path), "--payer", "[b]ACME", "--out",
                                 str(tmp_path / "f.xlsx")])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "[b]ACME rates: 1 added" in result.stdout
    # the finding's message (in a table cell that may wrap) shows the markup-like key as given
    assert "PayerKey '[b]ACME'" in result.stdout


# ------------------------------------------------------------------------------------------------
# One set of helpers
# ------------------------------------------------------------------------------------------------

def test_fee_schedule_commands_share_the_cli_helpers():
    assert cli_fee_schedule.fail is cli.fail is cli_common.fail
    for name in ("out", "err", "dumps", "EXIT_OK", "EXIT_FINDINGS", "EXIT_UNUSABLE"):  # no copies of its own
        assert getattr(cli_fee_schedule, name, cli_common) in (cli_common, getattr(cli_common, name)), name
    # the import's two endings (refused; done — which prints through cli_common.out) are shared with the NCCI import
    from otbill_xl import cli_refdata
    assert cli_fee_schedule.import_refused is cli_refdata.import_refused is cli_common.import_refused
    assert cli_fee_schedule.import_done is cli_refdata.import_done is cli_common.import_done
    assert not hasattr(cli_fee_schedule, "_fail") and not hasattr(cli_fee_schedule, "Console")
