"""Billable units: CMS 8-minute rule, AMA/CPT per-code rule, special families.

Every expected number comes from ``shared/reference/ot-billing-facts.md`` (section cited) or from
a hand calculation written next to it.
"""

from __future__ import annotations

import copy
import pickle
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otbill_xl.domain.codes import CodeCatalogue, catalogue
from otbill_xl.domain.models import UnitRule
from otbill_xl.domain.units import (
    FAMILIES,
    MAX_ALTERNATIVES,
    UnitsInputError,
    VisitUnits,
    family_units,
    visit_units,
)

FAMILY_CODES = {code for fam in FAMILIES for code in (fam.base, fam.addon)}
#: Plain 15-minute timed codes (not in a special family), from the bundled catalogue.
PLAIN_TIMED = sorted(info.code for info in catalogue() if info.is_timed and info.code not in FAMILY_CODES)
UNTIMED = ["97165", "97166", "97168", "97150", "97010", "G0283", "92526", "97039", "97552", "96110"]
FAMILY = {fam.base: fam for fam in FAMILIES}


def acceptable(result: VisitUnits) -> set[tuple[tuple[str, int], ...]]:
    """The engine's pick plus its alternatives, as a set of sorted per-code allocations."""
    allocs = [result.by_code(), *result.alternatives_by_code()]
    return {tuple(sorted(a.items())) for a in allocs}


# --- CMS §20.2 worked examples (facts §1.4) -------------------------------------------------


def test_cms_example_1():
    # facts §1.4 #1: 97112 24 + 97110 23 = 47 → 3; 97112×2, 97110×1.
    # Hand: full units 1 + 1; (47+7)//15 = 3 → 1 remainder; leftovers 9 vs 8 → 97112.
    r = visit_units([("97112", 24), ("97110", 23)], "cms")
    assert r.units == (2, 1)
    assert r.total_units == 3
    assert r.timed_minutes == 47
    assert r.alternatives == ()
    assert r.explanation == "47 timed min → 3 units: 97112 24 min → 2 (larger leftover), 97110 23 min → 1"


def test_cms_example_2_is_a_tie_set():
    # facts §1.4 #2: 97112 20 + 97110 20 = 40 → 3; either code ×2, the other ×1, never 3 of one.
    r = visit_units([("97112", 20), ("97110", 20)], "cms")
    assert r.total_units == 3
    assert acceptable(r) == {
        (("97110", 1), ("97112", 2)),
        (("97110", 2), ("97112", 1)),
    }
    # Tie-break: equal leftovers (5, 5) and equal minutes → lower code, 97110, takes the unit.
    assert r.by_code() == {"97112": 1, "97110": 2}
    assert len(r.alternatives) == 1
    assert "tie: 97110 or 97112 may take the 3rd unit" in r.explanation


def test_cms_example_3_short_leftover_wins():
    # facts §1.4 #3: 97110 33 + 97140 7 = 40 → 3; 97110×2, 97140×1 (7 leftover beats 3).
    r = visit_units([("97110", 33), ("97140", 7)], "cms")
    assert r.units == (2, 1)
    assert r.alternatives == ()


def test_cms_example_4_eight_minutes_can_get_zero():
    # facts §1.4 #4: 18 + 13 + 10 + 8 = 49 → 3; 97110×1, 97140×1, 97116×1, 97035×0.
    # Hand: full 1,0,0,0; 2 remainders to leftovers 13 and 10 (not 8, not 3).
    r = visit_units([("97110", 18), ("97140", 13), ("97116", 10), ("97035", 8)], "cms")
    assert r.units == (1, 1, 1, 0)
    assert r.total_units == 3
    assert r.alternatives == ()


def test_cms_example_5_three_short_services_tie():
    # facts §1.4 #5: three codes of 7 min = 21 → 1; any one of the three ×1.
    r = visit_units([("97112", 7), ("97110", 7), ("97140", 7)], "cms")
    assert r.total_units == 1
    assert acceptable(r) == {
        (("97110", 1), ("97112", 0), ("97140", 0)),
        (("97110", 0), ("97112", 1), ("97140", 0)),
        (("97110", 0), ("97112", 0), ("97140", 1)),
    }
    assert "tie: 97110, 97112 or 97140 may take the 1st unit" in r.explanation


