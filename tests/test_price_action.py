"""The "Price charges" action through the file adapter, `otbill price`, and the pricing UDFs, on a small
inline workbook. RVUs/GPCIs are the hand-calculation values of test_pricing.py (97110 full unit
$30.33 at CF 33.4009; see the arithmetic there)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import openpyxl
from conftest import CHARGE_HEADER, PATIENT_ROWS, contract_sheets, fingerprint, make_workbook
from typer.testing import CliRunner

import otbill_xl
from otbill_xl.actions.price import LINE_COLUMNS, PRICING_SHEET, TOTAL_COLUMNS, TOTALS_SHEET
from otbill_xl.cli import app
from otbill_xl.excel.macros import price_charges_action
from otbill_xl.excel.udfs import OT_EXPECTED, OT_FEE, OT_MEDICARE_ALLOWED
from otbill_xl.workbook.files import FileWorkbook

D = Decimal
runner = CliRunner()
RVU = [["Year", "Code", "Modifier", "WorkRVU", "PERVUNonFacility", "PERVUFacility", "MPRVU", "AlwaysTherapy"],
       [2026, "97110", None, 0.45, 0.40, 0.17, 0.02, "Y"],
       [2026, "97530", None, 0.44, 0.52, 0.17, 0.02, "Y"],
       [2026, "97165", None, 1.54, 1.20, 0.48, 0.06, "Y"]]
GPCI = [["Year", "Locality", "WorkGPCI", "PEGPCI", "MPGPCI"], [2026, "01112", 1.000, 1.100, 0.900]]
FEE = [["PayerKey", "Code", "Modifier", "EffectiveFrom", "EffectiveTo", "AllowedPerUnit"],
       ["ACME", "97110", None, "1/1/2026", "12/31/2026", 40.00]]
PATIENTS = [PATIENT_ROWS[0] + ["AuthNumber", "AuthVisits", "AuthStart", "AuthEnd", "Copay"],
            PATIENT_ROWS[1] + ["", None, None, None, None],
            PATIENT_ROWS[2] + ["A-1", 30, "8/1/2026", "12/31/2026", 25]]


def row(line_id, patient, code, units, mods=("GO",), dos="8/3/2026", minutes=None):
    m = (*mods, "", "", "", "")[:4]
    return [line_id, patient, dos, "1234567893", code, *m, minutes, units, "M62.81", "", "", "", "11", None, "", "", ""]


def workbook(tmp_path):
    # Practice MedicareLocality in conftest is "01112"; P001 is Medicare, P002 is ACME (commercial).
    charges = [CHARGE_HEADER, row("L1", "P001", "97165", 1, minutes=None), row("L2", "P001", "97110", 2, minutes=38),
               row("L3", "P001", "97530", 1, minutes=15), row("L4", "P002", "97110", 2, minutes=38)]
    sheets = contract_sheets(Charges=charges, Patients=PATIENTS, MedicareRVU=RVU, MedicareGPCI=GPCI, FeeSchedule=FEE)
    return make_workbook(tmp_path / "p.xlsx", sheets)


def test_price_action_writes_pricing_sheets(tmp_path):
    path = workbook(tmp_path)
    before = fingerprint(path)
    port = FileWorkbook(path)
    outcome = price_charges_action(port, date(2026, 8, 20))
    port.save(str(tmp_path / "out.xlsx"))
    assert fingerprint(path) == before
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    ws = wb[PRICING_SHEET]
    assert tuple(c.value for c in ws[1]) == LINE_COLUMNS
    got = {r[0]: dict(zip(LINE_COLUMNS, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    # The 3-line Medicare visit of test_pricing.py: 97.33 / 60.66 − 14.70 / 34.40 − 9.55.
    assert (got["L1"]["ExpectedAllowed"], got["L2"]["MPPRReduction"], got["L3"]["ExpectedAllowed"]) == (97.33, 14.70, 24.85)
    assert got["L2"]["ExpectedPayerPayment"] == 36.03 and got["L2"]["KXStatus"] == "below threshold"
    # ACME: 2 × $40.00 contracted; no MPPR for commercial by default. The patient's $25 copay comes off the
    # payer's 80.00 (commercial, one visit): the payer 55.00, the patient 25.00.
    assert got["L4"]["ExpectedAllowed"] == 80.0 and "FeeSchedule row 2" in got["L4"]["Basis"]
    assert (got["L4"]["Copay"], got["L4"]["ExpectedPayerPayment"], got["L4"]["ExpectedPatientResp"]) == (25.0, 55.0, 25.0)
    assert got["L2"]["Copay"] == 0  # Medicare: no copay column given for P001
    totals = {r[0]: r for r in wb[TOTALS_SHEET].iter_rows(min_row=2, values_only=True)}
    assert totals["MCR"][7] == 168.14 and totals["ACME"][7] == 80.0
    assert totals["ACME"][TOTAL_COLUMNS.index("Copay")] == 25.0
    assert sum(t.expected_allowed for t in outcome.result.totals) == D("248.14")


def test_price_cli_json_money_as_strings(tmp_path):
    result = runner.invoke(app, ["price", str(workbook(tmp_path)), "--json", "--as-of", "2026-08-20"])
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    line = next(x for x in data["lines"] if x["LineID"] == "L2")
    assert line["FeeAllowed"] == "60.66" and line["MPPRReduction"] == "14.70" and line["Sequestration"] == "0.74"
    acme = next(t for t in data["totals"] if t["PayerKey"] == "ACME")
    assert acme["ExpectedAllowed"] == "80.00"


def test_pricing_udfs_with_excel_shaped_values(tmp_path):
    book, _ = otbill_xl.read_practice(workbook(tmp_path))
    assert OT_FEE("ACME", 97110.0, None, datetime(2026, 8, 3), 2.0, book=book) == D("80.00")
    assert OT_FEE("MCR", "97110", "GO", datetime(2026, 8, 3), None, book=book) == D("30.33")
    assert OT_FEE("ACME", "97530", None, datetime(2026, 8, 3), 1.0, book=book).startswith("#N/A")
    # POS 22 → facility PE. 97110: 21.88 per unit (test_pricing.py) × 2 = 43.76.
    # 97530: 0.44 × 1 × 33.4009 = 14.696396 + 0.17 × 1.1 × 33.4009 = 6.2459683 + 0.02 × 0.9 × 33.4009
    # = 0.6012162 → 21.5435805 → 21.54 per unit × 2 = 43.08.
    assert OT_MEDICARE_ALLOWED([["97110"], ["97530"]], "01112", datetime(2026, 8, 3), 2.0, 22.0, book=book) == [
        [D("43.76")], [D("43.08")]]
    header = CHARGE_HEADER
    lines = [header, row("L1", "P001", "97165", 1.0), row("L2", "P001", "97110", 2.0), row("L3", "P001", "97530", 1.0)]
    out = OT_EXPECTED(lines, book=book, as_of=date(2026, 8, 20))
    assert out[0] == ["ExpectedAllowed", "ExpectedPayerPayment", "ExpectedPatientResp"]
    assert [r[0] for r in out[1:]] == [D("97.33"), D("45.96"), D("24.85")]


def test_ot_fee_is_vectorised_over_codes_with_payer_dos_and_units_broadcast(tmp_path):
    """A column of codes in, a column of fees out; one payer/DOS/units cell applies to every code, or one
    per code; each code's modifiers are its own row."""
    book, _ = otbill_xl.read_practice(workbook(tmp_path))
    day = datetime(2026, 8, 3)
    # ACME 97110: 40.00 per unit (the single-cell test above: 2 units = 80.00)
    out = OT_FEE([["ACME"]], [["97110"], ["97530"], [None]], [[None]], [[day]], [[2.0]], book=book)
    assert out[0] == [D("80.00")] and out[1][0].startswith("#N/A: no ACME rate for 97530") and out[2] == [""]
    per_row = OT_FEE([["ACME"], ["MCR"]], [["97110"], ["97110"]], [[None], ["GO"]], [[day], [day]], [[1.0], [1.0]],
                     book=book)
    assert per_row == [[D("40.00")], [D("30.33")]]   # MCR 97110 GO: the single-cell test above
    assert OT_FEE([["ACME"], ["MCR"], ["ACME"]], [["97110"], ["97110"]], book=book) == \
        "#ERROR: payer must be one cell or a range the size of code"
