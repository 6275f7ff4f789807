"""Who is on the claim (issue #12 §1), each rule tested from its source in facts §7a:

* assistants bill under the supervising therapist (MBPM Ch.15 §230.1-230.4);
* Medicare and Medicaid members are their own subscriber (X12 RFI #263, #2281);
* a person billing provider is NM1*85*1 with last/first name; a solo therapist whose billing NPI
  rendered gets no 2310B (FCSO, Pub.100-04 Ch.26 §10.4); a PO Box goes in the pay-to loop 2010AB;
* every service line carries a line item control number (REF*6R), unique within the claim.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_scrub_support import (
    MCR,
    NPI_OT,
    NPI_OTA,
    PROVIDERS,
    line,
    one,
    only,
    run,
)
from test_x12_837 import ADULT as ADULT_ROW
from test_x12_837 import (
    AETNA,
    CHILD,
    CONTROL,
    CREATED,
    MEDICARE,
    PRACTICE,
    THERAPIST,
    claim,
)
from test_x12_837 import line as service
from typer.testing import CliRunner
from x12util import pyx12_validate

from otbill_xl.cli import app
from otbill_xl.domain.book import PracticeBook
from otbill_xl.domain.claims import assemble_claims, line_control_numbers
from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import AssistantsBill, Payer, PayerType, Provider
from otbill_xl.formats.x12 import write_837p
from otbill_xl.templates import sample


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def valid(text: str) -> str:
    ok, errors = pyx12_validate(text)
    assert ok, errors[:5]
    return text


# -- assistants under the supervising therapist ------------------------------------------------


def _assembled(charges, payers=(MCR,)):
    from test_scrub_support import PATIENTS
    from test_scrub_support import PRACTICE as SCRUB_PRACTICE

    charges = [c._replace(charge=Decimal("65.00") * c.units) for c in charges]
    book = PracticeBook(practice=SCRUB_PRACTICE, payers=tuple(payers), providers=PROVIDERS,
                        patients=PATIENTS, charges=tuple(charges))
    return assemble_claims(book, (), computed_units={})


def test_assistant_lines_render_under_the_supervisor():
    """An OTA's 97110-GO-CO and the supervising OT's 97140 on one day: one claim, rendered by the OT
    (the enrolled supervisor), CO kept on the OTA's line (facts §7a, §4)."""
    ota = line("97110", row=2, npi=NPI_OTA, mods=("GO", "CO"), minutes=23, units=1)
    ot = line("97140", row=3, npi=NPI_OT, mods=("GO",), minutes=30, units=2)
    claims = _assembled([ota, ot]).claims
    assert len(claims) == 1
    assert claims[0].rendering.npi == NPI_OT
    assert [(s.code, s.modifiers) for s in claims[0].lines] == [("97110", ("GO", "CO")), ("97140", ("GO",))]


def test_assistant_renders_for_a_payer_that_credentials_assistants():
    """``AssistantsBill`` = self: the OTA is the rendering provider (and a separate claim)."""
    own = MCR.model_copy(update={"assistants_bill": AssistantsBill.SELF})
    ota = line("97110", row=2, npi=NPI_OTA, mods=("GO", "CO"), minutes=23, units=1)
    ot = line("97140", row=3, npi=NPI_OT, mods=("GO",), minutes=30, units=2)
    claims = _assembled([ota, ot], payers=(own,)).claims
    assert sorted(c.rendering.npi for c in claims) == sorted([NPI_OTA, NPI_OT])


def test_assistant_without_supervisor_is_an_error():
    unsupervised = tuple(p.model_copy(update={"supervisor_npi": ""}) if p.npi == NPI_OTA else p for p in PROVIDERS)
    r = run([line("97530", row=5, npi=NPI_OTA, mods=("GO", "CO"))], providers=unsupervised)
    f = one(r, "ref.supervisor-missing")
    assert f.severity is Severity.ERROR and f.location.row == 5 and f.location.column == "RenderingNPI"
    assert "SupervisorNPI" in f.fix