def test_cms_two_short_services_unit_to_the_longest():
    # facts §1.3 step 5: 5 + 4 = 9 ≥ 8 → 1 unit, to the one with the most minutes (97530).
    r = visit_units([("97535", 4), ("97530", 5)], "cms")
    assert r.units == (0, 1)
    assert r.alternatives == ()


def test_cms_tie_break_prefers_more_total_minutes():
    # 97110 22 + 97140 7 = 29 → (29+7)//15 = 2. Full units 1, 0; one remainder; leftovers 7 and 7
    # tie. Tie-break: more total minutes (22) → 97110×2, 97140×0; alternative 97110×1, 97140×1.
    r = visit_units([("97140", 7), ("97110", 22)], "cms")
    assert r.units == (0, 2)
    assert r.alternatives == ((1, 1),)


# --- AMA/CPT per-code rule (facts §1.5) -------------------------------------------------------


def test_ama_differs_from_cms():
    # facts §1.5: 97110 10 + 97140 10 = 2 units AMA, 1 unit CMS.
    lines = [("97110", 10), ("97140", 10)]
    ama = visit_units(lines, "ama")
    assert ama.units == (1, 1) and ama.total_units == 2
    assert ama.alternatives == ()
    assert ama.explanation == "AMA per code: 97110 10 min → 1, 97140 10 min → 1"
    assert visit_units(lines, "cms").total_units == 1
    # facts §1.5: 97530 7 + 97535 7 = 0 units AMA, 1 unit CMS.
    lines = [("97530", 7), ("97535", 7)]
    assert visit_units(lines, UnitRule.AMA).total_units == 0
    assert visit_units(lines, UnitRule.CMS).total_units == 1
    # facts §1.5: Example 1 minutes (24, 23) = 4 units AMA: (24+7)//15 = 2, (23+7)//15 = 2.
    assert visit_units([("97112", 24), ("97110", 23)], "ama").units == (2, 2)
    # facts §1.5: Example 3 minutes (33, 7) = 2 units AMA: (33+7)//15 = 2, (7+7)//15 = 0.
    assert visit_units([("97110", 33), ("97140", 7)], "ama").units == (2, 0)


# --- CMS table boundaries (facts §1.2) --------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "units"),
    [
        (0, 0),
        (7, 0),  # table: 0-7 → 0
        (8, 1),  # 8-22 → 1
        (22, 1),
        (23, 2),  # 23-37 → 2
        (37, 2),
        (38, 3),  # 38-52 → 3
        (52, 3),
        (53, 4),  # 53-67 → 4
        (113, 8),  # 113-127 → 8
        (127, 8),
        (128, (128 + 7) // 15),  # beyond the printed table, same pattern: 135 // 15 = 9
    ],
)
@pytest.mark.parametrize("rule", ["cms", "ama"])
def test_table_boundaries_single_code(minutes, units, rule):
    # One timed code: pooled total and per-code table agree.
    r = visit_units([("97530", minutes)], rule)
    assert r.units == (units,)


def test_none_minutes_on_a_timed_code_count_as_zero():
    r = visit_units([("97110", None), ("97140", 8)], "cms")
    assert r.units == (0, 1)
    assert r.timed_minutes == 8


# --- untimed codes (facts §1.1) ---------------------------------------------------------------


@pytest.mark.parametrize("code", UNTIMED)
@pytest.mark.parametrize("minutes", [None, 0, 5, 60, 240])
def test_untimed_codes_are_one_unit(code, minutes):
    assert visit_units([(code, minutes)], "cms").units == (1,)
    assert visit_units([(code, minutes)], "ama").units == (1,)


