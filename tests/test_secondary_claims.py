"""Secondary claims (issue #12 §2, coordination of benefits, 005010X222A1).

Sources of the rules tested here:
* loop/segment/element usage and code lists: the 837P map shipped with pyx12 4.0.0
  (``pyx12/map/837.5010.X222.A1.xml``): 2320 SBR (SBR01 the other payer's sequence, SBR02 relationship,
  SBR05 MSP insurance types 12 13 14 15 16 41 42 43 47, SBR09 filing indicator), OI03/OI06 required,
  2330A NM1*IL ... MI, 2330B NM1*PR*2 ... PI, 2430 SVD/CAS/DTP*573 (DTP required), AMT*EAF;
* COB line balancing: line charge SV102 = SVD02 + the line's CAS amounts (clearinghouse edit
  "COB service lines must be balanced", Stedi; the TR3 example quoted at emrpms.blogspot.com:
  137 = 47.28 + 77.86 + 11.86) and the claim: CLM02 = AMT*D + all CAS amounts (X12 RFI #1115);
* remaining patient liability at line level (2430 AMT*EAF) when the other payer adjudicated line by
  line, not at claim level too (X12 RFI #1391, #1517).
Every amount below is a hand calculation written next to it.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, PAYER_ROWS, charge_row, contract_sheets, make_workbook
from typer.testing import CliRunner
from x12util import pyx12_validate, split_segments

from otbill_xl.actions.claims import create_claims
from otbill_xl.cli import app
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.claims import assemble_claims
from otbill_xl.domain.cob import Adjustment, LineAdjudication, adjudicate, msp_insurance_types
from otbill_xl.domain.models import (
    ChargeLine,
    Patient,
    Payer,
    PayerType,
    PostedPayment,
    Practice,
    Relationship,
)
from otbill_xl.domain.models import Subscriber as Sub
from otbill_xl.domain.secondary import NOT_BILLED_TO_PRIMARY, assemble_secondary
from otbill_xl.formats.x12 import ControlNumbers, X12Error, write_837p
from otbill_xl.ledger import Ledger
from otbill_xl.ledger.schema import MIGRATIONS
from otbill_xl.workbook.files import FileWorkbook

sys.path.insert(0, str(Path(__file__).parent))
from reference_write837 import reference_837p  # noqa: E402

CREATED = datetime(2026, 11, 27, 9, 30)
AS_OF = date(2026, 11, 27)
PRACTICE = Practice(practice_name="Harbor", billing_npi="1234567893", tax_id="123456789", taxonomy="225X00000X",
                    address="12 Harbor St", city="Boston", state="MA", zip="021341234", phone="6175550100",
                    submitter_name="Harbor", submitter_id="HHOT01", contact_name="Office",
                    contact_phone="6175550101", receiver_name="CH", receiver_id="TESTCH")
ACME = Payer(payer_key="ACME", payer_name="Acme", payer_type=PayerType.COMMERCIAL, payer_id="ACM01")
MCR = Payer(payer_key="MCR", payer_name="Medicare", payer_type=PayerType.MEDICARE, payer_id="12345")
MCD = Payer(payer_key="MCD", payer_name="Medicaid", payer_type=PayerType.MEDICAID, payer_id="MCD01")
DOS = date(2026, 8, 3)
PAID_ON = date(2026, 9, 1)


def _patient(pid="P1", payer="ACME", secondary="MCR", msp="", relationship=Relationship.SELF) -> Patient:
    return Patient(patient_id=pid, row=2, last_name="Doe", first_name="Jo", dob=date(1950, 1, 1), sex="F",
                   address="1 Elm St", city="Boston", state="MA", zip="02134", payer_key=payer, member_id="M1",
                   group_number="G77", relationship=relationship,
                   subscriber=Sub(last_name="Doe", first_name="Pat", dob=date(1948, 2, 2), sex="M")
                   if relationship is not Relationship.SELF else None,
                   secondary_payer_key=secondary, secondary_member_id="1EG4TE5MK73" if secondary else "",
                   medicare_secondary_type=msp)


def _line(row, line_id, code, units, charge, pid="P1") -> ChargeLine:
    return ChargeLine(row, line_id, pid, DOS, "1234567893", code, "GO", "", "", "", None, units, "M62.81", "", "",
                      "", "11", D(charge), "", "", "", "", "")


def _pay(row, claim_id, line_id, paid=None, group="", reason="", amount=None, payer="ACME", on=PAID_ON):
    return PostedPayment(row, "", payer, "CHK1", on, claim_id, line_id, "", (), None, None,
                         None if paid is None else D(paid), None, group, reason, None if amount is None else D(amount),
                         "")


def _book(patients, lines, payments=()) -> PracticeBook:
    return PracticeBook(practice=PRACTICE, payers=(ACME, MCR, MCD), patients=tuple(patients), charges=tuple(lines),
                        payments=tuple(payments))


def _write(claims, n=1) -> str:
    control = ControlNumbers(n, n, n)
    text = write_837p(claims, PRACTICE, control, created=CREATED).text
    assert reference_837p(claims, PRACTICE, control, created=CREATED)[0] == text  # the plain oracle agrees
    ok, errors = pyx12_validate(text)
    assert ok, "\n".join(errors[:20])
    return text


def _segments(text: str) -> list[list[str]]:
    return split_segments(text.replace("\n", ""))


# -- the primary claim lists the secondary payer (2320/2330A/2330B) ----------------------------------

def test_primary_claim_carries_the_secondary_payer_loops():
    book = _book([_patient()], [_line(2, "L1", "97110", 2, "130.00")])
    (claim,) = assemble_claims(book, [], computed_units={}, prior={}).claims
    segs = _segments(_write([claim]))
    i = next(k for k, s in enumerate(segs) if s[0] == "SBR" and s[1] == "S")
    # 2320: SBR01=S (the other payer is secondary), SBR02=18 (the patient is its insured), SBR05=12 (Medicare
    # as secondary, blank MedicareSecondaryType = the stated default), SBR09=MB (Medicare Part B)
    assert segs[i] == ["SBR", "S", "18", "", "", "12", "", "", "", "MB"]
    assert segs[i + 1] == ["OI", "", "", "Y", "", "", "Y"]
    assert segs[i + 2][:3] == ["NM1", "IL", "1"] and segs[i + 2][8:] == ["MI", "1EG4TE5MK73"]
    assert segs[i + 3] == ["NM1", "PR", "2", "MEDICARE", "", "", "", "", "PI", "12345"]
    assert segs[i + 4][0] == "LX"  # then the service lines
    # the primary's own subscriber loop stays P, without SBR05
    assert ["SBR", "P", "18", "G77", "", "", "", "", "", "CI"] in segs
    assert not any(s[0] in ("AMT", "SVD", "CAS") for s in segs)  # nothing adjudicated yet


def test_no_other_payer_loops_without_a_billable_secondary():
    """A patient without a secondary, with an unknown secondary payer key, a secondary equal to the primary
    or without a SecondaryMemberID gets no 2320 (the claim is written as before)."""
    patients = [_patient("P1", secondary=""), _patient("P2", secondary="NOPE"), _patient("P3", secondary="ACME"),
                _patient("P4").model_copy(update={"secondary_member_id": ""})]
    lines = [_line(2 + k, f"L{k}", "97110", 1, "65.00", pid=p.patient_id) for k, p in enumerate(patients)]
    claims = assemble_claims(_book(patients, lines), [], computed_units={}, prior={}).claims
    assert len(claims) == 4 and all(c.other_payers == () for c in claims)
    assert not any(s[0] == "OI" for s in _segments(_write(list(claims))))


def test_msp_type_setting_is_used_and_checked_against_the_tr3_list():
    assert set(msp_insurance_types()) == {"12", "13", "14", "15", "16", "41", "42", "43", "47"}  # SBR05, pyx12 map
    book = _book([_patient(msp="43")], [_line(2, "L1", "97110", 1, "65.00")])
    (claim,) = assemble_claims(book, [], computed_units={}, prior={}).claims
    assert ["SBR", "S", "18", "", "", "43", "", "", "", "MB"] in _segments(_write([claim]))
    # a commercial secondary: no SBR05
    book = _book([_patient(payer="MCR", secondary="ACME", msp="43")], [_line(2, "L1", "97110", 1, "65.00")])
    (claim,) = assemble_claims(book, [], computed_units={}, prior={}).claims
    assert ["SBR", "S", "18", "", "", "", "", "", "", "CI"] in _segments(_write([claim]))
    bad = claim._replace(other_payers=(claim.other_payers[0]._replace(insurance_type="99"),))
    with pytest.raises(X12Error, match="SBR05"):
        write_837p([bad], PRACTICE, ControlNumbers(1, 1, 1), created=CREATED)


# -- posted payments -> the primary's line adjudication -------------------------------------------------

def test_adjudication_from_posted_rows_balances():
    # charge 130.00 = paid 80.00 + CO-45 30.00 + PR-2 20.00 (hand: 80 + 30 + 20 = 130)
    rows = [_pay(2, "C1", "L1", paid="80.00", group="CO", reason="45", amount="30.00"),
            _pay(3, "C1", "L1", group="pr", reason="2", amount="12.00"),
            _pay(4, "C1", "L1", group="PR", reason="2", amount="8.00", on=date(2026, 9, 3))]
    adj = adjudicate(rows, D("130.00"), "ACME")
    # the two PR-2 rows add up (12 + 8 = 20); the latest PaymentDate is the adjudication date
    assert adj == LineAdjudication(D("80.00"), (Adjustment("CO", "45", D("30.00")), Adjustment("PR", "2", D("20.00"))),
                                   date(2026, 9, 3), D("20.00"))


@pytest.mark.parametrize("rows, words", [
    # 80 + 30 = 110 ≠ 130: the PR row is missing
    ([_pay(2, "C1", "L1", paid="80.00", group="CO", reason="45", amount="30.00")], "does not balance"),
    ([_pay(2, "C1", "L1", paid="80.00", group="XX", reason="45", amount="50.00")], "not a claim adjustment group"),
    ([_pay(2, "C1", "L1", paid="80.00", group="CO", reason="45!", amount="50.00")], "not a claim adjustment reason"),
    ([_pay(2, "C1", "L1", paid="80.00", group="CO", reason="45", amount="50.00", on=None)], "PaymentDate is blank"),
    ([_pay(2, "C1", "L1", paid="130.00", payer="MCR")], "no adjudication by the primary"),  # the secondary's own row
    ([], "no adjudication by the primary"),
    ([_pay(2, "C1", "L1", paid="80.00", group="CO", reason="45")], "without an AdjAmount"),
])
def test_adjudication_that_cannot_be_sent_says_why(rows, words):
    assert words in adjudicate(rows, D("130.00"), "ACME")


def test_a_denied_line_balances_with_zero_paid():
    # denied: paid 0, CO-50 130 (0 + 130 = 130); it leaves nothing to the patient
    adj = adjudicate([_pay(2, "C1", "L1", paid="0", group="CO", reason="50", amount="130.00")], D("130.00"), "ACME")
    assert isinstance(adj, LineAdjudication) and adj.paid == 0 and adj.patient_liability == 0


# -- the secondary claim --------------------------------------------------------------------------------

def _primary_and_payments():
    lines = [_line(2, "L1", "97110", 2, "130.00"), _line(3, "L2", "97530", 1, "80.00"),
             _line(4, "L3", "97140", 1, "60.00")]
    (primary,) = assemble_claims(_book([_patient()], lines), [], computed_units={}, prior={}).claims
    cid = primary.claim_id
    payments = [
        # L1: 130 = 80 paid + 30 CO-45 + 20 PR-2
        _pay(2, cid, "L1", paid="80.00", group="CO", reason="45", amount="30.00"),
        _pay(3, cid, "L1", group="PR", reason="2", amount="20.00"),
        # L2: 80 = 50 paid + 10 CO-45 + 15 PR-1 + 5 PR-2
        _pay(4, cid, "L2", paid="50.00", group="CO", reason="45", amount="10.00"),
        _pay(5, cid, "L2", group="PR", reason="1", amount="15.00"),
        _pay(6, cid, "L2", group="PR", reason="2", amount="5.00"),
        # L3: no adjudication posted
    ]
    return lines, primary, payments


def test_secondary_claim_reports_the_primary_adjudication():
    lines, primary, payments = _primary_and_payments()
    book = _book([_patient()], lines, payments)
    billed = {2: primary.claim_id, 3: primary.claim_id, 4: primary.claim_id}
    out = assemble_secondary(book, [], primary_claim_of=billed)
    (claim,) = out.claims
    assert claim.payer is MCR and claim.sequence == "S" and claim.member_id == "1EG4TE5MK73"
    assert claim.claim_id != primary.claim_id
    assert [s.line_id for s in claim.lines] == ["L1", "L2"]
    assert [h.line_id for h in out.held_back] == ["L3"]
    assert "no adjudication by the primary payer posted" in out.held_back[0].reasons[0]
    segs = _segments(_write([claim]))
    # 2000B: the secondary payer is billed, SBR01=S, Medicare secondary -> SBR05 12, SBR09 MB
    assert ["SBR", "S", "18", "", "", "12", "", "", "", "MB"] in segs
    clm = next(s for s in segs if s[0] == "CLM")
    assert clm[2] == "210"  # 130 + 80
    # 2320: the primary (SBR01=P, group number G77, CI), AMT*D = 80 + 50 = 130
    i = next(k for k, s in enumerate(segs) if s[0] == "SBR" and s[1] == "P")
    assert segs[i] == ["SBR", "P", "18", "G77", "", "", "", "", "", "CI"]
    assert segs[i + 1] == ["AMT", "D", "130"]
    assert segs[i + 2] == ["OI", "", "", "Y", "", "", "Y"]
    assert segs[i + 3][8:] == ["MI", "M1"] and segs[i + 4][:4] == ["NM1", "PR", "2", "ACME"]
    # 2430 of line 1 and line 2, in guide order after the line's REF*6R
    start = [k for k, s in enumerate(segs) if s[0] == "SVD"]
    assert segs[start[0]:start[0] + 5] == [["SVD", "ACM01", "80", "HC:97110:GO", "", "2"], ["CAS", "CO", "45", "30"],
                                           ["CAS", "PR", "2", "20"], ["DTP", "573", "D8", "20260901"],
                                           ["AMT", "EAF", "20"]]
    assert segs[start[1]:start[1] + 5] == [["SVD", "ACM01", "50", "HC:97530:GO", "", "1"], ["CAS", "CO", "45", "10"],
                                           ["CAS", "PR", "1", "15", "", "2", "5"], ["DTP", "573", "D8", "20260901"],
                                           ["AMT", "EAF", "20"]]
    # the TR3 balancing, recomputed from the file: each SV102 = SVD02 + CAS; CLM02 = AMT*D + all CAS
    cas_total = sum(D(s[k]) for s in segs if s[0] == "CAS" for k in range(3, len(s), 3))
    assert D(clm[2]) == D("130") + cas_total  # 210 = 130 + (30 + 20 + 10 + 15 + 5)


def test_secondary_holds_back_what_the_primary_has_not_billed_or_left_nothing_of():
    lines, primary, payments = _primary_and_payments()
    # L2 paid in full by the primary: 80 = 70 paid + 10 CO-45 (no PR: nothing left for the secondary)
    payments = [p for p in payments if p.line_id != "L2"] + [
        _pay(7, primary.claim_id, "L2", paid="70.00", group="CO", reason="45", amount="10.00")]
    book = _book([_patient()], lines, payments)
    out = assemble_secondary(book, [], primary_claim_of={2: primary.claim_id, 3: primary.claim_id})
    assert [s.line_id for c in out.claims for s in c.lines] == ["L1"]
    reasons = {h.line_id: h.reasons[0] for h in out.held_back}
    assert "nothing left for the secondary" in reasons["L2"]
    assert reasons["L3"] == NOT_BILLED_TO_PRIMARY  # not in the ledger as billed to the primary


def test_secondary_of_a_dependent_reports_the_primary_subscriber():
    """The patient is a child on a parent's commercial plan (primary) and has Medicaid (secondary): the
    secondary claim's subscriber is the patient (Medicaid member, no 2000C); its 2320 names the parent
    as the primary's insured with SBR02=19 (child)."""
    patient = _patient(secondary="MCD", relationship=Relationship.CHILD)
    lines = [_line(2, "L1", "97110", 1, "65.00")]
    (primary,) = assemble_claims(_book([patient], lines), [], computed_units={}, prior={}).claims
    # 65 = 40 paid + 15 CO-45 + 10 PR-3 (copay)
    pays = [_pay(2, primary.claim_id, "L1", paid="40.00", group="CO", reason="45", amount="15.00"),
            _pay(3, primary.claim_id, "L1", group="PR", reason="3", amount="10.00")]
    out = assemble_secondary(_book([patient], lines, pays), [], primary_claim_of={2: primary.claim_id})
    segs = _segments(_write(list(out.claims)))
    assert not any(s[0] == "HL" and s[3] == "23" for s in segs)  # no patient (2000C) loop
    assert ["SBR", "S", "18", "", "", "", "", "", "", "MC"] in segs
    i = next(k for k, s in enumerate(segs) if s[0] == "SBR" and s[1] == "P")
    assert segs[i][:3] == ["SBR", "P", "19"]
    assert segs[i + 3][:5] == ["NM1", "IL", "1", "DOE", "PAT"]


