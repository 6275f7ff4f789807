"""Values that mean something else (issue #9 §2): Excel error cells, values out of range, dotted
dates, huge cells, hidden sheets and rows. Each is a finding on its cell (never a blank, never an
internal error) and a line with an error on it is held back by claims."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

import openpyxl
import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, charge_row, contract_sheets, fingerprint, make_workbook

import otbill_xl
from otbill_xl.actions.check import check_charges
from otbill_xl.actions.claims import create_claims
from otbill_xl.actions.price import price_charges
from otbill_xl.domain.claims import assemble_claims
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook

AS_OF = date(2026, 11, 27)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otbill_xl", *args], capture_output=True, text=True, timeout=180)


def read(path):
    before = fingerprint(path)
    result = otbill_xl.read_practice(path)
    assert fingerprint(path) == before
    return result


def at(report, cell: str, sheet: str = "Charges") -> list[Finding]:
    return [f for f in report.findings if f.location.sheet == sheet and f.location.cell == cell]


def bill(path, tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        return create_claims(FileWorkbook(path), out_dir=tmp_path / "claims", ledger=ledger, as_of=AS_OF,
                             created=datetime(2026, 11, 27, 9, 0))


def distinct_lines(*rows):
    """Charge rows on different codes and days (one visit each), so no rule across lines (duplicates,
    NCCI pairs, minutes pooled per visit) holds any of them back."""
    codes = [("97110", 38, 3, 195.0), ("97530", 25, 2, 130.0), ("97140", 23, 2, 120.0), ("97535", 30, 2, 130.0),
             ("97112", 15, 1, 65.0)]
    out = []
    for (code, minutes, units, charge), overrides in zip(codes, rows, strict=False):
        values = dict(line_id=f"L{len(out) + 1}", dos=f"8/{3 + len(out)}/2026", code=code, minutes=minutes,
                      units=units, charge=charge)
        values.update({"patient" if k == "patient_id" else k: v for k, v in overrides.items()})
        out.append(charge_row(**values))
    return out


# -- Excel error cells ------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "column", "letter"), [
    ("#N/A", "Units", "K"), ("#REF!", "Charge", "Q"), ("#VALUE!", "Minutes", "J"), ("#DIV/0!", "DOS", "C"),
    ("#NAME?", "Code", "E"), ("#NULL!", "LineID", "A"), ("#NUM!", "Dx1", "L"),
])
def test_error_cell_is_an_error_on_its_cell(tmp_path, code, column, letter):
    attribute = {"Units": "units", "Charge": "charge", "Minutes": "minutes", "DOS": "dos", "Code": "code",
                 "LineID": "line_id", "Dx1": "dx1"}[column]
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({attribute: code}, {})
    path = make_workbook(tmp_path / "p.xlsx", sheets)  # openpyxl stores "#N/A" & co. as error cells
    book, report = read(path)
    (f,) = at(report, f"{letter}2")
    assert (f.rule, f.severity, f.location.row, f.location.column) == ("read.error-cell", Severity.ERROR, 2, column)
    assert f"{column} holds the Excel error {code}" in f.message and "not read it as blank" in f.message
    assert code in f.fix
    value = getattr(book.charges[0], attribute)
    assert value in (None, "")  # not used: no computed units, no ChargeMaster rate, no text "#N/A"
    assert at(report, f"{letter}3") == []  # the next line is untouched


def test_error_cells_hold_their_lines_back(tmp_path):
    # Today's failures: #N/A in Units billed computed units, #REF! in Charge billed the ChargeMaster
    # rate, #NULL! in LineID billed a blank LineID.
    sheets = contract_sheets(ChargeMaster=[["Code", "ChargePerUnit", "EffectiveFrom"],
                                           ["97530", 65, "1/1/2026"], ["97140", 60, "1/1/2026"]])
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({"units": "#N/A"}, {"charge": "#REF!"},
                                                         {"line_id": "#NULL!"}, {})
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    outcome = bill(path, tmp_path)
    billed = [line.line_id for claim in outcome.assembly.claims for line in claim.lines]
    assert billed == ["L4"]
    held = {e.row: e.reasons for e in outcome.assembly.held_back}
    assert sorted(held) == [2, 3, 4]
    assert "Units holds the Excel error #N/A" in held[2][0]
    assert "Charge holds the Excel error #REF!" in held[3][0]
    assert "LineID holds the Excel error #NULL!" in held[4][0]


def test_row_of_only_error_cells_is_read(tmp_path):
    sheets = contract_sheets()
    blank_but_errors = ["#N/A", "", "", "", "#REF!"] + [""] * (len(CHARGE_HEADER) - 5)
    sheets["Charges"] = [CHARGE_HEADER, charge_row("L1"), blank_but_errors]
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    assert [c.row for c in book.charges] == [2, 3]  # not dropped as a blank row
    assert {f.location.cell for f in report.errors if f.rule == "read.error-cell"} == {"A3", "E3"}


def test_located_findings_hold_back_lines_of_a_sheet_with_its_own_name(tmp_path):
    # A biller's "Visits" sheet is the Charges sheet: its findings carry the sheet's own name once
    # located, and they hold the line back all the same.
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({}, {})
    book, _ = read(make_workbook(tmp_path / "p.xlsx", sheets))
    finding = Finding(rule="read.error-cell", severity=Severity.ERROR, message="Units holds the Excel error #N/A.",
                      location=Location(file="p.xlsx", sheet="Visits", row=2, column="Units", cell="K2"))
    held = assemble_claims(book, [finding], sheet_names={"Charges": "Visits"})
    assert [e.row for e in held.held_back] == [2]
    assert [line.line_id for c in held.claims for line in c.lines] == ["L2"]
    not_mapped = assemble_claims(book, [finding])
    assert not_mapped.held_back == ()  # without the mapping the sheet name means nothing


# -- values out of range -----------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "cell", "column", "phrase"), [
    ({"dos": "12/31/9999"}, "C2", "DOS", "years 1900 to 2199"),
    ({"dos": 2958465}, "C2", "DOS", "years 1900 to 2199"),            # Excel's last date serial
    ({"units": 1e30}, "K2", "Units", "(0 to 999)"),
    ({"units": -2}, "K2", "Units", "(0 to 999)"),
    ({"minutes": 10 ** 9, "units": None}, "J2", "Minutes", "(0 to 1,440)"),
    ({"charge": 1e12}, "Q2", "Charge", "(-9,999,999.99 to 9,999,999.99)"),
])
def test_out_of_range_value_is_a_finding_on_its_cell(tmp_path, overrides, cell, column, phrase):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines(overrides, {})
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    book, report = read(path)
    (f,) = [f for f in at(report, cell) if f.rule == "read.out-of-range"]
    assert f.severity is Severity.ERROR and f.location.column == column and phrase in f.message
    assert len(f.message) < 200
    assert getattr(book.charges[0], {"DOS": "dos", "Units": "units", "Minutes": "minutes", "Charge": "charge"}[column]) is None
    # check, price and claims run through (no OverflowError / InvalidOperation) and hold the line back
    checked = check_charges(FileWorkbook(path), as_of=AS_OF)
    assert any(x.rule == "read.out-of-range" and x.location.cell == cell for x in checked.findings)
    priced = price_charges(FileWorkbook(path), as_of=AS_OF)
    assert next(p for p in priced.result.lines if p.row == 2).flagged
    outcome = bill(path, tmp_path)
    assert 2 in {e.row for e in outcome.assembly.held_back}
    assert [line.line_id for c in outcome.assembly.claims for line in c.lines] == ["L2"]


def test_out_of_range_through_the_cli(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({"dos": "12/31/9999", "units": 1e30}, {"minutes": 10 ** 12})
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    for command in ("check", "price"):
        result = run_cli(command, str(path), "--out", str(tmp_path / f"{command}.xlsx"), "--as-of", "2026-11-27")
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stdout + result.stderr and "internal error" not in result.stderr
    result = run_cli("claims", str(path), "--out", str(tmp_path / "out"), "--as-of", "2026-11-27")
    assert result.returncode in (0, 1) and "Traceback" not in result.stdout + result.stderr
    assert "0 lines billed; 2 lines held back" in " ".join(result.stdout.split())


def test_patient_dates_out_of_range(tmp_path):
    patients = [PATIENT_ROWS[0], [*PATIENT_ROWS[1][:3], "1/1/1800", *PATIENT_ROWS[1][4:10], "8/1/2026", "12/31/9999"]]
    book, report = read(make_workbook(tmp_path / "p.xlsx", contract_sheets(Patients=patients)))
    dob = at(report, "D2", "Patients")
    assert [f.rule for f in dob] == ["read.out-of-range"] and "1800" not in dob[0].message  # DOB is not echoed
    (poc_end,) = at(report, "L2", "Patients")
    assert "12/31/9999" in poc_end.message
    assert book.patients[0].dob is None and book.patients[0].poc_end is None


def test_completely_blank_charges_sheet(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = []
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    book, report = read(path)
    assert book.charges == ()
    (f,) = [f for f in report.errors if f.location.sheet == "Charges"]
    assert f.rule == "read.header-not-found"
    assert check_charges(FileWorkbook(path), as_of=AS_OF).lines_checked == 0
    assert price_charges(FileWorkbook(path), as_of=AS_OF).result.lines == ()


def test_charges_sheet_with_header_only(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER]
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    outcome = bill(path, tmp_path)
    assert outcome.assembly.claims == () and outcome.files == ()
    result = run_cli("claims", str(path), "--out", str(tmp_path / "out"), "--as-of", "2026-11-27")
    assert result.returncode in (0, 1) and "Traceback" not in result.stdout + result.stderr


# -- dotted dates ------------------------------------------------------------------------------------

def test_dotted_dates_are_day_first_with_one_info_finding(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({"dos": "03.08.2026"}, {"dos": "8/3/2026"},
                                                         {"dos": "13.08.2026"}, {"dos": "04.08.26"})
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    assert [c.dos for c in book.charges] == [date(2026, 8, 3), date(2026, 8, 3), date(2026, 8, 13), date(2026, 8, 4)]
    (f,) = [f for f in report.findings if f.rule == "read.dotted-date"]
    assert f.severity is Severity.INFO and f.location.cell == "C2"
    assert f.message.startswith("3 DOS cells hold a dotted date such as '03.08.2026' (first at C2)")
    assert "3 August 2026" in f.message and "m/d/yyyy" in f.fix
    assert report.errors == ()


def test_dotted_birth_date_is_not_quoted(tmp_path):
    patients = [PATIENT_ROWS[0], [*PATIENT_ROWS[1][:3], "04.03.1950", *PATIENT_ROWS[1][4:]]]
    book, report = read(make_workbook(tmp_path / "p.xlsx", contract_sheets(Patients=patients)))
    assert book.patients[0].dob == date(1950, 3, 4)
    (f,) = [f for f in report.findings if f.rule == "read.dotted-date"]
    assert f.location.cell == "D2" and "1950" not in f.message


# -- long cells and patient data in messages ---------------------------------------------------------

def test_32767_character_cell_is_truncated_in_messages(tmp_path):
    huge = "forty " * 5461  # 32,766 characters, about the most a cell holds
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({"minutes": huge, "charge": "x" * 32767}, {})
    book, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    minutes = [f for f in at(report, "J2") if f.rule == "read.bad-number"][0]
    assert "'forty forty forty fo…'" in minutes.message and len(minutes.message) < 120
    assert all(len(f.message) < 400 for f in report.findings)
    assert book.charges[0].minutes is None


def test_patient_id_and_relationship_are_never_echoed(tmp_path):
    name_as_id = "Jane Q Doe 03/04/1950"
    patients = [PATIENT_ROWS[0], [name_as_id, *PATIENT_ROWS[1][1:7], "mother of Jane Q Doe", *PATIENT_ROWS[1][8:]]]
    sheets = contract_sheets(Patients=patients)
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({"patient": name_as_id, "units": "#N/A", "minutes": 99999}, {})
    _, report = read(make_workbook(tmp_path / "p.xlsx", sheets))
    (rel,) = at(report, "H2", "Patients")
    assert rel.rule == "read.bad-choice" and rel.message == "Relationship is not one of self, spouse, child, other."
    assert {f.location.cell for f in report.errors if f.location.sheet == "Charges"} == {"J2", "K2"}
    for f in report.findings:
        assert "Jane" not in f.message + f.fix and "mother" not in f.message + f.fix


# -- hidden sheets and rows --------------------------------------------------------------------------

@pytest.mark.parametrize(("state", "phrase"), [("hidden", "is hidden in Excel"),
                                               ("veryHidden", "is very hidden (only a macro can show it)")])
def test_hidden_charges_sheet_is_read_with_an_info_finding(tmp_path, state, phrase):
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets())
    wb = openpyxl.load_workbook(path)
    wb["Charges"].sheet_state = state
    wb.save(path)
    book, report = read(path)
    assert [c.line_id for c in book.charges] == ["L1", "L2"]
    (f,) = [f for f in report.findings if f.rule == "read.hidden-sheet"]
    assert f.severity is Severity.INFO and f.location.sheet == "Charges" and phrase in f.message
    assert "otbill reads it like any other sheet" in f.message


def test_hidden_rows_are_read_with_one_info_finding(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({}, {}, {}, {}, {})
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    wb = openpyxl.load_workbook(path)
    for row in (3, 5, 6):
        wb["Charges"].row_dimensions[row].hidden = True
    wb["Patients"].row_dimensions[3].hidden = True
    wb.save(path)
    book, report = read(path)
    assert len(book.charges) == 5 and len(book.patients) == 2
    (charges,) = [f for f in report.findings if f.rule == "read.hidden-rows" and f.location.sheet == "Charges"]
    assert charges.severity is Severity.INFO and charges.location.row == 3
    assert charges.message == "3 hidden rows of Charges are read like any other (rows 3, 5, 6)."
    (patients,) = [f for f in report.findings if f.rule == "read.hidden-rows" and f.location.sheet == "Patients"]
    assert patients.message == "1 hidden row of Patients is read like any other (row 3)."


def test_visible_workbook_has_no_hidden_findings(tmp_path):
    _, report = read(make_workbook(tmp_path / "p.xlsx", contract_sheets()))
    assert not [f for f in report.findings if f.rule.startswith("read.hidden")]
    assert report.errors == ()


# -- values python-calamine cannot convert -----------------------------------------------------------

def test_huge_duration_is_an_error_on_its_cell_and_the_rest_is_read(tmp_path):
    # A Minutes cell formatted [h]:mm holding 1e9 days: Python's timedelta cannot hold it, and the
    # whole sheet's conversion failed (an internal OverflowError). The sheet starts at row 2 here, so
    # the row-by-row fallback has to put every row back in its place.
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + distinct_lines({}, {}, {})
    path = make_workbook(tmp_path / "p.xlsx", sheets, tables=False)
    wb = openpyxl.load_workbook(path)
    ws = wb["Charges"]
    ws.insert_rows(1)
    ws["J4"] = 1e9
    ws["J4"].number_format = "[h]:mm"
    wb.save(path)
    book, report = read(path)
    assert [(c.row, c.line_id, c.minutes) for c in book.charges] == [(3, "L1", 38), (4, "", None), (5, "L3", 23)]
    (f,) = report.errors
    assert (f.rule, f.location.cell, f.location.column) == ("read.unreadable-row", "J4", "Minutes")
    assert "Minutes holds a number far outside Excel's dates" in f.message and "format the cell as a number" in f.fix
    outcome = bill(path, tmp_path)
    assert [line.line_id for c in outcome.assembly.claims for line in c.lines] == ["L1", "L3"]
    assert [e.row for e in outcome.assembly.held_back] == [4]
    result = run_cli("check", str(path), "--out", str(tmp_path / "c.xlsx"), "--as-of", "2026-11-27")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "Charges!J4" in result.stdout
