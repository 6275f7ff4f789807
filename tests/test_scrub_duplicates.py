"""Duplicate rules: identical lines, and PT/OT lines on one day without their modifier."""

from __future__ import annotations

from test_scrub_support import NPI_OTA, NPI_PT, line, one, only, run, where

from otbill_xl.domain.findings import Severity


def test_dup_line_flags_later_rows():
    r = run([line(row=2), line("97535", row=3, minutes=15, units=1), line(row=4), line(row=5)])
    found = only(r, "dup.line")
    assert [where(f) for f in found] == [("Charges", 4, "Code"), ("Charges", 5, "Code")]
    assert found[0].severity is Severity.ERROR
    assert "row 2 (line L2)" in found[0].message


def test_dup_line_modifier_order_does_not_matter():
    r = run([line(row=2, mods=("GO", "KX")), line(row=3, mods=("KX", "GO"))])
    assert one(r, "dup.line").location.row == 3


def test_dup_line_left_out_of_units():
    r = run([line(row=2), line(row=3)])
    assert not [f for f in r.findings if f.rule.startswith("units.")]
    assert 3 not in r.computed_units


def test_same_code_other_modifiers_or_patient_passes():
    r = run([line(row=2, minutes=15, units=1),
             line(row=3, npi=NPI_OTA, mods=("GO", "CO"), minutes=15, units=1),
             line(row=4, pid="P2")])
    assert not only(r, "dup.line")


def test_pt_ot_same_day_missing_discipline_modifier():
    # Commercial payer (no GO requirement): OT 97530 without GO, PT 97110 with GP.
    r = run([line(row=2, pid="P2", mods=()),
             line("97110", row=3, pid="P2", npi=NPI_PT, mods=("GP",), minutes=30, units=2)])
    f = one(r, "dup.pt-ot-same-day")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Charges", 2, "Mod1")
    assert f.fix == "Add GO in Mod1."


def test_pt_ot_same_day_with_modifiers_passes():
    r = run([line(row=2, pid="P2"),
             line("97110", row=3, pid="P2", npi=NPI_PT, mods=("GP",), minutes=30, units=2)])
    assert not only(r, "dup.pt-ot-same-day")


def test_pt_ot_same_day_not_repeated_when_go_missing_reported():
    r = run([line(row=2, mods=()), line("97110", row=3, npi=NPI_PT, mods=("GP",), minutes=30, units=2)])
    assert one(r, "mod.go-missing").location.row == 2
    assert not only(r, "dup.pt-ot-same-day")