# -- the ledger: once per payer sequence ---------------------------------------------------------------

def test_ledger_migrates_to_sequences_and_keeps_old_claims_primary(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:3]:  # the ledger as otbill left it before secondary claims (schema 3)
        if callable(step):
            step(conn)
        else:
            for statement in filter(None, (s.strip() for s in step.split(";"))):
                conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    conn.execute("INSERT INTO files (id, path, sha256, practice, payer_key, interchange, group_number, "
                 "transaction_number, claims, lines, total, created) VALUES (1,'f','x','NPI','ACME',1,1,1,1,1,'65',"
                 "'2026-08-04')")
    conn.execute("INSERT INTO claims (id, claim_id, practice, payer_key, patient_id, frequency, lines, total, file_id,"
                 " created) VALUES (1,'C1','NPI','ACME','P1','1',1,'65',1,'2026-08-04')")
    conn.execute("INSERT INTO billed_lines (practice, line_key, line_id, claim_row, frequency, billed_at, "
                 "line_identity) VALUES ('NPI','k','L1',1,'1','2026-08-04','L1|P1|2026-08-03')")
    conn.close()
    with Ledger(path) as ledger:
        keys = {"line_keys": ["L1|P1|2026-08-03"], "service_keys": [], "sending_keys": []}
        assert ledger.history("NPI", **keys).by_line["L1|P1|2026-08-03"][0].claim_id == "C1"
        assert ledger.history("NPI", sequence="S", **keys).by_line == {}


