"""Reading practice workbooks: the contract layout and billers' own layouts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from conftest import CHARGE_HEADER, charge_row, contract_sheets, fingerprint, make_workbook

import otbill_xl
from otbill_xl.domain.models import PayerType, Relationship, UnitRule
from otbill_xl.workbook.reader import read_book


def test_contract_workbook_reads_into_typed_records(tmp_path):
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets())
    before = fingerprint(path)
    book, report = otbill_xl.read_practice(path)
    assert fingerprint(path) == before  # the input is never modified

    assert book.practice.practice_name == "Harbor Hand & OT"
    assert book.practice.billing_npi == "1234567893"
    assert book.practice.zip == "02134"  # typed as the number 2134: leading zero restored
    assert book.practice.extra == {"FavoriteColor": "teal"}

    mcr, acme = book.payers
    # Blank UnitRule/RequiresGO/TimelyFilingDays on a Medicare payer take the Medicare defaults:
    # CMS 8-minute rule, GO required, and one calendar year after the DOS (42 CFR 424.44, facts §7),
    # which the timely-filing rule and AR aging apply to a blank TimelyFilingDays (not 365 days: a
    # 2023-03-01 DOS may be filed until 2024-03-01, the 366th day).
    from otbill_xl.domain.ar import filing_limit
    from otbill_xl.domain.scrub._context import timely_limit_for

    assert (mcr.payer_type, mcr.unit_rule, mcr.requires_go, mcr.timely_filing_days) == (
        PayerType.MEDICARE, UnitRule.CMS, True, None)
    assert timely_limit_for(mcr) == "year" and filing_limit(mcr) == "year"
    assert (acme.payer_type, acme.unit_rule, acme.requires_auth, acme.visit_limit_per_year) == (
        PayerType.COMMERCIAL, UnitRule.AMA, True, 30)

    assert book.providers[0].npi == "1234567893"  # typed as a number
    p1, p2 = book.patients
    assert p1.dob == date(1950, 3, 4) and p1.poc_end == date(2026, 10, 29)
    assert p2.relationship is Relationship.CHILD and p2.sex == "M"
    assert p2.subscriber is not None and p2.subscriber.last_name == "Roe"

    first, second = book.charges
    assert first.row == 2 and first.line_id == "L1" and first.dos == date(2026, 8, 3)
    assert first.code == "97110" and first.modifiers == ("GO",) and first.minutes == 38 and first.units == 3
    assert first.charge == Decimal("195") and isinstance(first.charge, Decimal)
    assert first.diagnoses == ("M62.81",)
    assert second.row == 3 and second.code == "97530"

    assert report.errors == ()
    charges = report.sheet("Charges")
    assert charges.found_as == "table" and charges.header_row == 1 and charges.rows == 2
    assert charges.cell("Units", 3) == "K3"


def test_patient_repr_hides_phi(tmp_path):
    book, _ = otbill_xl.read_practice(make_workbook(tmp_path / "p.xlsx", contract_sheets()))
    text = repr(book.patients[0]) + str(book.patients[0])
    for secret in ("Doe", "Jane", "1950", "1EG4TE5MK73"):
        assert secret not in text


def test_billers_layout_header_below_title_aliases_any_order_extra_columns(tmp_path):
    rows = [
        ["Harbor Hand & OT — charge log"],
        ["Printed for billing"],
        [],
        ["Svc Date", "Patient #", "CPT", "Mins", "Qty", "Modifier 1", "Diagnosis 1", "Therapist NPI", "Copay collected"],
        [date(2026, 8, 3), "P001", "97110", 38, 3, "GO", "M6281", "1234567893", 20],
        [None, None, None, None, None, None, None, None, None],
        ["8/4/2026", "P001", 97530, "25 min", 2, "GO", "M62.81", 1234567893, 0],
    ]
    sheets = contract_sheets()
    sheets["Charges"] = rows
    path = make_workbook(tmp_path / "own.xlsx", sheets, tables=False)
    book, report = otbill_xl.read_practice(path)
    charges = report.sheet("Charges")
    assert charges.found_as == "range" and charges.header_row == 4
    how = {m.column: (m.header, m.letter, m.how) for m in charges.columns if m.index}
    assert how["DOS"] == ("Svc Date", "A", "alias")
    assert how["Code"] == ("CPT", "C", "alias")
    assert how["Minutes"] == ("Mins", "D", "alias")
    assert charges.extra_headers == ("Copay collected",)
    assert [c.row for c in book.charges] == [5, 7]  # the blank row 6 is skipped
    assert [c.code for c in book.charges] == ["97110", "97530"]  # 97530 typed as a number
    assert book.charges[1].minutes == 25 and book.charges[1].dos == date(2026, 8, 4)
    assert book.charges[1].rendering_npi == "1234567893"
    assert report.errors == ()


def test_trailing_formatted_empty_rows_are_ignored(tmp_path):
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets())
    wb = openpyxl.load_workbook(path)
    ws = wb["Charges"]
    for r in range(4, 60):
        ws.cell(row=r, column=3).number_format = "yyyy-mm-dd"
        ws.cell(row=r, column=17).value = ""  # formatted, "empty" cells
    ws.cell(row=60, column=20).value = "   "
    wb.save(path)
    book, report = otbill_xl.read_practice(path)
    assert len(book.charges) == 2 and report.errors == ()


def test_columns_sheet_overrides_header_mapping(tmp_path):
    sheets = contract_sheets()
    header = list(CHARGE_HEADER)
    header[2] = "When"          # not an alias of anything
    header[9] = "Treatment Time Total"
    sheets["Charges"] = [header, charge_row()]
    sheets["Columns"] = [["Sheet", "Column", "Header"], ["Charges", "DOS", "When"], ["charges", "minutes", "Treatment Time Total"]]
    book, report = otbill_xl.read_practice(make_workbook(tmp_path / "p.xlsx", sheets))
    assert book.charges[0].dos == date(2026, 8, 3) and book.charges[0].minutes == 38
    how = {m.column: m.how for m in report.sheet("Charges").columns}
    assert how["DOS"] == "override" and how["Minutes"] == "override"


def test_toml_overrides_header_mapping(tmp_path):
    sheets = contract_sheets()
    header = list(CHARGE_HEADER)
    header[4] = "Billing Code"
    sheets["Charges"] = [header, charge_row()]
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    mapping = tmp_path / "cols.toml"
    mapping.write_text('[Charges]\nCode = "Billing Code"\n')
    book, report = otbill_xl.read_practice(path, columns=mapping)
    assert book.charges[0].code == "97110" and report.errors == ()


def test_toml_override_errors_are_clear(tmp_path):
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets())
    bad = tmp_path / "cols.toml"
    bad.write_text('[Charges]\nColour = "x"\n')
    with pytest.raises(otbill_xl.OtbillError, match="Colour is not a column of Charges"):
        otbill_xl.read_practice(path, columns=bad)
    bad.write_text("[Charges\n")
    with pytest.raises(otbill_xl.OtbillError, match="not valid TOML"):
        otbill_xl.read_practice(path, columns=bad)


class FakeLiveBook:
    """Values shaped the way xlwings hands them over: floats, None for blanks, datetimes."""

    name = "Live.xlsx"

    def __init__(self, sheets):
        self._sheets = sheets

    def sheet_names(self):
        return list(self._sheets)

    def values(self, sheet):
        return self._sheets[sheet]

    def tables(self):
        return []

    def merged_ranges(self, sheet):
        return []

    def formulas_without_values(self, sheet):
        return []


def test_live_excel_value_shapes():
    sheets = contract_sheets()
    sheets["Charges"] = [
        CHARGE_HEADER,
        ["L1", "P001", datetime(2026, 8, 3), 1234567893.0, 97110.0, "GO", None, None, None, 38.0, 3.0, "M62.81",
         None, None, None, 11.0, 195.0, None, None, None],
        [None] * 20,
    ]
    book, report = read_book(FakeLiveBook(sheets))
    (line,) = book.charges
    assert line.dos == date(2026, 8, 3) and line.rendering_npi == "1234567893" and line.code == "97110"
    assert line.minutes == 38 and line.units == 3 and line.pos == "11" and line.mod2 == ""
    assert line.charge == Decimal("195.0")
    assert report.errors == ()


def test_public_api_exports():
    for name in otbill_xl.__all__:
        assert hasattr(otbill_xl, name), name
    assert otbill_xl.__version__


def test_every_contract_column_lands_on_a_record_field():
    """A contract column whose attribute name matches no field would be silently dropped."""
    from otbill_xl.domain import models
    from otbill_xl.workbook import contract

    targets = {
        contract.PAYERS: models.Payer, contract.PROVIDERS: models.Provider, contract.CHARGE_MASTER: models.ChargeMasterEntry,
        contract.FEE_SCHEDULE: models.FeeScheduleEntry, contract.MEDICARE_RVU: models.MedicareRVU,
        contract.MEDICARE_GPCI: models.MedicareGPCI,
    }
    for sheet, model in targets.items():
        assert {c.attribute for c in sheet.columns} <= set(model.model_fields), sheet.name
    patient_fields = set(models.Patient.model_fields) | {f"subscriber_{f}" for f in models.Subscriber.model_fields}
    assert {c.attribute for c in contract.PATIENTS.columns} <= patient_fields
    assert tuple(c.attribute for c in contract.CHARGES.columns) == models.ChargeLine._fields[1:]
    assert tuple(c.attribute for c in contract.PAYMENTS.columns) == models.PostedPayment._fields[1:]


# -- A practice's own workbook (issue #14 §2): sheet mapping, dates as billers type them -----------


def test_toml_maps_sheets_under_sheets_or_in_the_sheets_own_table(tmp_path):
    sheets = contract_sheets()
    sheets["Jan visits"] = sheets.pop("Charges")
    sheets["Insurance 2026"] = sheets.pop("Payers")
    path = make_workbook(tmp_path / "p.xlsx", sheets, tables=False)
    mapping = tmp_path / "cols.toml"
    for text in ('[sheets]\nCharges = "Jan visits"\nPayers = "insurance 2026"\n',
                 '[Charges]\nSheet = "Jan visits"\n[Payers]\nSheet = "Insurance 2026"\n'):
        mapping.write_text(text)
        book, report = otbill_xl.read_practice(path, columns=mapping)
        assert [c.line_id for c in book.charges] == ["L1", "L2"] and len(book.payers) == 2
        assert (report.sheet("Charges").sheet, report.sheet("Charges").located) == ("Jan visits", "mapped")
        assert report.sheet("Payers").sheet == "Insurance 2026" and report.errors == ()


def test_toml_sheet_mapping_errors_are_clear(tmp_path):
    path = make_workbook(tmp_path / "p.xlsx", contract_sheets())
    bad = tmp_path / "cols.toml"
    bad.write_text('[sheets]\nVisits = "Jan visits"\n')
    with pytest.raises(otbill_xl.OtbillError, match=r"\[sheets\] Visits must name a sheet otbill reads"):
        otbill_xl.read_practice(path, columns=bad)
    bad.write_text('Charges = "Jan visits"\n')
    with pytest.raises(otbill_xl.OtbillError, match=r"or \[sheets\] mapping sheet names"):
        otbill_xl.read_practice(path, columns=bad)


def test_a_sheet_mapping_is_no_column_mapping(tmp_path):
    """The sheet mapping sits among the sheet's column overrides: it never claims a header cell."""
    sheets = contract_sheets()
    header = list(CHARGE_HEADER)
    header[19] = "Visits"  # a Note column headed like the mapped sheet's name
    sheets["Visits"] = [header, charge_row()]
    del sheets["Charges"]
    sheets["Columns"] = [["Sheet", "Column", "Header"], ["Charges", "Sheet", "Visits"]]
    book, report = otbill_xl.read_practice(make_workbook(tmp_path / "p.xlsx", sheets))
    assert len(book.charges) == 1 and report.sheet("Charges").extra_headers == ("Visits",)


