"""Units vs minutes (facts §1): CMS 8-minute rule for Medicare (P1), AMA per-code for the commercial
payer (P2), minutes missing, lone services under 8 minutes, daily limits, per-discipline pooling.

Hand calculations: CMS units = (total timed minutes + 7) // 15; AMA = (minutes + 7) // 15 per code.
"""

from __future__ import annotations

from datetime import date

from test_scrub_support import NPI_OT, NPI_OTA, NPI_PT, clean_lines, line, one, only, run, where

from otbill_xl.domain.findings import Severity


def test_over_billed_cms():
    # 30 min → (30 + 7) // 15 = 2 units; 3 billed.
    r = run([line("97530", row=4, minutes=30, units=3)])
    f = one(r, "units.over-billed")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 4, "Units")
    assert f.fix.startswith("Bill 2 units of 97530 (CMS 8-minute rule")
    assert r.computed_units[4] == 2


def test_under_billed_cms():
    r = run([line("97530", row=4, minutes=30, units=1)])
    f = one(r, "units.under-billed")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Charges", 4, "Units")
    assert "Bill 2 units" in f.fix


def test_correct_units_pass():
    r = run(clean_lines())
    assert not [f for f in r.findings if f.rule.startswith("units.")]
    assert r.computed_units == {2: 2, 3: 1}


def test_cms_example_1():
    # facts §1.4 Example 1: 97112 24 + 97110 23 = 47 min → 3 units: 97112 ×2, 97110 ×1.
    ok = run([line("97112", row=2, minutes=24, units=2), line("97110", row=3, minutes=23, units=1)])
    assert not [f for f in ok.findings if f.rule.startswith("units.")]
    bad = run([line("97112", row=2, minutes=24, units=2), line("97110", row=3, minutes=23, units=2)])
    f = one(bad, "units.over-billed")
    assert f.location.row == 3
    assert "Bill 1 unit of 97110" in f.fix


def test_cms_tie_either_allocation_accepted():
    # facts §1.4 Example 2: 20 + 20 = 40 min → 3 units, either code ×2.
    for a, b in ((2, 1), (1, 2)):
        r = run([line("97112", row=2, minutes=20, units=a), line("97110", row=3, minutes=20, units=b)])
        assert not [f for f in r.findings if f.rule.startswith("units.")], (a, b)
        assert r.computed_units == {2: a, 3: b}
    r = run([line("97112", row=2, minutes=20, units=2), line("97110", row=3, minutes=20, units=2)])
    assert len(only(r, "units.over-billed")) == 1


def test_ama_per_code_for_commercial_payer():
    # 97110 10 + 97140 10: AMA 1 + 1 = 2 units (facts §1.5); CMS pools 20 min → 1 unit.
    ama = run([line("97110", row=2, pid="P2", minutes=10, units=1),
               line("97140", row=3, pid="P2", minutes=10, units=1)])
    assert not [f for f in ama.findings if f.rule.startswith("units.")]
    cms = run([line("97110", row=2, minutes=10, units=1), line("97140", row=3, minutes=10, units=1)])
    f = one(cms, "units.over-billed")
    assert "CMS 8-minute rule" in f.fix


def test_under_8_minutes_lone_service():
    r = run([line("97530", row=5, minutes=5, units=1)])
    f = one(r, "units.under-8-minutes")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 5, "Units")
    assert not only(r, "units.over-billed")
    assert r.computed_units[5] == 0


def test_two_short_services_reach_8_minutes_pass():
    # facts §1.3 step 5: 5 + 5 = 10 min → 1 unit, to either (tie).
    r = run([line("97530", row=5, minutes=5, units=1), line("97535", row=6, minutes=5, units=0)])
    assert not [f for f in r.findings if f.rule.startswith("units.")]


def test_under_8_not_reported_when_zero_units():
    assert not only(run([line("97530", row=5, minutes=5, units=0)]), "units.under-8-minutes")


def test_minutes_missing():
    r = run([line("97530", row=5, minutes=None, units=2)])
    f = one(r, "units.minutes-missing")
    assert f.severity is Severity.INFO
    assert where(f) == ("Charges", 5, "Minutes")
    assert 5 not in r.computed_units


def test_units_and_minutes_missing():
    f = one(run([line("97530", row=5, minutes=None, units=None)]), "units.missing")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 5, "Units")


def test_units_blank_minutes_given_are_computed():
    r = run([line("97530", row=5, minutes=38, units=None)])
    assert not [f for f in r.findings if f.rule.startswith("units.")]
    assert r.computed_units[5] == 3  # (38 + 7) // 15


def test_untimed_lines_get_one_unit():
    r = run([line("97165", row=2, minutes=None, units=1), line("97530", row=3, minutes=30, units=2)])
    assert r.computed_units == {2: 1, 3: 2}


def test_daily_limit_97129():
    # 97129 38 min alone: 3 units by the minutes, but 97129 is once a day (facts §1.6).
    r = run([line("97129", row=4, minutes=38, units=3)])
    f = one(r, "units.daily-limit")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 4, "Units")
    assert "97130" in f.fix


