"""NCCI rules (domain/scrub/ncci.py) on inline records: MUEs by adjudication indicator and quarter, the
units ceiling where no MUE is loaded, and PTP pairs from imported CMS data or the shipped fallback.

The MUE values and PTP edits below are test tables written here, not CMS's values: what is checked is
the rule (facts §3 "MUE": MAI 1 line edit, MAI 2/3 date-of-service edits; facts §6: indicators 0/1/9,
column-2 code denied unless 59/X{EPSU} with indicator 1) and the hand-computed units.
"""

from __future__ import annotations

from datetime import date

import pytest
from test_scrub_support import NPI_OTA, PRACTICE, book, line, one, only, where

from otbill_xl.domain.findings import Severity
from otbill_xl.domain.scrub import RULES, scrub
from otbill_xl.domain.scrub.ncci import (
    DEFAULT_CEILING,
    MueEdit,
    MueTable,
    PtpEdit,
    shipped_pairs,
    tables,
    units_ceiling,
)

AS_OF = date(2026, 6, 30)
DOS = date(2026, 2, 2)


def ota(code, **kw):
    """The same code furnished by the OTA (GO + CO): a second line of the code that is not a duplicate
    (issue #12 §1, CMS's CQ/CO billing example)."""
    return line(code, npi=NPI_OTA, mods=("GO", "CO"), **kw)


def run(charges, *, ncci=None, practice=PRACTICE, as_of=AS_OF):
    return scrub(book(charges, practice=practice), as_of=as_of, ncci_tables=ncci)


def mue_tables(*quarters: tuple[date, dict[str, tuple[int, int]]]):
    return tables(mue=tuple(MueTable(start, {c: MueEdit(c, v, mai) for c, (v, mai) in edits.items()})
                            for start, edits in quarters))


# --- the units ceiling (no MUE loaded) ---------------------------------------------------------


def test_97110_450_minutes_gives_30_units_over_the_default_ceiling():
    # Issue #12 §3: 450 minutes of 97110 -> CMS 8-minute rule: (450 + 7) // 15 = 30 units, no finding before.
    r = run([line("97110", row=2, dos=DOS, minutes=450, units=None)])
    assert r.computed_units[2] == 30
    f = one(r, "ncci.units-ceiling")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 2, "Units")
    assert "30 units" in f.message and f"ceiling of {DEFAULT_CEILING} units" in f.message
    assert "MaxUnitsPerDay" in f.fix and "otbill refdata import-ncci" in f.fix


def test_30_units_entered_with_450_minutes_is_over_the_ceiling():
    r = run([line("97110", row=2, dos=DOS, minutes=450, units=30)])
    assert not only(r, "units.over-billed")  # the units match the minutes: only the ceiling catches it
    assert one(r, "ncci.units-ceiling").location.row == 2


def test_two_hours_of_one_code_is_at_the_ceiling_and_passes():
    # 120 minutes -> (120 + 7) // 15 = 8 units = the default ceiling of 8: not above it.
    r = run([line("97110", row=2, dos=DOS, minutes=120, units=None)])
    assert r.computed_units[2] == 8
    assert not only(r, "ncci.units-ceiling")


def test_ceiling_sums_the_code_over_the_day_not_other_days():
    # 75 + 75 minutes of 97110 on one day: 150 minutes -> 10 units (150 / 15), entered 5 + 5 = 10 > 8.
    day = [line("97110", row=2, dos=DOS, minutes=75, units=5), ota("97110", row=3, dos=DOS, minutes=75, units=5)]
    r = run(day)
    assert [f.location.row for f in only(r, "ncci.units-ceiling")] == [2, 3]
    other_day = [line("97110", row=2, dos=DOS, minutes=75, units=5),
                 ota("97110", row=3, dos=date(2026, 2, 3), minutes=75, units=5)]
    assert not only(run(other_day), "ncci.units-ceiling")


@pytest.mark.parametrize(("setting", "fires"), [("30", False), ("29", True)])
def test_practice_setting_raises_the_ceiling(setting, fires):
    practice = PRACTICE.model_copy(update={"extra": {"MaxUnitsPerDay": setting}})
    r = run([line("97110", row=2, dos=DOS, minutes=450, units=None)], practice=practice)
    assert bool(only(r, "ncci.units-ceiling")) is fires
    assert not only(r, "ncci.ceiling-setting")


