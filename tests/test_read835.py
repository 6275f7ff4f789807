"""835 reader (issue 13 §1): every shared 835 sample read, balancing findings, separator tolerance, errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otbill_xl.domain.findings import Location, Severity
from otbill_xl.errors import OtbillError
from otbill_xl.formats.x12.read835 import (
    Adjustment,
    Party,
    Procedure,
    ProviderSummary,
    X835Error,
    read_835,
    remittance_findings,
)
from tests.conftest import SHARED, require_shared

D = Decimal

# What each sample holds, counted by hand with
#   tr '~' '\n' < FILE | tr -d '\r' | sed 's/^[[:space:]]*//' | cat -n
# (BOM stripped first for the oop files). One tuple per ST/SE:
# (CLP segments, SVC segments, Σ PLB amounts, CLP02=22 reversals, BPR02).
SAMPLES = {
    # CLP at lines 16; SVC at 21 (written HC>55669); no PLB; BPR*I*34.00.
    "lfh-835-cob-contractual-adjustment.835": [(1, 1, D("0"), 0, D("34.00"))],
    # CLP at lines 13, 20; SVC at 16, 23; no PLB; BPR*I*945.00.
    "lfh-835-managed-care.835": [(2, 2, D("0"), 0, D("945.00"))],
    # CLP at lines 15, 24; no SVC; PLB at 29 with one pair CV:CP -1.27; BPR*C*150000.00.
    "lfh-835-medicare-part-a.835": [(2, 0, D("-1.27"), 0, D("150000.00"))],
    # CLP at lines 16, 24; SVC at 29, 34 (both with '>'); no PLB; BPR*I*1222.00.
    "lfh-835-secondary-payment.835": [(2, 2, D("0"), 0, D("1222.00"))],
    # CLP at line 15 (status 4, a denial); SVC at 18, 23, 28; BPR*H*0.
    "pyx12-835-mult-loops.835": [(1, 3, D("0"), 0, D("0"))],
    # CLP at lines 15, 23, 32, 40, 49, 58, 67, 76, 85, 98 (10; 76, 85 and the bare 98 are CLP02=22);
    # SVC at 19, 27, 36, 44, 53, 62, 71, 80, 89 (9); PLB at 99: CV:9876514 -1.27; BPR*H*5.75.
    "oop-835-example1-reversals.835": [(10, 9, D("-1.27"), 3, D("5.75"))],
    # Three ISA envelopes, one ST each (ST at lines 3, 294, 563 of the split file). awk over the split
    # file counting CLP/SVC per ST: 19/38, 23/24, 14/29 (56 CLP, 91 SVC in all); no PLB; BPR02 of each.
    "oop-835-from-nth.835": [(19, 38, D("0"), 0, D("999.99")), (23, 24, D("0"), 0, D("9999.99")),
                             (14, 29, D("0"), 0, D("482.13"))],
}


@cache
def sample(name: str) -> bytes:
    return (require_shared(SHARED / "x12-samples") / name).read_bytes()


def test_every_835_sample_is_listed(shared):
    assert sorted(p.name for p in (shared / "x12-samples").glob("*.835")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_contents(name):
    remits = read_835(sample(name), name)
    got = [(len(r.claims), sum(len(c.services) for c in r.claims),
            sum((p.amount for p in r.provider_adjustments), D(0)),
            sum(c.is_reversal for c in r.claims), r.amount) for r in remits]
    assert got == SAMPLES[name]


def test_medicare_part_a_balances_with_its_plb():
    # 211366.97 = 138018.40 + CO-45 73348.57; 15000.00 = 11980.33 + CO-45 3019.67;
    # BPR02 150000.00 = 138018.40 + 11980.33 − (−1.27).
    (r,) = read_835(sample("lfh-835-medicare-part-a.835"), "a.835")
    assert r.problems == ()
    assert r.payer_name == "INSURANCE COMPANY OF TIMBUCKTU" and r.payer_id == "999"  # REF*2U after N1*PR
    assert r.payee_npi == "6543210903" and r.method == "ACH" and r.trace_number == "12345"
    assert r.payment_date == date(2002, 9, 13)
    assert r.claims[0].adjustments == (Adjustment("CO", "45", D("73348.57"), None),)
    assert r.claims[0].statement_from == date(2002, 8, 16) and r.claims[0].statement_to == date(2002, 8, 24)
    (plb,) = r.provider_adjustments
    assert (plb.provider_id, plb.fiscal_period, plb.reason, plb.reference, plb.amount) == \
        ("6543210903", date(2002, 12, 31), "CV", "CP", D("-1.27"))


def test_managed_care_lines_and_the_invalid_bpr16_date():
    (r,) = read_835(sample("lfh-835-managed-care.835"), "mc.835")
    # BPR16 is 20002316 (month 23): read as no date, reported; everything balances (800 = 450 + 50 + 300;
    # 1200 = 495 + 55 + 600 + 50; 945 = 450 + 495).
    assert r.payment_date is None
    assert [(p.kind, p.segment, p.segment_id) for p in r.problems] == [("invalid_date", 4, "BPR")]
    c = r.claims[1]
    assert (c.status, c.charge, c.paid, c.patient_responsibility, c.payer_claim_number) == \
        ("1", D("1200.00"), D("495.00"), D("600.00"), "94077799230000")
    (s,) = c.services
    assert (s.qualifier, s.code, s.charge, s.paid, s.units) == ("HC", "93555", D("1200.00"), D("550.00"), D(1))
    assert (s.service_from, s.service_to) == (date(2002, 3, 10), date(2002, 3, 12))
    assert s.adjustments == (Adjustment("PR", "1", D("600.00"), None), Adjustment("CO", "45", D("50.00"), None))


def test_lfh_component_separator_mismatch_is_read_and_reported():
    """Decision: SVC01 written ``HC>66543>26`` under ISA16 ``:`` is read with ``>`` and reported as a
    warning. The code is unambiguous, the amounts do not depend on it, and refusing would leave the whole
    payment unposted for a defect the biller cannot fix; the warning lets the office ask the payer."""
    (r,) = read_835(sample("lfh-835-secondary-payment.835"), "sec.835")
    lines = r.claims[1].services
    assert [(s.qualifier, s.code, s.modifiers) for s in lines] == [("HC", "12345", ("26",)), ("HC", "66543", ("26",))]
    # Multi-triplet CAS: CAS*PR*1*150.00**2*70.00 (segment 36 of the split file).
    assert lines[1].adjustments[:2] == (Adjustment("PR", "1", D("150.00"), None), Adjustment("PR", "2", D("70.00"), None))
    assert [(p.kind, p.severity, p.segment) for p in r.problems] == [("separator_mismatch", "warning", 29),
                                                                     ("separator_mismatch", "warning", 34)]
    assert all("ISA16" in p.message and "sec.835" in p.message for p in r.problems)
    (r,) = read_835(sample("lfh-835-cob-contractual-adjustment.835"), "cob.835")
    (s,) = r.claims[0].services
    assert (s.code, s.service_date) == ("55669", date(2005, 2, 2))
    # The negative CAS (OA-94 -9.00) balances: 541.00 = 34.00 + 516.00 − 9.00.
    assert s.adjustments[1] == Adjustment("OA", "94", D("-9.00"), None)
    assert [p.kind for p in r.problems] == ["separator_mismatch"]


def test_reversals_denials_and_the_unbalanced_payment():
    (r,) = read_835(sample("oop-835-example1-reversals.835"), "rev.835")
    rev = [c for c in r.claims if c.is_reversal]
    assert [(c.charge, c.paid) for c in rev] == [(D("-42.58"), D("-42.58")), (D("-86.76"), D("-86.76")), (D(0), D(0))]
    assert rev[0].services[0].units == D(-2) and rev[0].services[0].modifiers == ("GT", "UK")
    assert rev[1].services[0].remark_codes == ("MA92",) and rev[1].services[0].line_control_number == "090909"
    assert [c.status for c in r.claims].count("4") == 3
    # Σ CLP04 = 56.52 + 0 + 0 + 18.88 + 0 + 59.69 + 0 − 42.58 − 86.76 + 0 = 5.75 = BPR02, but the PLB of
    # −1.27 means BPR02 should be 5.75 + 1.27 = 7.02: the file does not balance. Every claim does.
    kinds = [(p.kind, p.segment_id) for p in r.problems]
    assert kinds == [("missing_amount", "CLP"), ("missing_amount", "CLP"), ("unbalanced_remittance", "ST")]
    assert r.payee_refs == (("PQ", "1017"),)


def test_denial_with_line_remarks():
    (r,) = read_835(sample("pyx12-835-mult-loops.835"), "ml.835")
    c = r.claims[0]
    assert c.status == "4" and r.problems == ()
    assert [(s.units, s.adjustments[0].group, s.adjustments[0].reason, s.remark_codes) for s in c.services] == [
        (D(68), "CO", "16", ("N14",)), (D(16), "OA", "A7", ("N14",)), (D(36), "OA", "A7", ("N14",))]


def test_messages_hold_no_patient_data():
    for name in SAMPLES:
        for r in read_835(sample(name), name):
            for p in r.problems:
                for c in r.claims:
                    assert c.patient_control_number not in p.message


# --------------------------------------------------------------------------------------------------
# Hand-written files

HAND = """\ufeffISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *260101*1200*^*00501*000000001*0*P*:~\r
  GS*HP*PAYER*CLINIC*20260101*1200*1*X*005010X221A1~\r
    st*835*0001~
    BPR*I*150.00*C*ACH************20260105~TRN*1*EFT123*1999999999~
    N1*pr*ACME HEALTH~N1*PE*HARBOR OT*XX*1234567893~
    LX*1~
    CLP*OT1*1*200.00*120.00*30.00*12*PCN9~
    CAS*CO*45*20.00~
    SVC*HC:97110:GO*100.00*60.00**2~DTM*472*20251201~cas*co*45*10.00~CAS*PR*1*30.00~REF*6R*L1~
    SVC*HC:97530:GO*100.00*60.00**1*HC:97535~DTM*472*20251201~CAS*CO*45*30.00~REF*6R*L2~LQ*HE*N130~
    CLP*OT2*1*80.00*40.00**12*PCN10~
    SVC*HC:97140*80.00*40.00~CAS*CO*45*30.00~
    PLB*1234567893*20261231*WO:OT1*-5.00*72*15.00~
  SE*23*0001~
  GE*1*1~