def test_supervisor_must_be_listed_and_a_therapist():
    elsewhere = tuple(p.model_copy(update={"supervisor_npi": "1444444446"}) if p.npi == NPI_OTA else p
                      for p in PROVIDERS)
    assert one(run([line("97530", row=5, npi=NPI_OTA, mods=("GO", "CO"))], providers=elsewhere),
               "ref.supervisor-missing")
    another_ota = Provider(npi="1245319599", credential="COTA", supervisor_npi=NPI_OT)
    chained = tuple(p.model_copy(update={"supervisor_npi": "1245319599"}) if p.npi == NPI_OTA else p
                    for p in PROVIDERS) + (another_ota,)
    f = one(run([line("97530", row=5, npi=NPI_OTA, mods=("GO", "CO"))], providers=chained),
            "ref.supervisor-missing")
    assert "assistant" in f.message


def test_no_supervisor_needed_when_the_payer_credentials_assistants_or_a_therapist_treated():
    unsupervised = tuple(p.model_copy(update={"supervisor_npi": ""}) if p.npi == NPI_OTA else p for p in PROVIDERS)
    own = MCR.model_copy(update={"assistants_bill": AssistantsBill.SELF})
    from test_scrub_support import COM
    assert not only(run([line("97530", row=5, npi=NPI_OTA, mods=("GO", "CO"))], providers=unsupervised,
                        payers=(own, COM)), "ref.supervisor-missing")
    assert not only(run([line("97530", row=5, npi=NPI_OT)], providers=unsupervised), "ref.supervisor-missing")