def test_untimed_minutes_do_not_join_the_pool():
    # 97165 60 min + 97110 7 min: the pool is 7 min only → 0 timed units; evaluation 1.
    r = visit_units([("97165", 60), ("97110", 7)], "cms")
    assert r.units == (1, 0)
    assert r.timed_minutes == 7
    assert "97165 untimed → 1" in r.explanation


# --- the same code twice (facts §1.1: one line per code per DOS) -------------------------------


def test_same_code_twice_is_one_service():
    # 97110 10 + 97110 10 → one service of 20 min → (20+7)//15 = 1 unit, all on line 1.
    # AMA per line would have given 1 + 1; merged it is 1.
    for rule in ("cms", "ama"):
        r = visit_units([("97110", 10), ("97140", 30), ("97110", 10)], rule)
        assert r.units == (1, 2, 0)
        assert r.by_code() == {"97110": 1, "97140": 2}
        assert "97110 on lines 1, 3 counted as one service" in r.explanation


def test_same_code_twice_merged_minutes_change_the_pool_split():
    # 97110 5 + 97110 5 + 97140 8: services 97110 10 and 97140 8 → 18 → 1 unit; leftover 10 > 8.
    r = visit_units([("97110", 5), ("97110", 5), ("97140", 8)], "cms")
    assert r.units == (1, 0, 0)


def test_untimed_code_twice_is_one_unit():
    r = visit_units([("97165", 30), ("97165", 20)], "cms")
    assert r.units == (1, 0)


# --- 97129 / 97130 (facts §1.6) ---------------------------------------------------------------


def test_cognitive_family_split():
    # 97129 15 + 97130 25 = 40 min, one service → (40+7)//15 = 3 units:
    # first unit 97129 (once a day), the other 2 to 97130.
    for rule in ("cms", "ama"):
        r = visit_units([("97129", 15), ("97130", 25)], rule)
        assert r.units == (1, 2)
        assert r.timed_minutes == 40
        assert "97129/97130 40 min → 3 (97129×1, 97130×2)" in r.explanation


def test_cognitive_family_small_and_ama_not_per_code():
    # 97129 10 + 97130 10 = 20 min → 1 unit → 97129×1, 97130×0 (AMA per-code would say 1 + 1,
    # but the family is one service).
    assert visit_units([("97129", 10), ("97130", 10)], "ama").units == (1, 0)
    # 97129 alone 10 min → 1.
    assert visit_units([("97129", 10)], "cms").units == (1,)
    # 7 min → 0 for both.
    assert visit_units([("97129", 4), ("97130", 3)], "cms").units == (0, 0)


def test_cognitive_family_in_the_cms_pool():
    # 97129 8 + 97110 30 = 38 → 3. Full units: cognitive 0, 97110 2; one remainder: leftover 8
    # (cognitive) beats 0 → 97129×1, 97110×2.
    r = visit_units([("97129", 8), ("97110", 30)], "cms")
    assert r.units == (1, 2)
    # 97129 20 + 97110 20 = 40 → 3; leftovers 5 and 5 tie, equal minutes → lower code 97110.
    r = visit_units([("97129", 20), ("97110", 20)], "cms")
    assert r.by_code() == {"97129": 1, "97110": 2}
    # the other choice would give the family 2 units, but 97129 is billed once a day and there is no
    # 97130 line to carry the second: it is not offered as an alternative for these lines.
    assert r.alternatives == ()


def test_cognitive_family_with_only_one_code():
    # 97130 alone 40 min: still computed (3 units on the line); the first belongs on 97129.
    r = visit_units([("97130", 40)], "cms")
    assert r.units == (3,)
    assert "no 97129 line" in r.explanation
    # 97129 alone 40 min: (40+7)//15 = 3 units, but 97129 is "first 15 minutes", once a day (facts
    # §1.6; refdata/unit_limits.csv): its line carries 1 and the other 2 belong on a 97130 line —
    # so `otbill units` and the scrubber's daily limit agree (issue #12 §4).
    r = visit_units([("97129", 40)], "cms")
    assert r.units == (1,) and r.unplaced == (("97130", 2),)
    assert "add 97130×2" in r.explanation


