"""``otbill fee-schedule import`` / ``import-cms`` keep data (issue 9 §4): a file with error rows writes
nothing unless --partial (then the bad rows' codes keep their rates), rates absent from the file are kept
unless --replace, and the summary / --json list the rates added, changed (old -> new), unchanged, kept and
removed. Exit codes: 0 written cleanly, 1 written with --partial and bad rows, 2 nothing written.

The workbook holds 18 ACME rates from 2026-01-01 (97xxx codes at $30.00, $31.00, ... in the order of
CODES), one older ACME rate and one rate of another payer; every expected figure below follows from
those numbers and the CSV lines written in each test."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, contract_sheets, fingerprint, make_workbook
from typer.testing import CliRunner

from otbill_xl import read_practice
from otbill_xl.actions.price import price_charges
from otbill_xl.cli import app
from otbill_xl.workbook.files import FileWorkbook

runner = CliRunner()
CODES = ["97110", "97112", "97129", "97130", "97140", "97150", "97165", "97166", "97167", "97168", "97530", "97533",
         "97535", "97537", "97542", "97750", "97760", "97763"]
OLD = {code: Decimal(30 + i) for i, code in enumerate(CODES)}  # 97110 30, 97112 31, 97129 32, 97140 34, 97530 40,
#                                                               97535 42
FEE_HEADER = ["PayerKey", "Code", "Modifier", "EffectiveFrom", "EffectiveTo", "AllowedPerUnit", "Note"]
PATIENTS = [PATIENT_ROWS[0] + ["AuthNumber", "AuthVisits", "AuthStart", "AuthEnd"],
            PATIENT_ROWS[1] + ["", None, None, None],
            PATIENT_ROWS[2] + ["A-1", 30, "8/1/2026", "12/31/2026"]]

# 5 good rows (97110 and 97112 and 97535 change, 97129 is the same, 97018 is new) and 2 bad rows whose
# codes (97140, 97530) have rates in the workbook.
GOOD = ["97110,31.00,1/1/2026", "97112,40.00,1/1/2026", "97129,32.00,1/1/2026", "97018,99.00,1/1/2026",
        "97535,45.50,1/1/2026"]
BAD = ["97140,TBD,1/1/2026", "97530,44.00,someday"]


def charge(line_id: str, code: str, units: int) -> list:
    return [line_id, "P002", "8/3/2026", "1234567893", code, "GO", "", "", "", None, units, "M62.81", "", "", "",
            "11", None, "", "", ""]


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    fees = [FEE_HEADER] + [["ACME", code, None, "1/1/2026", None, float(OLD[code]), f"note {code}"] for code in CODES]
    fees += [["ACME", "97110", None, "1/1/2025", "12/31/2025", 28.0, "older period"],
             ["MCR", "97110", None, None, None, 25.0, "other payer"]]
    charges = [CHARGE_HEADER, charge("L1", "97140", 2), charge("L2", "97530", 1), charge("L3", "97110", 3)]
    return make_workbook(tmp_path / "practice.xlsx",
                         contract_sheets(FeeSchedule=fees, Charges=charges, Patients=PATIENTS))


def fee_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "acme-2026.csv"
    path.write_text("CPT,Allowed,Effective Date\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def rates(path: Path, payer: str = "ACME", start: date | None = date(2026, 1, 1)) -> dict[str, Decimal]:
    book, report = read_practice(path)
    assert not report.errors
    return {e.code: e.allowed_per_unit for e in book.fee_schedule if e.payer_key == payer
            and e.effective_from == start}


def invoke(*args: str):
    return runner.invoke(app, ["fee-schedule", "import", *args])


def copies(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("practice.fees*"))


def test_error_rows_write_nothing_without_partial(workbook, tmp_path):
    fees = fee_file(tmp_path, *GOOD, *BAD)
    before = fingerprint(workbook)
    result = invoke(str(fees), str(workbook), "--payer", "ACME")
    assert result.exit_code == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "acme-2026.csv: 2 rows of the file had errors" in message and "nothing was written" in message
    assert "--partial to import 5 good rates" in message
    assert "TBD" in result.stdout and "Traceback" not in result.stdout + result.stderr  # the findings table
    assert copies(tmp_path) == [] and fingerprint(workbook) == before
    explicit = tmp_path / "explicit.xlsx"
    result = invoke(str(fees), str(workbook), "--payer", "ACME", "--out", str(explicit), "--json")
    assert result.exit_code == 2 and not explicit.exists()
    data = json.loads(result.stdout)
    assert data["written"] is None
    assert [(f["rule"], f["row"]) for f in data["findings"]] == [("fees.bad-amount", 7), ("fees.bad-date", 8)]


def test_partial_writes_good_rows_and_bad_rows_keep_their_rates(workbook, tmp_path):
    fees = fee_file(tmp_path, *GOOD, *BAD)
    result = invoke(str(fees), str(workbook), "--payer", "ACME", "--partial", "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    [out] = copies(tmp_path)
    assert data["out"] == str(out) and data["partial"] is True
    got = rates(out)
    assert len(got) == 19  # 18 kept or updated + 97018 added: nothing lost
    assert got["97110"] == Decimal("31.00") and got["97112"] == Decimal("40.00") and got["97535"] == Decimal("45.50")
    assert got["97018"] == Decimal("99.00") and got["97129"] == Decimal("32")
    assert got["97140"] == Decimal("34") and got["97530"] == Decimal("40")  # bad rows: old rates kept
    assert {c: got[c] for c in CODES if c not in ("97110", "97112", "97535")} == {
        c: OLD[c] for c in CODES if c not in ("97110", "97112", "97535")}
    assert rates(out, start=date(2025, 1, 1)) == {"97110": Decimal("28")}
    assert rates(out, payer="MCR", start=None) == {"97110": Decimal("25")}

    r = data["rates"]
    assert r["added"] == [{"code": "97018", "modifier": "", "effective_from": "2026-01-01", "effective_to": None,
                           "new": "99.00"}]
    assert [(x["code"], x["old"], x["new"]) for x in r["changed"]] == [
        ("97110", "30.00", "31.00"), ("97112", "31.00", "40.00"), ("97535", "42.00", "45.50")]
    assert [(x["code"], x["old"], x["new"]) for x in r["unchanged"]] == [("97129", "32.00", "32.00")]
    kept = {(x["code"], x["effective_from"]): x for x in r["kept"]}
    assert len(kept) == 18 - 4 + 1  # 14 codes of 2026 not updated, and the 2025 rate
    assert kept[("97140", "2026-01-01")]["note"] == "a row of this code had errors in the file"
    assert kept[("97760", "2026-01-01")] == {"code": "97760", "modifier": "", "effective_from": "2026-01-01",
                                             "effective_to": None, "old": "46.00", "note": "not in the imported file"}
    assert r["removed"] == []
    assert data["sheet"]["added"] == 1 and data["sheet"]["updated"] == 3 and data["sheet"]["replaced"] == 0

    # The note column of an updated row stays with it.
    first_rows = [r[:7] for r in FileWorkbook(out).values("FeeSchedule")[1:3]]
    assert first_rows == [["ACME", "97110", "", "1/1/2026", "", 31, "note 97110"],
                          ["ACME", "97112", "", "1/1/2026", "", 40, "note 97112"]]


def test_partial_summary_in_words(workbook, tmp_path):
    fees = fee_file(tmp_path, *GOOD, *BAD)
    result = invoke(str(fees), str(workbook), "--payer", "ACME", "--partial")
    assert result.exit_code == 1
    text = result.stdout
    assert "FeeSchedule: ACME rates: 1 added, 3 changed, 1 unchanged, 15 kept, 0 removed." in text
    assert "  changed 97110 from 2026-01-01: 30.00 → 31.00" in text
    assert "  added 97018 from 2026-01-01: 99.00" in text
    assert "  kept 97530 from 2026-01-01: 40.00 (a row of this code had errors in the file)" in text
    assert "2 rows in error not imported" in text


def test_rates_absent_from_the_file_are_kept_and_lines_stay_priced(workbook, tmp_path):
    fees = fee_file(tmp_path, *GOOD)
    result = invoke(str(fees), str(workbook), "--payer", "ACME")
    assert result.exit_code == 0, result.stdout + result.stderr
    [out] = copies(tmp_path)
    got = rates(out)
    assert len(got) == 19 and got["97140"] == Decimal("34") and got["97760"] == Decimal("46")
    priced = price_charges(FileWorkbook(out), as_of=date(2026, 8, 20), annotate=False)
    allowed = {p.line_id: p.expected_allowed for p in priced.result.lines}
    # 97140: 2 x 34.00 (kept), 97530: 1 x 40.00 (kept), 97110: 3 x 31.00 (imported).
    assert allowed == {"L1": Decimal("68.00"), "L2": Decimal("40.00"), "L3": Decimal("93.00")}
    assert "Rates not in the file are kept; --replace removes" in " ".join(result.stdout.split())


def test_replace_removes_rates_of_the_imported_period_not_in_the_file(workbook, tmp_path):
    fees = fee_file(tmp_path, *GOOD)
    result = invoke(str(fees), str(workbook), "--payer", "ACME", "--replace", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    out = Path(data["out"])
    assert rates(out) == {"97110": Decimal("31.00"), "97112": Decimal("40.00"), "97129": Decimal("32"),
                          "97018": Decimal("99.00"), "97535": Decimal("45.50")}
    assert rates(out, start=date(2025, 1, 1)) == {"97110": Decimal("28")}  # another period: kept
    assert rates(out, payer="MCR", start=None) == {"97110": Decimal("25")}  # another payer: kept
    removed = {x["code"]: x["old"] for x in data["rates"]["removed"]}
    assert removed == {c: f"{OLD[c]:.2f}" for c in CODES if c not in ("97110", "97112", "97129", "97535")}
    assert len(removed) == 14 and data["sheet"]["replaced"] == 14


def test_replace_with_partial_keeps_the_bad_rows_codes(workbook, tmp_path):
    fees = fee_file(tmp_path, *GOOD, *BAD)
    result = invoke(str(fees), str(workbook), "--payer", "ACME", "--replace", "--partial", "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    got = rates(Path(data["out"]))
    assert set(got) == {"97110", "97112", "97129", "97018", "97535", "97140", "97530"}
    assert (got["97140"], got["97530"]) == (Decimal("34"), Decimal("40"))
    assert len(data["rates"]["removed"]) == 12
    assert {x["code"] for x in data["rates"]["kept"] if x["effective_from"] == "2026-01-01"} == {"97140", "97530"}


def test_a_rerun_writes_a_new_copy_and_explicit_out_replaces(workbook, tmp_path):
    fees = fee_file(tmp_path, *GOOD)
    for _ in range(2):
        assert invoke(str(fees), str(workbook), "--payer", "ACME").exit_code == 0
    first, second = copies(tmp_path)
    assert first.name.startswith("practice.fees-") and second.name.startswith("practice.fees-")
    target = tmp_path / "mine.xlsx"
    target.write_bytes(b"older")
    assert invoke(str(fees), str(workbook), "--payer", "ACME", "--out", str(target)).exit_code == 0
    assert rates(target)["97018"] == Decimal("99.00")
    same = invoke(str(fees), str(workbook), "--payer", "ACME", "--out", str(fees))
    assert same.exit_code == 2 and "never overwrites its input" in same.stderr


def test_help_states_the_exit_rule():
    for command in ("import", "import-cms"):
        text = " ".join(runner.invoke(app, ["fee-schedule", command, "--help"], env={"COLUMNS": "200"})
                        .stdout.replace("│", " ").split())
        assert ("Exit codes: 0 written cleanly (warnings allowed); 1 written with --partial although rows had "
                "errors; 2 nothing written") in text, command
        assert "--partial" in text


# ------------------------------------------------------------------------------------------------
# import-cms: an error row writes nothing unless --partial; the bad row's code keeps its current row
# ------------------------------------------------------------------------------------------------

RVU_LINES = [
    '"HCPCS","MOD","DESCRIPTION","STATUS CODE","WORK RVU","NON-FAC PE RVU","FACILITY PE RVU","MP RVU"',
    '"97110","","Therapeutic exercises","A","0.46","0.44","0.44","0.02"',
    '"97530","","Therapeutic activities","A","0.44","0.52","0.52","0.02"',
]
BAD_RVU = '"97140","","Manual therapy","A","0.43","0.4O","0.4O","0.02"'
RVU_HEADER = ["Year", "Code", "Modifier", "WorkRVU", "PERVUNonFacility", "PERVUFacility", "MPRVU", "AlwaysTherapy"]


@pytest.fixture
def cms_book(tmp_path: Path) -> Path:
    rvus = [RVU_HEADER, [2026, "97110", "", 0.45, 0.40, 0.40, 0.01, "Y"],
            [2026, "97140", "", 0.43, 0.41, 0.41, 0.02, "Y"], [2026, "97535", "", 0.45, 0.51, 0.51, 0.02, "Y"]]
    return make_workbook(tmp_path / "practice.xlsx", contract_sheets(MedicareRVU=rvus))


def test_import_cms_error_row_writes_nothing_without_partial(cms_book, tmp_path):
    rvu = tmp_path / "PPRRVU26_JAN.csv"
    rvu.write_text("\n".join([*RVU_LINES, BAD_RVU]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["fee-schedule", "import-cms", str(cms_book), "--year", "2026", "--rvu", str(rvu)])
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "1 row of the file had errors" in " ".join(result.stderr.split())
    assert "--partial to import 2 RVU rows anyway" in " ".join(result.stderr.split())
    assert list(tmp_path.glob("practice.pfs*")) == []

    result = runner.invoke(app, ["fee-schedule", "import-cms", str(cms_book), "--year", "2026", "--rvu", str(rvu),
                                 "--partial", "--json"])
    assert result.exit_code == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["kept_because_of_errors"] == ["97140"]
    book, _ = read_practice(Path(data["out"]))
    got = {r.code: (r.work_rvu, r.pe_rvu_nonfacility) for r in book.medicare_rvus if r.year == 2026}
    # 97110 and 97530 from the file, 97140 kept (its row was bad), 97535 (not in the file) replaced as before.
    assert got == {"97110": (Decimal("0.46"), Decimal("0.44")), "97530": (Decimal("0.44"), Decimal("0.52")),
                   "97140": (Decimal("0.43"), Decimal("0.41"))}

    clean = tmp_path / "PPRRVU26_CLEAN.csv"
    clean.write_text("\n".join(RVU_LINES) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["fee-schedule", "import-cms", str(cms_book), "--year", "2026", "--rvu", str(clean)])
    assert result.exit_code == 0, result.stdout + result.stderr