def test_unusable_ceiling_setting_is_reported_and_the_default_applies():
    practice = PRACTICE.model_copy(update={"extra": {"MaxUnitsPerDay": "lots"}})
    assert units_ceiling(practice) == (DEFAULT_CEILING, "MaxUnitsPerDay 'lots' is not a whole number of units of 1 "
                                                        "or more")
    r = run([line("97110", row=2, dos=DOS, minutes=450, units=None)], practice=practice)
    f = one(r, "ncci.ceiling-setting")
    assert f.severity is Severity.WARNING and f.location.sheet == "Practice"
    assert one(r, "ncci.units-ceiling")


def test_code_with_a_sourced_daily_limit_is_left_to_that_rule():
    # 97129 has a daily limit of 1 (refdata/unit_limits.csv, facts §1.6): units.daily-limit reports it.
    r = run([line("97129", row=2, dos=DOS, minutes=None, units=9)])
    assert not only(r, "ncci.units-ceiling")


# --- MUEs ----------------------------------------------------------------------------------------


def test_mue_line_edit_mai_1_checks_each_line():
    ncci = mue_tables((date(2026, 1, 1), {"97110": (4, 1)}))
    # 75 minutes -> 5 units (75 / 15): over an MUE of 4 on the line.
    r = run([line("97110", row=2, dos=DOS, minutes=75, units=5)], ncci=ncci)
    f = one(r, "ncci.mue")
    assert where(f) == ("Charges", 2, "Units") and f.severity is Severity.ERROR
    assert "MUE is 4 per line (MAI 1" in f.message and "whole line" in f.message
    assert not only(r, "ncci.units-ceiling")
    # 3 + 3 units on two lines (45 + 45 minutes = 90 -> 6 units): each line is within 4.
    two = [line("97110", row=2, dos=DOS, minutes=45, units=3), ota("97110", row=3, dos=DOS, minutes=45, units=3)]
    assert not only(run(two, ncci=ncci), "ncci.mue")


@pytest.mark.parametrize("mai", [2, 3])
def test_mue_date_of_service_edit_sums_the_day(mai):
    ncci = mue_tables((date(2026, 1, 1), {"97110": (4, mai)}))
    two = [line("97110", row=2, dos=DOS, minutes=45, units=3), ota("97110", row=3, dos=DOS, minutes=45, units=3)]
    found = only(run(two, ncci=ncci), "ncci.mue")
    assert [f.location.row for f in found] == [2, 3]  # 3 + 3 = 6 > 4: every line of the code that day
    assert f"MAI {mai}" in found[0].message and "6 units" in found[0].message
    assert ("not paid even on appeal" in found[0].fix) is (mai == 2)
    # 2 + 2 = 4: at the MUE, not over it (30 + 30 minutes -> 4 units).
    ok = [line("97110", row=2, dos=DOS, minutes=30, units=2), ota("97110", row=3, dos=DOS, minutes=30, units=2)]
    assert not only(run(ok, ncci=ncci), "ncci.mue")


def test_mue_of_the_quarter_of_the_dos():
    ncci = mue_tables((date(2026, 1, 1), {"97110": (4, 3)}), (date(2026, 4, 1), {"97110": (6, 3)}))
    # The same visit pattern (75 minutes, 5 units) in two quarters: over 4 in Q1, within 6 in Q2.
    lines = [line("97110", row=2, dos=date(2026, 3, 31), minutes=75, units=5),
             line("97110", row=3, dos=date(2026, 4, 1), minutes=75, units=5)]
    r = run(lines, ncci=ncci)
    assert [f.location.row for f in only(r, "ncci.mue")] == [2]
    assert "table of 2026-01-01" in one(r, "ncci.mue").message