IEA*1*000000001~
ISA|00|          |00|          |ZZ|PAYER          |ZZ|CLINIC         |260101|1200|^|00501|000000002|0|P|>!
GS|HP|PAYER|CLINIC|20260101|1200|2|X|005010X221A1!ST|835|0002!BPR|I|0|C|NON!TRN|1|T2!
CLP|OT3|4|50|0||12!CAS|CO|97|50!SE|6|0002!GE|1|2!IEA|1|000000002!
"""


def test_hand_written_file_balancing_and_tolerance():
    first, second = read_835(HAND.encode("utf-8"), "hand.835")
    # Claim OT1: charge 200.00; paid 120.00 + claim CAS 20.00 + line CAS 10.00 + 30.00 + 30.00 = 210.00:
    # unbalanced by 10.00. Claim OT2: 80.00 = 40.00 + 30.00 = 70.00: unbalanced by 10.00.
    # Payment: Σ CLP04 = 120.00 + 40.00 = 160.00; Σ PLB = −5.00 + 15.00 = 10.00; 160.00 − 10.00 = 150.00 = BPR02.
    assert [(p.kind, p.segment) for p in first.problems] == [("unbalanced_claim", 9), ("unbalanced_claim", 21)]
    assert "charge 200.00" in first.problems[0].message and "OT1" not in first.problems[0].message
    assert first.payer_name == "ACME HEALTH" and first.payee_npi == "1234567893"
    assert first.amount == D("150.00") and first.trace_number == "EFT123" and first.method == "ACH"
    ot1 = first.claims[0]
    assert (ot1.patient_control_number, ot1.payer_claim_number) == ("OT1", "PCN9")
    l1, l2 = ot1.services
    assert (l1.modifiers, l1.units, l1.line_control_number, l1.adjustments[0]) == \
        (("GO",), D(2), "L1", Adjustment("CO", "45", D("10.00"), None))
    assert l2.original == Procedure("HC", "97535", ()) and l2.remark_codes == ("N130",)
    assert [(p.reason, p.reference, p.amount) for p in first.provider_adjustments] == \
        [("WO", "OT1", D("-5.00")), ("72", "", D("15.00"))]
    # The second interchange uses | * > ! separators; a denial that balances (50 = 0 + 50), BPR02 0 = 0.
    assert second.transaction_control == "0002" and second.problems == ()
    assert second.claims[0].adjustments == (Adjustment("CO", "97", D(50), None),)


def test_segment_count_mismatch_is_a_problem_not_an_error():
    text = HAND.replace("SE*23*0001", "SE*99*0001")
    first, _ = read_835(text, "hand.835")
    assert [p.kind for p in first.problems][-1] == "segment_count"


@pytest.mark.parametrize(("text", "where", "expected"), [
    ("", "", "expected an ISA"),
    ("GS*HP~", "segment 1 (ISA)", "expected an ISA"),
    (HAND.replace("st*835", "ST*837"), "segment 3 (ST)", "ST*835"),
    (HAND.split("  SE*23")[0], "segment 24 (PLB)", "cut short"),
    (HAND.replace("CLP*OT2*1*80.00", "CLP*OT2*1*8O.00"), "segment 21 (CLP)", "CLP03"),
    (HAND.replace("  SE*23*0001~\n", ""), "segment 25 (GE)", "SE"),
])
def test_unusable_input_raises_x835error_naming_file_segment_and_expectation(text, where, expected):
    with pytest.raises(X835Error) as info:
        read_835(text, "bad.835")
    assert isinstance(info.value, OtbillError)
    message = str(info.value)
    assert message.startswith("bad.835") and where in message and expected in message
    assert "OT1" not in message and "OT2" not in message


def test_undecodable_bytes_raise_x835error():
    with pytest.raises(X835Error, match="byte 3"):
        read_835(b"ISA\xff", "b.835")


# --------------------------------------------------------------------------------------------------
# Mutations: anything but X835Error is a bug.


def _segments(data: bytes) -> list[bytes]:
    return data.split(b"~")


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SAMPLES) + ["HAND"]), kind=st.sampled_from(["flip", "cut", "dup", "drop"]),
       where=st.floats(0, 1, exclude_max=True), value=st.integers(0, 255), count=st.integers(1, 4))
def test_mutated_samples_raise_only_x835error(name, kind, where, value, count):
    data = HAND.encode("utf-8") if name == "HAND" else sample(name)
    if kind == "flip":
        buf = bytearray(data)
        for k in range(count):
            buf[(int(where * len(buf)) + k * 97) % len(buf)] = value
        data = bytes(buf)
    elif kind == "cut":
        data = data[:int(where * len(data))]
    else:
        segs = _segments(data)
        i = int(where * len(segs))
        segs = segs[:i] + [segs[i]] * count + segs[i + 1:] if kind == "dup" else segs[:i] + segs[i + count:]
        data = b"~".join(segs)
    try:
        remits = read_835(data, "mutated.835")
    except X835Error as exc:
        assert str(exc).startswith("mutated.835")
        return
    for r in remits:
        assert all(isinstance(c.charge, Decimal) for c in r.claims)


# --------------------------------------------------------------------------------------------------
# The rest of X221A1 (people, MIA/MOA, AMT, QTY, TS3/TS2, header REF/PER/DTM) and findings.
# Segment numbers below are lines of the split file (ISA = 1), as in the SAMPLES comment.


def test_medicare_part_a_people_mia_moa_quantities_and_provider_summaries():
    (r,) = read_835(sample("lfh-835-medicare-part-a.835"), "a.835")
    first, second = r.claims
    # 17: NM1*QC*1*JONES*SAM*O***HN*666666666A (synthetic guide data; compared, never printed).
    assert first.patient == Party("QC", "JONES", "SAM", "O", "HN", "666666666A")
    assert first.insured is None and first.rendering is None and first.other_parties == ()
    # 16: CLP*666123*1*211366.97*138018.40**MA*1999999444444*11*1; 24: ...**MB*1999999444445*13*1.
    assert (first.filing_indicator, first.facility, first.frequency) == ("MA", "11", "1")
    assert (second.filing_indicator, second.facility, second.frequency) == ("MB", "13", "1")
    # 18: MIA*0***138018.40 (no remark code in MIA05); 21: QTY*CA*8.00.
    assert first.inpatient == ("0", "", "", "138018.40") and first.outpatient == () and first.remark_codes == ()
    assert first.quantities == (("CA", D("8.00")),)
    # 27: MOA***MA02.
    assert second.outpatient == ("", "", "MA02") and second.remark_codes == ("MA02",)
    # 12-14 and 22-23: two LX with TS3; a TS2 only after the first.
    s1, s2 = r.provider_summaries
    assert s1 == ProviderSummary("110212", "6543210903", "11", date(2002, 12, 31), D(1), D("211366.97"),
                                 ("", "", "", "138018.40", "", "73348.57"),
                                 ("2178.45", "1919.71", "", "56.82", "197.69", "4.23"))
    assert (s2.number, s2.provider_id, s2.fiscal_period, s2.total_charge, s2.ts2) == \
        ("130212", "6543210909", date(1996, 12, 31), D("15000.00"), ())
    # TS305 totals are the claims' charges: 211366.97 and 15000.00 (one claim each, TS304 = 1).
    assert [s.total_charge for s in r.provider_summaries] == [c.charge for c in r.claims]
    # 6: DTM*405*20020916; 10: REF*2U*999 after N1*PR.
    assert r.production_date == date(2002, 9, 16) and r.payer_refs == (("2U", "999"),)
    assert r.receiver_id == "" and r.source == "835"


def test_line_allowed_amount_refs_and_rendering_provider():
    (r,) = read_835(sample("lfh-835-cob-contractual-adjustment.835"), "cob.835")
    (c,) = r.claims
    # 18: NM1*82*2*PROFESSIONAL TEST 1*****BS*34426.
    assert c.rendering == Party("82", "PROFESSIONAL TEST 1", "", "", "BS", "34426")
    (s,) = c.services
    # 25: REF*1B*44280; 26: AMT*B6*550.00; no SVC07.
    assert s.allowed == D("550.00") and s.amounts == (("B6", D("550.00")),) and s.refs == (("1B", "44280"),)
    assert s.original_units is None and s.line_control_number == ""
    # 6: REF*EV*030240928; 7: DTM*405*20050318.
    assert r.receiver_id == "030240928" and r.production_date == date(2005, 3, 18)
    (r,) = read_835(sample("lfh-835-secondary-payment.835"), "sec.835")
    # 22: AMT*AU*912.00 at claim level (before any SVC); 33 and 39: AMT*B6 150.00 and 500.00.
    assert r.claims[0].amounts == (("AU", D("912.00")),) and r.claims[0].services == ()
    assert [s.allowed for s in r.claims[1].services] == [D("150.00"), D("500.00")]


def test_corrected_patient_received_date_payer_contacts_and_claim_refs():
    first = read_835(sample("oop-835-from-nth.835"), "nth.835")[0]
    c = first.claims[0]
    # 19: NM1*QC ... MR; 20: NM1*74*1*... (masked name, middle N); 21: DTM*050*20120127.
    assert c.patient is not None and c.patient.id_qualifier == "MR"
    assert c.corrected_patient is not None and c.corrected_patient.middle == "N"
    assert c.received == date(2012, 1, 27) and c.coverage_expiration is None
    # 10-12: PER*CX, PER*BL, PER*IC after N1*PR.
    assert [p[0] for p in first.payer_contacts] == ["CX", "BL", "IC"]
    (r,) = read_835(sample("oop-835-example1-reversals.835"), "rev.835")
    # 18: REF*F8*A76B04054 after NM1*82 (claim level); 22: REF*6R*444444 (line level, not in refs).
    assert r.claims[0].refs == (("F8", "A76B04054"),)
    assert r.claims[0].services[0].line_control_number == "444444" and r.claims[0].services[0].refs == ()


def test_svc07_original_units_and_other_parties():
    text = HAND.replace("SVC*HC:97140*80.00*40.00~",
                        "SVC*HC:97140*80.00*40.00**1*HC:97140*2~NM1*TT*2*CROSSOVER PLAN*****PI*99~")
    first, _ = read_835(text, "hand.835")
    ot2 = first.claims[1]
    assert ot2.services[0].original_units == D(2) and ot2.services[0].units == D(1)
    # An NM1 after SVC still belongs to the claim; TT is not one of the four named people.
    assert ot2.other_parties == (Party("TT", "CROSSOVER PLAN", "", "", "PI", "99"),)


def test_remittance_findings_rule_ids_location_and_no_patient_data():
    first, second = read_835(HAND.encode("utf-8"), "hand.835")
    findings = remittance_findings(first, "hand.835")
    assert [(f.rule, f.severity) for f in findings] == [("remit.unbalanced-claim", Severity.ERROR)] * 2
    assert findings[0].location == Location(file="hand.835")
    assert findings[0].message.startswith("Segment 9 (CLP): claim 1") and "OT1" not in findings[0].message
    assert findings[0].fix
    assert remittance_findings(second, "hand.835") == ()
    (r,) = read_835(sample("lfh-835-managed-care.835"), "mc.835")
    (f,) = remittance_findings(r, "mc.835")
    assert (f.rule, f.severity, f.message[:17]) == ("remit.invalid-date", Severity.WARNING, "Segment 4 (BPR): ")
    (r,) = read_835(sample("oop-835-example1-reversals.835"), "rev.835")
    rules = [f.rule for f in remittance_findings(r, "rev.835")]
    assert rules == ["remit.missing-amount", "remit.missing-amount", "remit.unbalanced-remittance"]
    for name in SAMPLES:
        for remit in read_835(sample(name), name):
            for f in remittance_findings(remit, name):
                for c in remit.claims:
                    assert c.patient is None or c.patient.last not in f.message
                    assert c.patient_control_number not in f.message


def _lower_ids(data: bytes) -> bytes:
    """Every segment id after the ISA in lower case: each segment then takes the reader's slow path."""
    text = data.decode("utf-8-sig")
    term = text[text.index("ISA") + 105]
    head, _, rest = text.partition(term)
    parts = rest.split(term)
    return (head + term + term.join(p.replace(p.strip()[:3], p.strip()[:3].lower(), 1) if p.strip()[:3] != "IEA"
                                    else p for p in parts)).encode("utf-8")


@pytest.mark.parametrize("name", ["lfh-835-medicare-part-a.835", "oop-835-example1-reversals.835",
                                  "lfh-835-secondary-payment.835", "pyx12-835-mult-loops.835"])
def test_fast_dispatch_agrees_with_the_slow_path(name):
    """The table dispatch for upper-case ids and the general path (lower-case ids) give equal records."""
    data = sample(name)
    assert read_835(_lower_ids(data), name) == read_835(data, name)
