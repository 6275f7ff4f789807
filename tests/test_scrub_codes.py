"""Code rules: unknown/deleted/not-yet-effective codes, discipline fit, add-ons, evaluations."""

from __future__ import annotations

from datetime import date

from test_scrub_support import NPI_OT, NPI_PT, clean_lines, line, one, only, run, where

from otbill_xl.domain.findings import Severity


def test_code_unknown():
    """97111 is no code (a typo of 97110): the catalogue holds every code of the 97xxx therapy section."""
    r = run([line("97111", row=5)])
    f = one(r, "code.unknown")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 5, "Code")
    assert "97111" in f.message
    assert one(run([line("9711", row=5)]), "code.unknown").severity is Severity.ERROR  # not CPT/HCPCS-shaped


def test_codes_outside_the_therapy_catalogue_are_billed_with_a_warning():
    """OTs bill orthotics (HCPCS L3908 wrist-hand orthosis), splints (CPT 29125 short arm splint) and
    supplies (facts §3): a warning that the therapy checks do not apply — never a held-back line."""
    for code in ("L3908", "29125", "A4565"):
        r = run([line(code, row=5, minutes=None, units=1)])
        f = one(r, "code.not-in-catalogue")
        assert f.severity is Severity.WARNING and code in f.message
        assert not only(r, "code.unknown")
        assert not [x for x in r.findings if x.severity is Severity.ERROR], [str(x) for x in r.findings]


def test_code_unknown_blank_and_name_not_echoed():
    r = run([line("", row=5), line("SMITH", row=6)])
    found = only(r, "code.unknown")
    assert [f.location.row for f in found] == [5, 6]
    assert all("SMITH" not in f.message for f in found)


def test_code_known_passes():
    assert not only(run(clean_lines()), "code.unknown")


def test_code_deleted_97003_hints_complexity_without_auto_mapping():
    # facts §9: 97003 deleted for DOS from 2017-01-01; hint 97165-97167, no single replacement.
    r = run([line("97003", row=7, minutes=None, units=1)])
    f = one(r, "code.deleted")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 7, "Code")
    assert "2017-01-01" in f.message
    assert all(c in f.fix for c in ("97165", "97166", "97167"))


def test_code_deleted_97004_maps_to_97168():
    f = one(run([line("97004", row=7, minutes=None, units=1)]), "code.deleted")
    assert "97168" in f.fix


def test_code_deleted_passes_before_deletion_date():
    r = run([line("97003", row=7, dos=date(2016, 12, 31), minutes=None, units=1)])
    assert not only(r, "code.deleted")


def test_code_not_yet_effective():
    # 97129 starts 2020-01-01 (facts §1.6).
    r = run([line("97129", row=3, dos=date(2019, 12, 31), minutes=15, units=1)])
    f = one(r, "code.not-yet-effective")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "Code")
    r = run([line("97129", row=3, dos=date(2020, 1, 1), minutes=15, units=1)])
    assert not only(r, "code.not-yet-effective")


def test_pt_evaluation_on_go_line_is_info():
    # 97161's descriptor names its discipline ("Physical therapy evaluation", CY2017 PFS final rule
    # Table 23), so a GO line more likely has the wrong code; no source says the payer denies it: info.
    r = run([line("97161", row=4, minutes=None, units=1)])  # OT renders, GO
    f = one(r, "code.discipline-mismatch")
    assert f.severity is Severity.INFO
    assert where(f) == ("Charges", 4, "Code")
    assert "97165" in f.fix


def test_ot_evaluation_on_gp_line():
    r = run([line("97165", row=4, npi=NPI_PT, mods=("GP",), minutes=None, units=1)])
    f = one(r, "code.discipline-mismatch")
    assert f.severity is Severity.INFO
    assert where(f) == ("Charges", 4, "Code")
    assert "97161" in f.fix


def _not_info(r) -> list[str]:
    return [str(f) for f in r.findings if f.severity is not Severity.INFO]


