"""Who is on the claim (issue #12 §1), each rule tested from its source in facts §7a:

* assistants bill under the supervising therapist (MBPM Ch.15 §230.1-230.4);
* Medicare and Medicaid members are their own subscriber (X12 RFI #263, #2281);
* a person billing provider is NM1*85*1 with last/first name; a solo therapist whose billing NPI
  rendered gets no 2310B (FCSO, Pub.100-04 Ch.26 §10.4); a PO Box goes in the pay-to loop 2010AB;
* every service line carries a line item control number (REF*6R), unique within the claim.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

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
