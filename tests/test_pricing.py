"""Pricing to the cent, with every number worked out by hand in the comments.

Test RVUs and GPCIs below are values chosen for the hand calculations (not CMS's published ones);
conversion factors, sequestration, the 85% CO/CQ rate, the 50% MPPR PE rate and the KX thresholds
are the dated package data from ot-billing-facts.md §4-§5.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.medicare_pfs import conversion_factor, sequestration_rate
from otbill_xl.domain.models import (
    ChargeLine,
    FeeScheduleEntry,
    MedicareGPCI,
    MedicareRVU,
    Patient,
    Payer,
    PayerType,
    Practice,
    Provider,
)
from otbill_xl.domain.pricing import LinePrice, price_book

D = Decimal
DOS = date(2026, 8, 3)
LOC = "12402-99"
OT, OTA = "1234567893", "1555555550"


def rvus(year: int) -> tuple[MedicareRVU, ...]:
    return (
        MedicareRVU(year=year, code="97110", work_rvu=D("0.45"), pe_rvu_nonfacility=D("0.40"), pe_rvu_facility=D("0.17"),
                    mp_rvu=D("0.02"), always_therapy=True),
        MedicareRVU(year=year, code="97530", work_rvu=D("0.44"), pe_rvu_nonfacility=D("0.52"), pe_rvu_facility=D("0.17"),
                    mp_rvu=D("0.02"), always_therapy=True),
        MedicareRVU(year=year, code="97165", work_rvu=D("1.54"), pe_rvu_nonfacility=D("1.20"), pe_rvu_facility=D("0.48"),
                    mp_rvu=D("0.06"), always_therapy=True),
    )


def gpcis(year: int) -> tuple[MedicareGPCI, ...]:
    return (MedicareGPCI(year=year, locality=LOC, work_gpci=D("1.000"), pe_gpci=D("1.100"), mp_gpci=D("0.900")),)


_rows = iter(range(2, 10_000))


def line(code: str, units: int, *, mods=("GO",), dos=DOS, npi=OT, pos="11", pid="P1") -> ChargeLine:
    m = (*mods, "", "", "", "")[:4]
    return ChargeLine(next(_rows), f"L{code}", pid, dos, npi, code, *m, None, units, "M62.81", "", "", "", pos,
                      None, "", "", "")


def book(*lines: ChargeLine, prior=D("0"), deductible=D("0"), years=(2026,), payer_type=PayerType.MEDICARE,
         fee=(), apply_mppr=False) -> PracticeBook:
    return PracticeBook(
        practice=Practice(medicare_locality=LOC, qualifying_apm="N"),
        payers=(Payer(payer_key="PAY", payer_type=payer_type, apply_mppr=apply_mppr),),
        providers=(Provider(npi=OT, credential="OT"), Provider(npi=OTA, credential="OTA")),
        patients=(Patient(patient_id="P1", payer_key="PAY", prior_therapy_spend=prior, deductible_remaining=deductible),),
        fee_schedule=tuple(fee),
        medicare_rvus=tuple(r for y in years for r in rvus(y)),
        medicare_gpcis=tuple(g for y in years for g in gpcis(y)),
        charges=lines,
    )


def only(result) -> LinePrice:
    (p,) = result.lines
    return p


def test_single_97110_unit():
    # CF 2026 non-QP 33.4009 (facts §5.1).
    # work 0.45 × 1.000 × 33.4009 = 15.030405; PE 0.40 × 1.100 × 33.4009 = 14.696396;
    # MP 0.02 × 0.900 × 33.4009 = 0.6012162 → 30.3280172 → $30.33.
    # Medicare pays 80%: 30.33 × 0.8 = 24.264 → 24.26; patient 30.33 − 24.26 = 6.07;
    # sequestration 2% of 24.26 = 0.4852 → 0.49; Medicare's check 24.26 − 0.49 = 23.77.
    p = only(price_book(book(line("97110", 1))))
    assert (p.fee_allowed, p.mppr_reduction, p.assistant_reduction, p.expected_allowed) == (D("30.33"), 0, 0, D("30.33"))
    assert (p.expected_payer_payment, p.expected_patient_resp, p.sequestration) == (D("23.77"), D("6.07"), D("0.49"))
    assert "33.4009" in p.basis and "non-facility" in p.basis


def mppr_visit(assistant_on_97530: bool = False):
    return book(line("97165", 1, mods=("GO",)), line("97110", 2),
                line("97530", 1, mods=("GO", "CO") if assistant_on_97530 else ("GO",), npi=OTA if assistant_on_97530 else OT))


def test_three_line_medicare_visit_with_mppr():
    # 4 always-therapy units on one day (facts §5.2). PE payment per unit:
    #   97165 1.20 × 1.1 × 33.4009 = 44.089188 (highest → its unit is paid in full)
    #   97110 0.40 × 1.1 × 33.4009 = 14.696396; 97530 0.52 × 1.1 × 33.4009 = 19.1053148
    # Full per unit: 97165 51.437386 + 44.089188 + 1.8036486 = 97.3302226 → 97.33
    #                97110 30.33 (above); 97530 14.696396 + 19.1053148 + 0.6012162 = 34.402927 → 34.40
    # Reduced (PE at 50%): 97110 15.030405 + 7.348198 + 0.6012162 = 22.9798192 → 22.98
    #                      97530 14.696396 + 9.5526574 + 0.6012162 = 24.8502696 → 24.85
    # Lines: 97165 97.33 − 0 = 97.33; 97110 ×2 60.66 − (30.33 − 22.98) × 2 = 60.66 − 14.70 = 45.96;
    #        97530 34.40 − 9.55 = 24.85. Allowed 168.14.
    evals, ex, act = price_book(mppr_visit()).lines
    assert (evals.fee_allowed, evals.mppr_reduction, evals.expected_allowed) == (D("97.33"), D("0"), D("97.33"))
    assert (ex.fee_allowed, ex.mppr_reduction, ex.expected_allowed) == (D("60.66"), D("14.70"), D("45.96"))
    assert (act.fee_allowed, act.mppr_reduction, act.expected_allowed) == (D("34.40"), D("9.55"), D("24.85"))
    # 80% / seq 2%: 97165 77.864→77.86, seq 1.5572→1.56, pays 76.30, patient 19.47;
    # 97110 36.768→36.77, seq 0.7354→0.74, pays 36.03, patient 9.19; 97530 19.88, seq 0.3976→0.40, 19.48, 4.97.
    assert [(p.expected_payer_payment, p.sequestration, p.expected_patient_resp) for p in (evals, ex, act)] == [
        (D("76.30"), D("1.56"), D("19.47")), (D("36.03"), D("0.74"), D("9.19")), (D("19.48"), D("0.40"), D("4.97"))]


def test_same_visit_with_an_ota_line_co():
    # CO on 97530 (DOS ≥ 2022-01-01): 85% of the amount after MPPR: (34.40 − 9.55) × 0.15 = 3.7275 → 3.73;
    # allowed 24.85 − 3.73 = 21.12; Medicare 21.12 × 0.8 = 16.896 → 16.90, seq 0.338 → 0.34, pays 16.56.
    _, _, act = price_book(mppr_visit(assistant_on_97530=True)).lines
    assert (act.mppr_reduction, act.assistant_reduction, act.expected_allowed) == (D("9.55"), D("3.73"), D("21.12"))
    assert (act.expected_payer_payment, act.sequestration, act.expected_patient_resp) == (D("16.56"), D("0.34"), D("4.22"))


def test_facility_vs_non_facility():
    # POS 22 (on-campus outpatient hospital) uses the facility PE RVU 0.17:
    # 15.030405 + 0.17 × 1.1 × 33.4009 (6.2459683) + 0.6012162 = 21.8775895 → 21.88; POS 11 → 30.33.
    assert only(price_book(book(line("97110", 1, pos="22")))).fee_allowed == D("21.88")
    assert only(price_book(book(line("97110", 1, pos="11")))).fee_allowed == D("30.33")


def test_2024_conversion_factor_switch():
    # Per unit: 0.45×1 + 0.40×1.1 + 0.02×0.9 = 0.908 RVU-weighted.
    # DOS 2024-03-08: 0.908 × 32.7442 = 29.7317336 → 29.73; DOS 2024-03-09: 0.908 × 33.2875 = 30.22505 → 30.23.
    before = only(price_book(book(line("97110", 1, dos=date(2024, 3, 8)), years=(2024,))))
    after = only(price_book(book(line("97110", 1, dos=date(2024, 3, 9)), years=(2024,))))
    assert (before.fee_allowed, after.fee_allowed) == (D("29.73"), D("30.23"))
    assert conversion_factor(date(2024, 3, 8)).value == D("32.7442")
    assert conversion_factor(date(2026, 8, 3), qualifying_apm=True).value == D("33.5675")


def test_sequestration_dates():
    # facts §5.3: 2% until 2020-04-30, 0% 2020-05-01..2022-03-31, 1% 2022-04-01..06-30, 2% from 2022-07-01.
    assert sequestration_rate(date(2020, 4, 30)) == D("0.02")
    assert sequestration_rate(date(2021, 6, 1)) == D("0")
    assert sequestration_rate(date(2022, 6, 30)) == D("0.01")
    assert sequestration_rate(date(2022, 7, 1)) == D("0.02")


def test_deductible_taken_first_in_dos_order():
    # Deductible 50.00 remaining: line 1 (30.33) uses 30.33 → Medicare 0, patient 30.33;
    # line 2 (next day, 30.33) uses the last 19.67 → 10.66 × 0.8 = 8.528 → 8.53, seq 0.1706 → 0.17,
    # Medicare 8.36; patient 30.33 − 8.53 = 21.80.
    first, second = price_book(book(line("97110", 1), line("97110", 1, dos=date(2026, 8, 4)), deductible=D("50.00"))).lines
    assert (first.deductible, first.expected_payer_payment, first.expected_patient_resp) == (D("30.33"), D("0"), D("30.33"))
    assert (second.deductible, second.expected_payer_payment, second.expected_patient_resp) == (
        D("19.67"), D("8.36"), D("21.80"))


def test_kx_crossing_within_one_visit():
    # Prior spend 2,400.00; 2026 OT threshold 2,480 (facts §4). Rows in order: 97530 24.85 → 2,424.85 (below);
    # 97110 45.96 → 2,470.81 (below); 97165 97.33 → 2,568.14 (crosses: needs KX).
    # (MPPR as in the 3-line visit: 97165 holds the full-price unit.)
    act, ex, evals = price_book(book(line("97530", 1), line("97110", 2), line("97165", 1, mods=("GO",)),
                                     prior=D("2400.00"))).lines
    assert (act.kx_running_total, act.kx_status) == (D("2424.85"), "below threshold")
    assert (ex.kx_running_total, ex.kx_status) == (D("2470.81"), "below threshold")
    assert (evals.kx_running_total, evals.kx_status) == (D("2568.14"), "at or over threshold: KX missing")


def test_contracted_schedule_and_commercial_mppr():
    fee = (FeeScheduleEntry(payer_key="PAY", code="97110", allowed_per_unit=D("40.00"), effective_from=date(2026, 1, 1),
                            effective_to=date(2026, 12, 31), row=2),
           FeeScheduleEntry(payer_key="PAY", code="97110", modifier="59", allowed_per_unit=D("35.00"),
                            effective_from=date(2026, 1, 1), row=3))
    plain = only(price_book(book(line("97110", 2), payer_type=PayerType.COMMERCIAL, fee=fee)))
    assert (plain.fee_allowed, plain.expected_allowed, plain.sequestration) == (D("80.00"), D("80.00"), D("0"))
    assert plain.expected_patient_resp is None and "FeeSchedule row 2" in plain.basis
    with59 = only(price_book(book(line("97110", 1, mods=("GO", "59")), payer_type=PayerType.COMMERCIAL, fee=fee)))
    assert with59.fee_allowed == D("35.00") and "row 3" in with59.basis  # the modifier-specific row wins
    # ApplyMPPR: PE share of 97110 from the RVUs = 14.696396 / 30.33 = 0.484550...; second unit reduced by
    # half of it: 40.00 × (1 − 0.2422750) = 30.30900 → 30.31; reduction 9.69.
    mppr = only(price_book(book(line("97110", 2), payer_type=PayerType.COMMERCIAL, fee=fee, apply_mppr=True)))
    assert (mppr.fee_allowed, mppr.mppr_reduction, mppr.expected_allowed) == (D("80.00"), D("9.69"), D("70.31"))


def test_fee_schedule_overlap_and_gap_findings():
    fee = (FeeScheduleEntry(payer_key="PAY", code="97110", allowed_per_unit=D("40"), effective_from=date(2026, 1, 1),
                            effective_to=date(2026, 6, 30), row=2),
           FeeScheduleEntry(payer_key="PAY", code="97110", allowed_per_unit=D("41"), effective_from=date(2026, 6, 1),
                            effective_to=date(2026, 7, 31), row=3),
           FeeScheduleEntry(payer_key="PAY", code="97110", allowed_per_unit=D("42"), effective_from=date(2026, 9, 1), row=4))
    result = price_book(book(line("97110", 1), payer_type=PayerType.COMMERCIAL, fee=fee))
    rules = {(f.rule, f.location.row) for f in result.findings}
    assert ("fee.overlap", 3) in rules and ("fee.gap", 4) in rules
    p = only(result)  # 2026-08-03 falls in the gap
    assert p.fee_allowed is None and "no PAY FeeSchedule rate" in p.basis
    assert any(f.rule == "price.no-contract-rate" for f in result.findings)


def test_every_amount_is_decimal():
    for p in price_book(mppr_visit(assistant_on_97530=True)).lines:
        for name in ("fee_allowed", "mppr_reduction", "assistant_reduction", "expected_allowed", "deductible",
                     "expected_payer_payment", "expected_patient_resp", "sequestration", "kx_running_total"):
            value = getattr(p, name)
            assert isinstance(value, Decimal) and not isinstance(value, float), (name, value)


def test_kx_scrub_rule_flags_the_crossing_line_and_all_after():
    from otbill_xl.domain.scrub import scrub

    # Same numbers as test_kx_crossing_within_one_visit, then a later visit (97110 ×1: 30.33 → 2,598.47).
    # Row order on 2026-08-03: 97530 (below), 97110 (below), 97165 (crossing, no KX);
    # 2026-08-04: 97110 with KX (fine) ; 2026-08-05: 97110 without KX (flagged).
    lines = (line("97530", 1), line("97110", 2), line("97165", 1), line("97110", 1, mods=("GO", "KX"), dos=date(2026, 8, 4)),
             line("97110", 1, dos=date(2026, 8, 5)))
    b = book(*lines, prior=D("2400.00"))
    found = [(f.rule, f.location.row, f.location.column) for f in scrub(b, as_of=date(2026, 9, 1)).findings
             if f.rule.startswith("kx.")]
    assert found == [("kx.missing", lines[2].row, "Mod2"), ("kx.missing", lines[4].row, "Mod2")]
    # Non-Medicare payers are never checked for KX.
    fee = (FeeScheduleEntry(payer_key="PAY", code=c, allowed_per_unit=D("900")) for c in ("97530", "97110", "97165"))
    commercial = book(*lines, prior=D("2400.00"), payer_type=PayerType.COMMERCIAL, fee=tuple(fee))
    assert not [f for f in scrub(commercial, as_of=date(2026, 9, 1)).findings if f.rule.startswith("kx.")]


def test_kx_candidate_bound_never_drops_a_finding():
    """The scrubber prices only patients who could reach the threshold; with the bound disabled the
    findings are the same (prior spend just under, exactly at and over the threshold)."""
    from otbill_xl.domain.scrub import kx as kx_rules

    for prior in (D("2400.00"), D("2449.67"), D("2480.00"), D("100.00")):
        b = book(line("97530", 1), line("97110", 2), line("97165", 1), prior=prior)
        found = kx_rules.kx_findings(b, {})
        original = kx_rules._candidates
        try:
            kx_rules._candidates = lambda bk, patients, units: tuple(bk.charges)
            unbounded = kx_rules.kx_findings(b, {})
        finally:
            kx_rules._candidates = original
        assert found == unbounded, prior


def test_sequestration_before_and_after_2022_07_01_on_a_priced_line(monkeypatch):
    """The package has no 2022 conversion factor (the facts file lists 2024-2026), so this test adds
    one test-only CF of 34.0000 for 2022; the 1% → 2% step is the packaged sequestration table.
    97110 unit: 0.908 RVU-weighted (test_2024_conversion_factor_switch) × 34 = 30.872 → 30.87;
    Medicare 30.87 × 0.8 = 24.696 → 24.70.
    DOS 2022-06-30: sequestration 1% of 24.70 = 0.247 → 0.25, Medicare pays 24.45.
    DOS 2022-07-01: sequestration 2% of 24.70 = 0.494 → 0.49, Medicare pays 24.21."""
    from otbill_xl.domain import medicare_pfs

    cf_2022 = medicare_pfs.DatedValue(date(2022, 1, 1), date(2022, 12, 31), D("34.0000"), "", "test value")
    monkeypatch.setattr(medicare_pfs, "_conversion_factors", lambda: (cf_2022,))
    june = only(price_book(book(line("97110", 1, dos=date(2022, 6, 30)), years=(2022,))))
    july = only(price_book(book(line("97110", 1, dos=date(2022, 7, 1)), years=(2022,))))
    assert june.expected_allowed == july.expected_allowed == D("30.87")
    assert (june.sequestration, june.expected_payer_payment) == (D("0.25"), D("24.45"))
    assert (july.sequestration, july.expected_payer_payment) == (D("0.49"), D("24.21"))
    assert june.expected_patient_resp == july.expected_patient_resp == D("6.17")  # coinsurance is not reduced


def test_kx_needed_exactly_at_the_threshold():
    # Issue #4: lines "at or past" the threshold need KX. Prior 2,449.67 + one 97110 unit 30.33 = 2,480.00,
    # exactly the 2026 threshold → KX needed on that line; 2,449.66 + 30.33 = 2,479.99 → below.
    at = only(price_book(book(line("97110", 1), prior=D("2449.67"))))
    below = only(price_book(book(line("97110", 1), prior=D("2449.66"))))
    assert (at.kx_running_total, at.kx_status) == (D("2480.00"), "at or over threshold: KX missing")
    assert (below.kx_running_total, below.kx_status) == (D("2479.99"), "below threshold")