def test_daily_limit_97129_with_97130_passes():
    # 15 + 23 = 38 min → 3 units: 97129 ×1, 97130 ×2.
    r = run([line("97129", row=4, minutes=15, units=1), line("97130", row=5, minutes=23, units=2)])
    assert not [f for f in r.findings if f.rule.startswith("units.")]


def test_daily_limit_two_evaluation_lines():
    r = run([line("97165", row=2, minutes=None, units=1),
             line("97165", row=3, mods=("GO", "KX"), minutes=None, units=1)])
    assert one(r, "units.daily-limit").location.row == 3


def test_assistant_split_of_one_code_over_two_lines():
    # 97530 15 min by the OT (GO) + 15 min by the OTA (GO CO) = 30 min → 2 units in total.
    r = run([line("97530", row=2, npi=NPI_OT, minutes=15, units=1),
             line("97530", row=3, npi=NPI_OTA, mods=("GO", "CO"), minutes=15, units=1)])
    assert not [f for f in r.findings if f.rule.startswith("units.")]
    assert r.computed_units == {2: 1, 3: 1}


def test_group_by_discipline_switch():
    # OT 97530 10 min + PT 97110 10 min, 1 unit each. Per discipline: 10 → 1 and 10 → 1.
    # Pooled: 20 min → (20 + 7) // 15 = 1 unit for the day.
    lines = [line("97530", row=2, minutes=10, units=1),
             line("97110", row=3, npi=NPI_PT, mods=("GP",), minutes=10, units=1)]
    assert not [f for f in run(lines).findings if f.rule.startswith("units.")]
    pooled = run(lines, group_by_discipline=False)
    assert len(only(pooled, "units.over-billed")) == 1


def test_deleted_code_left_out_of_units():
    r = run([line("97532", row=2, dos=date(2026, 2, 2), minutes=30, units=2)])
    assert 2 not in r.computed_units
    assert not [f for f in r.findings if f.rule.startswith("units.")]


# --- untimed codes: what one unit counts (refdata/codes.csv unit_counts, SOURCES.md) -------------


def test_95851_each_extremity_allows_more_than_one_unit():
    # Descriptor of 95851: "Range-of-motion measurements and report (separate procedure); each extremity
    # (excluding hand) or each trunk section (spine)" — both arms and the lumbar spine measured = 3 units
    # on one line (AAPC: "multiply it by the number of limbs tested ... 95851 x 2" for both arms).
    r = run([line("95851", row=2, minutes=None, units=3)])
    assert not [f for f in r.findings if f.rule.startswith("units.")]


def test_95852_hand_is_one_unit_per_session():
    # Descriptor of 95852: "hand, with or without comparison with normal side" — one measurement of the
    # hand(s), not "each": 2 units is over.
    f = one(run([line("95852", row=2, minutes=None, units=2)]), "units.untimed-over-1")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 2, "Units")
    assert "1 unit per session" in f.message


def test_untimed_over_1_message_names_the_unit():
    # 95992 (canalith repositioning) is "per day" (ot-codes.csv): 2 units on a line is over.
    f = one(run([line("95992", row=2, npi=NPI_PT, mods=("GP",), minutes=None, units=2)]), "units.untimed-over-1")
    assert "1 unit per day" in f.message


def test_95992_per_day_over_two_lines_is_the_daily_limit():
    # "per day": 1 + 1 units on two lines of one day = 2 > 1 (unit_limits.csv row for 95992); 59 keeps
    # the second line from being an exact duplicate row (dup.line).
    r = run([line("95992", row=2, npi=NPI_PT, mods=("GP",), minutes=None, units=1),
             line("95992", row=3, npi=NPI_PT, mods=("GP", "59"), minutes=None, units=1)])
    assert one(r, "units.daily-limit").location.row == 3
    assert not only(r, "units.untimed-over-1")


def test_orthotic_prosthetic_management_is_timed_per_15_minutes():
    # 97760 (orthotic management, initial encounter) and 97763 (subsequent encounter) are "per 15 min"
    # codes (ot-codes.csv kind=timed; facts §1.1 lists 97760): 45 min of 97760 → (45 + 7) // 15 = 3 units;
    # another day 30 min of 97763 → (30 + 7) // 15 = 2 units. Neither is held to 1 unit.
    r = run([line("97760", row=2, minutes=45, units=3),
             line("97763", row=3, dos=date(2026, 2, 9), minutes=30, units=2)])
    assert not [f for f in r.findings if f.rule.startswith("units.")]
    assert r.computed_units == {2: 3, 3: 2}


def test_every_untimed_code_says_what_a_unit_counts():
    # The rule reads the catalogue, never a code list: every untimed / evaluation / group row has a value.
    from otbill_xl.domain.codes import catalogue
    from otbill_xl.domain.scrub._context import UNTIMED_KINDS

    missing = [i.code for i in catalogue() if i.kind in UNTIMED_KINDS and not i.unit_counts]
    assert not missing
    assert [i.code for i in catalogue() if i.kind in UNTIMED_KINDS and i.counts_items] == ["95851"]
