"""Modifier rules: GO/GP/GN, CO/CQ and modifier cell shape (facts §4, §7); NCCI pairs: test_ncci_scrub.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
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


def test_wrong_discipline_never_from_the_code():
    # The modifier follows the plan of care, not the code (facts §4): with the provider unknown
    # (ref.rendering-unknown reports that), 97535 under GN or GP is not a wrong modifier, and a PTA's
    # 97535-GP-CQ is not "CQ on an OT line".
    r = run([line("97535", row=4, npi=NPI_UNLISTED, mods=("GN",)),
             line("97535", row=5, pid="P2", npi=NPI_UNLISTED, mods=("GP", "CQ"))])
    assert [f.location.row for f in only(r, "ref.rendering-unknown")] == [4, 5]
    assert not only(r, "mod.wrong-discipline")
    assert not only(r, "mod.cq-on-ot")
    assert not only(r, "mod.co-without-go")


def test_wrong_discipline_ot_providers_535_with_gp():
    # An OT's 97535 coded GP (the sample workbook's planted error): the OT's plan of care needs GO.
    f = one(run([line("97535", row=4, mods=("GP",))]), "mod.wrong-discipline")
    assert f.fix == "Change Mod1 to GO."
    assert "rendered by an OTR/L" in f.message


def test_wrong_discipline_passes_for_pt_line_with_gp():
    r = run([line("97110", row=4, npi=NPI_PT, mods=("GP",), minutes=30, units=2)])
    assert not only(r, "mod.wrong-discipline")


# --- GA / GY / GZ (ABN liability) and KX (facts §4) ---------------------------------------


@pytest.mark.parametrize(("mods", "column"), [(("GO", "GA", "GZ"), "Mod3"), (("GO", "GY", "GA"), "Mod3"),
                                              (("GO", "GZ", "GY"), "Mod3")])
def test_ga_gy_gz_on_one_line(mods, column):
    # facts §4: "Never put GA, GY and GZ on the same line" (Noridian GA page).
    f = one(run([line("97530", row=3, mods=mods)]), "mod.ga-gy-gz-together")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, column)


@pytest.mark.parametrize("mod", ["GA", "GZ", "GY"])
def test_one_liability_modifier_passes(mod):
    r = run([line("97530", row=3, mods=("GO", mod))])
    assert not only(r, "mod.ga-gy-gz-together")
    assert not only(r, "mod.kx-with-ga")


def test_kx_with_ga_is_a_warning():
    # facts §4: KX attests medical necessity; GA = ABN given, may not be necessary. Noridian's DME page
    # says GA can't be combined with KX — unverified for therapy, so a warning.
    f = one(run([line("97530", row=3, mods=("GO", "KX", "GA"))]), "mod.kx-with-ga")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Charges", 3, "Mod3")
    assert not only(run([line("97530", row=3, mods=("GO", "KX"))]), "mod.kx-with-ga")


def _kx_lines(mods):
    """test_pricing's KX numbers: prior spend 2,400.00, 2026 OT threshold $2,480 (facts §4); 97530 ×1
    → 2,424.85, 97110 ×2 → 2,470.81 (both below), 97165 ×1 → 2,568.14: at or past the threshold."""
    from test_pricing import D, book
    from test_pricing import line as priced_line

    lines = (priced_line("97530", 1), priced_line("97110", 2), priced_line("97165", 1, mods=mods))
    return lines, book(*lines, prior=D("2400.00"))


@pytest.mark.parametrize("mod", ["KX", "GA", "GZ"])
def test_past_kx_threshold_ga_or_gz_instead_of_kx_is_accepted(mod):
    # facts §4: past the threshold, KX if medically necessary and documented; otherwise an ABN + GA
    # (the patient may be liable) or GZ (no ABN: denied, provider liable). All three are the biller's choice.
    from otbill_xl.domain.pricing import price_book
    from otbill_xl.domain.scrub import scrub

    lines, b = _kx_lines(("GO", mod))
    assert not [f for f in scrub(b, as_of=date(2026, 9, 1)).findings if f.rule == "kx.missing"]
    crossing = price_book(b).lines[2]
    assert crossing.kx_running_total == Decimal("2568.14")
    assert crossing.kx_status == f"at or over threshold: {mod} present"


@pytest.mark.parametrize("mods", [("GO",), ("GO", "GY")])
def test_past_kx_threshold_without_kx_ga_gz_is_missing(mods):
    # GY (not a Medicare benefit) is no answer to the threshold: kx.missing stays, and its fix explains
    # the three choices.
    from otbill_xl.domain.scrub import scrub

    lines, b = _kx_lines(mods)
    found = [f for f in scrub(b, as_of=date(2026, 9, 1)).findings if f.rule == "kx.missing"]
    assert [f.location.row for f in found] == [lines[2].row]
    fix = found[0].fix
    assert all(m in fix for m in ("KX", "GA", "GZ", "ABN"))
    assert "medically necessary" in fix and "liable" in fix


def test_zero_unit_line_past_the_threshold_needs_no_kx():
    # A line set to 0 units (e.g. as units.under-8-minutes advises) is not billed (claims leave it out),
    # so it needs no KX even past the threshold; the same line with 1 unit does (97110 ×1 30.33 →
    # 2,598.47, per test_pricing).
    from test_pricing import D, book
    from test_pricing import line as priced_line

    from otbill_xl.domain.scrub import scrub

    head = (priced_line("97530", 1), priced_line("97110", 2), priced_line("97165", 1, mods=("GO", "KX")))
    for units, flagged in ((0, False), (1, True)):
        later = priced_line("97110", units, dos=date(2026, 8, 4))
        found = [f.location.row for f in scrub(book(*head, later, prior=D("2400.00")), as_of=date(2026, 9, 1)).findings
                 if f.rule == "kx.missing"]
        assert found == ([later.row] if flagged else [])


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


def test_co_on_a_therapists_line_is_accepted():
    """Assistants' services are billed under the supervising therapist (MBPM Ch.15 §230.1-230.4, facts
    §7a): CO on the OT's own line is how the biller records the assistant's part — no error, no
    warning; an info note only."""
    r = run([line("97530", row=6, npi=NPI_OT, mods=("GO", "CO"))])
    f = one(r, "mod.co-without-assistant")
    assert f.severity is Severity.INFO
    assert where(f) == ("Charges", 6, "Mod2")
    assert not [x for x in r.findings if x.severity is not Severity.INFO]


def test_assistant_without_co_for_medicare_is_an_error():
    """Medicare: CO/CQ on every service an OTA/PTA furnished, from 2020-01-01 (facts §4)."""
    r = run([line("97530", row=6, npi=NPI_OTA, mods=("GO",))])
    f = one(r, "mod.co-required")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 6, "Mod2")
    assert not only(r, "mod.assistant-missing-co")


def test_assistant_missing_co_other_payers_warns():
    """Other payers set their own assistant rules (facts §4, §7a [U]): a warning, never a hold."""
    r = run([line("97530", row=6, pid="P2", npi=NPI_OTA, mods=("GO",))])
    f = one(r, "mod.assistant-missing-co")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Charges", 6, "Mod2")
    assert "CO" in f.fix and "10%" in f.fix
    assert not only(r, "mod.co-required")


def test_assistant_missing_cq_for_pta():
    r = run([line("97110", row=6, pid="P2", npi=NPI_PTA, mods=("GP",), minutes=30, units=2)])
    assert "CQ" in one(r, "mod.assistant-missing-co").fix
    r = run([line("97110", row=6, npi=NPI_PTA, mods=("GP",), minutes=30, units=2)])
    assert "CQ" in one(r, "mod.co-required").fix


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