def test_sample_demo_bills_ota_lines_under_the_supervisor_with_referring_providers(tmp_path):
    """The demo's Medicare file: no claim names the OTA (2310B is the supervising OT), every claim has
    a referring provider (2310A, NM102=1), and the OTA's lines carry CO (facts §7a, §4)."""
    result = CliRunner().invoke(app, ["demo", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.stdout
    ota = next(p for p in _sample_providers() if p["Credential"] == "OTA")
    medicare = next((tmp_path / "claims").glob("*MEDICARE*.837")).read_text()
    assert str(ota["NPI"]) not in medicare
    assert f"*XX*{ota['SupervisorNPI']}" in medicare
    segs = segments(medicare)
    claims = sum(s.startswith("CLM*") for s in segs)
    referring = [s for s in segs if re.fullmatch(r"NM1\*DN\*1\*[^*]+\*[^*]+\*\*\*\*XX\*\d{10}", s)]
    assert claims > 0 and len(referring) == claims
    assert ":GO:CO" in medicare
    for f in (tmp_path / "claims").glob("*.837"):  # every service line has its LineID as REF*6R
        segs = segments(f.read_text())
        lx = sum(s.startswith("LX*") for s in segs)
        assert lx == sum(bool(re.fullmatch(r"REF\*6R\*L\d{6}", s)) for s in segs) > 0


def _sample_providers() -> list[dict]:
    import openpyxl

    wb = openpyxl.load_workbook(Path(sample.__file__).resolve().parents[2] / "workbook_templates" / "examples"
                                / "sample-practice.xlsx", read_only=True)
    rows = list(wb["Providers"].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]


# -- the subscriber -------------------------------------------------------------------------------


def test_medicare_and_medicaid_members_are_their_own_subscriber():
    """X12 RFI #263: for Medicare and Medicaid the subscriber is the patient — no 2000C loop; the
    patient's address and DMG in 2010BA (RFI #2281); SBR02 = 18 (self)."""
    medicaid = Payer(payer_key="MCD", payer_name="State Medicaid", payer_type=PayerType.MEDICAID, payer_id="NJMCD")
    for payer in (MEDICARE, medicaid):
        c = claim("C2001", [service(1, "97530", 2, "130.50")], patient=CHILD, payer=payer, diagnoses=("F82",))
        assert not c.is_dependent
        text = valid(write_837p([c], PRACTICE, CONTROL, created=CREATED).text)
        segs = segments(text)
        assert not [s for s in segs if s.startswith("HL*") and s.endswith("*23*0")]  # no 2000C
        assert not [s for s in segs if s.startswith(("PAT*", "NM1*QC*"))]
        sbr = next(s for s in segs if s.startswith("SBR*"))
        assert sbr.split("*")[2] == "18"
        il = segs.index(next(s for s in segs if s.startswith("NM1*IL*")))
        assert segs[il + 1].startswith("N3*") and segs[il + 2].startswith("N4*") and segs[il + 3].startswith("DMG*")


def test_commercial_dependent_keeps_the_patient_loop():
    c = claim("C2002", [service(1, "97530", 2, "130.50")], patient=CHILD, payer=AETNA, diagnoses=("F82",))
    assert c.is_dependent
    segs = segments(valid(write_837p([c], PRACTICE, CONTROL, created=CREATED).text))
    assert "PAT*19" in segs and any(s.startswith("HL*") and s.endswith("*23*0") for s in segs)


# -- the billing provider -------------------------------------------------------------------------


def test_person_billing_provider_and_solo_therapist():
    """BillingEntityType 1: NM1*85*1 with last/first name; a claim rendered by the billing NPI itself
    has no 2310B (FCSO, Pub.100-04 Ch.26 §10.4)."""
    solo = PRACTICE.model_copy(update={"billing_entity_type": "1", "billing_last_name": "Delacroix",
                                       "billing_first_name": "Nadia", "billing_npi": THERAPIST.npi})
    c = claim("C3001", [service(1, "97530", 2, "130.50")])
    segs = segments(valid(write_837p([c], solo, CONTROL, created=CREATED).text))
    assert f"NM1*85*1*DELACROIX*NADIA****XX*{THERAPIST.npi}" in segs
    assert not [s for s in segs if s.startswith("NM1*82*")]


def test_pay_to_address_loop():
    """A PO Box goes in 2010AB (NM1*87, N3, N4), after the 2010AA billing provider (facts §7a)."""
    paid = PRACTICE.model_copy(update={"pay_to_address": "PO Box 4471", "pay_to_city": "Cherry Hill",
                                       "pay_to_state": "NJ", "pay_to_zip": "080344471"})
    segs = segments(valid(write_837p([claim("C3002", [service(1, "97530", 2, "130.50")])], paid, CONTROL,
                                     created=CREATED).text))
    i = segs.index("NM1*87*2")
    assert segs[i - 1].startswith("REF*EI*") and segs[i + 1] == "N3*PO BOX 4471" \
        and segs[i + 2] == "N4*CHERRY HILL*NJ*080344471"
    plain = segments(write_837p([claim("C3002", [service(1, "97530", 2, "130.50")])], PRACTICE, CONTROL,
                                created=CREATED).text)
    assert not [s for s in plain if s.startswith("NM1*87")]


# -- line item control numbers --------------------------------------------------------------------


def test_every_service_line_has_a_unique_line_control_number():
    """REF*6R after each line's DTP*472, the LineID (traceable to its Charges row), unique within the
    claim: a repeated or unsendable LineID falls back to R + the row number."""
    lines = [service(1, "97530", 2, "130.50"), service(2, "97140", 1, "65.55"),
             service(3, "97110", 1, "53.00")._replace(line_id="L1"),          # repeats L1
             service(4, "97112", 1, "58.00")._replace(line_id="bad id!"),     # a space and '!'
             service(5, "97535", 1, "60.00")._replace(line_id="")]            # blank
    assert line_control_numbers(lines) == ("L1", "L2", "R4", "R5", "R6")
    c = claim("C4001", lines)
    segs = segments(valid(write_837p([c], PRACTICE, CONTROL, created=CREATED).text))
    refs = [s for s in segs if s.startswith("REF*6R*")]
    assert refs == ["REF*6R*L1", "REF*6R*L2", "REF*6R*R4", "REF*6R*R5", "REF*6R*R6"]
    for n in range(1, 6):  # each REF*6R follows its line's DTP*472
        lx = segs.index(f"LX*{n}")
        assert segs[lx + 2].startswith("DTP*472*") and segs[lx + 3].startswith("REF*6R*")


def test_line_control_numbers_stay_unique_against_row_lookalikes():
    lines = [service(1, "97530", 2, "130.50")._replace(line_id="R3"),
             service(2, "97140", 1, "65.55")._replace(line_id="")]  # row 3 -> "R3" is taken
    assert line_control_numbers(lines) == ("R3", "R3X")


# -- the same code by an assistant and a therapist on one day -------------------------------------

# CMS's CQ/CO billing example (facts §4), retold for OT: OTA 97110 23 min (CO), OT 97110 13 min,
# OT 97140 30 min. Hand calculation: 66 timed minutes → 4 units (53-67 min, facts §1.2); 97110 has
# 36 min → 2 full+leftover units, 97140 30 min → 2. Of 97110's 2: the OTA's full 15 minutes are one
# unit with CO; the last unit goes to the OT, whose 13 minutes beat the OTA's 8 left over.
CMS_EXAMPLE = [("97110", 23, True, ("GO", "CO")), ("97110", 13, False, ("GO",)), ("97140", 30, False, ("GO",))]


def test_assistant_units_per_unit_rule():
    from otbill_xl.domain.units import assistant_units

    assert assistant_units(2, 23, 13) == 1          # CMS's example
    assert assistant_units(2, 13, 23) == 1          # roles swapped: the assistant's 13 beat the OT's 8
    assert assistant_units(2, 30, 0) == 2           # the assistant's two full units
    assert assistant_units(2, 12, 12) == 1          # CY2022: two units left, 9-14 minutes each → one each
    assert assistant_units(1, 5, 10) == 0           # the therapist furnished more of the one unit
    assert assistant_units(1, 9, 9) == 1            # equal: the assistant's part is far over 10 % of the unit
    assert assistant_units(0, 20, 20) == 0


def test_cms_example_both_ways_round_through_scrub_assembly_and_837p():
    from test_scrub_support import PATIENTS
    from test_scrub_support import PRACTICE as SCRUB_PRACTICE

    from otbill_xl.domain.scrub import scrub

    for order in (CMS_EXAMPLE, CMS_EXAMPLE[::-1]):
        charges = [line(code, row=2 + k, npi=NPI_OTA if by_ota else NPI_OT, mods=mods, minutes=minutes, units=None)
                   ._replace(charge=None) for k, (code, minutes, by_ota, mods) in enumerate(order)]
        practice = SCRUB_PRACTICE.model_copy(update={"tax_id": "123456789"})
        from otbill_xl.domain.models import ChargeMasterEntry
        book = PracticeBook(practice=practice, payers=(MCR,), providers=PROVIDERS, patients=PATIENTS,
                            charges=tuple(charges),
                            charge_master=(ChargeMasterEntry(code="97110", charge_per_unit=Decimal("50")),
                                           ChargeMasterEntry(code="97140", charge_per_unit=Decimal("60"))))
        scrubbed = scrub(book, as_of=date(2026, 3, 2))
        assert not [f for f in scrubbed.findings if f.severity is Severity.ERROR and f.location.sheet == "Charges"]
        units = {(c.code, c.mod2): scrubbed.computed_units[c.row] for c in charges}
        assert units == {("97110", "CO"): 1, ("97110", ""): 1, ("97140", ""): 2}
        claims = assemble_claims(book, scrubbed.findings, computed_units=scrubbed.computed_units).claims
        assert len(claims) == 1 and claims[0].rendering.npi == NPI_OT   # under the supervising OT
        billed = sorted((s.code, s.modifiers, s.units) for s in claims[0].lines)
        assert billed == [("97110", ("GO",), 1), ("97110", ("GO", "CO"), 1), ("97140", ("GO",), 2)]


def test_entered_units_split_the_wrong_way_is_an_error():
    """All of 97110's units typed on the OTA's line (or all on the OT's) bill the wrong share at 85 %."""
    for split in ((2, 0), (0, 2)):
        charges = [line("97110", row=2, npi=NPI_OTA, mods=("GO", "CO"), minutes=23, units=split[0]),
                   line("97110", row=3, npi=NPI_OT, mods=("GO",), minutes=13, units=split[1]),
                   line("97140", row=4, npi=NPI_OT, mods=("GO",), minutes=30, units=2)]
        f = one(run(charges), "units.assistant-split")
        assert f.severity is Severity.ERROR and "1 with CO/CQ and 1 without" in f.message
    right = [line("97110", row=2, npi=NPI_OTA, mods=("GO", "CO"), minutes=23, units=1),
             line("97110", row=3, npi=NPI_OT, mods=("GO",), minutes=13, units=1),
             line("97140", row=4, npi=NPI_OT, mods=("GO",), minutes=30, units=2)]
    assert not [f for f in run(right).findings if f.rule.startswith("units.")]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["97110", "97140", "97530", "97535", "97165", "97129", "97130"]),
                          st.integers(0, 70), st.booleans()), min_size=1, max_size=7),
       st.sampled_from(["cms", "ama"]))
