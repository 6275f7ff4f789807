"""CSV remittance exports (issue 13 §1): presets, a user column mapping, adjustments in every shape,
bad rows as problems, unusable files as RemitCSVError. Every CSV here is hand-written; the amounts are
checked by the hand sums in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from otbill_xl.domain.findings import Location
from otbill_xl.errors import OtbillError
from otbill_xl.formats.remit_csv import RemitCSVError, detect_preset, mapping_from_toml, read_remit_csv
from otbill_xl.formats.x12.read835 import Adjustment, remittance_findings

D = Decimal

# The Healthcare Data Insight layout: the headers of its published 835 example
# (github.com/Healthcare-Data-Insight/api-examples, converted_files/835/claim_adj_reason.csv), cut to the
# columns we read plus a few we ignore (patient name). Claim fields on the first row of a claim only.
HDI_HEADER = ("Id,TransactionType,PatientControlNumber,ClaimStatus,ChargeAmount,PaymentAmount,"
              "PatientResponsibilityAmount,ClaimFilingIndicatorCode,PayerControlNumber,TotalPaymentAmount,"
              "PaymentMethodType,PaymentDate,CheckOrEftTraceNumber,Adj1Group,Adj1ReasonCode,Adj1Amount,PayerIdentifier,"
              "PayerName,PatientLastName,LineControlNumber,LineProcedureCode,LineProcedureModifier1Code,"
              "LineChargeAmount,LinePaidAmount,LineUnitCount,LineServiceDateFrom,LineServiceDateTo,LineAdj1Group,"
              "LineAdj1ReasonCode,LineAdj1Amount,LineAdj2Group,LineAdj2ReasonCode,LineAdj2Amount,LineAllowedAmount,"
              "LineRemarkCode1\n")
HDI = HDI_HEADER + (
    # Claim OT1: charge 400 = paid 80 + line CAS 70 + 100 + 150 (charge 150 = 80 + CO-45 70, etc.).
    "a1,835,OT1,PRIMARY,400,80,,MC,ICN1,110,CHECK,2019-08-16,CK1,,,,PAYER1,ANY PLAN,DOE,1,97110,GO,150,80,2,"
    "2019-01-01,2019-01-01,CONTRACTUAL,45,70,,,,80,N130\n"
    "a1,,OT1,,,,,,ICN1,,,,,,,,,,,2,97140,GO,100,0,1,2019-01-01,2019-01-01,CONTRACTUAL,204,100,,,,,\n"
    "a1,,OT1,,,,,,ICN1,,,,,,,,,,,3,97530,GO,150,0,1,2019-01-01,2019-01-01,OTHER,97,150,,,,,\n"
    # Claim OT2: charge 60 = paid 30 + claim CAS OA-23 5 + line PR-1 20 + CO-45 5; check 110 = 80 + 30.
    "b2,835,OT2,PRIMARY,60,30,20,MC,ICN2,110,CHECK,2019-08-16,CK1,OTHER,23,5,PAYER1,ANY PLAN,ROE,9,97535,,60,30,1,"
    "2019-01-02,2019-01-02,PATIENT_RESPONSIBILITY,1,20,CONTRACTUAL,45,5,55,\n")


def test_hdi_preset_detected_and_read_into_the_835_records():
    assert detect_preset(HDI_HEADER.strip().split(",")) == "hdi"
    (r,) = read_remit_csv(HDI, "hdi.csv")
    assert (r.source, r.trace_number, r.payer_id, r.payer_name, r.amount, r.method, r.payment_date) == \
        ("CSV", "CK1", "PAYER1", "ANY PLAN", D(110), "CHECK", date(2019, 8, 16))
    assert r.problems == ()
    ot1, ot2 = r.claims
    assert (ot1.patient_control_number, ot1.status, ot1.charge, ot1.paid, ot1.payer_claim_number,
            ot1.filing_indicator) == ("OT1", "1", D(400), D(80), "ICN1", "MC")
    l1, l2, l3 = ot1.services
    assert (l1.code, l1.modifiers, l1.units, l1.charge, l1.paid, l1.allowed, l1.line_control_number) == \
        ("97110", ("GO",), D(2), D(150), D(80), D(80), "1")
    assert l1.service_date == date(2019, 1, 1) and l1.remark_codes == ("N130",)
    assert l1.adjustments == (Adjustment("CO", "45", D(70), None),)
    assert l2.adjustments == (Adjustment("CO", "204", D(100), None),)
    assert l3.adjustments == (Adjustment("OA", "97", D(150), None),)
    assert ot1.services[0].segment == 2  # the CSV line of the row
    assert ot2.adjustments == (Adjustment("OA", "23", D(5), None),)
    assert ot2.patient_responsibility == D(20)
    assert ot2.services[0].adjustments == (Adjustment("PR", "1", D(20), None), Adjustment("CO", "45", D(5), None))


GENERIC_ONE_PER_ROW = """Practice payments export,,,,,,,,,
Run 03/02/2026,,,,,,,,,
Check #,Payer,Check Date,Claim ID,Line ID,DOS,CPT,Modifier,Billed,Paid,Adj Group,Adj Reason,Adj Amount
EFT77,ACME HEALTH,03/01/2026,C100,L1,02/10/2026,97110,GO,"$130.00",62.80,CO,45,67.20
EFT77,ACME HEALTH,03/01/2026,C100,L2,02/10/2026,97530,GO;59,65.00,30.89,CO,45,26.39
EFT77,ACME HEALTH,03/01/2026,C100,L2,02/10/2026,97530,GO;59,65.00,30.89,PR,2,7.72
EFT78,OTHER PLAN,03/01/2026,C200,L9,02/11/2026,97535,,65.00,0,CO,97,65.00
"""


def test_generic_export_one_cas_per_row_header_below_title_lines():
    first, second = read_remit_csv(GENERIC_ONE_PER_ROW, "pm.csv")
    assert (first.trace_number, first.payer_name, second.trace_number) == ("EFT77", "ACME HEALTH", "EFT78")
    (c,) = first.claims
    l1, l2 = c.services
    # L2 on two rows (one CAS each): one line, two adjustments; 65.00 = 30.89 + 26.39 + 7.72.
    assert l2.modifiers == ("GO", "59") and l2.adjustments == (
        Adjustment("CO", "45", D("26.39"), None), Adjustment("PR", "2", D("7.72"), None))
    # Claim totals from the lines: charge 130.00 + 65.00, paid 62.80 + 30.89 = 93.69; PR 7.72; status 1.
    assert (c.charge, c.paid, c.patient_responsibility, c.status) == (D("195.00"), D("93.69"), D("7.72"), "1")
    assert first.amount == D("93.69") and first.payment_date == date(2026, 3, 1) and first.problems == ()
    (denied,) = second.claims
    assert denied.status == "4" and denied.services[0].adjustments == (Adjustment("CO", "97", D("65.00"), None),)


def test_several_adjustments_in_one_cell_and_amount_columns():
    text = ("Claim ID,CPT,Billed,Paid,Adjustments,Deductible,Coinsurance\n"
            # 100.00 = 60.00 + CO-45 12.00 + CO-253 1.20 + PR-2 (coinsurance column) 26.80
            '"C1","97110","100.00","60.00","CO-45 12.00; CO253: 1.20","","26.80"\n'
            # 50.00 = 0 + PR-1 (deductible column) 50.00
            '"C1","97140","50.00","0.00","","50.00",""\n')
    (r,) = read_remit_csv(text, "multi.csv")
    l1, l2 = r.claims[0].services
    assert l1.adjustments == (Adjustment("CO", "45", D("12.00"), None), Adjustment("CO", "253", D("1.20"), None),
                              Adjustment("PR", "2", D("26.80"), None))
    assert l2.adjustments == (Adjustment("PR", "1", D("50.00"), None),)
    assert r.problems == () and r.claims[0].patient_responsibility == D("76.80")


NEXTGEN = ("File,Chk Nbr,Pat Name,Clm Nbr,Svc Date,CPT4,M1,M2,Bill Amt,Pd Amt,Adj Amt,Ded Amt,Allwd Amt,CoIns Amt,"
           "CAGC/CARC,Pyr ID,Pyr Nam,Remark Codes\n"
           # 120.00 = 58.00 + CO-45 47.50 + coinsurance PR-2 14.50 (allowed 72.50 = 58.00 + 14.50)
           "era1.835,880011,PATIENT X,E500,1/15/2026,97110,GO,,120.00,58.00,47.50,0.00,72.50,14.50,CO-45,"
           "12345,MEDICARE B,N130 MA01\n")


def test_nextgen_preset_columns():
    assert detect_preset(NEXTGEN.split("\n")[0].split(",")) == "nextgen"
    (r,) = read_remit_csv(NEXTGEN, "ng.csv")
    (s,) = r.claims[0].services
    assert (r.trace_number, r.payer_id, r.claims[0].patient_control_number) == ("880011", "12345", "E500")
    assert s.adjustments == (Adjustment("CO", "45", D("47.50"), None), Adjustment("PR", "2", D("14.50"), None))
    assert (s.allowed, s.remark_codes, s.service_date) == (D("72.50"), ("N130", "MA01"), date(2026, 1, 15))
    assert r.problems == ()


def test_user_mapping_and_toml(tmp_path):
    text = "Acct,Proc,Amt Paid,Charged,Check\nA1,97110,40.00,40.00,T1\n"
    with pytest.raises(RemitCSVError, match="no header row"):
        read_remit_csv(text, "own.csv")  # neither a claim id nor a paid amount is recognisable
    mapping = {"ClaimID": "Acct", "Code": "Proc", "Paid": "Amt Paid", "Billed": "Charged", "CheckNumber": "Check"}
    (r,) = read_remit_csv(text, "own.csv", mapping=mapping)
    assert (r.trace_number, r.claims[0].patient_control_number, r.claims[0].services[0].paid) == ("T1", "A1", D(40))
    toml = tmp_path / "cols.toml"
    toml.write_text('[RemitCSV]\nclaim_id = "Acct"\nCode = "Proc"\nPaid = "Amt Paid"\nBilled = "Charged"\n'
                    'CheckNumber = "Check"\n', encoding="utf-8")
    assert read_remit_csv(text, "own.csv", mapping=mapping_from_toml(toml)) == (r,)
    with pytest.raises(RemitCSVError, match="not a remittance field"):
        read_remit_csv(text, "own.csv", mapping={"Payment": "Amt Paid"})
    with pytest.raises(RemitCSVError, match="'Paid Amt' are in none of them"):
        read_remit_csv(text, "own.csv", mapping={**mapping, "Paid": "Paid Amt"})


def test_mapping_overrides_a_preset_header():
    text = HDI.replace("LinePaidAmount", "LinePaid")
    # The signature header LinePaidAmount is gone: name the preset; the alias "Line Paid" finds the column.
    assert detect_preset(text.split("\n")[0].split(",")) is None
    (r,) = read_remit_csv(text, "hdi.csv", preset="hdi")
    assert r.claims[0].services[0].paid == D(80) and r.problems == ()
    # A mapping wins over the preset: the allowed column read as paid (80 and 55). OT1's lines 2 and 3 have no
    # allowed amount, so they are bad rows (lines 3, 4) and OT1 (line 2) no longer balances: 400 ≠ 80 + 70.
    (r,) = read_remit_csv(text, "hdi.csv", preset="hdi", mapping={"Paid": "LineAllowedAmount"})
    assert r.claims[0].services[0].paid == D(80) and r.claims[1].services[0].paid == D(55)
    assert [(p.kind, p.segment) for p in r.problems] == [("unbalanced_claim", 2), ("bad_row", 3), ("bad_row", 4)]


def test_bad_rows_are_problems_and_the_rest_is_read():
    text = ("Check #,Claim ID,CPT,Billed,Paid,DOS,Adj Group,Adj Reason,Adj Amount\n"
            "K1,C1,97110,50.00,50.00,01/05/2026,,,\n"
            "K1,C2,97110,50.00,fifty,01/05/2026,,,\n"          # line 3: paid not an amount
            "K1,C3,,50.00,50.00,01/05/2026,,,\n"               # line 4: no code
            "K1,C4,97110,50.00,40.00,13/45/2026,,,\n"          # line 5: not a date
            "K1,C5,97110,50.00,40.00,01/05/2026,XX,45,10.00\n"  # line 6: group XX
            "K1,C6,97110,50.00,40.00,01/05/2026,,45,10.00\n"    # line 7: no group
            "K1,,97110,50.00,40.00,01/05/2026,,,\n"            # line 8: no claim id
            "K1,C7,97110,50.00,40.00,01/05/2026,CO,45,5.00\n")  # line 9: read; 50 ≠ 40 + 5: unbalanced
    (r,) = read_remit_csv(text, "bad.csv")
    assert [c.patient_control_number for c in r.claims] == ["C1", "C7"]
    assert [(p.kind, p.segment) for p in r.problems] == [("bad_row", n) for n in range(3, 9)] + \
        [("unbalanced_claim", 9)]
    findings = remittance_findings(r, "bad.csv")
    assert findings[0].rule == "remit.bad-row" and findings[0].location == Location(file="bad.csv", row=3)
    assert findings[0].message.startswith("Line 3: Paid is not an amount")
    assert all("fifty" not in f.message and "C2" not in f.message for f in findings)
    assert findings[-1].rule == "remit.unbalanced-claim"


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "empty"),
    (b"\xff\xfeC\x00l\x00", "not text"),
    ("a,b\n1,2\n", "no header row"),
    ('Claim ID,Paid\n"C1,10\n', "line"),
    ("Claim ID,CPT,Amount\nC1,97110,10\n", "no header row"),
])
def test_unusable_files_raise_remit_csv_error(data, expected):
    with pytest.raises(RemitCSVError, match=expected) as info:
        read_remit_csv(data, "x.csv")
    assert isinstance(info.value, OtbillError) and str(info.value).startswith("x.csv")


def test_unknown_preset_and_forced_generic():
    with pytest.raises(RemitCSVError, match="unknown preset"):
        read_remit_csv(HDI, "hdi.csv", preset="kareo")
    assert read_remit_csv(GENERIC_ONE_PER_ROW, "pm.csv", preset="generic") == read_remit_csv(GENERIC_ONE_PER_ROW,
                                                                                               "pm.csv")


def test_windows_1252_and_semicolons():
    text = "Claim ID;CPT;Paid;Billed;Payer\nC1;97110;10,00;10,00;CAFÉ PLAN\n".replace("10,00", "10.00")
    (r,) = read_remit_csv(text.encode("cp1252"), "w.csv")
    assert r.payer_name == "CAFÉ PLAN" and r.claims[0].paid == D(10)
