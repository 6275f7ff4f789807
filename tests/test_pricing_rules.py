"""Issue #12 §5 pricing rules, each number worked out by hand from the rule's source.

* Facility PE "NA" (RVU file documentation: "rarely or never performed in the facility setting"; every
  always-therapy code) → the non-facility amount at a facility POS, said in Basis (facts §7a).
* Telehealth from 2024 (CY 2024 PFS final rule, CMS Transmittal 12671): POS 02 at the facility rate,
  POS 10 at the non-facility rate.
* DeductibleRemaining is for its DeductibleYear; later years start with CMS's full Part B deductible
  (2024 $240, 2025 $257, 2026 $283: CMS fact sheets, refdata/SOURCES.md).
* PFS status B / I / N (RVU file documentation, Attachment A) → $0, a finding, no KX.
* Copays (commercial and Medicare Advantage): one per visit, in row order, at most a line's allowed.

Unit amounts are those of tests/test_pricing.py (97110 at CF 2026 non-QP 33.4009, GPCIs 1.000 / 1.100 /
0.900): work 15.030405 + non-facility PE 0.40 × 1.1 × 33.4009 = 14.696396 + MP 0.6012162 = 30.33;
with the facility PE 0.17: 15.030405 + 6.2459683 + 0.6012162 = 21.88.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from otbill_xl.domain import pricing
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.medicare_pfs import part_b_deductible, pos_setting
from otbill_xl.domain.models import (
    FeeScheduleEntry,
    MedicareRVU,
    Patient,
    Payer,
    PayerType,
    Practice,
    Provider,
)
from otbill_xl.domain.pricing import price_book
from tests.test_pricing import LOC, OT, OTA, gpcis, line, rvus

D = Decimal


def book(*lines, years=(2026,), payer_type=PayerType.MEDICARE, fee=(), prior=D("0"), deductible=D("0"),
         deductible_year=None, copay=None, extra_rvus=(), facility_na=()) -> PracticeBook:
    all_rvus = [r.model_copy(update={"pe_rvu_facility": None}) if r.code in facility_na else r
                for y in years for r in rvus(y)]
    return PracticeBook(
        practice=Practice(medicare_locality=LOC, qualifying_apm="N"),
        payers=(Payer(payer_key="PAY", payer_type=payer_type),),
        providers=(Provider(npi=OT, credential="OT"), Provider(npi=OTA, credential="OTA")),
        patients=(Patient(patient_id="P1", payer_key="PAY", row=2, prior_therapy_spend=prior,
                          deductible_remaining=deductible, deductible_year=deductible_year, copay=copay),),
        fee_schedule=tuple(fee), medicare_rvus=(*all_rvus, *extra_rvus),
        medicare_gpcis=tuple(g for y in years for g in gpcis(y)), charges=lines)


def only(result):
    (p,) = result.lines
    return p


# -- facility PE "NA" ------------------------------------------------------------------------------

def test_facility_na_code_at_a_facility_pos_is_priced_at_the_non_facility_amount():
    # 97110 with facility PE NA at POS 22: the non-facility 30.33 (not unpriced); Medicare 80% 24.26,
    # sequestration 0.49 → 23.77, patient 6.07 (as test_single_97110_unit). KX: 2,449.67 + 30.33 = 2,480.00,
    # exactly the 2026 threshold → counted, KX needed.
    p = only(price_book(book(line("97110", 1, pos="22"), facility_na={"97110"}, prior=D("2449.67"))))
    assert (p.fee_allowed, p.expected_payer_payment, p.expected_patient_resp) == (D("30.33"), D("23.77"), D("6.07"))
    assert "facility PE of 97110 is NA" in p.basis and "non-facility PE" in p.basis
    assert (p.kx_running_total, p.kx_missing) == (D("2480.00"), True)


def test_a_code_with_a_facility_pe_keeps_the_facility_amount():
    # Must not apply: 97110 with its facility PE 0.17 at POS 22 → 21.88, no NA note; NA at POS 11 → 30.33, no note.
    p = only(price_book(book(line("97110", 1, pos="22"))))
    assert p.fee_allowed == D("21.88") and "NA" not in p.basis
    office = only(price_book(book(line("97110", 1, pos="11"), facility_na={"97110"})))
    assert office.fee_allowed == D("30.33") and "NA" not in office.basis


# -- telehealth POS 02 / 10 ------------------------------------------------------------------------

def test_telehealth_pos_02_facility_and_pos_10_non_facility_from_2024():
    # CMS Transmittal 12671: "The payment rate for POS 02 is the facility payment rate (F); the payment
    # rate for POS 10 is the non-facility rate (NF)", from CY 2024.
    at_02 = only(price_book(book(line("97110", 1, pos="02"))))
    at_10 = only(price_book(book(line("97110", 1, pos="10"))))
    assert (at_02.fee_allowed, at_10.fee_allowed) == (D("21.88"), D("30.33"))
    assert "POS 02" in at_02.basis and "facility rate from 2024-01-01" in at_02.basis
    assert "POS 10" in at_10.basis and "non-facility rate from 2024-01-01" in at_10.basis
    # DOS 2024-03-09 (CF 33.2875): (0.45×1 + 0.17×1.1 + 0.02×0.9) = 0.655 × 33.2875 = 21.8033125 → 21.80.
    early = only(price_book(book(line("97110", 1, pos="02", dos=date(2024, 3, 9)), years=(2024,))))
    assert early.fee_allowed == D("21.80")
    # An always-therapy code (facility NA) by telehealth at POS 02: the non-facility amount, both notes.
    na = only(price_book(book(line("97110", 1, pos="02"), facility_na={"97110"})))
    assert na.fee_allowed == D("30.33") and "POS 02" in na.basis and "facility PE of 97110 is NA" in na.basis


def test_no_telehealth_rate_rule_before_2024():
    # Must not apply: no sourced POS 02 rule before 2024-01-01 (the table starts then).
    assert pos_setting("02", date(2023, 12, 31)).facility is False
    assert pos_setting("02", date(2024, 1, 1)).facility is True
    assert pos_setting("10", date(2026, 8, 3)).facility is False
    assert pos_setting("22", date(2026, 8, 3)) == (True, "")


# -- Part B deductible by year ---------------------------------------------------------------------

def test_the_shipped_part_b_deductibles_are_cms_amounts():
    # CMS "Medicare Parts A & B Premiums and Deductibles" fact sheets (refdata/SOURCES.md).
    assert [part_b_deductible(y) for y in (2023, 2024, 2025, 2026)] == [D("226.00"), D("240.00"), D("257.00"),
                                                                        D("283.00")]
    assert part_b_deductible(2030) is None


DEC_30, JAN_5 = date(2025, 12, 30), date(2026, 1, 5)


def test_a_later_year_starts_with_the_full_deductible():
    # DeductibleRemaining blank (met) for the first DOS year, 2025. 2025 97110: 0.908 × CF 32.3465 = 29.370622 →
    # 29.37; Medicare 23.496 → 23.50, sequestration 0.47 → 23.03, patient 5.87.
    # 2026 starts with the full $283: the 30.33 line is all deductible: Medicare 0, patient 30.33.
    dec, jan = price_book(book(line("97110", 1, dos=DEC_30), line("97110", 1, dos=JAN_5), years=(2025, 2026))).lines
    assert (dec.deductible, dec.expected_payer_payment, dec.expected_patient_resp) == (0, D("23.03"), D("5.87"))
    assert (jan.deductible, jan.expected_payer_payment, jan.expected_patient_resp) == (D("30.33"), 0, D("30.33"))
    assert "2026 starts with the full Part B deductible 283.00" in jan.basis


def test_deductible_remaining_applies_to_its_deductible_year_only():
    # DeductibleYear 2026, 20.00 left: 2026 line: (30.33 − 20.00) × 0.8 = 8.264 → 8.26, sequestration
    # 0.1652 → 0.17, Medicare 8.09, patient 30.33 − 8.26 = 22.07. The 2025 line (an earlier year) gets no
    # deductible (23.03 as above) and an info finding on the patient's DeductibleYear.
    result = price_book(book(line("97110", 1, dos=DEC_30), line("97110", 1, dos=JAN_5), years=(2025, 2026),
                             deductible=D("20.00"), deductible_year=2026))
    dec, jan = result.lines
    assert (dec.deductible, dec.expected_payer_payment) == (0, D("23.03"))
    assert (jan.deductible, jan.expected_payer_payment, jan.expected_patient_resp) == (D("20.00"), D("8.09"), D("22.07"))
    [f] = [f for f in result.findings if f.rule == "price.deductible-year"]
    assert (f.location.sheet, f.location.row, f.location.column) == ("Patients", 2, "DeductibleYear")


def test_one_year_books_keep_the_given_deductible():
    # Must not apply: both lines in the default DeductibleYear (2026): 50.00 is taken 30.33 then 19.67
    # (test_deductible_taken_first_in_dos_order), no full-year deductible, no finding.
    result = price_book(book(line("97110", 1), line("97110", 1, dos=date(2026, 8, 4)), deductible=D("50.00")))
    assert [p.deductible for p in result.lines] == [D("30.33"), D("19.67")]
    assert not result.findings and "full Part B deductible" not in result.lines[1].basis


def test_a_year_without_a_sourced_deductible_assumes_none(monkeypatch):
    # No amount for 2026 (as for a future year): no deductible, Medicare pays 23.77 on each 2026 line, and one
    # warning for the year (not one per line).
    monkeypatch.setattr(pricing, "part_b_deductible", lambda year: None)
    result = price_book(book(line("97110", 1, dos=DEC_30), line("97110", 1, dos=JAN_5),
                             line("97110", 1, dos=date(2026, 1, 6)), years=(2025, 2026)))
    assert [p.deductible for p in result.lines] == [0, 0, 0]
    assert [p.expected_payer_payment for p in result.lines[1:]] == [D("23.77"), D("23.77")]
    [f] = [f for f in result.findings if f.rule == "price.no-deductible-amount"]
    assert f.location.row == result.lines[1].row and "2026" in f.message


# -- PFS status B / I / N --------------------------------------------------------------------------

def status_rvu(code: str, status: str, pe: str = "5.00") -> MedicareRVU:
    return MedicareRVU(year=2026, code=code, work_rvu=D("0.06"), pe_rvu_nonfacility=D(pe), pe_rvu_facility=D(pe),
                       mp_rvu=D("0.01"), always_therapy=True, status=status)


def test_status_b_is_priced_at_zero_joins_no_mppr_and_no_kx():
    # 97010 (status B, RVUs shown but "not used for Medicare payment") with the highest PE of the visit, then
    # 97110 × 2. If 97010 joined MPPR it would hold the full-price unit and 97110 would lose 2 × 7.35.
    # 97110: one unit full 30.33, one at 22.98 (reduction 7.35) → 53.31. KX: 2,449.67 + 53.31 = 2,502.98.
    b = book(line("97010", 1), line("97110", 2), prior=D("2449.67"), extra_rvus=(status_rvu("97010", "B"),))
    result = price_book(b)
    packs, ex = result.lines
    assert (packs.fee_allowed, packs.expected_allowed, packs.expected_payer_payment, packs.expected_patient_resp) == (
        0, 0, 0, 0)
    assert packs.kx_running_total is None and not packs.kx_missing and packs.kx_status == "not counted: PFS status B"
    assert (ex.mppr_reduction, ex.expected_allowed, ex.kx_running_total) == (D("7.35"), D("53.31"), D("2502.98"))
    [f] = [f for f in result.findings if f.rule == "price.pfs-status"]
    assert (f.location.row, f.location.column) == (packs.row, "Code") and "status B" in f.message


def test_status_i_and_n():
    # I (Medicare uses another code): $0, patient owes nothing; N (not covered): $0, the patient's share is
    # not predicted (it may be the patient's to pay with notice).
    i_line, n_line = price_book(book(line("97014", 1), line("97535", 1, dos=date(2026, 8, 4)),
                                     extra_rvus=(status_rvu("97014", "I"), status_rvu("97535", "N")))).lines
    assert (i_line.expected_allowed, i_line.expected_patient_resp) == (0, 0)
    assert (n_line.expected_allowed, n_line.expected_payer_payment, n_line.expected_patient_resp) == (0, 0, None)


def test_active_and_blank_status_are_priced_and_other_payers_ignore_the_status():
    # Must not apply: 97010 with status A or blank (an old MedicareRVU sheet without the column):
    # 0.06 × 33.4009 = 2.004054 + 5.00 × 1.1 × 33.4009 = 183.70495 + 0.01 × 0.9 × 33.4009 = 0.3006081
    # = 186.0096121 → 186.01.
    for status in ("A", ""):
        p = only(price_book(book(line("97010", 1), extra_rvus=(status_rvu("97010", status),))))
        assert p.fee_allowed == D("186.01"), status
    fee = (FeeScheduleEntry(payer_key="PAY", code="97010", allowed_per_unit=D("5.00")),)
    commercial = only(price_book(book(line("97010", 1), payer_type=PayerType.COMMERCIAL, fee=fee,
                                      extra_rvus=(status_rvu("97010", "B"),))))
    assert commercial.expected_allowed == D("5.00")


def test_an_undefined_status_is_not_priced():
    result = price_book(book(line("97010", 1), extra_rvus=(status_rvu("97010", "Q"),)))
    assert only(result).expected_allowed is None
    assert [f.rule for f in result.findings] == ["price.pfs-status"]


# -- copays ----------------------------------------------------------------------------------------

FEES = (FeeScheduleEntry(payer_key="PAY", code="97110", allowed_per_unit=D("40.00"), row=2),
        FeeScheduleEntry(payer_key="PAY", code="97530", allowed_per_unit=D("15.00"), row=3))


def test_copay_once_per_visit_in_row_order():
    for payer_type in (PayerType.COMMERCIAL, PayerType.MEDICARE_ADVANTAGE):
        # Visit 1: 97530 15.00 then 97110 40.00, copay 25.00 → 15.00 (all of the first line) + 10.00.
        # Visit 2 (next day): 97110 40.00 → 25.00 again; the payer pays 15.00.
        result = price_book(book(line("97530", 1), line("97110", 1), line("97110", 1, dos=date(2026, 8, 4)),
                                 payer_type=payer_type, fee=FEES, copay=D("25.00")))
        act, ex, later = result.lines
        assert [(p.copay, p.expected_payer_payment, p.expected_patient_resp) for p in result.lines] == [
            (D("15.00"), 0, D("15.00")), (D("10.00"), D("30.00"), D("10.00")), (D("25.00"), D("15.00"), D("25.00"))]
        [t] = result.totals
        assert (t.expected_allowed, t.copay, t.expected_payer_payment) == (D("95.00"), D("50.00"), D("45.00"))


def test_copay_never_more_than_the_visit_allowed():
    # Copay 60.00 on a 55.00 visit: the patient owes 55.00, the payer nothing.
    result = price_book(book(line("97530", 1), line("97110", 1), payer_type=PayerType.COMMERCIAL, fee=FEES,
                             copay=D("60.00")))
    assert [(p.copay, p.expected_payer_payment) for p in result.lines] == [(D("15.00"), 0), (D("40.00"), 0)]


def test_copay_is_not_taken_on_medicare_or_medicaid_lines():
    # Must not apply: original Medicare has 20% coinsurance, not a copay: the line is as without a copay
    # (23.77 / 6.07), with an info finding on the Patients Copay cell. Medicaid: the payer pays the allowed.
    result = price_book(book(line("97110", 1), copay=D("25.00")))
    p = only(result)
    assert (p.copay, p.expected_payer_payment, p.expected_patient_resp) == (0, D("23.77"), D("6.07"))
    [f] = result.findings
    assert (f.rule, f.location.sheet, f.location.column) == ("price.copay-not-applied", "Patients", "Copay")
    medicaid = price_book(book(line("97110", 1), payer_type=PayerType.MEDICAID, fee=FEES, copay=D("25.00")))
    m = only(medicaid)
    assert (m.copay, m.expected_payer_payment, m.expected_patient_resp) == (0, D("40.00"), None)
    assert [f.rule for f in medicaid.findings] == ["price.copay-not-applied"]


def test_no_copay_leaves_the_patient_share_unpredicted():
    p = only(price_book(book(line("97110", 1), payer_type=PayerType.COMMERCIAL, fee=FEES)))
    assert (p.copay, p.expected_payer_payment, p.expected_patient_resp) == (0, D("40.00"), None)
