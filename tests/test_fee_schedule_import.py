"""Fee-schedule imports: CMS's PPRRVU and GPCI files, payers' contracted rates (CSV and Excel), the
workbook merge, and the ``otbill fee-schedule`` commands.

The CMS excerpts in tests/data are written for these tests in CMS's layout (preamble lines with the
title under DESCRIPTION, the header split over five lines, a blank line and a trailer; the GPCI banner,
header, footnotes); every value in them is invented.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import contract_sheets, fingerprint, make_workbook
from typer.testing import CliRunner

from otbill_xl import read_practice
from otbill_xl.actions.fee_schedule import import_fee_schedule, import_medicare
from otbill_xl.cli_fee_schedule import fee_schedule_app
from otbill_xl.domain.findings import Severity
from otbill_xl.formats.cms_pfs import CmsFileError, locality_key, read_gpci, read_pprrvu
from otbill_xl.formats.fee_schedule_import import FeeScheduleFileError, mapping_from_toml, read_fee_schedule
from otbill_xl.workbook.files import FileWorkbook

DATA = Path(__file__).parent / "data"
RVU = DATA / "PPRRVU26_JAN_excerpt.csv"
GPCI = DATA / "GPCI2026_excerpt.csv"
ACME = DATA / "payer_acme_fees.csv"

runner = CliRunner()

RVU_HEADER = ["Year", "Code", "Modifier", "WorkRVU", "PERVUNonFacility", "PERVUFacility", "MPRVU", "AlwaysTherapy"]
FEE_HEADER = ["PayerKey", "Code", "Modifier", "EffectiveFrom", "EffectiveTo", "AllowedPerUnit", "My note"]


def by_code(read):
    return {(r.code, r.modifier): r for r in read.rvus}


def without_lines(src: Path, dest: Path, *numbers: int) -> Path:
    """A copy of a CSV fixture without the given 1-based lines (to make a clean or altered file)."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    dest.write_text("".join(line for i, line in enumerate(lines, start=1) if i not in numbers), encoding="utf-8")
    return dest


def replace_line(src: Path, dest: Path, number: int, text: str) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines()
    lines[number - 1] = text
    dest.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return dest