def test_splitting_by_furnisher_never_changes_a_codes_units(lines, rule):
    """Who furnished the minutes moves units between a code's lines; it never changes how many units
    the code (and the visit) gets."""
    from otbill_xl.domain.units import visit_units

    plain = visit_units([(c, m) for c, m, _ in lines], rule)
    split = visit_units([(c, m) for c, m, _ in lines], rule, assistant=[a for *_, a in lines])
    assert split.by_code() == plain.by_code() and split.total_units == plain.total_units
    for code in {c for c, _, _ in lines}:
        mine = [i for i, (c, _, _) in enumerate(lines) if c == code]
        if len({lines[i][2] for i in mine}) == 1:  # one furnisher: units stay where they were
            assert [split.units[i] for i in mine] == [plain.units[i] for i in mine]


def test_otbill_units_splits_by_furnisher():
    """``otbill units`` takes "assistant": true per line and returns the per-line units (CMS's example)."""
    import json

    request = {"rule": "cms", "lines": [{"code": c, "minutes": m, "assistant": a} for c, m, a, _ in CMS_EXAMPLE]}
    result = CliRunner().invoke(app, ["units", "-"], input=json.dumps(request))
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    assert data["line_units"] == [1, 1, 2] and data["units"] == {"97110": 2, "97140": 2}
    bad = CliRunner().invoke(app, ["units", "-"], input=json.dumps({"lines": [{"code": "97110", "minutes": 5,
                                                                             "assistant": "yes"}]}))
    assert bad.exit_code != 0 and "assistant" in bad.stdout + (bad.stderr or "")