# --- time-based families: CPT midpoint rule on their own time units (facts §1.6, [U]) ---------


@pytest.mark.parametrize(
    ("base", "addon", "lines", "expected"),
    [
        # 97550 first 30 min (midpoint 15 → needs 16), 97551 each added 15 (needs 8 beyond).
        ("97550", "97551", [("97550", 15)], (0,)),  # 15 is the midpoint, not passed
        ("97550", "97551", [("97550", 16)], (1,)),
        ("97550", "97551", [("97550", 30), ("97551", 7)], (1, 0)),  # 7 beyond 30 < 7.5
        ("97550", "97551", [("97550", 30), ("97551", 8)], (1, 1)),  # 8 beyond 30 > 7.5
        ("97550", "97551", [("97550", 30), ("97551", 23)], (1, 2)),  # 23 = 15 + 8
        # 96112 first hour (needs 31), 96113 each added 30 (needs 16 beyond).
        ("96112", "96113", [("96112", 30)], (0,)),
        ("96112", "96113", [("96112", 31)], (1,)),
        ("96112", "96113", [("96112", 60), ("96113", 15)], (1, 0)),
        ("96112", "96113", [("96112", 60), ("96113", 16)], (1, 1)),
        ("96112", "96113", [("96112", 60), ("96113", 46)], (1, 2)),  # 46 = 30 + 16
        # 97545 first 2 h (needs 61), 97546 each added hour (needs 31 beyond).
        ("97545", "97546", [("97545", 60)], (0,)),
        ("97545", "97546", [("97545", 61)], (1,)),
        ("97545", "97546", [("97545", 120), ("97546", 30)], (1, 0)),
        ("97545", "97546", [("97545", 120), ("97546", 31)], (1, 1)),
        ("97545", "97546", [("97545", 120), ("97546", 91)], (1, 2)),  # 91 = 60 + 31
        # minutes may sit on either line: only the family total counts (90 + 61 = 151 = 120 + 31)
        ("97545", "97546", [("97545", 90), ("97546", 61)], (1, 1)),
    ],
)
@pytest.mark.parametrize("rule", ["cms", "ama"])
def test_time_based_families(base, addon, lines, expected, rule):
    r = visit_units(lines, rule)
    assert r.units == expected
    assert r.timed_minutes == 0  # never in the 15-minute pool
    assert "midpoint rule" in r.explanation


def test_time_based_family_not_pooled_with_15_minute_codes():
    # 97550 20 + 97110 7: 97110 alone is 7 timed min → 0; if 97550 joined the pool, 27 → 2.
    r = visit_units([("97550", 20), ("97110", 7)], "cms")
    assert r.units == (1, 0)
    assert r.timed_minutes == 7


def test_time_based_family_with_only_the_addon():
    # 97551 alone, 20 min: family total 20 > 15 → the base unit; it sits on the 97551 line.
    r = visit_units([("97551", 20)], "cms")
    assert r.units == (1,)
    assert "no 97550 line" in r.explanation
    # 97546 alone, 30 min: family total 30 ≤ 60 (half of 2 h) → nothing billable.
    assert visit_units([("97546", 30)], "cms").units == (0,)


def test_family_units_midpoint_reproduces_the_8_minute_table_for_15_15():
    # A 15-minute base and 15-minute add-on under the midpoint rule give the facts §1.2 table.
    cognitive = FAMILY["97129"]
    for minutes in range(0, 200):
        assert sum(family_units(cognitive, minutes)) == (minutes + 7) // 15


def test_family_units_function():
    # 97550/97551 total 53 = 30 + 23 → (1, 2); 96112/96113 total 76 = 60 + 16 → (1, 1).
    assert family_units(FAMILY["97550"], 53) == (1, 2)
    assert family_units(FAMILY["96112"], 76) == (1, 1)
    assert family_units(FAMILY["96112"], 75) == (1, 0)
    assert family_units(FAMILY["97545"], 0) == (0, 0)


# --- input handling ----------------------------------------------------------------------------


