"""``otbill refdata import-ncci``: CMS's practitioner PTP and MUE layouts (excerpts written for these
tests in ``tests/data/ncci/``, not CMS's values), bad lines with file and line, nothing stored on
errors without --partial, dated quarters kept side by side, and the scrub using what was stored."""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from conftest import CHARGE_HEADER, contract_sheets, make_workbook
from typer.testing import CliRunner

from otbill_xl.actions.check import check_charges
from otbill_xl.actions.refdata import RefdataStoreError, load_ncci, store_dir, store_ncci, stored_tables
from otbill_xl.cli import app
from otbill_xl.domain.findings import Severity
from otbill_xl.domain.scrub.ncci import MueEdit, PtpEdit
from otbill_xl.formats.ncci import NcciFileError, quarter_from_name, read_mue, read_ptp
from otbill_xl.workbook.files import FileWorkbook

DATA = Path(__file__).parent / "data" / "ncci"
PTP_TXT = DATA / "ccipra-test-f1.txt"
MUE_CSV = DATA / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"
runner = CliRunner()
PTP_HEADER = ("Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
              "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale")
MUE_HEADER = '"HCPCS/\nCPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"'


def invoke(*args: str):
    return runner.invoke(app, ["refdata", *args])


def both_97(c1: str, c2: str) -> bool:
    return c1.startswith("97") and c2.startswith("97")


# --- the readers -------------------------------------------------------------------------------------


def test_ptp_text_layout_skips_the_preamble_and_reads_every_column():
    r = read_ptp([PTP_TXT], keep=both_97)
    assert r.findings == ()
    assert r.rows == 7 and r.other_edits == 2  # 7 edit lines; 20610/97140 and 29125/97760 left out
    first, reinstated, excl, nine, prior = r.edits
    assert first == PtpEdit("97530", "97116", "1", date(2020, 1, 1), date(2020, 4, 1),
                            "Misuse of column two code with column one code")
    assert reinstated.deleted_on is None  # Deletion Date "*" = no data
    assert excl.modifier_indicator == "0" and nine.modifier_indicator == "9"
    assert prior.effective_from == date(1996, 1, 1)
    assert r.latest_effective == date(2025, 1, 1)


def test_ptp_from_cms_zip_and_excel_copy(tmp_path):
    zipped = tmp_path / "ccipra-test-f1.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.write(PTP_TXT, "ccipra-test-f1.txt")
        z.writestr("README.pdf", b"%PDF not a table")
    assert read_ptp([zipped], keep=both_97).edits == read_ptp([PTP_TXT], keep=both_97).edits
    # The Excel copy: header legends on rows of their own below the column names, numbers as numbers.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["CPT only copyright American Medical Association."])
    ws.append(["Column 1", "Column 2", "*=in existence prior to 1996", "Effective Date", "Deletion Date",
               "Modifier", "PTP Edit Rationale"])
    ws.append([None, None, None, None, None, "0=not allowed", None])
    ws.append([None, None, None, None, "*=no data", "1=allowed", None])
    ws.append([97530, 97116, None, 20201001, "*", 1, "Misuse of column two code with column one code"])
    ws.append([100, "97140", None, 20200101, 20210101, 0, "an anesthesia code keeps its zeros"])
    xlsx = tmp_path / "ccipra-test-f1.xlsx"
    wb.save(xlsx)
    r = read_ptp([xlsx])
    assert r.findings == ()
    assert [(e.column1, e.column2, e.modifier_indicator, e.effective_from, e.deleted_on) for e in r.edits] == [
        ("97530", "97116", "1", date(2020, 10, 1), None), ("00100", "97140", "0", date(2020, 1, 1), date(2021, 1, 1))]


def test_ptp_bad_lines_name_file_line_and_problem(tmp_path):
    bad = tmp_path / "ccipra-bad.txt"
    bad.write_text("notice\n" + PTP_HEADER + "\n"
                   "97530\t97116\t\t20201001\t*\t1\tok\n"
                   "97530\t97535\t\t2025-01-01\t*\t1\tdate with dashes\n"
                   "97530\t97140\t\t20250101\t*\t2\tno such indicator\n"
                   "9753\t97140\t\t20250101\t*\t1\tshort code\n"
                   "97530\t97150\t\t20250101\t20240101\t1\tdeleted before effective\n"
                   "End of file\n", encoding="utf-8")
    r = read_ptp([bad])
    errors = [(f.location.row, f.location.column) for f in r.errors]
    assert errors == [(4, "Effective Date"), (5, "Modifier"), (6, "Column 1"), (7, "Deletion Date")]
    assert r.errors[0].message.startswith("ccipra-bad.txt line 4: Effective Date '2025-01-01' is not a date")
    assert [(f.location.row, f.severity) for f in r.findings if f.severity is Severity.WARNING] == [
        (8, Severity.WARNING)]  # a plain text line after the table: skipped with a warning
    assert len(r.edits) == 1 and r.rejected == ("97530",)


