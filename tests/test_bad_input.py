"""Bad input: each case yields a clear message naming file, sheet and cell, never a traceback, and
the input file's bytes are unchanged afterwards."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from datetime import date

import openpyxl
import pytest
from cfb import encrypted_office_file
from conftest import CHARGE_HEADER, PATIENT_ROWS, charge_row, contract_sheets, fingerprint, make_workbook

import otbill_xl
from otbill_xl.errors import EmptyWorkbook, EncryptedWorkbook, NotAWorkbook


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otbill_xl", *args], capture_output=True, text=True, timeout=120)


def read(path):
    before = fingerprint(path)
    result = otbill_xl.read_practice(path)
    assert fingerprint(path) == before
    return result


def rules_at(report) -> set[tuple[str, str, str]]:
    return {(f.rule, f.location.sheet, f.location.cell) for f in report.findings}


def test_missing_required_sheet(tmp_path):
    sheets = contract_sheets()
    del sheets["Providers"]
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    (f,) = [f for f in report.errors if f.rule == "read.sheet-missing"]
    assert f.location.sheet == "Providers" and "no Providers sheet" in f.message and "Add a Providers sheet" in f.fix
    assert len(book.charges) == 2  # the rest is still read


def test_missing_required_column(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [[h for h in CHARGE_HEADER if h != "Code"], charge_row()[:4] + charge_row()[5:]]
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    (f,) = [f for f in report.errors if f.rule == "read.column-missing"]
    assert (f.location.sheet, f.location.row, f.location.column) == ("Charges", 1, "Code")
    assert book.charges[0].code == "" and book.charges[0].minutes == 38


def test_duplicate_headers(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER + ["Code"], charge_row() + ["97530"]]
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets, tables=False))
    (f,) = [f for f in report.errors if f.rule == "read.duplicate-header"]
    assert (f.location.sheet, f.location.cell) == ("Charges", "U1")
    assert "E" in f.message and "U" in f.message
    assert book.charges[0].code == "97110"  # the first one is read


def test_text_in_numeric_and_date_columns(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER, charge_row(minutes="about forty", dos="next tuesday", charge="n/a"),
                         charge_row("L2")]
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    found = rules_at(report)
    assert ("read.bad-number", "Charges", "J2") in found
    assert ("read.bad-date", "Charges", "C2") in found
    assert ("read.bad-amount", "Charges", "Q2") in found
    msg = next(f for f in report.findings if f.location.cell == "J2")
    assert "about forty" in msg.message and msg.fix
    first, second = book.charges
    assert first.minutes is None and first.dos is None and first.charge is None
    assert second.minutes == 38  # one bad row does not stop the rest


def test_phi_values_are_not_echoed(tmp_path):
    patients = [PATIENT_ROWS[0], ["P001", "Doe", "Jane", "born in spring", "F", "MCR", "1EG4TE5MK73", "self", "", "",
                                  None, None]]
    _, report = read(make_workbook(tmp_path / "p.xlsx", contract_sheets(Patients=patients)))
    (f,) = [f for f in report.findings if f.rule == "read.bad-date"]
    assert f.location.cell == "D2" and "born in spring" not in f.message and "DOB" in f.message


def test_us_text_dates_and_excel_serials(tmp_path):
    # Excel serial 46027: 2026-01-05 is 46,027 days after Excel's day 0 (1899-12-30);
    # 2025-01-01 is the well-known 45658, +365 (2025) = 46023 for 2026-01-01, +4 = 46027.
    sheets = contract_sheets()
    rows = [CHARGE_HEADER, charge_row("L1", dos="1/5/2026"), charge_row("L2", dos=46027),
            charge_row("L3", dos="01-05-26"), charge_row("L4", dos="2026-01-05")]
    sheets["Charges"] = rows
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    assert [c.dos for c in book.charges] == [date(2026, 1, 5)] * 4
    assert report.errors == ()


def test_merged_header_cells(tmp_path):
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets(), tables=False)
    wb = openpyxl.load_workbook(path)
    wb["Charges"].merge_cells("L1:M1")  # Dx1 and Dx2 under one header
    wb.save(path)
    _, report = read(path)
    (f,) = [f for f in report.errors if f.rule == "read.merged-header"]
    assert (f.location.sheet, f.location.cell) == ("Charges", "L1") and "L1:M1" in f.message


def test_formulas_without_cached_values(tmp_path):
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets())
    wb = openpyxl.load_workbook(path)
    wb["Charges"]["Q3"] = "=K3*65"  # openpyxl writes formulas without results
    wb.save(path)
    book, report = read(path)
    (f,) = [f for f in report.errors if f.rule == "read.formula-no-value"]
    assert (f.location.sheet, f.location.cell, f.location.column) == ("Charges", "Q3", "Charge")
    assert "Excel" in f.fix
    assert book.charges[1].charge is None


@pytest.mark.parametrize(
    ("content", "error", "phrase"),
    [
        (encrypted_office_file(), EncryptedWorkbook, "password-protected"),
        (b"LineID,PatientID,DOS\nL1,P001,1/5/2026\n", NotAWorkbook, "text (perhaps a CSV export)"),
        (b"", EmptyWorkbook, "empty"),
        (b"\x00\x01\x02garbage" * 10, NotAWorkbook, "not an Excel .xlsx workbook"),
    ],
    ids=["password-protected", "csv-renamed", "empty", "binary-junk"],
)
def test_unusable_files(tmp_path, content, error, phrase):
    path = tmp_path / "charges.xlsx"
    path.write_bytes(content)
    before = fingerprint(path)
    with pytest.raises(error, match=re.escape(phrase)) as exc:
        otbill_xl.read_practice(path)
    assert "charges.xlsx" in str(exc.value)
    result = run_cli("info", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "charges.xlsx" in result.stderr and phrase.split()[0] in result.stderr
    assert fingerprint(path) == before


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(NotAWorkbook, match="not an Excel workbook"):
        otbill_xl.read_practice(path)


def test_cli_findings_exit_code_and_no_traceback(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER, charge_row(minutes="abc")]
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    result = run_cli("info", str(path))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "read.bad-number" in result.stdout and "Charges!J2" in result.stdout
