"""`otbill demo` (what `make demo` runs): the whole pipeline on the bundled sample."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner
from x12util import pyx12_validate

from otbill_xl.cli import app
from otbill_xl.templates.sample import PLANTED_ERRORS


def test_demo_runs_the_pipeline(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.stdout
    assert f"Planted errors found: {len(PLANTED_ERRORS)}/{len(PLANTED_ERRORS)}" in result.stdout
    assert "Expected reimbursement by payer" in result.stdout and "Claims by payer" in result.stdout
    files = sorted((tmp_path / "claims").glob("*.837"))
    assert len(files) == 5
    for f in files:
        ok, errors = pyx12_validate(Path(f).read_text())
        assert ok, errors[:5]
    assert (tmp_path / "sample-practice.otbill.xlsx").exists()
    # check → price → claims → simulated 835 → reconcile (issue #13 §7)
    assert "Reconciliation" in result.stdout and "Payments rows posted" in result.stdout
    for status in ("paid", "denied", "underpaid", "reversed", "readjudicated", "duplicate_payment", "open"):
        assert f"│ {status} " in result.stdout, status
    reconciled = tmp_path / "sample-practice.reconciled.xlsx"
    ok, errors = pyx12_validate((tmp_path / "remits" / "demo-payer.835").read_text())
    assert ok, errors[:5]
    from openpyxl import load_workbook

    wb = load_workbook(reconciled)
    assert wb["Denials by Category"]._charts and wb["AR by Payer"]._charts
    # LibreOffice opens the reconciled copy and keeps its charts (its own .xlsx of it still has them)
    from test_xlsx_patch import libreoffice_resave

    lo = load_workbook(libreoffice_resave(reconciled, tmp_path / "lo"))
    assert lo["Denials by Category"]._charts and lo["AR by Payer"]._charts
    assert lo["Payments"].max_row == wb["Payments"].max_row
    # A second run starts its demo ledger afresh and bills the same again.
    again = CliRunner().invoke(app, ["demo", "--dest", str(tmp_path)])
    assert again.exit_code == 0 and len(list((tmp_path / "claims").glob("*.837"))) == 5