def test_97129_daily_limit_and_otbill_units_agree():
    """97129 is "first 15 minutes", once a day (facts §1.6, refdata/unit_limits.csv). 30 minutes of
    cognitive intervention on a lone 97129 line: (30 + 7) // 15 = 2 units — 97129 ×1 and 97130 ×1.
    `otbill units` puts 1 on the 97129 line and asks for a 97130 line; the scrubber computes the same
    1 unit (no daily-limit error holding the line back) and warns that the 97130 unit is not billed."""
    import json

    result = CliRunner().invoke(app, ["units", "-"], input=json.dumps({"lines": [{"code": "97129", "minutes": 30}]}))
    data = json.loads(result.stdout)
    assert data["line_units"] == [1] and data["add_lines"] == {"97130": 1}
    r = run([line("97129", row=2, minutes=30, units=None)])
    assert r.computed_units == {2: 1}
    assert not only(r, "units.daily-limit") and not [f for f in r.findings if f.severity is Severity.ERROR]
    f = one(r, "units.addon-line-missing")
    assert f.severity is Severity.WARNING and "97130" in f.fix


def test_split_note_beside_a_family_in_the_same_visit():
    """The explanation names the split for the code that has one, also when a 97129/97130 family's own
    split note is written in the same visit."""
    from otbill_xl.domain.units import visit_units

    v = visit_units([("97129", 15), ("97130", 25), ("97110", 23), ("97110", 13)], "cms",
                    assistant=[False, False, True, False])
    assert "97110 on lines 3, 4 counted as one service (minutes added; units split by who furnished them)" \
        in v.explanation
    assert v.units[2:] == (1, 1)


