"""Rule by rule on small inline workbooks: each case is a tiny practice workbook written to disk, run
through the "Check charges" action (file adapter), and the finding must point at the exact cell."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, PAYER_ROWS, PROVIDER_ROWS, contract_sheets, make_workbook

from otbill_xl.actions.check import check_charges
from otbill_xl.workbook.files import FileWorkbook

AS_OF = date(2026, 8, 20)
OTA_NPI = "1555555550"   # check digit computed with npi.calc_check_digit("155555555")
PT_NPI = "1666666668"
PROVIDERS = [*PROVIDER_ROWS, [OTA_NPI, "Lee", "Kim", "OTA", "224Z00000X"], [PT_NPI, "Park", "Jo", "PT", "225100000X"]]
COLUMN_LETTER = {name: chr(65 + i) for i, name in enumerate(CHARGE_HEADER)}


def row(line_id="L1", patient="P001", dos="8/3/2026", npi="1234567893", code="97110", mods=("GO",), minutes=38,
        units=3, dx=("M62.81",), charge=195.0):
    m = (*mods, "", "", "", "")[:4]
    d = (*dx, "", "", "", "")[:4]
    return [line_id, patient, dos, npi, code, *m, minutes, units, *d, "11", charge, "", "", ""]


def run(rows, tmp_path, **sheets):
    base = contract_sheets(Providers=PROVIDERS, Charges=[CHARGE_HEADER, *rows])
    base.update(sheets)
    port = FileWorkbook(make_workbook(tmp_path / "case.xlsx", base))
    return check_charges(port, as_of=AS_OF, annotate=False)


def test_baseline_is_clean(tmp_path):
    outcome = run([row(), row("L2", dos="8/4/2026", code="97530", minutes=25, units=2)], tmp_path)
    # (the baseline Practice ZIP has 5 digits: practice.zip-not-9 asks for the ZIP+4, a warning)
    assert [str(f) for f in outcome.findings
            if f.severity.value != "info" and f.rule != "practice.zip-not-9"] == []


CASES = [
    # (rule, charge rows, expected cell) — the offending line is always the last row.
    ("code.unknown", [row(code="97999")], "E2"),
    ("code.deleted", [row(code="97003", minutes=None, units=1)], "E2"),
    ("code.not-yet-effective", [row(dos="6/3/2019", code="97129", minutes=20, units=1)], "E2"),
    ("code.addon-without-base", [row(code="97130", minutes=15, units=1)], "E2"),
    ("units.untimed-over-1", [row(code="97150", minutes=None, units=2)], "K2"),
    ("eval.duplicate-same-day", [row(code="97165", minutes=None, units=1),
                                 row("L2", code="97166", minutes=None, units=1)], None),
    ("eval.eval-and-reeval-same-day", [row(code="97165", minutes=None, units=1),
                                       row("L2", code="97168", minutes=None, units=1)], None),
    ("mod.go-missing", [row(mods=())], "F2"),
    ("mod.wrong-discipline", [row(mods=("GP",))], "F2"),
    ("mod.cq-on-ot", [row(npi=OTA_NPI, mods=("GO", "CQ"))], "G2"),
    ("mod.co-without-assistant", [row(mods=("GO", "CO"))], "G2"),
    ("mod.co-required", [row(npi=OTA_NPI)], "G2"),
    ("mod.invalid", [row(mods=("GO", "G"))], "G2"),
    ("mod.duplicate", [row(mods=("GO", "GO"))], "G2"),
    ("ncci.pair-unverified", [row(code="97530", minutes=30, units=2), row("L2", code="97116", minutes=15, units=1)], None),
    ("units.over-billed", [row(minutes=20, units=3)], "K2"),
    ("units.under-billed", [row(minutes=38, units=2)], "K2"),
    ("units.under-8-minutes", [row(minutes=5, units=1)], None),
    ("dx.missing-primary", [row(dx=())], "L2"),
    ("dx.malformed", [row(dx=("62.81M",))], "L2"),
    ("npi.rendering-invalid", [row(npi="1234567890")], "D2"),
    ("ref.rendering-unknown", [row(npi="1444444446")], "D2"),
    ("ref.patient-unknown", [row(patient="P999")], "B2"),
    ("date.dos-future", [row(dos="9/30/2026")], "C2"),
    ("date.outside-poc", [row(dos="7/31/2026")], "C2"),
    ("dup.line", [row(), row("L2")], "E3"),
]


@pytest.mark.parametrize(("rule", "rows", "cell"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_at_its_cell(tmp_path, rule, rows, cell):
    outcome = run(rows, tmp_path)
    hits = [f for f in outcome.findings if f.rule == rule]
    assert hits, [str(f) for f in outcome.findings]
    f = hits[-1]
    assert f.location.sheet == "Charges" and f.message and f.fix
    if cell:
        assert f.location.cell == cell
    else:
        assert f.location.cell == f"{COLUMN_LETTER[f.location.column]}{f.location.row}"


def test_payer_rules_on_inline_sheets(tmp_path):
    # ACME requires auth (RequiresAuth Y) and allows 30 visits a year; P002 is an ACME patient.
    patients = [PATIENT_ROWS[0] + ["AuthNumber", "AuthVisits", "AuthStart", "AuthEnd"],
                PATIENT_ROWS[1] + ["", None, None, None],
                PATIENT_ROWS[2] + ["A-77", 2, "8/1/2026", "8/31/2026"]]
    rows = [row("L1", patient="P002", dos="8/3/2026", units=3, minutes=38),
            row("L2", patient="P002", dos="8/4/2026", units=3, minutes=38),
            row("L3", patient="P002", dos="8/5/2026", units=3, minutes=38),   # 3rd visit: AuthVisits 2
            row("L4", patient="P002", dos="9/1/2026", units=3, minutes=38)]   # after AuthEnd (and future)
    outcome = run(rows, tmp_path, Patients=patients, Payers=PAYER_ROWS)
    rules = {(f.rule, f.location.row) for f in outcome.findings}
    assert ("auth.visits-exceeded", 4) in rules
    assert ("auth.outside-window", 5) in rules
