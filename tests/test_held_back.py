"""Held-back reasons a biller acts on, and self-pay pricing (issue #10 §6: behaviour the review found
untested). Inputs are inline; each expected value is worked out in the test."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from conftest import CHARGE_HEADER, PATIENT_ROWS, PAYER_ROWS, contract_sheets, make_workbook

from otbill_xl.actions.claims import create_claims
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook

DAY = date(2026, 8, 20)
HEADER = CHARGE_HEADER + ["Frequency", "OriginalClaimNumber"]


def row(line_id, *, code="97110", minutes=38, units=3, charge=195.0, freq="", original="", patient="P001",
        dos="8/3/2026"):
    return [line_id, patient, dos, "1234567893", code, "GO", "", "", "", minutes, units, "M62.81", "", "", "",
            "11", charge, "", "", "", freq, original]


def test_held_back_reasons(tmp_path):
    rows = [row("L1"),                                      # billable: the control
            row("L2", freq="sometimes", dos="8/4/2026"),    # not a claim frequency
            row("L3", freq="void", dos="8/5/2026"),         # void without the payer's claim number
            row("L4", code="97140", minutes=None, units=None),  # timed code, no minutes or units
            row("L5", code="97530", charge=None)]           # no charge and no ChargeMaster rate
    src = make_workbook(tmp_path / "p.xlsx", contract_sheets(Charges=[HEADER, *rows]))
    with Ledger(tmp_path / "l.sqlite") as lg:
        outcome = create_claims(FileWorkbook(src), out_dir=tmp_path / "o", ledger=lg, as_of=DAY,
                                created=datetime(2026, 8, 20, 9, 0))
    assert [s.line_id for c in outcome.billed_claims for s in c.lines] == ["L1"]
    held = {e.line_id: " | ".join(e.reasons) for e in outcome.assembly.held_back}
    assert set(held) == {"L2", "L3", "L4", "L5"}
    assert "Frequency 'SOMETIMES' is not 1 (original), 7 (corrected) or 8 (void)" in held["L2"]
    assert "a void claim needs the payer's OriginalClaimNumber (REF*F8)" in held["L3"]
    assert "no billable units" in held["L4"]
    assert "no charge (fill Charge, or the code's ChargeMaster rate)" in held["L5"]


def test_self_pay_is_priced_at_the_charge_and_never_billed(tmp_path):
    payers = [*PAYER_ROWS, ["CASH", "Private pay", "self_pay", "", "", "", "N", None, None]]
    patients = [*PATIENT_ROWS, ["P009", "Cash", "Cora", "1/1/1980", "F", "CASH", "", "self", "", "", None, None,
                                "3 Bay Rd", "Boston", "MA", "02134"]]
    src = make_workbook(tmp_path / "p.xlsx", contract_sheets(
        Payers=payers, Patients=patients, Charges=[HEADER, row("S1", patient="P009", charge=195.0)]))
    from otbill_xl.actions.price import price_charges

    (line,) = price_charges(FileWorkbook(src), as_of=DAY).result.lines
    # Self-pay: the practice's charge is what the patient owes; no payer pays anything.
    assert (line.expected_allowed, line.expected_payer_payment, line.expected_patient_resp) == (
        Decimal("195.00"), Decimal("0"), Decimal("195.00"))
    assert line.basis == "self-pay: the practice's charge"
    with Ledger(tmp_path / "l.sqlite") as lg:
        outcome = create_claims(FileWorkbook(src), out_dir=tmp_path / "o", ledger=lg, as_of=DAY,
                                created=datetime(2026, 8, 20, 9, 0))
    assert outcome.files == () and outcome.assembly.held_back[0].reasons[0].startswith("self-pay")
    assert outcome.held_for_errors == ()  # held back, but nothing for the biller to fix


def test_one_word_for_held_back_lines(tmp_path):
    """Held-back lines are called that everywhere: the outcome (``assembly.held_back``), the dry run's
    JSON (``lines_held_back``), the annotated copy's Status cell and its Held Back sheet."""
    import openpyxl

    src = make_workbook(tmp_path / "p.xlsx", contract_sheets(Charges=[HEADER, row("L1"), row("L2", freq="x")]))
    with Ledger(tmp_path / "dry.sqlite") as lg:
        plan = create_claims(FileWorkbook(src), out_dir=tmp_path / "dry", ledger=lg, as_of=DAY, dry_run=True,
                             created=datetime(2026, 8, 20, 9, 0))
    assert [e["line_id"] for e in plan.to_dict()["lines_held_back"]] == ["L2"]
    port = FileWorkbook(src)
    with Ledger(tmp_path / "l.sqlite") as lg:
        create_claims(port, out_dir=tmp_path / "o", ledger=lg, as_of=DAY, created=datetime(2026, 8, 20, 9, 0))
    port.save(str(tmp_path / "annotated.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "annotated.xlsx")
    charges = wb["Charges"]
    status = [c.value for c in charges[1]].index("Status") + 1
    assert charges.cell(row=3, column=status).value.startswith("held back: ")
    held_sheet = list(wb["Held Back"].values)
    assert len(held_sheet) == 2 and "L2" in held_sheet[1]
