"""Findings with context, the Check Summary's "what to do first" list, and one note per cell.

One small practice book through the "Check charges" action (file adapter), read back with openpyxl:
P001 (Medicare) has no MemberID and four lines, one with two unit findings on its Units cell, one
without Dx1, one with a deleted code; P002 (ACME, which requires prior authorization) has no
AuthNumber and two lines. Every count below is worked out by hand in the test.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, charge_row, contract_sheets, make_workbook

from otbill_xl.actions.check import (
    FINDINGS,
    FINDINGS_SHEET,
    SUMMARY_SHEET,
    check_charges,
    note_entry,
    note_text,
)
from otbill_xl.actions.finding_context import FindingContext, RuleCount, first_actions
from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.price import price_charges
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.rule_titles import rule_title
from otbill_xl.workbook.files import FileWorkbook
from otbill_xl.workbook.port import FILL_COMPUTED, FILL_ERROR

AS_OF = date(2026, 8, 20)
MEMBERLESS_P001 = PATIENT_ROWS[1][:6] + [""] + PATIENT_ROWS[1][7:]  # MemberID blank
LINES = [
    charge_row("L1"),                                                   # row 2: clean
    charge_row("L2", dos="8/4/2026", minutes=20, units=9),              # row 3: 9 units for 20 min (1), over 8 a day
    charge_row("L3", dos="8/5/2026", dx1=""),                           # row 4: no Dx1
    charge_row("L4", dos="8/6/2026", code="97003", minutes=None, units=1),  # row 5: deleted code
    charge_row("L5", patient="P002", dos="8/3/2026"),                   # rows 6-7: ACME requires auth
    charge_row("L6", patient="P002", dos="8/4/2026"),
]


def book(tmp_path: Path, charges=None) -> Path:
    sheets = contract_sheets(Charges=[CHARGE_HEADER, *(charges or LINES)],
                             Patients=[PATIENT_ROWS[0], MEMBERLESS_P001, PATIENT_ROWS[2]])
    return make_workbook(tmp_path / "book.xlsx", sheets)


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("context")
    port = FileWorkbook(book(tmp))
    pipeline = Pipeline(port, as_of=AS_OF, prices=True)
    outcome = check_charges(port, pipeline=pipeline)
    price_charges(port, pipeline=pipeline)
    port.save(str(tmp / "out.xlsx"))
    return outcome, openpyxl.load_workbook(tmp / "out.xlsx")


def findings_rows(wb) -> list[dict]:
    ws = wb[FINDINGS_SHEET]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]


def test_charges_findings_carry_the_line_patient_date_code_and_payer(checked):
    _, wb = checked
    rows = findings_rows(wb)
    deleted = next(r for r in rows if r["Rule"] == "code.deleted")
    assert (deleted["LineID"], deleted["PatientID"], deleted["DOS"], deleted["Code"], deleted["Payer"]) == \
        ("L4", "P001", datetime(2026, 8, 6), "97003", "MCR")  # P001's payer is MCR (Patients sheet)
    assert deleted["Rule title"] == "Procedure code deleted" and deleted["Cell"] == "Charges!E5"
    assert (deleted["Sheet"], deleted["Row"], deleted["Column"]) == ("Charges", 5, "Code")
    assert deleted["Message"] and deleted["Fix"]
    assert wb[FINDINGS_SHEET].cell(2 + rows.index(deleted), FINDINGS.index("DOS")).number_format == "yyyy-mm-dd"


def test_other_sheets_findings_fill_what_applies(checked):
    _, wb = checked
    rows = findings_rows(wb)
    member = next(r for r in rows if r["Rule"] == "ref.member-id-missing")  # Patients row 2: P001
    assert (member["PatientID"], member["Payer"]) == ("P001", "MCR")
    assert member["LineID"] is member["DOS"] is member["Code"] is None
    auth = next(r for r in rows if r["Rule"] == "auth.missing")  # Patients row 3: P002 (no AuthNumber column)
    assert (auth["PatientID"], auth["Payer"], auth["Cell"]) == ("P002", "ACME", "Patients")
    zip4 = next(r for r in rows if r["Rule"] == "practice.zip-not-9")  # the Practice sheet: nothing applies
    assert all(zip4[h] is None for h in ("LineID", "PatientID", "DOS", "Code", "Payer"))
    # No patient names or member IDs anywhere in the context columns.
    text = " ".join(str(v) for r in rows for v in r.values() if v is not None)
    assert "Doe" not in text and "Roe" not in text and "XYZ123" not in text


def test_payers_row_finding_names_its_payer(tmp_path):
    f = Finding(rule="read.bad-flag", severity=Severity.ERROR, location=Location(sheet="Payers", row=3, column="RequiresGO"),
                message="RequiresGO holds 'maybe'.", fix="Type Y or N.")
    pipe = Pipeline(FileWorkbook(book(tmp_path)), as_of=AS_OF)
    row = FindingContext(pipe.book, pipe.report).row(f)
    assert (row.payer, row.patient_id, row.line_id) == ("ACME", "", "")  # Payers row 3 is ACME (conftest)


def test_findings_sorted_by_severity_then_sheet_row(checked):
    _, wb = checked
    rows = findings_rows(wb)
    rank = {"error": 0, "warning": 1, "info": 2}
    keys = [(rank[r["Severity"]], r["Sheet"], r["Row"] or 0) for r in rows]
    assert keys == sorted(keys)
    assert [r["Rule"] for r in rows if r["Sheet"] == "Charges" and r["Severity"] == "error"] == \
        ["ncci.units-ceiling", "units.over-billed", "dx.missing-primary", "code.deleted"]  # rows 3, 3, 4, 5


def summary(wb) -> tuple[dict, list[str], list[dict]]:
    ws = wb[SUMMARY_SHEET]
    values = [r for r in ws.iter_rows(values_only=True)]
    header_at = next(i for i, r in enumerate(values) if r[0] == "Rule title")
    items = {r[0]: r[1] for r in values[1:8]}
    todo_at = next(i for i, r in enumerate(values) if r[0] == "What to do first")
    todo = [r[0] for r in values[todo_at + 1:header_at] if r[0]]
    header = values[header_at]
    table = [dict(zip(header, r, strict=False)) for r in values[header_at + 1:]]
    return items, todo, table


def test_check_summary_counts_by_title_and_lines_held_back(checked):
    outcome, wb = checked
    items, _, table = summary(wb)
    # 6 lines: P001's four are held by its missing MemberID, P002's two by the missing authorization.
    assert items["Lines held back by errors"] == 6 and items["Charge lines checked"] == 6
    by_rule = {r["Rule"]: r for r in table}
    assert (by_rule["ref.member-id-missing"]["Findings"], by_rule["ref.member-id-missing"]["Lines"]) == (1, 4)
    assert (by_rule["auth.missing"]["Findings"], by_rule["auth.missing"]["Lines"]) == (1, 2)
    assert (by_rule["units.over-billed"]["Findings"], by_rule["units.over-billed"]["Lines"]) == (1, 1)
    assert by_rule["dx.missing-primary"]["Rule title"] == "No primary diagnosis (Dx1)"
    assert by_rule["dx.missing-primary"]["Severity"] == "error"
    assert by_rule["practice.zip-not-9"]["Lines"] == 6  # a Practice-sheet finding touches every line
    assert sum(r["Findings"] for r in table) == len(outcome.findings)
    severities = [{"error": 0, "warning": 1, "info": 2}[r["Severity"]] for r in table]
    assert severities == sorted(severities)


def test_what_to_do_first_orders_errors_by_lines_held_back(checked):
    _, wb = checked
    _, todo, _ = summary(wb)
    assert len(todo) == 5
    # 4 lines, 2 lines, then the 1-line errors in title order (More..., No..., Procedure...).
    assert todo[0].startswith("1. 4 lines held back (1 finding): Member ID missing. Enter the member ID")
    assert todo[0].endswith("(see Patients!G2, rule ref.member-id-missing)")
    assert todo[1].startswith("2. 2 lines held back (1 finding): Prior authorization missing.")
    assert todo[1].endswith("(see Findings, rule auth.missing)")  # no cell to point at
    assert [t.split(": ")[1].split(".")[0] for t in todo[2:]] == [
        "More units than the minutes support", "No primary diagnosis (Dx1)", "Procedure code deleted"]


def test_what_to_do_first_without_errors_and_with_many_fixes():
    assert first_actions([], []) == ["Nothing holds a line back: no errors or warnings."]
    loc = Location(sheet="Charges", row=2, column="Units", cell="K2")
    fs = [Finding(rule="units.under-billed", severity=Severity.WARNING, location=loc.model_copy(update={"row": r}),
                  message="m", fix=f"Bill {r} units.") for r in (2, 3)]
    (line,) = first_actions([RuleCount("units.under-billed", Severity.WARNING, 2, 2)], fs)
    assert line == ("1. 2 lines to review: Fewer units than the minutes support. Fix each as its Findings row says. "
                    "(see Findings, rule units.under-billed)")


def test_one_note_per_cell_lists_every_finding(checked):
    _, wb = checked
    units = wb["Charges"]["K3"]  # units.over-billed and ncci.units-ceiling on one cell
    text = units.comment.text
    assert "ERROR: More units than the minutes support [units.over-billed]" in text
    assert "ERROR: Units above the daily ceiling [ncci.units-ceiling]" in text
    assert text.count("Fix: ") == 2 and "the minutes support 1" in text
    assert (units.fill.start_color.rgb or "")[-6:] == FILL_ERROR


def test_price_adds_its_findings_to_the_check_note(checked):
    _, wb = checked
    code = wb["Charges"]["E5"]  # code.deleted (check), price.no-medicare-rate (price), one note
    text = code.comment.text
    assert text.index("ERROR: Procedure code deleted [code.deleted]") < \
        text.index("WARNING: No Medicare rate for the code [price.no-medicare-rate]")  # worst first
    assert (code.fill.start_color.rgb or "")[-6:] == FILL_ERROR  # the price warning does not soften it


def test_computed_units_note_keeps_a_finding_on_the_same_cell(tmp_path):
    # 97110 for 200 minutes with Units blank: otbill computes (200 + 7) // 15 = 13 units (facts §1.2),
    # over the plausibility ceiling of 8 a day: the ceiling finding goes on the computed Units cell.
    path = book(tmp_path, [charge_row("L1", minutes=200, units=None)])
    port = FileWorkbook(path)
    outcome = check_charges(port, as_of=AS_OF)
    assert outcome.units_filled == 1
    port.save(str(tmp_path / "out.xlsx"))
    cell = openpyxl.load_workbook(tmp_path / "out.xlsx")["Charges"]["K2"]
    assert cell.value == 13
    hits = [f.rule for f in outcome.findings if f.location.cell == "K2"]
    assert hits, [str(f) for f in outcome.findings]
    assert "otbill computed 13 unit(s)" in cell.comment.text
    assert all(f"[{rule}]" in cell.comment.text for rule in hits)
    assert (cell.fill.start_color.rgb or "")[-6:] not in ("", FILL_COMPUTED)  # the finding's colour wins


def test_note_entry_and_long_notes():
    f = Finding(rule="dx.missing-primary", severity=Severity.ERROR,
                location=Location(sheet="Charges", row=4, column="Dx1", cell="L4"),
                message="The line has no primary diagnosis in Dx1.", fix="Enter the ICD-10-CM code treated in Dx1.")
    assert note_entry(f) == ("ERROR: No primary diagnosis (Dx1) [dx.missing-primary]\n"
                             "The line has no primary diagnosis in Dx1.\nFix: Enter the ICD-10-CM code treated in Dx1.")
    entries = [f"entry {i} " + "x" * 90 for i in range(40)]  # 40 × 99 characters + separators > 1500
    text = note_text(entries)
    assert len(text) <= 1500 and text.startswith("entry 0 ")
    kept = text.count("entry ")
    assert text.endswith(f"... and {40 - kept} more: see the Findings sheet.") and 0 < kept < 40
    assert note_text(["short"]) == "short"
    assert len(note_text(["y" * 5000])) <= 1500


def test_titles_are_shown_for_every_finding(checked):
    outcome, wb = checked
    rows = findings_rows(wb)
    assert [r["Rule title"] for r in rows] == [rule_title(f.rule) for f in outcome.findings]
    assert all(r["Rule title"] != r["Rule"] for r in rows)  # every rule here has a title of its own