def test_no_mue_table_for_the_dos_or_the_code_falls_back_to_the_ceiling():
    ncci = mue_tables((date(2026, 1, 1), {"97140": (4, 1)}))
    # DOS before the first table: no MUE; 5 units is within the ceiling of 8.
    assert not only(run([line("97110", row=2, dos=date(2025, 12, 15), minutes=75, units=5)], ncci=ncci), "ncci.mue")
    # A code without an MUE in the table: the ceiling applies and says the table has none.
    f = one(run([line("97110", row=2, dos=DOS, minutes=450, units=30)], ncci=ncci), "ncci.units-ceiling")
    assert "MUE table has no value" in f.message


# --- PTP pairs from imported data ---------------------------------------------------------------


def ptp(*edits: PtpEdit):
    by: dict[str, list[PtpEdit]] = {}
    for e in edits:
        by.setdefault(e.column1, []).append(e)
    return tables({k: tuple(v) for k, v in by.items()}, ptp_label="CMS PTP edits of 2026-01-01")


def _visit(code1="97530", code2="97535", mods2=("GO",), dos=DOS):
    return [line(code1, row=2, dos=dos, minutes=30, units=2), line(code2, row=3, dos=dos, mods=mods2, minutes=15,
                                                                   units=1)]


def test_indicator_0_denies_column_2_even_with_59():
    ncci = ptp(PtpEdit("97530", "97535", "0", date(2025, 1, 1), None, "Mutually exclusive"))
    f = one(run(_visit(mods2=("GO", "59")), ncci=ncci), "ncci.ptp-pair")
    assert where(f) == ("Charges", 3, "Code") and f.severity is Severity.ERROR
    assert "cannot be billed" in f.message and "row 2" in f.message


@pytest.mark.parametrize("mod", ["59", "XE", "XS", "XP", "XU"])
def test_indicator_1_passes_with_a_distinct_service_modifier_on_column_2(mod):
    ncci = ptp(PtpEdit("97530", "97535", "1", date(2025, 1, 1), None, ""))
    assert not only(run(_visit(mods2=("GO", mod)), ncci=ncci), "ncci.ptp-pair")


def test_indicator_1_without_modifier_is_an_error_on_column_2():
    ncci = ptp(PtpEdit("97530", "97535", "1", date(2025, 1, 1), None, ""))
    r = run(_visit(), ncci=ncci)
    f = one(r, "ncci.ptp-pair")
    assert where(f) == ("Charges", 3, "Mod2") and "XU" in f.fix
    assert "CMS PTP edits of 2026-01-01" in f.message
    # The modifier on the column-1 line does not help (it belongs on the column-2 code, facts §4/§6).
    lines = _visit()
    lines[0] = line("97530", row=2, dos=DOS, mods=("GO", "59"), minutes=30, units=2)
    assert one(run(lines, ncci=ncci), "ncci.ptp-pair").location.row == 3


def test_indicator_9_is_no_edit():
    ncci = ptp(PtpEdit("97530", "97535", "9", date(2025, 1, 1), date(2025, 1, 1), ""))
    assert not only(run(_visit(), ncci=ncci), "ncci.ptp-pair")


def test_pair_applies_from_effective_date_until_the_deletion_date():
    ncci = ptp(PtpEdit("97530", "97535", "1", date(2026, 1, 1), date(2026, 4, 1), ""))
    assert not only(run(_visit(dos=date(2025, 12, 31)), ncci=ncci), "ncci.ptp-pair")
    assert only(run(_visit(dos=date(2026, 1, 1)), ncci=ncci), "ncci.ptp-pair")
    assert only(run(_visit(dos=date(2026, 3, 31)), ncci=ncci), "ncci.ptp-pair")
    assert not only(run(_visit(dos=date(2026, 4, 1)), ncci=ncci), "ncci.ptp-pair")


def test_imported_ptp_replaces_the_shipped_pairs():
    # 97150/97110 is a shipped pair (facts §6); CMS's imported file without it means no edit.
    ncci = ptp(PtpEdit("97530", "97535", "1", date(2025, 1, 1), None, ""))
    lines = [line("97150", row=2, dos=DOS, minutes=None, units=1),
             line("97110", row=3, dos=DOS, minutes=30, units=2)]
    r = run(lines, ncci=ncci)
    assert not only(r, "ncci.ptp-pair") and not only(r, "ncci.pair-unverified")