def test_unknown_code_names_the_line():
    with pytest.raises(UnitsInputError, match=r"line 2: code 99999 is not in the code catalogue"):
        visit_units([("97110", 10), ("99999", 10)])


def test_bad_minutes_name_the_line():
    with pytest.raises(UnitsInputError, match=r"line 1: minutes -5 are negative"):
        visit_units([("97110", -5)])
    with pytest.raises(UnitsInputError, match=r"line 3: minutes 7\.5 are not a whole number"):
        visit_units([("97110", 10), ("97140", 10), ("97530", 7.5)])
    with pytest.raises(UnitsInputError, match="line 1"):
        visit_units([("97110", True)])


def test_error_messages_do_not_echo_free_text():
    # A shifted column can put a patient's name in the code or minutes cell: never echo it.
    with pytest.raises(UnitsInputError) as err:
        visit_units([("97110", 10), ("Jane Q Doe", 10)])
    assert "Jane" not in str(err.value) and "line 2" in str(err.value)
    with pytest.raises(UnitsInputError) as err:
        visit_units([("97110", "Doe")])
    assert "Doe" not in str(err.value) and "line 1" in str(err.value)
    with pytest.raises(UnitsInputError) as err:
        visit_units([("SMITH", 10)])
    assert "SMITH" not in str(err.value) and "line 1" in str(err.value)
    with pytest.raises(UnitsInputError, match="line 1: the code is blank"):
        visit_units([("", 10)])
    # code-shaped text is quoted so the biller sees what to correct
    with pytest.raises(UnitsInputError, match="code 0001T is not in the code catalogue"):
        visit_units([("0001t", 10)])


def test_unknown_rule():
    with pytest.raises(UnitsInputError, match="use 'cms' or 'ama'"):
        visit_units([("97110", 10)], "medicare")


def test_input_forms_are_normalized():
    # int / float codes, lower case and spaces, 23.0 minutes, rule text in any case.
    r = visit_units([(97112, 24), (" 97110 ", 23.0), ("g0283", None)], " CMS ")
    assert r.codes == ("97112", "97110", "G0283")
    assert r.units == (2, 1, 1)
    assert r.rule is UnitRule.CMS
    assert visit_units(iter([("97110", 23)]), "ama").units == (2,)


def test_empty_visit():
    r = visit_units([], "cms")
    assert r.units == () and r.total_units == 0 and r.alternatives == ()
    assert r.explanation == "no lines"


def test_custom_catalogue():
    text = (
        "code,kind,unit_minutes,always_therapy,disciplines,effective_from,deleted_on,replaced_by,"
        "addon_to,mue_per_day,label\n"
        "97110,timed,15,Y,PT|OT,,,,,,Therapeutic exercise\n"
        "97165,evaluation,,Y,OT,2017-01-01,,,,,OT evaluation - low\n"
    )
    cat = CodeCatalogue.from_csv(text)
    assert visit_units([("97110", 23), ("97165", 45)], catalogue=cat).units == (2, 1)
    with pytest.raises(UnitsInputError, match="line 1: code 97140"):
        visit_units([("97140", 23)], catalogue=cat)
    # switching back and forth between catalogues uses the right table each time
    assert visit_units([("97140", 23)]).units == (2,)
    assert visit_units([("97140", 23)], catalogue=catalogue()).units == (2,)
    with pytest.raises(UnitsInputError, match="line 1: code 97140"):
        visit_units([("97140", 23)], catalogue=cat)
    r = visit_units([("97110", 23), ("97165", 45)], catalogue=cat)
    assert r.explanation == "23 timed min → 2 units: 97110 23 min → 2; 97165 untimed → 1"