SECONDARY_PATIENTS = [PATIENT_ROWS[0][:6] + ["MemberID", "Relationship", "SecondaryPayerKey", "SecondaryMemberID",
                                             "GroupNumber", "Address", "City", "State", "ZIP", "POCStart", "POCEnd",
                                             "AuthNumber", "AuthStart", "AuthEnd"],
                      ["P002", "Roe", "Sam", "1950-06-01", "M", "ACME", "XYZ123", "self", "MCR", "1EG4TE5MK73", "G1",
                       "9 Oak Ave", "Quincy", "MA", "02169", "8/1/2026", "10/29/2026", "AU1", "8/1/2026", "10/29/2026"]]
PAYMENT_HEADER = ["PayerKey", "PaymentDate", "ClaimID", "LineID", "Paid", "AdjGroup", "AdjReason", "AdjAmount"]


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.837")}


def test_workbook_secondary_run_bills_once_and_dry_runs_write_nothing(tmp_path):
    """Through `otbill claims`: the primary file lists the secondary (2320); `--secondary` before the
    Payments are posted bills nothing; after, one secondary file (pyx12-valid); a second `--secondary`
    and a primary re-run bill nothing more; `--dry-run --secondary` writes nothing."""
    runner = CliRunner()
    charges = [CHARGE_HEADER, charge_row("L1", patient="P002", minutes=30, units=2, charge=130.0),
               charge_row("L2", patient="P002", code="97530", minutes=15, units=1, charge=80.0)]
    sheets = contract_sheets(Patients=SECONDARY_PATIENTS, Charges=charges, Payers=PAYER_ROWS)
    src = make_workbook(tmp_path / "book.xlsx", sheets)
    out, ledger = tmp_path / "out", tmp_path / "ledger.sqlite"
    base = ["--out", str(out), "--ledger", str(ledger), "--as-of", "2026-08-20"]

    port = FileWorkbook(src)
    with Ledger(ledger) as lg:
        first = create_claims(port, out_dir=out, ledger=lg, as_of=date(2026, 8, 20), created=CREATED)
    (primary,) = first.billed_claims
    assert primary.other_payers[0].payer.payer_key == "MCR"
    (primary_file,) = _files(out)
    text = (out / primary_file).read_text()
    assert pyx12_validate(text)[0] and "SBR*S*18***12****MB~" in text

    result = runner.invoke(app, ["claims", str(src), "--secondary", *base])
    assert "0 claims, 0 lines billed" in result.output and _files(out) == {primary_file}

    # the biller posts the primary's remittance: L1 130 = 80 + CO-45 30 + PR-2 20; L2 80 = 50 + CO-45 10 + PR-2 20
    cid = primary.claim_id
    payments = [PAYMENT_HEADER, ["ACME", "9/1/2026", cid, "L1", 80, "CO", "45", 30], ["ACME", "9/1/2026", cid, "L1", 0, "PR", "2", 20],
                ["ACME", "9/1/2026", cid, "L2", 50, "CO", "45", 10], ["ACME", "9/1/2026", cid, "L2", 0, "PR", "2", 20]]
    src2 = make_workbook(tmp_path / "book2.xlsx", {**sheets, "Payments": payments})
    before = ledger.read_bytes()
    dry = runner.invoke(app, ["claims", str(src2), "--secondary", "--dry-run", *base])
    assert dry.exit_code == 0, dry.output
    assert "1 claims, 2 lines would be billed" in dry.output and _files(out) == {primary_file}
    assert ledger.read_bytes() == before  # nothing recorded

    result = runner.invoke(app, ["claims", str(src2), "--secondary", *base])
    assert result.exit_code == 0, result.output
    (secondary_file,) = _files(out) - {primary_file}
    assert "secondary" in secondary_file
    text = (out / secondary_file).read_text()
    ok, errors = pyx12_validate(text)
    assert ok, errors
    assert "SBR*S*18***12****MB~" in text and "AMT*D*130~" in text and "SVD*ACM01*80*HC:97110:GO**2~" in text

    again = runner.invoke(app, ["claims", str(src2), "--secondary", *base])
    assert "0 claims, 0 lines billed" in again.output and len(_files(out)) == 2
    rerun = runner.invoke(app, ["claims", str(src2), *base])
    assert "0 claims, 0 lines billed" in rerun.output and len(_files(out)) == 2
    with Ledger(ledger) as lg:
        sequences = sorted(c["sequence"] for c in lg.claims_for("1234567893", ["L1|P002|2026-08-03"], []))
    assert sequences == ["P", "S"]
