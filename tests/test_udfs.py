"""Worksheet functions called with values shaped exactly as Excel/xlwings hands them over:
floats for numbers, None for blanks, datetime for dates, 1-D lists (a single row or column with
xlwings' default ndim) and 2-D lists (ndim=2)."""

from __future__ import annotations

from datetime import datetime

from otbill_xl.excel.udfs import (
    OT_CARC,
    OT_CARC_CATEGORY,
    OT_CODE_INFO,
    OT_NEXT_ACTION,
    OT_NPI_VALID,
    OT_UNITS,
    OT_UNITS_EXPLAIN,
)


def test_ot_units_column_2d_one_visit_cms_example_1():
    # CMS §20.2 Example 1 (facts §1.4): 97112 24 min + 97110 23 min = 47 → 3 units: 97112×2, 97110×1.
    codes = [[97112.0], [97110.0]]
    minutes = [[24.0], [23.0]]
    assert OT_UNITS(codes, minutes) == [[2], [1]]
    assert OT_UNITS(codes, minutes, "ama") == [[2], [2]]  # AMA per code: 24→2, 23→2 (facts §1.5: 4 units)
    explain = OT_UNITS_EXPLAIN(codes, minutes)
    assert explain[0][0].startswith("47 timed min → 3 units")


def test_ot_units_1d_row_with_blanks_and_visit_keys():
    # Two visits in one call; blank rows (None) stay blank.
    codes = ["97110", "97140", None, "97530", "97535"]
    minutes = [10.0, 10.0, None, 7.0, 7.0]
    visits = ["P1|2026-08-03", "P1|2026-08-03", None, "P2|2026-08-03", "P2|2026-08-03"]
    # Visit 1: 20 min pooled → 1 unit (CMS), tie 10/10 → one code gets it.
    # Visit 2: 14 min pooled → 1 unit; 7/7 tie → one code gets it (facts §1.3 step 5).
    out = OT_UNITS(codes, minutes, "cms", visits)
    assert out[2] == ""
    assert sorted(out[:2]) == [0, 1] and sorted(out[3:]) == [0, 1]
    # AMA: 10 → 1 each; 7 → 0 each (facts §1.5).
    assert OT_UNITS(codes, minutes, "ama", visits) == [1, 1, "", 0, 0]


def test_untimed_and_errors_are_per_row_not_fatal():
    out = OT_UNITS([["97165"], ["97110"]], [[45.0], [None]], "cms", [["a"], ["b"]])
    assert out == [[1], [0]]
    bad = OT_UNITS([["XYZ"], ["97110"]], [[10.0], [38.0]], "cms", [["a"], ["b"]])
    assert bad[0][0].startswith("#ERROR") and bad[1][0] == 3
    assert OT_UNITS(["97110"], [12.5]).__getitem__(0).startswith("#ERROR")
    assert OT_UNITS(["97110"], [10.0], "weekly").startswith("#ERROR")


def test_scalar_inputs():
    assert OT_UNITS(97110.0, 38.0) == 3
    assert OT_NPI_VALID(1234567893.0) is True
    assert OT_NPI_VALID("1234567890") is False


def test_npi_valid_vectorised():
    assert OT_NPI_VALID([[1234567893.0], [None], ["1234567890"]]) == [[True], [""], [False]]


def test_code_info_with_datetime_dos():
    info = OT_CODE_INFO("97003", datetime(2026, 8, 3))
    assert "deleted on 2026-08-03" in info and "97165" in info
    assert "active on 2026-08-03" in OT_CODE_INFO(97110.0, datetime(2026, 8, 3))
    assert "add-on to 97129" in OT_CODE_INFO("97130")
    assert OT_CODE_INFO(["97110", None]) [1] == ""
    assert "not in the OT code catalogue" in OT_CODE_INFO("ABCDE")


# -- denials (issue 13 §6; the catalogue and rules are tested in test_denials.py) ---------------

def test_ot_carc_column_in_column_out():
    out = OT_CARC([["CO-97"], [None], [29.0], ["ZZ9"]])
    assert out[0] == ["Paid as part of another service already adjudicated (bundled)"]
    assert out[1] == [""] and out[2] == ["The filing limit passed"]
    assert out[3][0].startswith("#N/A")
    assert OT_CARC("PR-1") == "Deductible not yet met: the patient owes this part"


def test_ot_carc_category_vectorised():
    # Facts §8: 97 bundling, 1 patient responsibility, 50 medical necessity; unknown when not catalogued.
    assert OT_CARC_CATEGORY(["97", "PR-1", 50.0, "", "999"]) == [
        "bundling", "patient_responsibility", "medical_necessity", "", "unknown"]


def test_ot_next_action_with_and_without_remarks():
    out = OT_NEXT_ACTION([["PR"], ["CO"], ["CO"], [None]], [[50.0], ["16"], ["151"], [None]],
                         [[None], ["MA130, N290"], ["N362"], [None]])
    assert "bill the patient" in out[0][0]
    assert "not an appeal" in out[1][0] and "N290:" in out[1][0]
    assert "CO-151 with N362" in out[2][0]
    assert out[3] == [""]
    assert "NCCI" in OT_NEXT_ACTION("CO", "97")
    assert OT_NEXT_ACTION(["CO", "PR"], ["97"]).startswith("#ERROR")