def summit_xlsx(path: Path, *, bad: bool = True) -> Path:
    """A payer file in a second layout: title row, header in row 3, a payer column, numbers and date cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Rates"
    ws.append(["Summit Health Plan PPO - contracted rates 2026 (otbill test file)"])
    ws.append([])
    ws.append(["Payer", "Procedure Code", "Modifier", "Contract Rate", "Start", "End"])
    ws.append(["SUMMIT", 97110, "GO", 36.75, dt.date(2026, 1, 1), dt.date(2026, 12, 31)])
    ws.append(["Summit", "97530-GO", None, 0.1 + 0.2 + 44.0, dt.date(2026, 1, 1), None])  # float noise
    ws.append(["BLUEPEAK", 97110, None, 31.0, dt.date(2026, 1, 1), None])
    ws.append(["SUMMIT", 97165, None, "$125.00", "2026-01-01", None])
    if bad:
        ws.append(["SUMMIT", 97168, None, 81.5, "soon", None])
    notes = wb.create_sheet("Notes")
    notes.append(["Code", "Rate"])
    notes.append(["97535", 40])
    wb.save(path)
    return path


@pytest.fixture
def workbook(tmp_path):
    sheets = contract_sheets()
    sheets["MedicareRVU"] = [RVU_HEADER, [2025, "97110", "", 0.45, 0.43, None, 0.01, "Y"],
                             [2026, "97110", "", 9.99, 9.99, 9.99, 9.99, "Y"]]
    sheets["FeeSchedule"] = [FEE_HEADER,
                             ["ACME", "97110", "GO", "1/1/2026", None, 30.0, "replaced"],
                             ["ACME", "97110", "GO", "1/1/2025", None, 28.0, "older period"],
                             ["MCR", "97110", "", None, None, 25.0, "other payer"]]
    return make_workbook(tmp_path / "practice.xlsx", sheets)


# ------------------------------------------------------------------------------------------------
# PPRRVU
# ------------------------------------------------------------------------------------------------

def test_pprrvu_header_is_found_after_the_preamble_and_joined_across_lines():
    read = read_pprrvu(RVU, year=2026)
    assert read.header_line == 10  # the HCPCS line, after 5 preamble lines and 4 upper header lines
    columns = dict(read.columns)
    assert columns["work"] == "WORK RVU" and columns["pe_nonfacility"] == "NON-FAC PE RVU"
    assert columns["pe_facility"] == "FACILITY PE RVU" and columns["na_facility"] == "FACILITY NA INDICATOR"
    assert columns["mp"] == "MP RVU" and columns["conversion_factor"] == "CONV FACTOR"
    assert read.conversion_factors == (Decimal("33.4009"),) and read.pricing_indicators == ("9",)


def test_pprrvu_values_are_exact_decimals_from_the_text():
    rvus = by_code(read_pprrvu(RVU, year=2026))
    r = rvus[("97110", "")]
    assert (r.year, r.work_rvu, r.pe_rvu_nonfacility, r.mp_rvu) == (2026, Decimal("0.46"), Decimal("0.44"), Decimal("0.02"))
    for value, text in ((r.work_rvu, "0.46"), (r.pe_rvu_nonfacility, "0.44"), (r.mp_rvu, "0.02"),
                        (rvus[("97165", "")].work_rvu, "1.55"), (rvus[("97168", "")].pe_rvu_nonfacility, "1.14"),
                        (rvus[("97129", "")].pe_rvu_facility, "0.16")):
        assert isinstance(value, Decimal) and str(value) == text
    assert r.row == 14


def test_pprrvu_keeps_only_ot_catalogue_codes_unless_all_codes():
    read = read_pprrvu(RVU, year=2026)
    assert {c for c, _ in by_code(read)} == {"97010", "97018", "97110", "97129", "97165", "97168", "97530", "97535",
                                             "97760"}
    assert read.other_codes == 2  # 71046-26 and 99213
    everything = by_code(read_pprrvu(RVU, year=2026, all_codes=True))
    assert ("99213", "") in everything and ("71046", "26") in everything
    assert everything[("99213", "")].pe_rvu_facility == Decimal("0.52")
    assert everything[("99213", "")].always_therapy is False


def test_pprrvu_facility_na_is_none_and_always_therapy_comes_from_the_catalogue():
    rvus = by_code(read_pprrvu(RVU, year=2026))
    assert rvus[("97110", "")].pe_rvu_facility is None  # FACILITY NA INDICATOR = NA
    assert rvus[("97760", "")].pe_rvu_facility is None  # "NA" typed in the PE cell itself
    assert rvus[("97129", "")].pe_rvu_facility == Decimal("0.16")
    assert rvus[("97110", "")].always_therapy is True and rvus[("97129", "")].always_therapy is False


def test_pprrvu_status_code_is_read():
    # The excerpt's STATUS CODE column: 97010 is B (bundled), the others A.
    rvus = by_code(read_pprrvu(RVU, year=2026))
    assert rvus[("97010", "")].status == "B"
    assert {r.status for key, r in rvus.items() if key != ("97010", "")} == {"A"}


def test_pprrvu_bad_row_is_reported_with_its_line_and_the_rest_is_read():
    read = read_pprrvu(RVU, year=2026)
    assert ("97140", "") not in by_code(read)
    [bad] = read.errors
    assert (bad.rule, bad.location.row, bad.location.file) == ("pfs.bad-number", 15, RVU.name)
    assert "97140" in bad.message and "0.4O" in bad.message and bad.message.startswith("Line 15:") and bad.fix
    status = [f for f in read.findings if f.rule == "pfs.status"]
    assert [(f.severity, f.location.row) for f in status] == [(Severity.INFO, 12)]  # 97010 is status B


def test_pprrvu_totals_cross_check_and_nonfacility_na(tmp_path):
    lines = RVU.read_text(encoding="utf-8").splitlines()
    # 97110's NON-FACILITY TOTAL no longer adds up; 97530 becomes non-facility NA.
    lines[13] = lines[13].replace(",0.92,", ",0.93,", 1)
    cells = lines[18].split(",")
    cells[7] = "NA"
    lines[18] = ",".join(cells)
    path = tmp_path / "PPRRVU26_JAN.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = read_pprrvu(path, year=2026)
    rules = {(f.rule, f.location.row, f.severity) for f in read.findings}
    assert ("pfs.total-mismatch", 14, Severity.ERROR) in rules
    assert ("pfs.nonfacility-na", 19, Severity.WARNING) in rules
    assert ("97110", "") not in by_code(read) and ("97530", "") not in by_code(read)


def test_pprrvu_year_in_the_title_is_checked():
    read = read_pprrvu(RVU, year=2025)
    [warn] = [f for f in read.findings if f.rule == "pfs.year-mismatch"]
    assert warn.severity is Severity.WARNING and warn.location.row == 1 and "2026" in warn.message


def test_pprrvu_wrong_files_are_refused_with_a_fix(tmp_path):
    with pytest.raises(CmsFileError, match="--gpci"):
        read_pprrvu(GPCI, year=2026)
    text = tmp_path / "notes.csv"
    text.write_text("just,some\ntext,here\n", encoding="utf-8")
    with pytest.raises(CmsFileError, match="not a CMS PPRRVU file"):
        read_pprrvu(text, year=2026)
    only_last_header_line = without_lines(RVU, tmp_path / "cut.csv", 6, 7, 8, 9)  # HCPCS line alone is ambiguous
    with pytest.raises(CmsFileError, match="WORK RVU") as exc:
        read_pprrvu(only_last_header_line, year=2026)
    assert "line 6" in str(exc.value)
    with pytest.raises(CmsFileError, match="does not exist"):
        read_pprrvu(tmp_path / "missing.csv", year=2026)


def test_pprrvu_header_words_below_the_hcpcs_line(tmp_path):
    """Another shape seen in public parsers' fixtures: names start on the HCPCS line, continue below."""
    path = tmp_path / "PPRRVU26_A.csv"
    path.write_text(
        "2026 National Physician Fee Schedule Relative Value File\n"
        "CPT codes and descriptions only are copyright AMA\n"
        '"HCPCS","MOD","DESCRIPTION","STATUS","WORK","NON-FAC PE","NON-FAC NA","FACILITY PE","FACILITY NA","MP"\n'
        '"","","","CODE","RVU","RVU","INDICATOR","RVU","INDICATOR","RVU"\n'
        '"97535","","Self care mngment training","A","0.46","0.52","","0.52","NA","0.02"\n'
        '"97129","","Ther ivntj 1st 15 min","A","0.51","0.17","","0.16","","0.02"\n', encoding="utf-8")
    read = read_pprrvu(path, year=2026)
    assert read.header_line == 3 and dict(read.columns)["status"] == "STATUS CODE" and not read.findings
    rvus = by_code(read)
    assert rvus[("97535", "")].pe_rvu_facility is None and rvus[("97535", "")].work_rvu == Decimal("0.46")
    assert rvus[("97129", "")].pe_rvu_facility == Decimal("0.16")