def test_pt_typical_codes_under_an_ot_plan_are_valid():
    # facts §4: "The modifier follows the plan of care, not the code (e.g. 97110 under an OT plan = GO)";
    # facts §3: typical discipline "is not a rule ... 97116 or 97012 under an OT plan of care is billed
    # with GO". 97113 (aquatic) and 97116 (gait) 15 min each = 30 min → (30 + 7) // 15 = 2 units, 1 each;
    # 97012 (traction) is untimed: 1 unit.
    r = run([line("97113", row=2, minutes=15, units=1), line("97116", row=3, minutes=15, units=1),
             line("97012", row=4, minutes=None, units=1)])
    assert not _not_info(r)
    found = only(r, "code.discipline-mismatch")
    assert [f.location.row for f in found] == [2, 3, 4]
    assert all(f.severity is Severity.INFO for f in found)
    assert "plan of care" in found[1].message and "GO" in found[1].message
    assert "Nothing to change" in found[1].fix


def test_pt_535_with_gp_is_valid():
    # A PT's 97535 (self-care training) under the PT plan of care is billed GP (facts §4): 15 min → 1 unit.
    r = run([line("97535", row=2, npi=NPI_PT, mods=("GP",), minutes=15, units=1)])
    assert not _not_info(r)
    assert one(r, "code.discipline-mismatch").severity is Severity.INFO


def test_discipline_match_passes():
    r = run([line("97165", row=4, minutes=None, units=1),
             line("97161", row=5, pid="P2", npi=NPI_PT, mods=("GP",), minutes=None, units=1)])
    assert not only(r, "code.discipline-mismatch")


def test_addon_without_base():
    r = run([line("97130", row=9, minutes=15, units=1)])
    f = one(r, "code.addon-without-base")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 9, "Code")
    assert "97129" in f.fix


def test_addon_with_base_same_day_passes_other_day_fails():
    ok = run([line("97129", row=2, minutes=15, units=1), line("97130", row=3, minutes=15, units=1)])
    assert not only(ok, "code.addon-without-base")
    bad = run([line("97129", row=2, minutes=15, units=1),
               line("97130", row=3, dos=date(2026, 2, 3), minutes=15, units=1)])
    assert one(bad, "code.addon-without-base").location.row == 3


def test_other_addon_families():
    for base, addon in (("97545", "97546"), ("96112", "96113"), ("97550", "97551")):
        r = run([line(addon, row=3, dos=date(2026, 2, 2), minutes=60, units=1)])
        assert base in one(r, "code.addon-without-base").fix


def test_untimed_over_1():
    r = run([line("97165", row=6, minutes=None, units=2)])
    f = one(r, "units.untimed-over-1")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 6, "Units")
    assert not only(run([line("97165", row=6, minutes=None, units=1)]), "units.untimed-over-1")


def test_group_code_over_1():
    assert one(run([line("97150", row=6, minutes=45, units=3)]), "units.untimed-over-1")


def test_eval_and_reeval_same_day():
    r = run([line("97165", row=2, minutes=None, units=1), line("97168", row=3, minutes=None, units=1)])
    f = one(r, "eval.eval-and-reeval-same-day")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "Code")
    assert "row 2" in f.message


def test_eval_and_reeval_other_days_or_disciplines_pass():
    r = run([line("97165", row=2, minutes=None, units=1),
             line("97168", row=3, dos=date(2026, 2, 3), minutes=None, units=1),
             line("97164", row=4, npi=NPI_PT, mods=("GP",), minutes=None, units=1)])
    assert not only(r, "eval.eval-and-reeval-same-day")


def test_eval_duplicate_same_day():
    r = run([line("97165", row=2, minutes=None, units=1), line("97166", row=3, minutes=None, units=1)])
    f = one(r, "eval.duplicate-same-day")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "Code")


def test_eval_ot_and_pt_same_day_passes():
    r = run([line("97165", row=2, npi=NPI_OT, minutes=None, units=1),
             line("97161", row=3, npi=NPI_PT, mods=("GP",), minutes=None, units=1)])
    assert not only(r, "eval.duplicate-same-day")
