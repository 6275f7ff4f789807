"""Reconciliation in the domain (otbill_xl.domain.reconcile): matching, statuses, variance, posting.

Remittances are built as records here (the 835 reader has its own tests); every amount is a hand
calculation written next to it. Medicare pays 80% of the allowed amount after the deductible and
sequestration takes 2% of Medicare's payment (facts §5.1, §5.3).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from otbill_xl.domain.pricing import LinePrice
from otbill_xl.domain.reconcile import (
    STATUSES,
    ChargeOnFile,
    PriorPostings,
    RemitSource,
    reconcile,
    remit_line_key,
)
from otbill_xl.formats.x12.read835 import Adjustment, ClaimPayment, Procedure, Remittance, ServicePayment

DOS = date(2026, 10, 5)
PAID_ON = date(2026, 11, 2)


def price(row: int, charge: str, fee: str, *, mppr: str = "0", assistant: str = "0") -> LinePrice:
    fee_d = D(fee)
    allowed = fee_d - D(mppr) - D(assistant)
    patient = (allowed * D("0.20")).quantize(D("0.01"))
    payer = allowed - patient
    seq = (payer * D("0.02")).quantize(D("0.01"))
    return LinePrice(row, f"L{row}", "MCR", "97110", 2, D(charge), fee_d, D(mppr), D(assistant), allowed, D(0),
                     payer - seq, patient, seq, None, "", "test", False)


def charge(row: int, code: str = "97110", *, claim: str = "OTCLAIM1", mods=("GO",), units=2, amount="80.00",
           fee: str | None = "58.00", patient: str = "P1", billed: bool = True, day: date = DOS, **kw) -> ChargeOnFile:
    return ChargeOnFile(row, f"L{row}", claim, patient, "MCR", day, code, tuple(mods), units, D(amount),
                        price(row, amount, fee, **kw) if fee else None, billed)


def svc(code="97110", mods=("GO",), charge="80.00", paid="45.47", units="2", cas=(("CO", "45", "22.00"),
        ("PR", "2", "11.60"), ("CO", "253", "0.93")), lcn="L2", day: date | None = DOS, original=None,
        allowed=None) -> ServicePayment:
    sp = ServicePayment("HC", code, tuple(mods), D(charge), D(paid), D(units), original,
                        tuple(Adjustment(g, r, D(a), None) for g, r, a in cas), lcn, day, None, None, (), 40)
    if allowed is not None:
        sp = sp._replace(allowed=D(allowed)) if "allowed" in ServicePayment._fields else sp
    return sp


def clp(services, *, pcn="OTCLAIM1", status="1", payer_claim="PCN-1", adjustments=(), charge=None, paid=None,
        **extra) -> ClaimPayment:
    total = sum((s.charge for s in services), D(0)) if charge is None else D(charge)
    paid_d = sum((s.paid for s in services), D(0)) if paid is None else D(paid)
    patient = sum((a.amount for s in services for a in s.adjustments if a.group == "PR"), D(0))
    cp = ClaimPayment(pcn, status, total, paid_d, patient, payer_claim, tuple(adjustments), tuple(services),
                      None, None, 30)
    return cp._replace(**extra) if extra else cp


def remit(claims, *, trace="EFT1", payer_id="MEDICARE01", plb=()) -> Remittance:
    return Remittance("0001", "MEDICARE", payer_id, "PRACTICE", "XX", "1234567893", "1234567893", (),
                      sum((c.paid for c in claims), D(0)), "C", "ACH", PAID_ON, trace, tuple(claims), tuple(plb), (), 1)


def run(remits, charges, **kw):
    return reconcile([RemitSource(r, "era.835") for r in remits], charges, payer_keys={"MEDICARE01": "MCR"}, **kw)


def only(result, status=None):
    lines = [r for r in result.lines if r.status != "open"] if status is None else \
        [r for r in result.lines if r.status == status]
    assert len(lines) == 1, [r.status for r in result.lines]
    return lines[0]


# -- paid as expected ---------------------------------------------------------------------------------

def test_a_line_paid_as_priced_is_paid_and_every_part_of_the_variance_is_explained():
    # Fee schedule 58.00 for 2 units; charge 80.00. Coinsurance 20% × 58.00 = 11.60; Medicare's share
    # 46.40; sequestration 2% × 46.40 = 0.928 → 0.93; paid 46.40 − 0.93 = 45.47. CO-45 = 80 − 58 = 22.00.
    result = run([remit([clp([svc()])])], [charge(2)])
    line = only(result)
    assert line.status == "paid"
    assert line.match_by == "line_control" and line.claim_match_by == "claim_id"
    assert line.confidence == D("1.00")
    v = line.variance
    assert (v.sequestration, v.patient, v.contractual, v.mppr, v.assistant, v.unexplained) == \
        (D("0.93"), D("11.60"), D("22.00"), 0, 0, 0)
    # the parts add up to billed − paid: 0.93 + 11.60 + 22.00 = 34.53 = 80.00 − 45.47
    assert sum(v) == line.billed - line.paid == D("34.53")
    assert line.allowed == D("45.47") + D("11.60") + D("0.93") == D("58.00")


def test_posting_rows_follow_the_payments_layout_and_sum_to_the_remittance():
    result = run([remit([clp([svc()])])], [charge(2)])
    rows = result.payments
    assert len(rows) == 3  # one per CAS adjustment
    assert [(r.adj_group, r.adj_reason, r.adj_amount) for r in rows] == \
        [("CO", "45", D("22.00")), ("PR", "2", D("11.60")), ("CO", "253", D("0.93"))]
    assert sum(r.paid for r in rows) == D("45.47")
    assert rows[0].billed == D("80.00") and rows[1].billed is None
    assert {r.check_number for r in rows} == {"EFT1"} and {r.payment_date for r in rows} == {PAID_ON}
    assert {r.claim_id for r in rows} == {"OTCLAIM1"} and {r.line_id for r in rows} == {"L2"}
    assert len({r.payment_id for r in rows}) == 3
    assert rows[0].payment_id.startswith(result.posted[0].key)
    # what cob.adjudicate needs for a secondary claim: charge = paid + adjustments
    assert sum(r.paid for r in rows) + sum(r.adj_amount for r in rows) == D("80.00")


# -- under / over payment -------------------------------------------------------------------------------

def test_underpayment_is_what_the_expected_parts_do_not_explain():
    # The payer took 27.00 CO-45 instead of 22.00 and paid 40.47: 5.00 unexplained.
    line = only(run([remit([clp([svc(paid="40.47", cas=(("CO", "45", "27.00"), ("PR", "2", "11.60"),
                                                         ("CO", "253", "0.93")))])])], [charge(2)]))
    assert line.status == "underpaid"
    assert line.variance.unexplained == D("5.00")


def test_overpayment_and_the_tolerance():
    over = only(run([remit([clp([svc(paid="46.47", cas=(("CO", "45", "21.00"), ("PR", "2", "11.60"),
                                                         ("CO", "253", "0.93")))])])], [charge(2)]))
    assert over.status == "overpaid" and over.variance.unexplained == D("-1.00")
    # one cent off is within the default tolerance of $0.01
    cent = only(run([remit([clp([svc(paid="45.46", cas=(("CO", "45", "22.01"), ("PR", "2", "11.60"),
                                                         ("CO", "253", "0.93")))])])], [charge(2)]))
    assert cent.status == "paid" and cent.variance.unexplained == D("0.01")
    strict = only(run([remit([clp([svc(paid="45.46", cas=(("CO", "45", "22.01"), ("PR", "2", "11.60"),
                                                           ("CO", "253", "0.93")))])])], [charge(2)],
                      tolerance=D("0.00")))
    assert strict.status == "underpaid"


def test_mppr_and_assistant_reductions_are_explained_not_underpaid():
    # Fee 58.00, MPPR takes 6.00 (50% of a 12.00 PE unit) and CQ/CO 15% of the rest 7.80 → allowed 44.20.
    # Coinsurance 20% × 44.20 = 8.84; Medicare 35.36; sequestration 0.71 (0.7072); paid 34.65.
    # The payer folds MPPR and the assistant reduction into CO-45: 80 − 44.20 = 35.80 (facts §5.4).
    line = only(run([remit([clp([svc(paid="34.65", cas=(("CO", "45", "35.80"), ("PR", "2", "8.84"),
                                                         ("CO", "253", "0.71")))])])],
                    [charge(2, mppr="6.00", assistant="7.80")]))
    assert line.status == "paid"
    v = line.variance
    assert (v.contractual, v.mppr, v.assistant, v.unexplained) == (D("22.00"), D("6.00"), D("7.80"), 0)


def test_a_line_without_a_fee_schedule_is_not_judged():
    line = only(run([remit([clp([svc(paid="30.00", cas=(("CO", "45", "50.00"),))])])], [charge(2, fee=None)]))
    assert line.status == "paid" and line.variance.unexplained == 0
    assert line.variance.contractual == D("50.00")
    assert "no expected amount" in line.note


# -- denials and patient responsibility --------------------------------------------------------------

def test_denied_line_partially_denied_line_and_patient_responsibility():
    denied = only(run([remit([clp([svc(paid="0", cas=(("CO", "50", "80.00"),))])])], [charge(2)]))
    assert denied.status == "denied" and denied.carc == "CO-50"
    assert denied.variance.denied == D("80.00") and denied.variance.unexplained == 0
    # one of two units denied CO-151 (frequency): 40.00 denied; the other unit paid as priced for one
    # unit: expected parts scaled by (80 − 40)/80 = 1/2 → contractual 11.00.
    part = only(run([remit([clp([svc(paid="22.74", cas=(("CO", "151", "40.00"), ("CO", "45", "11.00"),
                                                        ("PR", "2", "5.80"), ("CO", "253", "0.46")))])])],
                    [charge(2)]))
    assert part.status == "partially_denied" and part.carc == "CO-151"
    assert part.variance.contractual == D("11.00")
    deductible = only(run([remit([clp([svc(paid="0", cas=(("CO", "45", "22.00"), ("PR", "1", "58.00")))])])],
                          [charge(2)]))
    assert deductible.status == "patient_responsibility" and deductible.carc == "PR-1"
    assert deductible.patient_responsibility == D("58.00")


def test_claim_denied_without_service_lines_denies_each_billed_line():
    claim = clp([], charge="160.00", paid="0", status="4", adjustments=(Adjustment("CO", "29", D("160.00"), None),))
    result = run([remit([claim])], [charge(2), charge(3, code="97530")])
    assert [r.status for r in result.lines] == ["denied", "denied"]
    assert {r.carc for r in result.lines} == {"CO-29"}


def test_claim_paid_without_service_lines_is_an_exception_not_a_guess():
    claim = clp([], charge="160.00", paid="90.00", adjustments=(Adjustment("CO", "45", D("70.00"), None),))
    result = run([remit([claim])], [charge(2), charge(3, code="97530")])
    assert [e.kind for e in result.exceptions] == ["no_service_lines"]
    assert not result.payments


# -- matching ---------------------------------------------------------------------------------------

def test_line_matched_by_code_modifiers_date_and_units_without_ref_6r():
    line = only(run([remit([clp([svc(lcn="")])])], [charge(1, code="97530"), charge(2)]))
    assert line.line_id == "L2" and line.match_by == "code_modifiers_dos_units"


def test_dropped_modifier_still_matches_and_is_flagged():
    line = only(run([remit([clp([svc(lcn="", mods=())])])], [charge(2)]))
    assert line.line_id == "L2" and line.match_by == "code_dos_units"
    assert "modifiers" in line.note and line.confidence < D("1")


def test_payer_changed_code_matches_by_svc06_original():
    line = only(run([remit([clp([svc(lcn="", code="97530", original=Procedure("HC", "97110", ("GO",)))])])],
                    [charge(2)]))
    assert line.line_id == "L2" and line.match_by == "original_code"
    assert "97530" in line.note


def test_claim_matched_by_payer_claim_number_seen_before():
    prior = PriorPostings(payer_claims={"PCN-9": "OTCLAIM1"})
    line = only(run([remit([clp([svc()], pcn="SOMETHINGELSE", payer_claim="PCN-9")])], [charge(2)], prior=prior))
    assert line.claim_match_by == "payer_claim_number" and line.claim_id == "OTCLAIM1"


def test_claim_matched_by_patient_dates_and_charge_then_patient_and_dates():
    from otbill_xl.formats.x12 import read835

    party = getattr(read835, "Party", None)
    if party is None:  # the reader models NM1 from issue #13 §1 on
        return
    qc = party("QC", "X", "Y", "", "MI", "MBI123")
    members = {"MBI123": "P1"}
    charges = [charge(2, claim="")]
    strong = only(reconcile([RemitSource(remit([clp([svc(lcn="")], pcn="UNKNOWN", patient=qc)]), "e.835")],
                            charges, members=members))
    assert strong.claim_match_by == "patient_dos_charge" and strong.line_id == "L2"
    weak = only(reconcile([RemitSource(remit([clp([svc(lcn="")], pcn="UNKNOWN", charge="99.00", patient=qc)]),
                                       "e.835")], charges, members=members))
    assert weak.claim_match_by == "patient_dos" and weak.confidence == D("0.60")


def test_unmatched_remittance_goes_to_exceptions_not_payments():
    result = run([remit([clp([svc(lcn="", code="97535")])])], [charge(2)])
    line = only(result, "unmatched_remittance")
    assert line.row is None
    assert [e.kind for e in result.exceptions] == ["unmatched_remittance"]
    assert not result.payments
    assert "97535" in result.exceptions[0].message


def test_billed_line_without_a_remittance_is_open_and_unbilled_lines_are_not():
    result = run([], [charge(2), charge(3, billed=False)])
    assert [(r.status, r.line_id) for r in result.lines] == [("open", "L2")]


# -- never twice --------------------------------------------------------------------------------------

def test_the_same_remittance_twice_in_one_run_posts_once():
    r = remit([clp([svc()])])
    result = reconcile([RemitSource(r, "a.835"), RemitSource(r, "copy of a.835")], [charge(2)],
                       payer_keys={"MEDICARE01": "MCR"})
    assert [x.status for x in result.lines] == ["paid", "already_posted"]
    assert len(result.payments) == 3


def test_a_remittance_posted_in_an_earlier_run_is_already_posted():
    r = remit([clp([svc()])])
    key = remit_line_key("MEDICARE01", "EFT1", r.claims[0], 0, r.claims[0].services[0])
    result = run([r], [charge(2)], prior=PriorPostings(keys=frozenset({key})))
    assert only(result).status == "already_posted" and not result.payments


def test_a_payment_posted_by_hand_from_the_same_check_is_already_posted():
    prior = PriorPostings(paid={("OTCLAIM1", "L2"): [("EFT1", D("45.47"))]})
    assert only(run([remit([clp([svc()])])], [charge(2)], prior=prior)).status == "already_posted"


def test_a_second_check_for_a_paid_line_is_a_duplicate_payment_and_not_posted():
    first, second = remit([clp([svc()])], trace="EFT1"), remit([clp([svc()])], trace="EFT2")
    result = run([first, second], [charge(2)])
    assert [x.status for x in result.lines] == ["paid", "duplicate_payment"]
    assert [e.kind for e in result.exceptions] == ["duplicate_payment"]
    assert {p.check_number for p in result.payments} == {"EFT1"}


def test_reversal_posts_rows_that_net_the_original_then_readjudication():
    # The original paid 45.47 (EFT1). The payer reverses it (CLP02 22, every amount negated) and pays it
    # again at 40.47 after taking 5.00 more CO-45 (EFT2).
    original = remit([clp([svc()])], trace="EFT1")
    neg = svc(charge="-80.00", paid="-45.47", cas=(("CO", "45", "-22.00"), ("PR", "2", "-11.60"),
                                                   ("CO", "253", "-0.93")))
    again = svc(paid="40.47", cas=(("CO", "45", "27.00"), ("PR", "2", "11.60"), ("CO", "253", "0.93")))
    takeback = remit([clp([neg], status="22"), clp([again], status="1")], trace="EFT2")
    result = run([original, takeback], [charge(2)])
    assert [x.status for x in result.lines] == ["paid", "reversed", "readjudicated"]
    net_paid = sum(p.paid for p in result.payments)
    assert net_paid == D("40.47")   # 45.47 − 45.47 + 40.47
    by_reason: dict[tuple[str, str], D] = {}
    for p in result.payments:
        if p.adj_amount is not None:
            by_reason[(p.adj_group, p.adj_reason)] = by_reason.get((p.adj_group, p.adj_reason), D(0)) + p.adj_amount
    assert by_reason == {("CO", "45"): D("27.00"), ("PR", "2"): D("11.60"), ("CO", "253"): D("0.93")}
    assert result.lines[2].variance.unexplained == D("5.00")


def test_plb_and_counts_use_the_issue_names():
    from otbill_xl.formats.x12.read835 import ProviderAdjustment

    plb = (ProviderAdjustment("1234567893", date(2026, 12, 31), "WO", "PCN-1", D("12.00")),)
    r = remit([clp([svc()])], plb=plb)._replace(amount=D("45.47") - D("12.00"))
    result = run([r], [charge(2)])
    # the reference is the payer claim number of a claim posted in the run: our claim
    assert result.plb == (("era.835", "EFT1", "MCR", PAID_ON, "WO", "PCN-1", "OTCLAIM1", D("12.00")),)
    # the deposit: BPR02 33.47 = Σ CLP04 45.47 − Σ PLB 12.00
    (summary,) = result.remittances
    assert (summary.amount, summary.claims_paid, summary.plb, summary.balanced) == \
        (D("33.47"), D("45.47"), D("12.00"), True)
    assert (summary.claims, summary.lines, summary.posted_rows, summary.exceptions) == (1, 1, 3, 0)
    assert set(result.counts()) == set(STATUSES) and len(STATUSES) == 12


# -- property: the variance always adds up ----------------------------------------------------------

money = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(paid=money, co45=money, pr=money, seq=money, denied=money, fee=money)
def test_variance_parts_always_add_up_to_billed_minus_paid(paid, co45, pr, seq, denied, fee):
    billed = paid + co45 + pr + seq + denied
    cas = tuple((g, r, str(a)) for g, r, a in (("CO", "45", co45), ("PR", "2", pr), ("CO", "253", seq),
                                               ("CO", "50", denied)) if a)
    c = charge(2, amount=str(billed), fee=str(min(fee, billed)))
    line = only(run([remit([clp([svc(charge=str(billed), paid=str(paid), cas=cas)])])], [c]))
    assert sum(line.variance) == billed - paid
    assert line.status in STATUSES


# -- posted rows feed the secondary claim ----------------------------------------------------------

def test_posted_rows_are_the_primary_adjudication_a_secondary_claim_sends():
    from otbill_xl.domain.cob import adjudicate

    result = run([remit([clp([svc()])])], [charge(2)])
    adj = adjudicate(result.payments, D("80.00"), "MCR")
    assert not isinstance(adj, str), adj
    assert adj.paid == D("45.47")
    assert {(a.group, a.reason, a.amount) for a in adj.adjustments} == \
        {("CO", "45", D("22.00")), ("PR", "2", D("11.60")), ("CO", "253", D("0.93"))}


def test_after_a_reversal_the_secondary_gets_the_net_adjudication():
    from otbill_xl.domain.cob import adjudicate

    original = remit([clp([svc()])], trace="EFT1")
    neg = svc(charge="-80.00", paid="-45.47", cas=(("CO", "45", "-22.00"), ("PR", "2", "-11.60"),
                                                   ("CO", "253", "-0.93")))
    again = svc(paid="40.47", cas=(("CO", "45", "27.00"), ("PR", "2", "11.60"), ("CO", "253", "0.93")))
    result = run([original, remit([clp([neg], status="22"), clp([again])], trace="EFT2")], [charge(2)])
    adj = adjudicate(result.payments, D("80.00"), "MCR")
    assert not isinstance(adj, str), adj
    # 45.47 − 45.47 + 40.47; CO-45 22.00 − 22.00 + 27.00
    assert adj.paid == D("40.47")
    assert {(a.group, a.reason, a.amount) for a in adj.adjustments} == \
        {("CO", "45", D("27.00")), ("PR", "2", D("11.60")), ("CO", "253", D("0.93"))}


def test_a_payment_reversed_later_leaves_no_variance_but_an_underpaid_readjudication_does():
    over = svc(paid="46.47", cas=(("CO", "45", "21.00"), ("PR", "2", "11.60"), ("CO", "253", "0.93")))
    neg = svc(charge="-80.00", paid="-46.47", cas=(("CO", "45", "-21.00"), ("PR", "2", "-11.60"),
                                                   ("CO", "253", "-0.93")))
    fixed = svc()
    short = svc(paid="40.47", cas=(("CO", "45", "27.00"), ("PR", "2", "11.60"), ("CO", "253", "0.93")))
    settled = run([remit([clp([over])], trace="EFT1"), remit([clp([neg], status="22"), clp([fixed])], trace="EFT2")],
                  [charge(2)])
    assert [r.status for r in settled.lines] == ["overpaid", "reversed", "readjudicated"]
    assert settled.variances == () and settled.unexplained == 0 and settled.clean
    still = run([remit([clp([over])], trace="EFT1"), remit([clp([neg], status="22"), clp([short])], trace="EFT2")],
                [charge(2)])
    assert [r.status for r in still.variances] == ["readjudicated"]
    assert still.unexplained == D("5.00") and not still.clean


def test_payment_tolerance_setting():
    import pytest

    from otbill_xl.actions.reconcile import payment_tolerance
    from otbill_xl.errors import OtbillError

    assert payment_tolerance("") == D("0.01") and payment_tolerance("$0.50") == D("0.50")
    for bad in ("-1", "one cent", "NaN"):
        with pytest.raises(OtbillError, match="PaymentTolerance"):
            payment_tolerance(bad)


def test_a_claim_denied_without_lines_is_posted_once_even_from_the_sheet_alone():
    claim = clp([], charge="160.00", paid="0", status="4", adjustments=(Adjustment("CO", "29", D("160.00"), None),))
    first = run([remit([claim])], [charge(2), charge(3, code="97530")])
    keys = {p.payment_id.rsplit("-", 1)[0] for p in first.payments}
    assert len(keys) == 2 and all(len(k) == 20 for k in keys)    # one key per billed line, PaymentID-shaped
    again = run([remit([claim])], [charge(2), charge(3, code="97530")],
                prior=PriorPostings(keys=frozenset(keys)))
    assert [r.status for r in again.lines] == ["already_posted", "already_posted"] and not again.payments