def test_pprrvu_reads_cms_xlsx_copy(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([None, None, "2026 National Physician Fee Schedule Relative Value File (test)"])
    ws.append([None, None, None, "STATUS", "WORK", "NON-FAC", "FACILITY", "MP"])
    ws.append(["HCPCS", "MOD", "DESCRIPTION", "CODE", "RVU", "PE RVU", "PE RVU", "RVU"])
    ws.append(["97110", None, "Therapeutic exercises", "A", 0.46, 0.44, 0.44, 0.02])
    path = tmp_path / "PPRRVU26.xlsx"
    wb.save(path)
    [r] = read_pprrvu(path, year=2026).rvus
    assert (r.work_rvu, r.pe_rvu_nonfacility, r.pe_rvu_facility, r.mp_rvu) == tuple(
        Decimal(t) for t in ("0.46", "0.44", "0.44", "0.02"))
    assert str(r.work_rvu) == "0.46"


# ------------------------------------------------------------------------------------------------
# GPCI
# ------------------------------------------------------------------------------------------------

def test_gpci_localities_keyed_mac_locality_with_exact_values():
    read = read_gpci(GPCI, year=2026)
    assert read.header_line == 4
    gpcis = {g.locality: g for g in read.gpcis}
    assert set(gpcis) == {"10112-00", "12402-01", "12402-99", "01112-54", "02102-01"}  # MAC and locality zero-padded
    nj = gpcis["12402-99"]
    assert (nj.year, nj.work_gpci, nj.pe_gpci, nj.mp_gpci) == (2026, Decimal("1.041"), Decimal("1.135"), Decimal("1.166"))
    assert str(nj.pe_gpci) == "1.135" and isinstance(nj.mp_gpci, Decimal)
    # Two work GPCI columns: the one with the 1.0 floor is used.
    assert read.work_column == "2026 PW GPCI (with 1.0 Floor)" and str(gpcis["10112-00"].work_gpci) == "1.000"
    assert dict(read.names)["02102-01"] == "ALASKA"  # footnote mark dropped
    assert locality_key("1112", "4") == "01112-04" and locality_key(12402.0, 99.0) == "12402-99"


def test_gpci_bad_row_reported_footnotes_skipped():
    read = read_gpci(GPCI, year=2026)
    assert [(f.rule, f.location.row, f.severity) for f in read.findings] == [("gpci.bad-number", 10, Severity.ERROR)]
    assert "1.2x5" in read.findings[0].message and "05302-02" in read.findings[0].message


def test_gpci_of_another_year_is_refused(tmp_path):
    with pytest.raises(CmsFileError, match="for 2026") as exc:
        read_gpci(GPCI, year=2025)
    assert "--year 2026" in str(exc.value)
    with pytest.raises(CmsFileError, match="--rvu"):
        read_gpci(RVU, year=2026)


# ------------------------------------------------------------------------------------------------
# Payer fee schedules
# ------------------------------------------------------------------------------------------------

def test_payer_csv_layout_money_dates_and_bad_rows():
    read = read_fee_schedule(ACME, payer="ACME")
    assert read.header_line == 4 and read.columns == {
        "Code": "CPT Code", "AllowedPerUnit": "Allowed", "Modifier": "Mod", "EffectiveFrom": "Effective Date",
        "EffectiveTo": "Term Date"}
    fees = {(e.code, e.modifier): e for e in read.entries}
    assert set(fees) == {("97165", ""), ("97168", ""), ("97110", "GO"), ("97530", ""), ("97799", "")}
    assert fees[("97799", "")].allowed_per_unit == Decimal("1234.50")  # "$1,234.50"
    assert str(fees[("97110", "GO")].allowed_per_unit) == "32.15"
    assert fees[("97165", "")].effective_from == dt.date(2026, 1, 1)
    assert fees[("97165", "")].effective_to == dt.date(2026, 12, 31)
    assert all(e.payer_key == "ACME" for e in read.entries)
    got = [(f.rule, f.severity, f.location.row) for f in read.findings]
    assert got == [("fees.bad-amount", Severity.ERROR, 11), ("fees.bad-code", Severity.ERROR, 12),
                   ("fees.no-rate", Severity.WARNING, 13)]
    assert read.findings[0].message.startswith("Line 11:") and "TBD" in read.findings[0].message


def test_payer_xlsx_layout_payer_column_filters_and_cells_are_named(tmp_path):
    path = summit_xlsx(tmp_path / "summit.xlsx")
    read = read_fee_schedule(path, payer="SUMMIT")
    assert (read.sheet, read.header_line, read.other_payer_rows) == ("Rates", 3, 1)
    fees = {(e.code, e.modifier): e for e in read.entries}
    assert set(fees) == {("97110", "GO"), ("97530", "GO"), ("97165", "")}  # "97530-GO" split, BLUEPEAK left out
    assert fees[("97530", "GO")].allowed_per_unit == Decimal("44.30")  # float noise rounded to the cent
    assert fees[("97110", "GO")].allowed_per_unit == Decimal("36.75")
    assert fees[("97165", "")].allowed_per_unit == Decimal("125.00")
    assert fees[("97110", "GO")].effective_to == dt.date(2026, 12, 31)
    [bad] = read.findings
    assert (bad.rule, bad.location.sheet, bad.location.cell, bad.location.row) == ("fees.bad-date", "Rates", "E8", 8)
    notes = read_fee_schedule(path, payer="SUMMIT", sheet="notes", effective_from=dt.date(2026, 1, 1))
    assert [(e.code, e.allowed_per_unit, e.effective_from) for e in notes.entries] == [
        ("97535", Decimal("40"), dt.date(2026, 1, 1))]
    with pytest.raises(FeeScheduleFileError, match="no sheet named 'Fees'"):
        read_fee_schedule(path, payer="SUMMIT", sheet="Fees")
    with pytest.raises(FeeScheduleFileError, match="no rows for payer 'AETNA'"):
        read_fee_schedule(path, payer="AETNA")


def test_payer_column_mapping_from_toml(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Svc;Pays;Begins\n97110;29.40;2026-01-01\n97530;35.90;2026-01-01\n97112;29,40;2026-01-01\n",
                    encoding="utf-8")
    with pytest.raises(FeeScheduleFileError, match="--columns"):
        read_fee_schedule(path, payer="X")
    toml = tmp_path / "columns.toml"
    toml.write_text('[FeeSchedule]\nCode = "Svc"\nAllowedPerUnit = "Pays"\nEffectiveFrom = "Begins"\n', encoding="utf-8")
    mapping = mapping_from_toml(toml)
    assert mapping == {"Code": "Svc", "AllowedPerUnit": "Pays", "EffectiveFrom": "Begins"}
    read = read_fee_schedule(path, payer="X", columns=mapping)
    assert [(e.code, e.allowed_per_unit, e.effective_from) for e in read.entries] == [
        ("97110", Decimal("29.40"), dt.date(2026, 1, 1)), ("97530", Decimal("35.90"), dt.date(2026, 1, 1))]
    [bad] = read.findings  # a decimal comma is never read as 2940
    assert bad.rule == "fees.bad-amount" and bad.location.row == 4 and "comma" in bad.message
    flat = tmp_path / "flat.toml"
    flat.write_text('Code = "Svc"\nAllowed = "Pays"\n', encoding="utf-8")
    assert mapping_from_toml(flat) == {"Code": "Svc", "AllowedPerUnit": "Pays"}
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('Colour = "Blue"\n', encoding="utf-8")
    with pytest.raises(FeeScheduleFileError, match="not a fee-schedule column"):
        mapping_from_toml(wrong)


# ------------------------------------------------------------------------------------------------
# Workbook merge
# ------------------------------------------------------------------------------------------------

def test_workbook_merge_creates_missing_sheets_and_keeps_title_rows(tmp_path):
    sheets = contract_sheets()
    sheets["Fee Schedule"] = [["Acme and Medicare rates"], [], ["Payer", "CPT", "Allowed", "Notes"],
                              ["MCR", "97110", 25, "keep me"], ["ACME", "97530", 33, "replace me"]]
    path = make_workbook(tmp_path / "p.xlsx", sheets, tables=False)
    port = FileWorkbook(path)
    [rvu_update] = import_medicare(port, year=2026, rvus=read_pprrvu(RVU, year=2026).rvus)
    assert (rvu_update.created, rvu_update.added) == (True, 9)
    acme = read_fee_schedule(ACME, payer="ACME")
    update = import_fee_schedule(port, [e.model_copy(update={"effective_from": None}) for e in acme.entries],
                                 payer="ACME")
    # ACME 97530 (blank EffectiveFrom) is updated in place, the other 4 rates are appended.
    assert (update.sheet, update.replaced, update.kept, update.added, update.updated) == ("Fee Schedule", 0, 1, 4, 1)
    [changed] = update.changed_rates
    assert (changed.code, changed.old, changed.new) == ("97530", Decimal("33"), Decimal("38.40"))
    port.save(str(tmp_path / "out.xlsx"))
    values = FileWorkbook(tmp_path / "out.xlsx").values("Fee Schedule")
    assert values[0][0] == "Acme and Medicare rates" and values[2][:4] == ["Payer", "CPT", "Allowed", "Notes"]
    assert values[3][:4] == ["MCR", "97110", 25, "keep me"]
    assert values[4][:4] == ["ACME", "97530", 38.4, "replace me"]  # its note stays with the row
    book, report = read_practice(tmp_path / "out.xlsx")
    assert len(book.medicare_rvus) == 9 and not report.errors
    assert {(e.payer_key, e.code) for e in book.fee_schedule} == {("MCR", "97110")} | {("ACME", c) for c in (
        "97165", "97168", "97110", "97530", "97799")}


# ------------------------------------------------------------------------------------------------
# otbill fee-schedule import-cms
# ------------------------------------------------------------------------------------------------

def test_cli_import_cms_writes_the_copy_and_leaves_inputs_alone(workbook, tmp_path):
    before = {p: fingerprint(p) for p in (workbook, RVU, GPCI)}
    args = ["import-cms", "--rvu", str(RVU), "--gpci", str(GPCI), "--year", "2026", str(workbook), "--json"]
    result = runner.invoke(fee_schedule_app, args)
    assert result.exit_code == 2, result.stdout + result.stderr  # rows in error: nothing written without --partial
    assert json.loads(result.stdout)["written"] is None and not list(tmp_path.glob("practice.pfs*"))
    result = runner.invoke(fee_schedule_app, [*args, "--partial"])
    assert result.exit_code == 1, result.stdout + result.stderr  # one bad RVU row, one bad GPCI row
    data = json.loads(result.stdout)
    errors = {(f["rule"], f["file"], f["row"]) for f in data["findings"] if f["severity"] == "error"}
    assert errors == {("pfs.bad-number", RVU.name, 15), ("gpci.bad-number", GPCI.name, 10)}
    assert data["rvu"]["rvus"] == 9 and data["gpci"]["localities"] == 5
    [out] = tmp_path.glob("practice.pfs-*.xlsx")
    assert data["out"] == str(out)
    assert {p: fingerprint(p) for p in before} == before  # inputs untouched

    book, report = read_practice(out)
    assert not report.errors
    rvus = {(r.year, r.code): r for r in book.medicare_rvus}
    assert rvus[(2025, "97110")].work_rvu == Decimal("0.45")  # another year's row kept
    assert rvus[(2026, "97110")].work_rvu == Decimal("0.46")  # this year's row replaced
    assert rvus[(2026, "97110")].pe_rvu_facility is None and rvus[(2026, "97110")].always_therapy is True
    assert rvus[(2026, "97129")].pe_rvu_facility == Decimal("0.16")
    assert len([r for r in book.medicare_rvus if r.year == 2026]) == 9
    # The old sheet had no Status column: it is added; the kept 2025 row (blank status) still reads as active.
    assert (rvus[(2026, "97010")].status, rvus[(2026, "97110")].status) == ("B", "A")
    assert rvus[(2025, "97110")].status in ("", "A")
    assert FileWorkbook(out).values("MedicareRVU")[0][-1] == "Status"
    gpcis = {g.locality: g for g in book.medicare_gpcis}
    assert gpcis["12402-99"].pe_gpci == Decimal("1.135") and gpcis["01112-54"].mp_gpci == Decimal("0.655")
    # The conftest practice has MedicareLocality 01112 (a MAC, not a MAC-LL key): a warning says how to fix it.
    [loc] = [f for f in data["findings"] if f["rule"] == "pfs.locality-unknown"]
    assert loc["severity"] == "warning" and "12402-99" in loc["message"]


def test_cli_import_cms_exit_0_on_clean_files(workbook, tmp_path):
    rvu = without_lines(RVU, tmp_path / "PPRRVU26_JAN.csv", 15)
    gpci = without_lines(GPCI, tmp_path / "GPCI2026.csv", 10)
    out = tmp_path / "result.xlsx"
    result = runner.invoke(fee_schedule_app, ["import-cms", str(workbook), "--year", "2026", "--rvu", str(rvu),
                                             "--gpci", str(gpci), "--out", str(out)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "header at line 10" in result.stdout and "MedicareGPCI: 5 rows for 2026 written" in result.stdout
    assert out.exists()
    # Only the GPCI file: the RVU sheet is left as it was.
    out2 = tmp_path / "gpci-only.xlsx"
    result = runner.invoke(fee_schedule_app, ["import-cms", str(workbook), "--year", "2026", "--gpci", str(gpci),
                                             "--out", str(out2)])
    assert result.exit_code == 0, result.stdout + result.stderr
    book, _ = read_practice(out2)
    assert {(r.year, r.work_rvu) for r in book.medicare_rvus} == {(2025, Decimal("0.45")), (2026, Decimal("9.99"))}


def test_cli_import_cms_exit_2_when_nothing_usable(workbook, tmp_path):
    out = tmp_path / "never.xlsx"
    cases = [
        ["--rvu", str(RVU), "--gpci", str(GPCI), "--year", "2025"],        # GPCI columns say 2026
        ["--rvu", str(GPCI), "--year", "2026"],                            # files swapped
        ["--rvu", str(tmp_path / "nope.csv"), "--year", "2026"],           # missing file
        ["--year", "2026"],                                                # no file at all
    ]
    only_other_codes = without_lines(RVU, tmp_path / "PPRRVU26.csv", *range(12, 22))
    cases.append(["--rvu", str(only_other_codes), "--year", "2026"])     # no OT code in the file
    for args in cases:
        result = runner.invoke(fee_schedule_app, ["import-cms", str(workbook), "--out", str(out), *args])
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr and result.stderr.strip()
        assert not out.exists()
    result = runner.invoke(fee_schedule_app, ["import-cms", str(workbook), "--year", "2026", "--rvu", str(RVU),
                                             "--out", str(RVU)])
    assert result.exit_code == 2 and "never overwrites its input" in result.stderr
    assert "--all-codes" in runner.invoke(fee_schedule_app, ["import-cms", str(workbook), "--year", "2026", "--rvu",
                                                            str(only_other_codes)]).stderr


# ------------------------------------------------------------------------------------------------
# otbill fee-schedule import
# ------------------------------------------------------------------------------------------------

def test_cli_import_payer_csv_replaces_same_period_keeps_others(workbook, tmp_path):
    before = {p: fingerprint(p) for p in (workbook, ACME)}
    result = runner.invoke(fee_schedule_app, ["import", str(ACME), str(workbook), "--payer", "ACME", "--json",
                                             "--partial"])
    assert result.exit_code == 1, result.stdout + result.stderr  # two bad rows reported, the rest imported
    data = json.loads(result.stdout)
    assert [(f["rule"], f["row"]) for f in data["findings"] if f["severity"] == "error"] == [
        ("fees.bad-amount", 11), ("fees.bad-code", 12)]
    # 97110-GO 2026 updated in place (30 -> 32.15), 4 new rates appended, the other 2 rows kept.
    assert data["sheet"] == {"contract": "FeeSchedule", "sheet": "FeeSchedule", "created": False, "replaced": 0,
                             "kept": 2, "added": 4, "updated": 1}
    assert {p: fingerprint(p) for p in before} == before
    [out] = tmp_path.glob("practice.fees-*.xlsx")
    book, report = read_practice(out)
    assert not report.errors
    rows = {(e.payer_key, e.code, e.modifier, e.effective_from): e.allowed_per_unit for e in book.fee_schedule}
    assert rows[("ACME", "97110", "GO", dt.date(2025, 1, 1))] == Decimal("28")        # other period kept
    assert rows[("MCR", "97110", "", None)] == Decimal("25")                          # other payer kept
    assert rows[("ACME", "97110", "GO", dt.date(2026, 1, 1))] == Decimal("32.15")     # same period replaced
    assert rows[("ACME", "97799", "", dt.date(2026, 1, 1))] == Decimal("1234.50")
    assert len(rows) == 7
    notes = [r[6] for r in FileWorkbook(out).values("FeeSchedule")[1:]]
    assert notes[:3] == ["replaced", "older period", "other payer"]  # extra column of kept and updated rows kept


def test_cli_import_payer_xlsx_exit_0_and_unknown_payer_warning(workbook, tmp_path):
    path = summit_xlsx(tmp_path / "summit.xlsx", bad=False)
    result = runner.invoke(fee_schedule_app, ["import", str(path), str(workbook), "--payer", "SUMMIT",
                                             "--effective-to", "2026-12-31"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "3 rates for SUMMIT, 1 row of other payers left out" in result.stdout
    result = runner.invoke(fee_schedule_app, ["import", str(path), str(workbook), "--payer", "SUMMIT",
                                             "--effective-to", "2026-12-31", "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    [warning] = data["findings"]  # SUMMIT is not one of the workbook's payers
    assert (warning["rule"], warning["severity"], warning["sheet"]) == ("fees.unknown-payer", "warning", "Payers")
    assert len(list(tmp_path.glob("practice.fees-*.xlsx"))) == 2  # the second run did not erase the first copy
    book, _ = read_practice(Path(data["out"]))
    summit = {e.code: e for e in book.fee_schedule if e.payer_key == "SUMMIT"}
    assert summit["97530"].allowed_per_unit == Decimal("44.30") and summit["97530"].modifier == "GO"
    assert summit["97530"].effective_to == dt.date(2026, 12, 31)  # filled from --effective-to
    assert summit["97110"].effective_to == dt.date(2026, 12, 31)


def test_cli_import_payer_exit_2(workbook, tmp_path):
    out = tmp_path / "never.xlsx"
    path = summit_xlsx(tmp_path / "summit.xlsx")
    for args in ([str(path), "--payer", "AETNA"], [str(tmp_path / "none.csv"), "--payer", "ACME"],
                 [str(path), "--payer", "SUMMIT", "--effective-from", "someday"],
                 [str(path), "--payer", "SUMMIT", "--sheet", "Nope"]):
        result = runner.invoke(fee_schedule_app, ["import", args[0], str(workbook), *args[1:], "--out", str(out)])
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr and not out.exists()
    notes = tmp_path / "notes.csv"
    notes.write_text("Hello,World\nno,fees\n", encoding="utf-8")
    result = runner.invoke(fee_schedule_app, ["import", str(notes), str(workbook), "--payer", "ACME", "--json"])
    assert result.exit_code == 2 and "--columns" in json.loads(result.stdout)["errors"][0]