def test_file_without_the_layout_is_refused(tmp_path):
    other = tmp_path / "fees.csv"
    other.write_text("Code,Rate\n97110,30.00\n", encoding="utf-8")
    with pytest.raises(NcciFileError, match="no PTP edit header"):
        read_ptp([other])
    with pytest.raises(NcciFileError, match="no MUE header"):
        read_mue(other)


def test_mue_layout_multiline_copyright_cell_and_header():
    r = read_mue(MUE_CSV)
    assert r.findings == () and r.header_line == 3
    assert r.edits[:3] == (MueEdit("97110", 4, 3, "Clinical: Data"), MueEdit("97140", 4, 1, "Clinical: Data"),
                           MueEdit("97165", 1, 2, "Code Descriptor / CPT Instruction"))
    assert len(r.edits) == 4  # every MUE line is kept (J1100 too)
    assert r.effective_hint == date(2026, 1, 1)  # ..._Eff_01-01-2026.csv


def test_mue_bad_lines(tmp_path):
    bad = tmp_path / "mue.csv"
    bad.write_text('"notice",,,\n' + MUE_HEADER + "\n"
                   '97110,4,"3 Date of Service Edit: Clinical",x\n'
                   '97140,four,"1 Line Edit",x\n'
                   '97530,6,"Line Edit",x\n'
                   '97110,5,"3 Date of Service Edit: Clinical",x\n', encoding="utf-8")
    r = read_mue(bad)
    assert [(f.location.row, f.location.column) for f in r.errors] == [
        (5, "MUE Values"), (6, "MUE Adjudication Indicator"), (7, "HCPCS/CPT Code")]
    assert "listed twice (also on line 4)" in r.errors[2].message
    assert [e.code for e in r.edits] == ["97110"]


@pytest.mark.parametrize(("name", "expected"), [
    ("MCR_MUE_PractitionerServices_Eff_04-01-2026.csv", date(2026, 4, 1)),
    ("medicare-ncci-2025-q4-practitioner-services-mue-table.zip", date(2025, 10, 1)),
    ("mue-q3-2026.csv", date(2026, 7, 1)),
    ("january-2026-practitioner-mue-table.zip", date(2026, 1, 1)),
    ("practitioner-mue.csv", None),
])
def test_quarter_from_the_file_name(name, expected):
    assert quarter_from_name(name) == expected


# --- the store -----------------------------------------------------------------------------------------


def test_store_keeps_quarters_and_replaces_only_the_same_quarter(tmp_path):
    q1, q2 = date(2026, 1, 1), date(2026, 4, 1)
    store_ncci(mue=[MueEdit("97110", 4, 3)], mue_effective=q1, directory=tmp_path)
    store_ncci(mue=[MueEdit("97110", 6, 3)], mue_effective=q2, directory=tmp_path)
    t = load_ncci(tmp_path)
    assert t is not None
    assert t.mue_on("97110", date(2026, 3, 31))[0].value == 4
    assert t.mue_on("97110", date(2026, 4, 1))[0].value == 6
    assert t.mue_on("97110", date(2025, 12, 31)) is None
    store_ncci(mue=[MueEdit("97110", 5, 3)], mue_effective=q1, directory=tmp_path)
    t = load_ncci(tmp_path)
    assert t is not None and t.mue_on("97110", date(2026, 2, 1))[0].value == 5
    assert t.mue_on("97110", date(2026, 5, 1))[0].value == 6
    assert [(s.kind, s.effective) for s in stored_tables(tmp_path)] == [("mue", q1), ("mue", q2)]


def test_newer_ptp_release_wins_per_pair_and_older_pairs_stay(tmp_path):
    old = [PtpEdit("97530", "97116", "1", date(2020, 1, 1), None, ""), PtpEdit("97530", "97535", "1", None, None, "")]
    new = [PtpEdit("97530", "97116", "9", date(2020, 1, 1), date(2020, 1, 1), "")]
    store_ncci(ptp=old, ptp_release=date(2025, 10, 1), directory=tmp_path)
    store_ncci(ptp=new, ptp_release=date(2026, 1, 1), directory=tmp_path)
    t = load_ncci(tmp_path)
    assert t is not None and t.ptp_label == "CMS PTP edits of 2026-01-01"
    assert {(p.column2, p.modifier_indicator) for p in t.ptp["97530"]} == {("97116", "9"), ("97535", "1")}


