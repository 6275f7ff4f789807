"""Denials explained (issue 13 §3): the CARC/RARC catalogue against facts §8, the group- and
RARC-aware next action, appeal/corrected-claim deadlines per payer, and the primary CARC of a line.

Every expected value comes from ``../shared/reference/ot-billing-facts.md`` §8 (read row by row),
the X12 code list dates quoted in ``refdata/SOURCES.md``, 42 CFR 405.942/405.980, or a hand
calculation written next to the assertion."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal as D

import pytest

from otbill_xl import refdata
from otbill_xl.domain import denials
from otbill_xl.domain.denials import (
    CATEGORIES,
    GROUPS,
    ROUTES,
    carc,
    carc_category,
    deadlines,
    describe,
    explain_denial,
    next_action,
    primary_adjustment,
    rarc,
)
from otbill_xl.domain.models import Payer, PayerType
from otbill_xl.workbook.memory import MemoryWorkbook
from otbill_xl.workbook.reader import read_book
from tests.conftest import PAYER_ROWS, contract_sheets

MEDICARE = Payer(payer_key="MCR", payer_type=PayerType.MEDICARE)
ACME = Payer(payer_key="ACME", payer_type=PayerType.COMMERCIAL)


# -- the catalogue's shape --------------------------------------------------------------------

def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(refdata.read_text(name))))


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _no_overlaps(rows: list[dict[str, str]]) -> None:
    spans: dict[str, list[tuple[date, date]]] = {}
    for r in rows:
        start, end = _day(r["valid_from"]) or date.min, _day(r["valid_to"]) or date.max
        assert start <= end, r["code"]
        for other in spans.get(r["code"], []):
            assert end < other[0] or start > other[1], f"{r['code']}: overlapping date ranges"
        spans.setdefault(r["code"], []).append((start, end))


def test_carc_csv_shape():
    rows = _rows("carc.csv")
    assert list(rows[0]) == ["code", "valid_from", "valid_to", "usual_group", "category", "route", "description",
                             "next_action"]
    _no_overlaps(rows)
    for r in rows:
        assert re.fullmatch(r"[0-9]{1,3}|[A-Z][0-9]{1,2}", r["code"]), r["code"]
        assert r["category"] in CATEGORIES, r["code"]
        assert r["route"] in ROUTES, r["code"]
        assert r["usual_group"] in GROUPS, r["code"]
        assert r["description"].strip() and r["next_action"].strip(), r["code"]


def test_rarc_csv_shape():
    rows = _rows("rarc.csv")
    assert list(rows[0]) == ["code", "valid_from", "valid_to", "description", "next_action"]
    _no_overlaps(rows)
    for r in rows:
        assert re.fullmatch(r"(M|MA|N)[0-9]{1,3}", r["code"]), r["code"]
        assert r["description"].strip() and r["next_action"].strip(), r["code"]


def test_overlap_check_itself_fails_on_overlap():
    # The shape test must be able to fail: two rows of one code whose ranges share a day.
    rows = [{"code": "X", "valid_from": "2020-01-01", "valid_to": "2020-12-31"},
            {"code": "X", "valid_from": "2020-12-31", "valid_to": ""}]
    with pytest.raises(AssertionError):
        _no_overlaps(rows)


# -- the catalogue against facts §8, row by row -------------------------------------------------

def _facts_section8(shared) -> str:
    text = (shared / "reference" / "ot-billing-facts.md").read_text(encoding="utf-8")
    return text[text.index("## 8. CARC / RARC"):text.index("## 9.")]


def _facts_carc_rows(shared) -> list[tuple[str, str, str, str]]:
    """(code, first usual group, category, corrective action) per CARC of the facts §8 table."""
    out = []
    for line in _facts_section8(shared).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not re.fullmatch(r"[0-9A-Z/]+", cells[0]) or cells[0] == "CARC":
            continue
        group = re.match(r"[A-Z]{2}", cells[1]).group(0)
        for code in cells[0].split("/"):  # "206/207/208"
            out.append((code, group, cells[3].replace("-", "_"), cells[4]))
    return out


def test_every_facts_carc_is_catalogued_with_its_category_and_usual_group(shared):
    rows = _facts_carc_rows(shared)
    assert len(rows) == 51  # the facts table: 49 rows, one of them "206/207/208" (3 codes)
    for code, group, category, _ in rows:
        found = carc(code)
        assert found is not None, code
        assert found.category == category, code
        assert carc_category(code) == category, code
        assert found.usual_group == group, code


def test_facts_group_meaning_drives_the_action(shared):
    """Facts §8's usual group, sent as such: PR rows go to the secondary payer/patient (PR-119 to
    KX), CO contractual rows are written off, CO timely-filing asks for proof or a write-off."""
    for code, group, category, action in _facts_carc_rows(shared):
        text = next_action(group, code).lower()
        if group == "PR" and code == "119":
            assert "kx" in text, code  # facts: "Add KX if justified and reopen"
        elif group == "PR":
            assert "patient" in text, code  # facts: bill patient/secondary, collect copay, bill patient if allowed
        elif category == "contractual" and code in ("45", "253", "59"):
            assert "write off" in text, code
        elif category == "timely_filing":
            assert "proof of timely filing" in text and "write" in text, code
        elif "appeal" in action.lower():
            assert "appeal" in text, code  # facts' action names an appeal: so does ours


def test_every_facts_rarc_is_catalogued(shared):
    codes = re.findall(r"^- (M[A]?[0-9]+|N[0-9]+):", _facts_section8(shared), flags=re.M)
    assert codes == ["N362", "MA130", "M80", "N20", "M15", "N115", "N386", "N130", "N211", "N657", "N179"]
    for code in codes:
        assert rarc(code) is not None, code
    # Facts §8 notes public tables disagree on N115/N386; Noridian's denial page (Reason 50 | Remark
    # N115) gives N115 = LCD, so N386 = NCD.
    assert "Local Coverage" in rarc("N115").description and "National Coverage" in rarc("N386").description


def test_other_common_therapy_rarcs_are_catalogued():
    for code in ("MA01", "N290", "M86", "N640", "N264", "N265", "MA04", "N30"):
        assert rarc(code) is not None, code


# -- dated lookups -----------------------------------------------------------------------------

def test_carc_253_exists_from_its_x12_start_date():
    # X12/WPC list: 253 "Start: 06/02/2013".
    assert carc("253", date(2013, 6, 1)) is None
    assert carc("253", date(2013, 6, 2)).category == "contractual"
    assert carc_category("253", date(2012, 1, 1)) == "unknown"


def test_deactivated_code_is_valid_until_the_day_before_its_stop_date():
    # X12/WPC list: 38 "Stop: 01/01/2013" (replaced by 242/243): valid through 2012-12-31.
    assert carc("38", date(2012, 12, 31)) is not None
    assert carc("38", date(2013, 1, 1)) is None
    assert carc("242", date(2013, 1, 1)).category == "authorization"


def test_lookup_accepts_group_prefixes_and_excel_numbers():
    assert carc("CO-97").code == carc("co97").code == carc(97.0).code == "97"
    assert carc("PR 1").category == "patient_responsibility"
    assert carc("ZZZ") is None and carc_category("ZZZ") == "unknown"


# -- next action: group-aware and RARC-refined -------------------------------------------------

def test_pr_group_sends_even_a_usually_co_code_to_the_patient():
    assert "bill the patient" in next_action("PR", "50")  # facts §8: CO-50, PR if ABN/GA
    assert "ABN" in next_action("PR", "50")
    co = next_action("CO", "50")
    assert "Appeal" in co and "Patient responsibility" not in co  # must not fire for CO


def test_pr_deductible_coinsurance_copay():
    for code in ("1", "2", "3"):
        text = next_action("PR", code)
        assert "secondary" in text and "patient" in text, code
        assert "ABN" not in text  # a plain deductible is no non-coverage case


def test_pr_119_is_the_kx_case():
    text = next_action("PR", "119")
    assert "KX" in text and "Patient responsibility:" not in text


def test_co_45_contractual_write_off_compares_expected_allowed():
    text = next_action("CO", "45")
    assert "write off" in text and "expected allowed" in text


def test_oa_23_is_informational_cob():
    assert next_action("OA", "23").startswith("Informational (coordination of benefits)")


def test_co_97_bundled_names_ncci_59_xu_and_frequency_7():
    text = next_action("CO", "97")
    assert "NCCI" in text and "59/XU" in text and "frequency 7" in text


def test_co_29_timely_filing():
    text = next_action("CO", "29")
    assert "proof of timely filing" in text and "write the line off" in text


def test_co_16_with_ma130_is_a_new_claim_not_an_appeal():
    text = next_action("CO", "16", ["MA130"])
    assert "new claim" in text and "not an appeal" in text
    plain = next_action("CO", "16")
    assert "MA130" not in plain and "remark" in plain  # without MA130: read the RARC


def test_n211_removes_the_appeal():
    text = next_action("CO", "50", ["N211"])
    assert "Not appealable (N211)" in text and "Appeal with" not in text
    # N211 on a coding denial (route corrected claim) leaves the correction in place.
    assert "59/XU" in next_action("CO", "97", ["N211"])


def test_co_151_with_n362_is_the_mue_units_case():
    text = next_action("CO", "151", ["N362"])
    assert "MUE" in text and "CO-151 with N362" in text
    assert "CO-151 with N362" not in next_action("CO", "151")  # must not fire without N362


def test_remarks_in_one_text_cell_and_their_actions_follow():
    text = next_action("CO", "16", "MA130, N290")
    assert text.count("N290:") == 1 and "rendering provider" in text


def test_unknown_codes_say_so():
    assert "not in the catalogue" in next_action("CO", "999")
    assert "remark code not in the catalogue" in describe("CO", "97", ["N9999"])


def test_group_prefix_in_the_reason_is_used_when_the_group_is_blank():
    assert next_action("", "PR-2") == next_action("PR", "2")


def test_describe_is_plain_language_with_the_group_meaning():
    text = describe("CO", "97", ["N20"])
    assert text.startswith("CO-97 (contractual obligation, not billable to the patient): ")
    assert "N20: Not payable with another service on the same date" in text


# -- deadlines ---------------------------------------------------------------------------------

def test_medicare_defaults_redetermination_and_reopening():
    dl = deadlines(MEDICARE, date(2026, 3, 2))
    # 2026-03-02 + 120 days: 29 more days of March (31), 30 of April (61... cumulative 59), 31 of May
    # (90), 30 of June (120) → 2026-06-30. 42 CFR 405.942(a).
    assert dl.appeal == date(2026, 6, 30)
    # Reopening within 1 year of the initial determination, 42 CFR 405.980(b)(1).
    assert dl.corrected == date(2027, 3, 2)
    assert "405.942" in dl.basis and "405.980" in dl.basis


def test_medicare_reopening_from_29_february():
    assert deadlines(MEDICARE, date(2024, 2, 29)).corrected == date(2025, 2, 28)


def test_commercial_blank_has_no_deadline_and_says_what_to_set():
    dl = deadlines(ACME, date(2026, 1, 15))
    assert dl.appeal is None and dl.corrected is None
    assert "set AppealDays on the Payers sheet" in dl.basis and "CorrectedClaimDays" in dl.basis
    assert deadlines(None, date(2026, 1, 15)).appeal is None


def test_payer_settings_count_from_the_remittance_date():
    payer = Payer(payer_key="ACME", appeal_days=90, corrected_claim_days=180)
    dl = deadlines(payer, date(2026, 1, 15))
    # +90: 16 days of January (16), 28 of February (44), 31 of March (75), 15 of April (90).
    assert dl.appeal == date(2026, 4, 15)
    # +180: from 2026-04-15 (90) + 15 of April (105) + 31 May (136) + 30 June (166) + 14 July (180).
    assert dl.corrected == date(2026, 7, 14)
    # A Medicare payer's own setting beats the regulatory default.
    assert deadlines(Payer(payer_key="M", payer_type=PayerType.MEDICARE, appeal_days=60),
                     date(2026, 1, 15)).appeal == date(2026, 3, 16)  # 16 + 28 + 16 = 60


# -- the primary CARC and the denial row -------------------------------------------------------

def test_primary_is_the_largest_real_denial_not_co45_or_sequestration():
    adj = [("CO", "45", D("20.00")), ("CO", "97", D("40.00")), ("PR", "2", D("5.00"))]
    assert primary_adjustment(adj) == ("CO", "97", D("40.00"))


def test_primary_falls_back_to_pr_then_routine():
    assert primary_adjustment([("CO", "45", D("80.00")), ("CO", "253", D("1.20")), ("PR", "2", D("15.00"))]) \
        == ("PR", "2", D("15.00"))
    assert primary_adjustment([("CO", "45", D("80.00")), ("CO", "253", D("1.20"))]) == ("CO", "45", D("80.00"))
    assert primary_adjustment([]) is None


def test_primary_ties_keep_remittance_order_and_reversals_compare_sizes():
    assert primary_adjustment([("CO", "97", D("10")), ("CO", "50", D("10"))])[1] == "97"
    assert primary_adjustment([("CO", "97", D("-10")), ("CO", "50", D("-30"))])[1] == "50"


def test_explain_denial_medical_necessity_uses_the_appeal_deadline():
    d = explain_denial([("CO", "50", D("95.00"))], ["N115"], MEDICARE, date(2026, 3, 2), date(2026, 3, 2))
    assert (d.group, d.carc, d.rarcs, d.category, d.route) == ("CO", "50", ("N115",), "medical_necessity", "appeal")
    assert d.amount == D("95.00")
    assert d.deadline == d.appeal_deadline == date(2026, 6, 30)  # see the Medicare defaults test
    assert "LCD" in d.next_action and "Local Coverage" in d.reason


def test_explain_denial_bundling_uses_the_corrected_claim_deadline():
    d = explain_denial([("CO", "45", D("20")), ("CO", "97", D("40"))], ["M80"], MEDICARE, date(2026, 3, 2),
                       date(2026, 3, 2))
    assert d.carc == "97" and d.route == "corrected_claim" and d.deadline == date(2027, 3, 2)


def test_explain_denial_patient_share_and_ma130_have_no_remittance_deadline():
    pr = explain_denial([("PR", "1", D("30"))], [], MEDICARE, date(2026, 3, 2), date(2026, 3, 2))
    assert pr.route == "bill_patient" and pr.deadline is None and pr.category == "patient_responsibility"
    new = explain_denial([("CO", "16", D("60"))], ["MA130", "N290"], ACME, date(2026, 3, 2), date(2026, 3, 2))
    assert new.route == "new_claim" and new.deadline is None and "not an appeal" in new.next_action
    assert "set AppealDays" in new.deadline_basis


def test_explain_denial_without_adjustments_or_date():
    d = explain_denial([], [], None, None, date(2026, 3, 2))
    assert d.category == "unknown" and d.carc == "" and d.deadline is None
    d = explain_denial([("CO", "50", D("1"))], [], MEDICARE, None, date(2026, 3, 2))
    assert d.appeal_deadline is None and d.deadline_basis == "no adjudication date"


def test_messages_carry_no_patient_data():
    # The denial texts are built from codes only: nothing a caller could leak is passed in.
    d = explain_denial([("CO", "31", D("60"))], ["N30"], ACME, date(2026, 3, 2), date(2026, 3, 2))
    assert "member ID" in d.next_action  # the field is named, never a value


# -- the Payers sheet columns ------------------------------------------------------------------

def test_payers_sheet_reads_appeal_and_corrected_claim_days():
    header = PAYER_ROWS[0] + ["Appeal Days", "CorrectedClaimDays"]
    rows = [header, PAYER_ROWS[1] + [None, None], PAYER_ROWS[2] + [60, 120]]
    book, _ = read_book(MemoryWorkbook(contract_sheets(Payers=rows)))
    by_key = book.payers_by_key
    assert (by_key["MCR"].appeal_days, by_key["MCR"].corrected_claim_days) == (None, None)
    assert (by_key["ACME"].appeal_days, by_key["ACME"].corrected_claim_days) == (60, 120)


def test_payers_sheet_without_the_new_columns_still_reads():
    book, report = read_book(MemoryWorkbook(contract_sheets()))
    assert book.payers_by_key["ACME"].appeal_days is None
    assert not [f for f in report.findings if "Appeal" in f.message]


def test_catalogue_is_read_once():
    assert denials.carcs() is denials.carcs()
