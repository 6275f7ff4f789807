"""``otbill_xl.__all__`` is the public API (issue #10 §4): plain functions returning outcome objects, and
``import otbill_xl`` / the worksheet functions load no file library until a workbook is read."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

from conftest import CHARGE_HEADER, contract_sheets, make_workbook

import otbill_xl


def test_every_public_name_resolves():
    for name in otbill_xl.__all__:
        assert getattr(otbill_xl, name) is not None, name
    assert callable(otbill_xl.check) and callable(otbill_xl.read_practice)


def test_importing_the_package_and_the_udfs_loads_no_file_library():
    code = ("import sys, otbill_xl, otbill_xl.excel.udfs; "
            "print(sorted(m for m in ('python_calamine', 'openpyxl', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    # ... and reading a workbook does load the adapter on demand.
    code = "import sys, otbill_xl; otbill_xl.FileWorkbook; print('python_calamine' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"


def test_check_price_claims_units_as_plain_functions(tmp_path):
    row = ["L1", "P001", "8/3/2026", "1234567893", "97110", "GO", "", "", "", 38, None, "M62.81", "", "", "", "11",
           195.0, "", "", ""]
    src = make_workbook(tmp_path / "p.xlsx", contract_sheets(Charges=[CHARGE_HEADER, row]))
    checked = otbill_xl.check(src, as_of=date(2026, 8, 20))
    assert checked.summary["lines_checked"] == 1 and checked.summary["units_filled"] == 1
    priced = otbill_xl.price(src, as_of=date(2026, 8, 20))
    assert len(priced.result.lines) == 1
    plan = otbill_xl.claims(src, out_dir=tmp_path / "out", as_of=date(2026, 8, 20))
    assert plan.dry_run and plan.lines_planned == 1 and not (tmp_path / "out").exists()  # a dry run by default
    # CMS 8-minute rule: 38 minutes of one timed code → (38 + 7) // 15 = 3 units (facts §1.2).
    assert otbill_xl.units([{"code": "97110", "minutes": 38}])["total_units"] == 3


def test_outcomes_have_dataframe_views_with_decimal_money(tmp_path):
    from decimal import Decimal

    rows = [["L1", "P001", "8/3/2026", "1234567893", "97110", "GO", "", "", "", 38, 3, "M62.81", "", "", "", "11",
             195.0, "", "", ""],
            ["L2", "P001", "8/4/2026", "1234567893", "97530", "GO", "", "", "", 25, 2, "", "", "", "", "11",
             130.0, "", "", ""]]
    src = make_workbook(tmp_path / "p.xlsx", contract_sheets(Charges=[CHARGE_HEADER, *rows]))
    findings = otbill_xl.check(src, as_of=date(2026, 8, 20)).to_frame()
    assert ("dx.missing-primary", "Charges", 3) in set(zip(findings["rule"], findings["sheet"], findings["row"],
                                                           strict=True))
    priced = otbill_xl.price(src, as_of=date(2026, 8, 20)).to_frame()
    assert list(priced["LineID"]) == ["L1", "L2"] and priced["Charge"].tolist() == [Decimal("195.00"),
                                                                                    Decimal("130.00")]
    plan = otbill_xl.claims(src, out_dir=tmp_path / "o", as_of=date(2026, 8, 20)).to_frame()
    # L2 has no Dx1: held back; L1 is one claim of 3 units × $65.00 = $195.00.
    assert plan[["line_id", "units", "charge", "billed"]].values.tolist() == [["L1", 3, Decimal("195.00"), False]]


def test_finding_str_and_json_as_the_readme_shows(tmp_path):
    row = ["L1", "P001", "someday", "1234567893", "97110", "GO", "", "", "", 38, 3, "M62.81", "", "", "", "11",
           195.0, "", "", ""]
    src = make_workbook(tmp_path / "practice.xlsx", contract_sheets(Charges=[CHARGE_HEADER, row]))
    _book, report = otbill_xl.read_practice(src)
    (bad,) = [f for f in report.findings if f.rule == "read.bad-date"]
    assert str(bad).startswith("ERROR [read.bad-date] practice.xlsx: Charges!C2: ")
    data = bad.to_dict()
    assert (data["file"], data["sheet"], data["row"], data["cell"], data["where"]) == (
        "practice.xlsx", "Charges", 2, "C2", "practice.xlsx: Charges!C2")
    # A CSV row (fee-schedule import) is a line of a file, in the same shape.
    from otbill_xl.domain.findings import Finding, Location, Severity

    csv = Finding(rule="fees.bad-amount", severity=Severity.ERROR, location=Location(file="fees.csv", row=7),
                  message="bad amount")
    assert str(csv) == "ERROR [fees.bad-amount] fees.csv: line 7: bad amount"
    assert csv.to_dict()["row"] == 7 and csv.to_dict()["where"] == "fees.csv: line 7"
