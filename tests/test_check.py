"""The "Check charges" action, headless through the file adapter, and `otbill check` / `otbill units`."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from conftest import CHARGE_HEADER, ROOT, charge_row, contract_sheets, fingerprint, make_workbook
from typer.testing import CliRunner

from otbill_xl.actions.check import FINDINGS_SHEET, SUMMARY_SHEET, check_charges
from otbill_xl.cli import app
from otbill_xl.excel.macros import check_charges_action
from otbill_xl.templates.sample import PLANTED_ERRORS
from otbill_xl.workbook.files import FileWorkbook
from otbill_xl.workbook.port import FILL_COMPUTED, FILL_ERROR, FILL_WARNING

SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"
AS_OF = date(2026, 11, 27)
runner = CliRunner()


def fill_of(cell) -> str:
    return (cell.fill.start_color.rgb or "")[-6:] if cell.fill and cell.fill.fill_type == "solid" else ""


@pytest.fixture(scope="module")
def checked_sample(tmp_path_factory) -> tuple[Path, object, object]:
    """The ribbon action run on a copy of the sample through the file adapter, saved."""
    src = tmp_path_factory.mktemp("check") / "sample.xlsx"
    shutil.copy(SAMPLE, src)
    before = fingerprint(src)
    port = FileWorkbook(src)
    outcome = check_charges_action(port, AS_OF)
    out = src.with_name("sample.checked.xlsx")
    port.save(str(out))
    assert fingerprint(src) == before  # the input is untouched
    return out, outcome, openpyxl.load_workbook(out)


def test_every_planted_error_is_found_at_its_cell(checked_sample):
    _, outcome, wb = checked_sample
    ws = wb["Charges"]
    row_of = {ws.cell(row=r, column=1).value: r for r in range(2, ws.max_row + 1)}
    header = [c.value for c in ws[1]]
    for planted in PLANTED_ERRORS:
        row = row_of[planted.line_id]
        col = header.index(planted.column) + 1
        hits = [f for f in outcome.findings if f.rule == planted.rule and f.location.row == row]
        assert hits, planted
        assert hits[0].location.column == planted.column
        cell = ws.cell(row=row, column=col)
        assert fill_of(cell) == FILL_ERROR, planted
        assert planted.rule in cell.comment.text and "Fix:" in cell.comment.text


def test_only_expected_findings_on_the_clean_rest(checked_sample):
    _, outcome, _ = checked_sample
    planted = {p.rule for p in PLANTED_ERRORS}
    others = {f.rule for f in outcome.findings if f.rule not in planted}
    # Progress-report reminders fire on every 10th treatment day (facts §7) — a warning, not an error.
    assert others <= {"date.progress-report-due"}
    assert all(f.severity.value == "warning" for f in outcome.findings if f.rule == "date.progress-report-due")
    assert outcome.summary["errors"] == len(PLANTED_ERRORS)


def test_blank_units_are_computed_and_marked(checked_sample):
    _, outcome, wb = checked_sample
    ws = wb["Charges"]
    header = [c.value for c in ws[1]]
    u, m, code = header.index("Units") + 1, header.index("Minutes") + 1, header.index("Code") + 1
    source = openpyxl.load_workbook(SAMPLE)["Charges"]
    blank_rows = [r for r in range(2, source.max_row + 1)
                  if source.cell(row=r, column=u).value in (None, "") and source.cell(row=r, column=code).value]
    assert outcome.units_filled == len(blank_rows) > 0
    for r in blank_rows:
        cell = ws.cell(row=r, column=u)
        assert isinstance(cell.value, int) and fill_of(cell) == FILL_COMPUTED
        assert "computed" in cell.comment.text
    # A lone timed code: its units follow the 8-minute table floor((M + 7) / 15) (facts §1.2).
    lone = [r for r in blank_rows if ws.cell(row=r, column=m).value and
            sum(1 for rr in range(2, ws.max_row + 1)
                if ws.cell(row=rr, column=2).value == ws.cell(row=r, column=2).value
                and ws.cell(row=rr, column=3).value == ws.cell(row=r, column=3).value
                and ws.cell(row=rr, column=m).value) == 1]
    for r in lone:
        assert ws.cell(row=r, column=u).value == (ws.cell(row=r, column=m).value + 7) // 15


def test_findings_sheet_sorted_with_links_and_summary(checked_sample):
    _, outcome, wb = checked_sample
    ws = wb[FINDINGS_SHEET]
    assert [c.value for c in ws[1]] == ["Severity", "Rule title", "Rule", "Cell", "LineID", "PatientID", "DOS", "Code",
                                        "Payer", "Message", "Fix", "Sheet", "Row", "Column"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(outcome.findings)
    ranks = [{"error": 0, "warning": 1, "info": 2}[r[0]] for r in rows]
    assert ranks == sorted(ranks)
    link = ws.cell(row=2, column=4).hyperlink
    assert link is not None and link.location == f"'Charges'!{rows[0][3].split('!')[1]}"
    assert fill_of(ws.cell(row=2, column=1)) == FILL_ERROR
    warn_row = next(i for i, r in enumerate(rows, start=2) if r[0] == "warning")
    assert fill_of(ws.cell(row=warn_row, column=1)) == FILL_WARNING
    summary = {r[0]: r[1] for r in wb[SUMMARY_SHEET].iter_rows(min_row=2, max_row=7, values_only=True)}
    assert summary["Errors"] == outcome.summary["errors"] and summary["Charge lines checked"] == 1740


def test_check_cli_json_and_exit_codes(tmp_path):
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER, charge_row(), charge_row("L2", code="97003", minutes=None, units=1)]
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    result = runner.invoke(app, ["check", str(path), "--json", "--as-of", "2026-11-27"])
    assert result.exit_code == 1, result.stdout
    data = json.loads(result.stdout)
    assert set(data["summary"]) == {"errors", "warnings", "infos", "lines_checked"}
    assert data["summary"]["lines_checked"] == 2
    deleted = next(f for f in data["findings"] if f["rule"] == "code.deleted")
    assert (deleted["sheet"], deleted["row"], deleted["column"], deleted["cell"]) == ("Charges", 3, "Code", "E3")
    assert set(deleted) == {"rule", "severity", "file", "sheet", "row", "column", "cell", "where", "message", "fix"}
    assert deleted["where"] == "Charges!E3"
    [copy] = tmp_path.glob("p.checked-*.xlsx")  # the default name carries a run stamp
    assert len(copy.name) == len("p.checked-20261127-120000.xlsx")

    clean = make_workbook(tmp_path / "clean.xlsx", contract_sheets(Charges=[CHARGE_HEADER, charge_row()]))
    result = runner.invoke(app, ["check", str(clean), "--json", "--as-of", "2026-08-20", "--out", str(tmp_path / "o.xlsx")])
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["summary"]["errors"] == 0

    bad = tmp_path / "bad.xlsx"
    bad.write_text("nope")
    assert runner.invoke(app, ["check", str(bad)]).exit_code == 2


def test_check_does_not_overwrite_typed_units(tmp_path):
    sheets = contract_sheets(Charges=[CHARGE_HEADER, charge_row(units="three"), charge_row("L2", dos="8/4/2026", units=None)])
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    port = FileWorkbook(path)
    outcome = check_charges(port, as_of=AS_OF)
    port.save(str(tmp_path / "out.xlsx"))
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Charges"]
    assert ws["K2"].value == "three"  # unreadable text is flagged, never replaced
    assert ws["K3"].value == 3        # 38 min of 97110 → 3 units (38 + 7) // 15 = 3
    assert outcome.units_filled == 1


def test_formula_like_text_is_written_as_text(tmp_path):
    sheets = contract_sheets(Charges=[CHARGE_HEADER, charge_row(minutes="=1+1")])
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    # openpyxl would store "=1+1" typed as a formula; write it as a string cell in the source.
    wb = openpyxl.load_workbook(path)
    wb["Charges"]["J2"].value = "=HYPERLINK(\"http://x\")"
    wb["Charges"]["J2"].data_type = "s"
    wb.save(path)
    port = FileWorkbook(path)
    check_charges(port, as_of=AS_OF)
    port.save(str(tmp_path / "out.xlsx"))
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")[FINDINGS_SHEET]
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert not (isinstance(cell.value, str) and cell.value.startswith("=")) or cell.data_type == "s"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # CMS Example 1 (facts §1.4).
        ({"rule": "cms", "lines": [{"code": "97112", "minutes": 24}, {"code": "97110", "minutes": 23}]},
         {"total_units": 3, "units": {"97112": 2, "97110": 1}, "alternatives": []}),
        # CMS Example 3: 97110 33 + 97140 7 = 40 → 3: 97110×2, 97140×1.
        ({"rule": "cms", "lines": [{"code": "97110", "minutes": 33}, {"code": "97140", "minutes": 7}]},
         {"total_units": 3, "units": {"97110": 2, "97140": 1}, "alternatives": []}),
        # AMA per code, facts §1.5: 97110 10 + 97140 10 = 2 units.
        ({"rule": "ama", "lines": [{"code": "97110", "minutes": 10}, {"code": "97140", "minutes": 10}]},
         {"total_units": 2, "units": {"97110": 1, "97140": 1}, "alternatives": []}),
    ],
)
def test_units_cli(payload, expected):
    result = runner.invoke(app, ["units", "-"], input=json.dumps(payload))
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    assert {k: data[k] for k in expected} == expected and data["explanation"]


def test_units_cli_ties_and_visits():
    # CMS Example 2: 20/20 → 3 units, either code may take 2 (facts §1.4).
    payload = {"visits": [{"rule": "cms", "lines": [{"code": "97112", "minutes": 20}, {"code": "97110", "minutes": 20}]},
                          {"rule": "ama", "lines": [{"code": "97530", "minutes": 7}]}]}
    result = runner.invoke(app, ["units"], input=json.dumps(payload))
    first, second = json.loads(result.stdout)["visits"]
    answers = [first["units"], *first["alternatives"]]
    assert sorted(map(lambda d: tuple(sorted(d.items())), answers)) == [
        (("97110", 1), ("97112", 2)), (("97110", 2), ("97112", 1))]
    assert second["total_units"] == 0


@pytest.mark.parametrize(
    ("payload", "phrase"),
    [({"lines": [{"code": "99999", "minutes": 10}]}, "99999"),
     ({"lines": [{"code": "97110", "minutes": -5}]}, "minutes"),
     ("not json", "not valid JSON"),
     ({"rule": "weekly", "lines": []}, "rule")],
)
def test_units_cli_bad_input_exit_2(payload, phrase):
    text = payload if isinstance(payload, str) else json.dumps(payload)
    result = runner.invoke(app, ["units"], input=text)
    assert result.exit_code == 2
    assert phrase in result.stderr and "Traceback" not in result.stderr


def test_patients_sheet_findings_point_at_their_cell(tmp_path):
    from conftest import PATIENT_ROWS

    patients = [PATIENT_ROWS[0], PATIENT_ROWS[1][:6] + [""] + PATIENT_ROWS[1][7:]]  # P001 without MemberID
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets(Patients=patients,
                                                              Charges=[CHARGE_HEADER, charge_row()]))
    port = FileWorkbook(path)
    outcome = check_charges(port, as_of=date(2026, 8, 20))
    (f,) = [f for f in outcome.findings if f.rule == "ref.member-id-missing"]
    assert (f.location.sheet, f.location.row, f.location.cell) == ("Patients", 2, "G2")
    port.save(str(tmp_path / "out.xlsx"))
    cell = openpyxl.load_workbook(tmp_path / "out.xlsx")["Patients"]["G2"]
    assert fill_of(cell) == FILL_ERROR and "ref.member-id-missing" in cell.comment.text