def test_result_object_behaves_like_a_plain_dataclass():
    # The engine builds its result with the constructor: it compares, hashes, copies and pickles
    # like any frozen dataclass, explanation included.
    r = visit_units([("97112", 24), ("97110", 23), ("97165", None)], "cms")
    built = VisitUnits(
        UnitRule.CMS,
        ("97112", "97110", "97165"),
        (2, 1, 1),
        4,
        47,
        (),
        "47 timed min → 3 units: 97112 24 min → 2 (larger leftover), 97110 23 min → 1; 97165 untimed → 1",
    )
    assert r == built
    assert hash(r) == hash(built)
    assert pickle.loads(pickle.dumps(visit_units([("97110", 20), ("97112", 20)]))).alternatives == ((1, 2),)
    assert copy.copy(visit_units([("97110", 8)])).explanation == "8 timed min → 1 unit: 97110 8 min → 1"
    assert "explanation=" in repr(visit_units([("97110", 8)]))
    with pytest.raises(AttributeError):
        r.no_such_field  # noqa: B018


def test_by_code_and_alternatives_by_code():
    r = visit_units([("97129", 10), ("97110", 7), ("97130", 13), ("97110", 3)], "cms")
    # Services: cognitive 23 min, 97110 10 min → 33 → 2 units. Full: 1, 0; one remainder;
    # leftovers 8 (cognitive) vs 10 (97110) → 97110. Cognitive 1 unit → 97129×1, 97130×0.
    assert r.units == (1, 1, 0, 0)
    assert r.by_code() == {"97129": 1, "97110": 1, "97130": 0}
    assert r.alternatives_by_code() == []


# --- properties ----------------------------------------------------------------------------------

minutes_st = st.integers(min_value=0, max_value=130)
timed_line = st.tuples(st.sampled_from(PLAIN_TIMED), minutes_st)
untimed_line = st.tuples(st.sampled_from(UNTIMED), st.one_of(st.none(), minutes_st))
family_line = st.tuples(st.sampled_from(sorted(FAMILY_CODES)), st.integers(min_value=0, max_value=260))
any_line = st.one_of(timed_line, timed_line, untimed_line, family_line)


def _sum_minutes(lines, codes=None) -> dict[str, int]:
    out: dict[str, int] = {}
    for code, m in lines:
        if codes is None or code in codes:
            out[code] = out.get(code, 0) + (m or 0)
    return out