@pytest.mark.parametrize("typed, meant", [
    ("1/5/26", date(2026, 1, 5)), ("01/05/2026", date(2026, 1, 5)), ("Jan 9 2026", date(2026, 1, 9)),
    ("January 9, 2026", date(2026, 1, 9)), ("Jan. 9, 2026", date(2026, 1, 9)), ("9-Jan-2026", date(2026, 1, 9)),
    ("09-Jan-26", date(2026, 1, 9)), ("9 Sept 2026", date(2026, 9, 9)), ("Fri, Jan 9, 2026", date(2026, 1, 9)),
    ("2026-01-09", date(2026, 1, 9)), ("46031", date(2026, 1, 9)), (46031, date(2026, 1, 9)),
    (46031.0, date(2026, 1, 9)), ("1/5/2026 0:00", date(2026, 1, 5)), ("20260109", date(2026, 1, 9)),
])
def test_dates_as_billers_type_them(tmp_path, typed, meant):
    """46031 days after Excel's 1899-12-30 epoch: 46023 is 2026-01-01 (2 days to 1900-01-01, then
    126 × 365 + 31 leap days), + 8 = 2026-01-09."""
    sheets = contract_sheets(Charges=[CHARGE_HEADER, charge_row(dos=typed)])
    book, report = otbill_xl.read_practice(make_workbook(tmp_path / "p.xlsx", sheets))
    assert book.charges[0].dos == meant and report.errors == ()