def test_a_claim_the_writer_refuses_is_explained_in_the_workbooks_terms():
    """The writer's reason for refusing a claim names the Patients and Charges rows, not X12 segments
    (issue #12 §3) — for what `check` could not see (here a state code typed into a record built in code)."""
    from otbill_xl.actions.claims import for_biller
    from otbill_xl.formats.x12 import X12Error

    patient = ADULT_ROW.model_copy(update={"state": "ZZ", "row": 7})
    c = claim("C5001", [service(1, "97530", 2, "130.50"), service(2, "97140", 1, "65.55")], patient=patient)
    try:
        write_837p([c], PRACTICE, CONTROL, created=CREATED)
    except X12Error as exc:
        why = str(exc)
    else:
        raise AssertionError("the writer accepted a state that is no US state code")
    assert "N402" in why  # the writer's own words name the segment...
    reason = for_biller(c, why)
    assert reason == "Patients row 7, Charges rows 2, 3: subscriber state must be a US state code (USPS, e.g. NJ)"


def test_what_check_passes_claims_bills_and_one_patients_problem_holds_only_that_patient(tmp_path):
    """A patient whose State is no US state code: `check` reports it on the Patients row, that patient's
    lines are held back, and the payer's file is written for the others (issue #12 §3)."""
    from conftest import CHARGE_HEADER, PATIENT_ROWS, charge_row, contract_sheets, make_workbook

    from otbill_xl.actions.claims import create_claims
    from otbill_xl.ledger import Ledger
    from otbill_xl.workbook.files import FileWorkbook

    state = PATIENT_ROWS[0].index("State")
    third = list(PATIENT_ROWS[1])
    third[0], third[state] = "P003", "ZZ"
    patients = [PATIENT_ROWS[0], PATIENT_ROWS[1], third]
    charges = [CHARGE_HEADER, charge_row("L1"), charge_row("L2", patient="P003")]
    src = make_workbook(tmp_path / "p.xlsx", contract_sheets(Patients=patients, Charges=charges))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        outcome = create_claims(FileWorkbook(src), out_dir=tmp_path / "out", ledger=ledger,
                                as_of=date(2026, 8, 20), created=datetime(2026, 8, 20, 9, 0))
    assert len(outcome.files) == 1 and outcome.lines_billed == 1   # P001's claim is written
    held = {h.line_id: h.reasons for h in outcome.assembly.held_back}
    assert any("ref.patient-address-missing" in r and "State" in r for r in held["L2"]), held


def test_diagnosis_count_follows_the_claim_the_assistants_lines_join():
    """The OTA's and the supervising OT's lines of one day are one claim (facts §7a), so their distinct
    diagnoses are counted together against the claim's 12 (facts §7): 7 + 7 different codes = 14."""
    dx = ["M62.81", "R26.89", "M19.041", "G81.94", "I69.351", "M79.641", "R27.8",
          "M25.511", "M25.512", "M25.521", "M25.522", "M25.531", "M25.532", "M25.541"]
    lines = []
    for k in range(4):  # OTA: 2 lines × up to 4 dx, OT: 2 lines
        npi_ = NPI_OTA if k < 2 else NPI_OT
        mods = ("GO", "CO") if k < 2 else ("GO",)
        lines.append(line(("97110", "97530", "97140", "97535")[k], row=2 + k, npi=npi_, mods=mods, minutes=15, units=1,
                          dx=tuple(dx[4 * k: 4 * k + 4]) if k < 3 else tuple(dx[12:14])))
    assert one(run(lines), "dx.too-many-on-claim").severity is Severity.WARNING
    own = MCR.model_copy(update={"assistants_bill": AssistantsBill.SELF})  # two claims: 8 and 6 codes
    from test_scrub_support import COM
    assert not only(run(lines, payers=(own, COM)), "dx.too-many-on-claim")