def _expected_total(lines, rule: str) -> int:
    """Independent total: pool (or per-code) for 15-minute services, +1 per untimed code,
    + family_units for time-based families."""
    services: dict[str, int] = {}
    untimed = set()
    for code, m in lines:
        if code in FAMILY_CODES:
            fam = next(f for f in FAMILIES if code in (f.base, f.addon))
            services[fam.base] = services.get(fam.base, 0) + (m or 0)
        elif code in PLAIN_TIMED:
            services[code] = services.get(code, 0) + (m or 0)
        else:
            untimed.add(code)
    pooled = {c: m for c, m in services.items() if c not in FAMILY or FAMILY[c].pooled}
    scaled = sum(
        sum(family_units(FAMILY[c], m)) for c, m in services.items() if c in FAMILY and not FAMILY[c].pooled
    )
    by_pool = (sum(pooled.values()) + 7) // 15  # facts §1.2 on the pooled minutes
    by_code = sum((m + 7) // 15 for m in pooled.values())  # facts §1.5 per code
    return (by_pool if rule == "cms" else by_code) + len(untimed) + scaled


@given(st.lists(any_line, max_size=7), st.sampled_from(["cms", "ama"]))
def test_total_matches_the_minutes(lines, rule):
    r = visit_units(lines, rule)
    # (units a base-only family cannot carry — once a day — are listed as unplaced, never lost)
    assert r.total_units == sum(r.units) == _expected_total(lines, rule) - sum(u for _, u in r.unplaced)
    assert len(r.units) == len(lines)
    assert all(u >= 0 for u in r.units)


@given(st.lists(timed_line, max_size=7))
def test_cms_total_is_the_pool_formula(lines):
    r = visit_units(lines, "cms")
    m = sum(m for _, m in lines)
    assert r.timed_minutes == m
    assert r.total_units == (m + 7) // 15


@given(st.lists(timed_line, max_size=7))
def test_cms_full_units_floor_holds_for_pick_and_alternatives(lines):
    r = visit_units(lines, "cms")
    minutes = _sum_minutes(lines)
    for alloc in [r.by_code(), *r.alternatives_by_code()]:
        assert sum(alloc.values()) == r.total_units
        for code, m in minutes.items():
            assert alloc[code] >= m // 15  # ≥ 15·k minutes → ≥ k units (facts §1.3 step 2)
            assert alloc[code] <= m // 15 + 1  # at most one remainder unit (§1.3 step 6)
    assert len(set(r.alternatives)) == len(r.alternatives)
    assert r.units not in r.alternatives


@given(st.lists(timed_line, max_size=7))
def test_ama_is_the_per_code_table(lines):
    r = visit_units(lines, "ama")
    assert r.by_code() == {code: (m + 7) // 15 for code, m in _sum_minutes(lines).items()}
    assert r.alternatives == ()


@given(st.lists(timed_line, max_size=6, unique_by=lambda line: line[0]))
def test_cms_tie_set_is_every_acceptable_allocation(lines):
    # Brute force (facts §1.3): full units each, then the remainder units to a set W of codes with
    # leftover > 0 such that no code outside W has a larger leftover than one inside W.
    r = visit_units(lines, "cms")
    codes = [c for c, _ in lines]
    mins = dict(lines)
    total = (sum(mins.values()) + 7) // 15
    rest = total - sum(m // 15 for m in mins.values())
    positive = [c for c in codes if mins[c] % 15]
    expected = set()
    for winners in combinations(positive, rest):
        losers = [c for c in positive if c not in winners]
        if (
            not winners
            or not losers
            or min(mins[c] % 15 for c in winners) >= max(mins[c] % 15 for c in losers)
        ):
            alloc = {c: mins[c] // 15 + (c in winners) for c in codes}
            expected.add(tuple(sorted(alloc.items())))
    assert acceptable(r) == expected


@settings(max_examples=200)
@given(st.lists(any_line, max_size=7).flatmap(lambda ls: st.tuples(st.just(ls), st.permutations(ls))))
def test_order_independent_and_deterministic(pair):
    lines, shuffled = pair
    for rule in ("cms", "ama"):
        a = visit_units(lines, rule)
        b = visit_units(shuffled, rule)
        assert a.by_code() == b.by_code()
        assert a.alternatives_by_code() == b.alternatives_by_code()
        assert a.total_units == b.total_units
        assert visit_units(lines, rule) == a


@given(st.lists(any_line, max_size=7), st.sampled_from(["cms", "ama"]))
def test_fast_path_and_general_path_agree(lines, rule):
    # " 97110" is not a catalogue key as typed, so these lines take the general (normalizing) path.
    padded = [(f" {code.lower()} ", m) for code, m in lines]
    assert visit_units(padded, rule) == visit_units(lines, rule)


@given(
    st.lists(timed_line, min_size=1, max_size=5),
    st.data(),
)
def test_errors_name_the_bad_line(lines, data):
    k = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    bad = list(lines)
    bad[k] = ("00000", 10)
    with pytest.raises(UnitsInputError, match=f"line {k + 1}:"):
        visit_units(bad, "cms")
    bad[k] = (lines[k][0], -data.draw(st.integers(min_value=1, max_value=500)))
    with pytest.raises(UnitsInputError, match=f"line {k + 1}: minutes -"):
        visit_units(bad, "ama")


def test_huge_tie_is_capped():
    # 15 timed codes of 7 min each = 105 min → (105+7)//15 = 7 units, all remainders on equal
    # leftovers of 7: C(15, 7) = 6435 allocations, the pick plus MAX_ALTERNATIVES others listed.
    lines = [(code, 7) for code in PLAIN_TIMED[:15]]
    assert len(lines) == 15
    r = visit_units(lines, "cms")
    assert r.total_units == 7
    assert len(r.alternatives) == MAX_ALTERNATIVES
    assert all(sum(alt) == 7 for alt in r.alternatives)
    assert f"only the first {MAX_ALTERNATIVES} other choices are listed" in r.explanation
