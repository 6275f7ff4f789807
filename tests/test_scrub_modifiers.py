"""Modifier rules: GO/GP/GN, CO/CQ and modifier cell shape (facts §4, §7); NCCI pairs: test_ncci_scrub.py."""

from __future__ import annotations

from datetime import date

from test_scrub_support import (
    COM,
    MCR,
    NPI_OT,
    NPI_OTA,
    NPI_PT,
    NPI_PTA,
    NPI_UNLISTED,
    line,
    one,
    only,
    patient,
    run,
    where,
)

from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import Payer, PayerType


def test_go_missing_payer_requires_go():
    r = run([line("97530", row=3, mods=())])
    f = one(r, "mod.go-missing")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "Mod1")
    assert f.fix == "Add GO in Mod1."


def test_go_missing_free_column_after_other_modifier():
    f = one(run([line("97530", row=3, mods=("KX",))]), "mod.go-missing")
    assert where(f) == ("Charges", 3, "Mod2")
    assert "GO" in f.fix


def test_go_missing_medicare_advantage_always_therapy():
    ma = Payer(payer_key="MA", payer_type=PayerType.MEDICARE_ADVANTAGE)  # RequiresGO blank
    r = run([line("97530", row=3, mods=())], payers=(MCR, COM, ma),
            patients=(patient("P1", payer_key="MA"),))
    assert one(r, "mod.go-missing").location.row == 3


def test_go_not_required_by_commercial_payer():
    assert not only(run([line("97530", row=3, pid="P2", mods=())]), "mod.go-missing")


def test_go_present_passes():
    assert not only(run([line("97530", row=3)]), "mod.go-missing")


def test_wrong_discipline_gp_on_ot_providers_line():
    r = run([line("97530", row=4, mods=("GP",))])
    f = one(r, "mod.wrong-discipline")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 4, "Mod1")
    assert f.fix == "Change Mod1 to GO."
    assert not only(r, "code.discipline-mismatch")


def test_wrong_discipline_ot_only_code_unknown_provider():
    f = one(run([line("97535", row=4, npi=NPI_UNLISTED, mods=("GN",))]), "mod.wrong-discipline")
    assert f.fix == "Change Mod1 to GO."


def test_wrong_discipline_passes_for_pt_line_with_gp():
    r = run([line("97110", row=4, npi=NPI_PT, mods=("GP",), minutes=30, units=2)])
    assert not only(r, "mod.wrong-discipline")


def test_cq_on_ot_line():
    r = run([line("97530", row=5, npi=NPI_OTA, mods=("GO", "CQ"))])
    f = one(r, "mod.cq-on-ot")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 5, "Mod2")
    assert f.fix == "Change Mod2 to CO."
    assert not only(r, "mod.co-without-go")


def test_co_on_ota_line_passes():
    r = run([line("97530", row=5, npi=NPI_OTA, mods=("GO", "CO"))])
    assert not [f for f in r.findings if f.rule.startswith("mod.")]


def test_co_without_go():
    r = run([line("97530", row=5, pid="P2", npi=NPI_OTA, mods=("CO",))])
    f = one(r, "mod.co-without-go")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 5, "Mod1")
    assert "GO" in f.fix


def test_co_on_gp_line_suggests_cq():
    r = run([line("97110", row=5, pid="P2", npi=NPI_PTA, mods=("GP", "CO"), minutes=30, units=2)])
    f = one(r, "mod.co-without-go")
    assert where(f) == ("Charges", 5, "Mod2")
    assert "CQ" in f.fix


def test_cq_with_gp_passes():
    r = run([line("97110", row=5, pid="P2", npi=NPI_PTA, mods=("GP", "CQ"), minutes=30, units=2)])
    assert not [f for f in r.findings if f.rule.startswith("mod.")]


def test_co_without_assistant():
    r = run([line("97530", row=6, npi=NPI_OT, mods=("GO", "CO"))])
    f = one(r, "mod.co-without-assistant")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 6, "Mod2")
    assert "Remove CO" in f.fix


def test_assistant_missing_co():
    r = run([line("97530", row=6, npi=NPI_OTA, mods=("GO",))])
    f = one(r, "mod.assistant-missing-co")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Charges", 6, "Mod2")
    assert "CO" in f.fix and "10%" in f.fix


def test_assistant_missing_cq_for_pta():
    r = run([line("97110", row=6, pid="P2", npi=NPI_PTA, mods=("GP",), minutes=30, units=2)])
    assert "CQ" in one(r, "mod.assistant-missing-co").fix


def test_assistant_before_2020_needs_no_co():
    r = run([line("97530", row=6, npi=NPI_OTA, dos=date(2019, 12, 31), mods=("GO",))])
    assert not only(r, "mod.assistant-missing-co")


def test_modifier_invalid_shape():
    r = run([line("97530", row=7, mods=("GO", "G-"))])
    f = one(r, "mod.invalid")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 7, "Mod2")


def test_modifier_combined_cell():
    r = run([line("97530", row=7, mods=("GO,59",))])
    f = one(r, "mod.invalid")
    assert where(f) == ("Charges", 7, "Mod1")
    assert f.fix == "Put one modifier per column: Mod1 GO, Mod2 59."
    assert not only(r, "mod.go-missing")  # GO is read from the combined cell


def test_modifier_valid_passes():
    assert not only(run([line("97530", row=7, mods=("GO", "KX", "59", "XU"))]), "mod.invalid")


def test_modifier_duplicate():
    r = run([line("97530", row=8, mods=("GO", "GO"))])
    f = one(r, "mod.duplicate")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 8, "Mod2")
    assert not only(run([line("97530", row=8, mods=("GO", "KX"))]), "mod.duplicate")


def test_modifier_too_many():
    r = run([line("97530", row=9, npi=NPI_OTA, mods=("GO,59", "KX", "XU", "CO"))])
    f = one(r, "mod.too-many")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 9, "Mod4")
    assert not only(r, "mod.invalid")  # the combined cell is reported as too many, not twice
    assert not only(run([line("97530", row=9, mods=("GO", "59", "KX", "XU"))]), "mod.too-many")


def test_pt_line_with_pt_provider_and_unlisted_npi():
    # sanity: a PT line rendered by a PT with GP is clean of modifier findings
    r = run([line("97110", row=2, npi=NPI_PT, mods=("GP",), minutes=30, units=2)])
    assert not [f for f in r.findings if f.rule.startswith("mod.")]
