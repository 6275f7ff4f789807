"""Payer simulator (issue 13 §5): `otbill simulate-remit` pays the sample's claims as pricing expects, to
the cent, and plants each configured outcome in the intended 835 segments."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pytest
from conftest import ROOT
from typer.testing import CliRunner
from x12util import pyx12_validate, split_segments

from otbill_xl.actions.claims import create_claims
from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.simulate import simulate_remit, simulate_remittances
from otbill_xl.cli import app
from otbill_xl.domain.simulate import STATUSES, SimulateError, parse_outcomes
from otbill_xl.formats.x12 import read_837p
from otbill_xl.formats.x12.read835 import Adjustment, Procedure, read_835
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook

D = Decimal
SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"
AS_OF = date(2026, 11, 27)
runner = CliRunner()

OUTCOMES = {"outcomes": [
    {"type": "deny", "line": "L000005", "group": "CO", "reason": "97", "remarks": ["M15"]},
    {"type": "deny", "line": "L000006", "group": "PR", "reason": "204"},
    {"type": "deny", "line": "L000001", "group": "CO", "reason": "151", "amount": "10.00"},
    {"type": "underpay", "line": "L000034", "amount": "5.00"},
    {"type": "overpay", "line": "L000049", "amount": "3.00"},
    {"type": "reverse", "line": "L000101"},
    {"type": "takeback", "line": "L000210", "reason": "WO", "amount": "25.00"},
    {"type": "drop_modifiers", "line": "L000211", "line_control": False},
    {"type": "change_code", "line": "L000212", "code": "97530"},
    {"type": "duplicate", "line": "L001253"},
    {"type": "skip", "line": "L001323"},
    {"type": "unmatched", "payer": "12402", "code": "97110", "charge": "100.00", "paid": "40.00", "dos": "2026-10-01"},
]}


@pytest.fixture(scope="module")
def billed(tmp_path_factory):
    d = tmp_path_factory.mktemp("simulate")
    src = d / "sample.xlsx"
    shutil.copy(SAMPLE, src)
    port = FileWorkbook(src)
    with Ledger(d / "ledger.sqlite") as ledger:
        create_claims(port, out_dir=d / "claims", ledger=ledger, as_of=AS_OF, created=datetime(2026, 11, 27, 9, 30))
    pricing = Pipeline(FileWorkbook(src), as_of=AS_OF, prices=True).pricing
    claims = [c for f in sorted((d / "claims").glob("*.837")) for c in read_837p(f.read_text()).claims]
    return src, d / "claims", {p.line_id: p for p in pricing.lines}, claims


@pytest.fixture(scope="module")
def plain(billed):
    src, claims_dir, _, _ = billed
    return simulate_remittances(src, claims_dir, None, as_of=AS_OF)


@pytest.fixture(scope="module")
def planted(billed):
    src, claims_dir, _, _ = billed
    return simulate_remittances(src, claims_dir, OUTCOMES, as_of=AS_OF)


def allowed_amounts(text: str) -> dict[str, Decimal]:
    """AMT*B6 of each line, by its REF*6R (read from the segments: REF*6R comes right before AMT)."""
    out, ref = {}, None
    for s in split_segments(text):
        if s[0] == "REF" and s[1] == "6R":
            ref = s[2]
        elif s[0] == "AMT" and s[1] == "B6" and ref:
            out[ref] = D(s[2])
        elif s[0] == "SVC":
            ref = None
    return out


def test_expected_payments_balance_and_tie_to_pricing(billed, plain):
    _, _, prices, claims = billed
    remits = read_835(plain.text)
    assert plain.planted == () or {p.outcome for p in plain.planted} == {"unpriced"}
    assert [r.problems for r in remits] == [()] * len(remits)   # every claim and BPR02 balances
    assert len(remits) == 5 and plain.notes == ()
    paid_lines = {s.line_control_number: s for r in remits for c in r.claims for s in c.services}
    billed_ids = {line.line_control_number for c in claims for line in c.lines}
    assert set(paid_lines) == billed_ids
    for s in paid_lines.values():
        assert s.charge == s.paid + sum((a.amount for a in s.adjustments), D(0))   # charge = paid + Σ CAS
    # Totals tie to the cent, per payer: Σ SVC03 = Σ expected payer payment of the lines billed to it.
    expected, got = defaultdict(lambda: D(0)), defaultdict(lambda: D(0))
    for r in remits:
        for c in r.claims:
            got[r.payer_id] += c.paid
            for s in c.services:
                p = prices[s.line_control_number]
                expected[r.payer_id] += p.expected_payer_payment or D(0)
    assert got == expected and len(got) == 5
    assert {r.payer_id: r.amount for r in remits} == dict(expected)
    allowed = allowed_amounts(plain.text)
    assert all(allowed[i] == prices[i].expected_allowed for i in allowed)
    assert {i for i in billed_ids if prices[i].expected_allowed is not None} == set(allowed)
    ok, errors = pyx12_validate(plain.text)
    assert ok, errors[:10]


def test_two_lines_by_hand(plain):
    lines = {s.line_control_number: (c, s) for r in read_835(plain.text) for c in r.claims for s in c.services}
    # L000001: Medicare 97166, 1 unit, charge 175.00. The sample's MedicareRVU/MedicareGPCI rows (2026,
    # locality 03102-00): (work 1.54 × 1.0 + PE 1.53 × 0.969 + MP 0.04 × 0.856) × CF 33.4009
    # = 3.05681 × 33.4009 = 102.10 allowed. Deductible met: Medicare pays 80% = 81.68, less 2%
    # sequestration 1.63 → 80.05; coinsurance 102.10 − 81.68 = 20.42; CO-45 175.00 − 102.10 = 72.90.
    _, s = lines["L000001"]
    assert (s.charge, s.paid) == (D("175"), D("80.05"))
    assert sorted(s.adjustments) == sorted([Adjustment("CO", "45", D("72.90"), None),
                                            Adjustment("PR", "2", D("20.42"), None),
                                            Adjustment("CO", "253", D("1.63"), None)])
    assert allowed_amounts(plain.text)["L000001"] == D("102.10")
    # L000002: Medicaid 97167, 1 unit, charge 200.00; the sample's fee schedule pays Medicaid 72% of the
    # base 99.50 = 71.64, no patient share: paid 71.64, CO-45 200.00 − 71.64 = 128.36.
    c, s = lines["L000002"]
    assert (s.charge, s.paid, s.adjustments) == (D("200"), D("71.64"), (Adjustment("CO", "45", D("128.36"), None),))
    # L000184: Medicare 97166 (102.10 allowed as above) for the patient with the whole deductible left:
    # PR-1 102.10, nothing paid.
    _, s = lines["L000184"]
    assert s.paid == 0 and sorted(s.adjustments) == [Adjustment("CO", "45", D("72.90"), None),
                                                     Adjustment("PR", "1", D("102.10"), None)]


def test_unpriced_lines_are_denied_and_listed(plain, billed):
    _, _, prices, _ = billed
    # Medicare 97010 has no RVU row in the sample: not priced, denied CO-97 (bundled), listed as planted.
    unpriced = [p for p in plain.planted if p.outcome == "unpriced"]
    assert unpriced and all(prices[p.line_id].expected_allowed is None and p.status == "denied" for p in unpriced)
    lines = {s.line_control_number: s for r in read_835(plain.text) for c in r.claims for s in c.services}
    s = lines[unpriced[0].line_id]
    assert s.paid == 0 and s.adjustments == (Adjustment("CO", "97", s.charge, None),)


def test_each_outcome_lands_in_its_segments(billed, plain, planted):
    _, _, prices, claims = billed
    remits = read_835(planted.text)
    assert [r.problems for r in remits] == [()] * len(remits)
    ok, errors = pyx12_validate(planted.text)
    assert ok, errors[:10]
    claim_of = {line.line_control_number: c.claim_id for c in claims for line in c.lines}
    base = {s.line_control_number: s for r in read_835(plain.text) for c in r.claims for s in c.services}
    first = {s.line_control_number: (r, c, s) for r in remits for c in r.claims if c.status != "22"
             for s in c.services if r.trace_number.endswith("1")}

    _, _, s = first["L000005"]
    assert (s.paid, s.adjustments, s.remark_codes) == (0, (Adjustment("CO", "97", s.charge, None),), ("M15",))
    _, c, s = first["L000006"]
    assert s.paid == 0 and s.adjustments == (Adjustment("PR", "204", s.charge, None),)
    assert c.patient_responsibility == sum((a.amount for x in c.services for a in x.adjustments if a.group == "PR"),
                                           D(0))
    _, _, s = first["L000001"]            # partial denial: 10.00 of the 80.05 moved to CO-151
    assert s.paid == D("70.05") and Adjustment("CO", "151", D("10.00"), None) in s.adjustments
    _, _, s = first["L000034"]            # underpaid 5.00: hidden in CO-45
    co45 = {a.reason: a.amount for a in s.adjustments if a.group == "CO"}["45"]
    assert s.paid == base["L000034"].paid - 5 and co45 == s.charge - prices["L000034"].expected_allowed + 5
    _, _, s = first["L000049"]
    assert s.paid == base["L000049"].paid + 3
    # reversal: the original (first line overpaid 10.00) in trace 1; CLP*22 with its amounts negated and a
    # new CLP with the expected payment in trace 2, all three with the same CLP07.
    rev_claim = claim_of["L000101"]
    found = [(r.trace_number[-1], c) for r in remits for c in r.claims if c.patient_control_number == rev_claim]
    assert [(t, c.status) for t, c in found] == [("1", "1"), ("2", "22"), ("2", "1")]
    (_, original), (_, reversal), (_, corrected) = found
    assert len({original.payer_claim_number, reversal.payer_claim_number, corrected.payer_claim_number}) == 1
    assert (reversal.charge, reversal.paid, reversal.patient_responsibility) == \
        (-original.charge, -original.paid, -original.patient_responsibility)
    assert [(-s.paid, sorted(a._replace(amount=-a.amount) for a in s.adjustments)) for s in reversal.services] == \
        [(s.paid, sorted(s.adjustments)) for s in original.services]
    assert original.paid == corrected.paid + 10
    assert [s.paid for s in corrected.services] == [base[s.line_control_number].paid for s in corrected.services]
    # takeback: PLB WO referencing the claim's payer claim number
    r, c, _ = first["L000210"]
    assert [(p.reason, p.reference, p.amount) for p in r.provider_adjustments] == [("WO", c.payer_claim_number,
                                                                                     D("25.00"))]
    assert r.amount == sum((x.paid for x in r.claims), D(0)) - 25
    # dropped modifiers (and no REF*6R), changed code
    (dropped,) = [s for r in remits for c in r.claims if c.patient_control_number == claim_of["L000211"]
                  for s in c.services if s.line_control_number == ""]
    assert (dropped.code, dropped.modifiers, dropped.original) == (base["L000211"].code, (), None)
    assert base["L000211"].modifiers != ()
    _, _, s = first["L000212"]
    assert s.code == "97530" and s.original == Procedure("HC", base["L000212"].code, base["L000212"].modifiers)
    # duplicate: the same claim again in the payer's second remittance, another CLP07
    dup = [(r.trace_number, c) for r in remits for c in r.claims if c.patient_control_number == claim_of["L001253"]]
    assert len(dup) == 2 and dup[0][0] != dup[1][0] and dup[0][1].paid == dup[1][1].paid
    assert dup[0][1].payer_claim_number != dup[1][1].payer_claim_number
    # skipped: nowhere; unmatched: a claim never billed
    assert all(c.patient_control_number != claim_of["L001323"] for r in remits for c in r.claims)
    assert any(c.patient_control_number == "UNBILLED012" and c.services[0].line_control_number == ""
               for r in remits for c in r.claims)


def test_planted_outcomes_name_a_reconciliation_status(billed, planted):
    _, _, _, claims = billed
    claim_of = {line.line_control_number: c.claim_id for c in claims for line in c.lines}
    got = {(p.outcome, p.line_id, p.status) for p in planted.planted if p.outcome != "unpriced"}
    assert all(p.status in STATUSES for p in planted.planted)
    for line, status in (("L000005", "denied"), ("L000006", "denied"), ("L000001", "partially_denied"),
                         ("L000034", "underpaid"), ("L000049", "overpaid"), ("L000101", "reversed"),
                         ("L000101", "readjudicated"), ("L000101", "overpaid"), ("L001253", "duplicate_payment"),
                         ("L001323", "open"), ("L000211", "paid"), ("L000212", "paid")):
        assert any(p[1] == line and p[2] == status for p in got), (line, status)
    take = [p for p in planted.planted if p.outcome == "takeback"]
    assert [(p.claim_id, p.amount) for p in take] == [(claim_of["L000210"], D("25.00"))]
    assert [p.status for p in planted.planted if p.outcome == "unmatched"] == ["unmatched_remittance"]


def test_deterministic_and_the_plain_function(billed, planted):
    src, claims_dir, _, _ = billed
    text, again = simulate_remit(src, claims_dir, OUTCOMES, AS_OF)
    assert text == planted.text and again == planted.planted
    assert "*T*:~" in text.split("\n", 1)[0]       # ISA15 = T: test data


def test_a_negative_second_payment_is_carried_forward(planted):
    # Medicare's second remittance holds the reversal (−x) and the corrected payment (x − 10.00): a
    # negative payment, so the payer brings BPR02 to 0 with PLB FB −10.00 (X221A1 forward balance).
    (second,) = [r for r in read_835(planted.text) if r.payer_id == "12402" and r.trace_number.endswith("2")]
    assert second.amount == 0 and [(p.reason, p.amount) for p in second.provider_adjustments] == [("FB", D("-10.00"))]


@pytest.mark.parametrize(("outcomes", "message"), [
    ({"outcomes": [{"type": "refund"}]}, "type 'refund'"),
    ({"outcomes": [{"type": "deny", "reason": "97"}]}, "give the \"line\""),
    ({"outcomes": [{"type": "underpay", "line": "L1", "amount": "5.001"}]}, "in cents"),
    ({"outcomes": [{"type": "deny", "line": "L1", "group": "XX", "reason": "1"}]}, "group 'XX'"),
    ({"outcomes": [{"type": "takeback", "line": "L1", "reason": "ZZZ", "amount": "1"}]}, "PLB adjustment reason"),
    ({"outcomes": [{"type": "skip", "line": "L1", "colour": "red"}]}, "unknown key"),
    ({"outcome": []}, "unknown key"),
])
def test_bad_outcomes_are_refused(outcomes, message):
    with pytest.raises(SimulateError, match=message):
        parse_outcomes(outcomes)


def test_outcomes_that_do_not_fit_the_claims(billed):
    src, claims_dir, _, _ = billed
    with pytest.raises(SimulateError, match="L999999 is not in the claim files"):
        simulate_remit(src, claims_dir, [{"type": "skip", "line": "L999999"}], AS_OF)
    with pytest.raises(SimulateError, match="two payment outcomes"):
        simulate_remit(src, claims_dir, [{"type": "underpay", "line": "L000034", "amount": "1"},
                                         {"type": "overpay", "line": "L000034", "amount": "1"}], AS_OF)
    with pytest.raises(SimulateError, match="more than the line's payment"):
        simulate_remit(src, claims_dir, [{"type": "underpay", "line": "L000034", "amount": "9999.00"}], AS_OF)


def test_cli(billed, tmp_path):
    src, claims_dir, _, _ = billed
    spec = tmp_path / "outcomes.json"
    spec.write_text(json.dumps(OUTCOMES))
    out = tmp_path / "remit.835"
    result = runner.invoke(app, ["simulate-remit", str(src), "--claims", str(claims_dir), "--out", str(out),
                                 "--outcomes", str(spec), "--as-of", "2026-11-27", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert out.read_text() == simulate_remit(src, claims_dir, spec, AS_OF)[0]
    assert len(payload["remittances"]) == 7 and {p["status"] for p in payload["planted"]} <= set(STATUSES)
    assert not list(tmp_path.glob("*.part"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["simulate-remit", str(src), "--claims", str(claims_dir), "--out", str(out),
                                 "--outcomes", str(bad), "--as-of", "2026-11-27"])
    assert result.exit_code == 2 and "not JSON" in result.output
    result = runner.invoke(app, ["simulate-remit", str(src), "--claims", str(tmp_path / "none"), "--out", str(out)])
    assert result.exit_code == 2 and "not a folder" in result.output


def test_a_folder_without_claim_files(billed, tmp_path):
    src, _, _, _ = billed
    with pytest.raises(SimulateError, match="no 837P claim files"):
        simulate_remit(src, tmp_path, None, AS_OF)


def test_reader_returns_the_line_control_number(billed):
    _, _, _, claims = billed
    # REF*6R = the Charges LineID (the sample's are L + 6 digits, unique), on every line read back
    ids = [line.line_control_number for c in claims for line in c.lines]
    assert ids[0] == "L001253" and all(len(i) == 7 and i[0] == "L" and i[1:].isdigit() for i in ids)
    assert len(set(ids)) == len(ids)