def test_damaged_store_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "mue-2026-01-01.csv").write_text("code,mue,mai,rationale\n97110,four,3,\n", encoding="utf-8")
    with pytest.raises(RefdataStoreError, match=r"mue-2026-01-01.csv line 2"):
        load_ncci(tmp_path)


# --- the command ---------------------------------------------------------------------------------------


def test_import_ncci_stores_both_and_show_lists_them():
    result = invoke("import-ncci", "--mue", str(MUE_CSV), "--ptp", str(PTP_TXT), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [(s["kind"], s["effective"], s["rows"]) for s in payload["stored"]] == [
        ("mue", "2026-01-01", 4), ("ptp", "2025-01-01", 5)]
    assert payload["ptp"]["other_edits"] == 2
    shown = invoke("show")
    assert shown.exit_code == 0 and "MUE table of 2026-01-01: 4 rows" in shown.stdout
    assert str(store_dir()).startswith(str(Path(__import__("os").environ["XDG_DATA_HOME"])))


def test_errors_store_nothing_and_keep_the_stored_data(tmp_path):
    assert invoke("import-ncci", "--mue", str(MUE_CSV)).exit_code == 0
    stored = store_dir() / "mue-2026-01-01.csv"
    before = stored.read_bytes()
    bad = tmp_path / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"
    bad.write_text('"notice",,,\n' + MUE_HEADER + '\n97110,9,"3 Date of Service Edit: Clinical",x\n'
                   '97140,four,"1 Line Edit",x\n', encoding="utf-8")
    result = invoke("import-ncci", "--mue", str(bad), "--json")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    # line 1 the notice, lines 2-3 the header (its first cell is quoted over two lines), 4 and 5 the codes
    assert [f["message"] for f in payload["findings"]] == [
        f"{bad.name} line 5: MUE Values 'four' is not a whole number of units."]
    assert payload["stored"] is None
    assert "nothing was stored" in result.stderr and "Traceback" not in result.output
    assert stored.read_bytes() == before
    # --partial stores the good line; 97140, in error, keeps the quarter's stored MUE (4, line edit).
    result = invoke("import-ncci", "--mue", str(bad), "--partial")
    assert result.exit_code == 1, result.output
    t = load_ncci()
    assert t is not None
    assert t.mue_on("97110", date(2026, 1, 2))[0].value == 9
    assert t.mue_on("97140", date(2026, 1, 2))[0] == MueEdit("97140", 4, 1, "Clinical: Data")


def test_unusable_input_is_a_clear_message_not_a_traceback(tmp_path):
    missing = invoke("import-ncci", "--mue", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "nope.csv: the file does not exist" in missing.output
    undated = tmp_path / "practitioner-mue.csv"
    undated.write_bytes(MUE_CSV.read_bytes())
    result = invoke("import-ncci", "--mue", str(undated))
    assert result.exit_code == 2 and "--effective YYYY-MM-DD" in result.output
    assert invoke("import-ncci", "--mue", str(undated), "--effective", "2026-04-01").exit_code == 0
    assert invoke("import-ncci").exit_code == 2
    assert "Traceback" not in result.output


def test_check_uses_the_imported_tables(tmp_path):
    # 97110 75 minutes, 5 units (75 / 15 = 5) on 8/3/2026: within the default ceiling of 8 before the
    # import; over the test table's MUE of 4 (MAI 3) after it.
    rows = [["L1", "P001", "8/3/2026", "1234567893", "97110", "GO", "", "", "", 75, 5, "M62.81", "", "", "", "11",
             250.0, "", "", ""]]
    path = make_workbook(tmp_path / "book.xlsx", contract_sheets(Charges=[CHARGE_HEADER, *rows]))

    def rules():
        outcome = check_charges(FileWorkbook(path), as_of=date(2026, 8, 20), annotate=False)
        return {f.rule for f in outcome.findings}

    assert "ncci.mue" not in rules() and "ncci.units-ceiling" not in rules()
    assert invoke("import-ncci", "--mue", str(MUE_CSV)).exit_code == 0
    assert "ncci.mue" in rules()