@pytest.mark.parametrize("typed", ["Janu 32 2026", "9 Mayo 2026", "Foo 9 2026", "9-13-2026x", "12345678901"])
def test_text_that_is_no_date_is_an_error(tmp_path, typed):
    sheets = contract_sheets(Charges=[CHARGE_HEADER, charge_row(dos=typed)])
    book, report = otbill_xl.read_practice(make_workbook(tmp_path / "p.xlsx", sheets))
    assert book.charges[0].dos is None and [f.rule for f in report.errors] == ["read.bad-date"]


def test_a_day_first_date_gets_one_finding_suggesting_the_us_form(tmp_path):
    from otbill_xl.actions.check import check_charges
    from otbill_xl.workbook.files import FileWorkbook

    sheets = contract_sheets(Charges=[CHARGE_HEADER, charge_row(dos="13/08/2026"), charge_row("L2", dos="8/4/2026")])
    outcome = check_charges(FileWorkbook(make_workbook(tmp_path / "p.xlsx", sheets)), as_of=date(2026, 9, 1))
    on_row = [f for f in outcome.findings if f.location.row == 2]
    assert [(f.rule, f.severity.value, f.location.cell) for f in on_row] == [("read.day-first-date", "error", "C2")]
    assert "(13 August 2026)" in on_row[0].message and "Type it month first: 8/13/2026" in on_row[0].fix
    # Not silently billed: the error holds the line back.
    book, report = otbill_xl.read_practice(make_workbook(tmp_path / "q.xlsx", sheets))
    assert book.charges[0].dos == date(2026, 8, 13) and [f.location.row for f in report.errors] == [2]


def test_a_day_first_birth_date_is_not_echoed(tmp_path):
    patients = [list(r) for r in contract_sheets()["Patients"]]
    patients[1][3] = "25/03/1950"
    book, report = otbill_xl.read_practice(make_workbook(tmp_path / "p.xlsx", contract_sheets(Patients=patients)))
    (f,) = report.errors
    assert f.rule == "read.day-first-date" and "1950" not in f.message + f.fix and "25" not in f.message + f.fix