# --- the shipped fallback -------------------------------------------------------------------------


def _shipped_pair(mods2=("GO",)):
    # 97150 (group) with 97110 column 2: indicator 1, in effect from 2020-10-01 (facts §6, Montero [S]).
    return [line("97150", row=2, dos=DOS, minutes=None, units=1),
            line("97110", row=3, dos=DOS, mods=mods2, minutes=30, units=2)]


def test_shipped_pair_without_import_is_a_warning_that_says_to_import():
    assert RULES["ncci.pair-unverified"].severity is Severity.WARNING
    f = one(run(_shipped_pair()), "ncci.pair-unverified")
    assert where(f) == ("Charges", 3, "Mod2")
    assert "secondary sources" in f.message and "otbill refdata import-ncci" in f.fix
    assert not only(run(_shipped_pair(), ncci=mue_tables((date(2026, 1, 1), {}))), "ncci.ptp-pair")


def test_shipped_pair_with_xu_passes():
    assert not only(run(_shipped_pair(mods2=("GO", "XU"))), "ncci.pair-unverified")


def test_shipped_pair_deleted_window_passes():
    # 97530/97116: deleted 2020-04-01, reinstated 2020-10-01 (facts §6).
    lines = [line("97530", row=2, dos=date(2020, 6, 1), minutes=30, units=2),
             line("97116", row=3, dos=date(2020, 6, 1), mods=("GP",), minutes=15, units=1)]
    assert not only(run(lines, as_of=date(2020, 7, 1)), "ncci.pair-unverified")


def test_weak_97760_pairs_are_no_longer_shipped():
    # facts §6: 97760/97110 and 97760/97140 rest on a weak secondary quote with unknown orientation.
    pairs = {(p.column1, p.column2) for edits in shipped_pairs().values() for p in edits}
    assert ("97760", "97110") not in pairs and ("97760", "97140") not in pairs
    lines = [line("97760", row=2, dos=DOS, minutes=30, units=2), line("97110", row=3, dos=DOS, minutes=15, units=1)]
    assert not only(run(lines), "ncci.pair-unverified")


def test_reevaluation_is_column_2_of_a_shipped_pair():
    r = run([line("97530", row=2, dos=DOS), line("97168", row=3, dos=DOS, minutes=None, units=1)])
    assert one(r, "ncci.pair-unverified").location.row == 3


def test_cached_visits_agree_with_uncached_across_quarters_and_pair_dates(monkeypatch):
    # The engine reuses a visit pattern's result within an era; the eras must follow the MUE quarters
    # and PTP dates of the book's codes. Same patterns on days around each change, cache on and off.
    import otbill_xl.domain.scrub as engine

    ncci = tables({"97530": (PtpEdit("97530", "97535", "1", date(2026, 3, 1), date(2026, 5, 1), ""),)},
                  (MueTable(date(2026, 1, 1), {"97530": MueEdit("97530", 3, 3), "97140": MueEdit("97140", 4, 1)}),
                   MueTable(date(2026, 4, 1), {"97530": MueEdit("97530", 2, 1), "97140": MueEdit("97140", 4, 1)}),
                   MueTable(date(2026, 6, 1), {"97530": MueEdit("97530", 2, 1)})))
    days = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 27), date(2026, 3, 2), date(2026, 3, 31),
            date(2026, 4, 1), date(2026, 4, 30), date(2026, 5, 1), date(2026, 6, 1)]
    lines, row = [], 2
    for d in days:
        lines += [line("97530", row=row, dos=d, minutes=45, units=3), line("97535", row=row + 1, dos=d, minutes=15,
                                                                             units=1),
                  line("97140", row=row + 2, pid="P2", dos=d, minutes=150, units=10)]
        row += 3
    fast = run(lines, ncci=ncci)
    monkeypatch.setattr(engine, "_USE_VISIT_CACHE", False)
    slow = run(lines, ncci=ncci)
    assert fast.findings == slow.findings
    assert {f.rule for f in fast.findings} >= {"ncci.mue", "ncci.ptp-pair", "ncci.units-ceiling"}
