"""837P writer and reader: every written file is validated with pyx12 4.0.0 and with the writer's
own invariants (CLM02 = sum of SV102, HL numbering, SE01, 106-character ISA, control numbers),
then read back; the public 837P samples in ../shared/x12-samples are read too."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import require_shared
from x12util import check_structure, pyx12_validate, split_segments

from otbill_xl.domain.claims import Claim, Referring, ServiceLine
from otbill_xl.domain.models import (
    Patient,
    Payer,
    PayerType,
    Practice,
    Provider,
    Relationship,
    Subscriber,
)
from otbill_xl.domain.npi import calc_check_digit
from otbill_xl.formats.x12 import (
    ControlNumbers,
    Separators,
    X12Error,
    X12ReadError,
    read_837p,
    write_837p,
)
from otbill_xl.formats.x12.envelope import format_amount

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "x12-samples"
CREATED = datetime(2026, 3, 2, 14, 5, 33)
CONTROL = ControlNumbers(interchange=417, group=52, transaction=1003)


def npi(prefix: str) -> str:
    """A valid NPI starting with the 9 given digits."""
    return prefix + calc_check_digit(prefix)


BILLING_NPI = npi("123456789")
RENDERING_NPI = npi("198765432")
REFERRING_NPI = npi("156789012")

PRACTICE = Practice(
    practice_name="Cedar Lane Hand & Occupational Therapy", billing_npi=BILLING_NPI, tax_id="12-3456789",
    taxonomy="225X00000X", address="410 Kings Hwy N Suite 200", city="Cherry Hill", state="NJ",
    zip="08034-1234", phone="856-555-0142", submitter_name="Cedar Lane Hand & OT", submitter_id="CLHOT4471",
    contact_name="Dana Whitfield", contact_phone="(856) 555-0143", receiver_name="Harborline Clearinghouse",
    receiver_id="HRBRLN", interchange_sender_qualifier="ZZ", interchange_sender_id="CLHOT4471",
    interchange_receiver_qualifier="ZZ", interchange_receiver_id="HRBRLN", usage_indicator="T")

MEDICARE = Payer(payer_key="MEDICARE", payer_name="Novitas Solutions JL", payer_type=PayerType.MEDICARE,
                 payer_id="12502")
AETNA = Payer(payer_key="AETNA", payer_name="Aetna", payer_type=PayerType.COMMERCIAL, payer_id="60054")

ADULT = Patient(patient_id="P001", last_name="Okafor", first_name="Grace", dob=date(1951, 4, 9), sex="F",
                address="12 Birch Ln", city="Haddonfield", state="NJ", zip="08033", payer_key="MEDICARE",
                member_id="1EG4TE5MK72", relationship=Relationship.SELF)
CHILD = Patient(patient_id="P002", last_name="Rivera", first_name="Mateo", dob=date(2016, 8, 21), sex="M",
                address="88 Elm St Apt 3", city="Voorhees", state="NJ", zip="080431234", payer_key="AETNA",
                member_id="W123456789", group_number="GRP-7781", relationship=Relationship.CHILD,
                subscriber=Subscriber(last_name="Rivera", first_name="Lucia", dob=date(1985, 2, 3), sex="F"))
THERAPIST = Provider(npi=RENDERING_NPI, last_name="Delacroix", first_name="Nadia", credential="OT",
                     taxonomy="225X00000X")
ASSISTANT = Provider(npi=npi("176543210"), last_name="Brennan", first_name="Owen", credential="COTA")
DOS = date(2026, 2, 16)


def line(n: int, code: str, units: int, charge: str, *, mods=("GO",), pointers=(1,), dos=DOS) -> ServiceLine:
    return ServiceLine(line_id=f"L{n}", row=n + 1, dos=dos, code=code, modifiers=tuple(mods), units=units,
                       charge=Decimal(charge), pointers=tuple(pointers))


def claim(claim_id: str, lines, *, patient=ADULT, payer=MEDICARE, diagnoses=("M25.641", "M79.641"),
          **kw) -> Claim:
    return Claim(claim_id=claim_id, payer=payer, patient=patient, member_id=patient.member_id,
                 rendering=kw.pop("rendering", None), pos=kw.pop("pos", "11"), diagnoses=tuple(diagnoses),
                 lines=tuple(lines), **kw)


CLEAN = claim("C1001", [line(1, "97165", 1, "180.00"), line(2, "97530", 2, "130.50", pointers=(1, 2)),
                        line(3, "97140", 1, "65.55", pointers=(2, 1))])
DEPENDENT = claim("C1002", [line(1, "97166", 1, "210.00", mods=()), line(2, "97110", 3, "159")],
                  patient=CHILD, payer=AETNA, diagnoses=("F82", "R27.8"), prior_auth="AUTH-55821")
CORRECTED = claim("C1003R", [line(1, "97530", 2, "130.50")], frequency="7",
                  original_claim_number="26052000123")
VOID = claim("C1004V", [line(1, "97530", 2, "130.50")], frequency="8", original_claim_number="26052000124")
REFERRED = claim("C1005", [line(1, "97535", 1, "70.00")],
                 referring=Referring(npi=REFERRING_NPI, last_name="Hassan", first_name="Amir"))
RENDERED = claim("C1006", [line(1, "97760", 2, "190.00"), line(2, "97763", 1, "85.00")], rendering=THERAPIST)
TWELVE_DX = claim("C1007", [line(1, "97530", 1, "65.25", pointers=(1, 5, 9, 12))],
                  diagnoses=("M25641", "M79641", "S62101A", "G56.01", "M62.81", "R29.898", "Z98.890",
                             "M19.041", "M65.311", "S63.501A", "R26.81", "Z96.651"))
FIFTY = claim("C1008", [line(i, ("97530", "97110", "97140", "97535", "97112")[i % 5], 1 + i % 3,
                             f"{40 + i}.{i % 100:02d}", dos=date(2026, 1, 1 + i % 28)) for i in range(1, 51)])
MODIFIERS = claim("C1009", [line(1, "97530", 2, "130.50", mods=("GO", "CO", "KX", "59")),
                            line(2, "97140", 1, "65", mods=("GO", "KX", "59"))], rendering=ASSISTANT)
SAME_SUBSCRIBER_A = claim("C1010A", [line(1, "97530", 1, "65.25")], patient=CHILD, payer=AETNA,
                          diagnoses=("F82",))
SAME_SUBSCRIBER_B = claim("C1010B", [line(1, "97110", 2, "106", dos=date(2026, 2, 18))], patient=CHILD,
                          payer=AETNA, diagnoses=("F82",))
FORBIDDEN = claim("C1011", [line(1, "97530", 1, "65.25")],
                  patient=ADULT.model_copy(update={"patient_id": "P009", "last_name": "O*Brien~",
                                                   "first_name": "Zoë", "member_id": "1EG4TE5MK99"}))

CASES = {
    "clean": [CLEAN], "dependent": [DEPENDENT], "corrected": [CORRECTED], "void": [VOID],
    "referring": [REFERRED], "rendering": [RENDERED], "twelve_dx": [TWELVE_DX], "fifty_lines": [FIFTY],
    "modifiers": [MODIFIERS], "shared_subscriber": [SAME_SUBSCRIBER_A, SAME_SUBSCRIBER_B],
    "forbidden_chars": [FORBIDDEN],
}
ALL = [CLEAN, DEPENDENT, CORRECTED, VOID, REFERRED, RENDERED, TWELVE_DX, FIFTY, MODIFIERS,
       SAME_SUBSCRIBER_A, SAME_SUBSCRIBER_B, FORBIDDEN]


def write(claims, **kw):
    return write_837p(claims, kw.pop("practice", PRACTICE), kw.pop("control", CONTROL), created=CREATED, **kw)


def assert_valid(text: str, control: ControlNumbers = CONTROL, seps: Separators = Separators()) -> None:
    problems = check_structure(text, control, seps)
    assert not problems, "\n".join(problems)
    ok, errors = pyx12_validate(text)
    assert ok and not errors, "pyx12 4.0.0 found errors:\n" + "\n".join(errors) + "\n\n" + text


def assert_round_trip(claims, text: str) -> None:
    parsed = read_837p(text)
    by_id = {c.claim_id: c for c in parsed.claims}
    assert sorted(by_id) == sorted(c.claim_id for c in claims)
    for c in claims:
        p = by_id[c.claim_id]
        assert p.total_charge == c.total_charge
        assert p.payer_id == c.payer.payer_id
        assert p.frequency == c.frequency and p.pos == c.pos
        assert p.diagnoses == tuple(d.replace(".", "") for d in c.diagnoses)
        assert p.original_claim_number == c.original_claim_number
        assert p.prior_auth == c.prior_auth
        assert p.rendering_npi == (c.rendering.npi if c.rendering else "")
        assert p.referring_npi == (c.referring.npi if c.referring else "")
        assert p.subscriber_member_id == c.member_id
        assert p.patient_is_subscriber == (not c.is_dependent)
        assert len(p.lines) == len(c.lines)
        for pl, cl in zip(p.lines, c.lines, strict=True):
            assert (pl.code, pl.modifiers, pl.charge, pl.units, pl.dos, pl.pointers) == (
                cl.code, cl.modifiers, cl.charge, Decimal(cl.units), cl.dos, cl.pointers)


# --------------------------------------------------------------------------------------------------
# Every case: pyx12-valid, structurally right, round-trips


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_is_valid_and_round_trips(case):
    claims = CASES[case]
    out = write(claims)
    assert out.claims == len(claims)
    assert out.lines == sum(len(c.lines) for c in claims)
    assert_valid(out.text)
    assert_round_trip(claims, out.text)
    assert int(split_segments(out.text)[-3][1]) == out.segments


def test_all_cases_in_one_file():
    out = write(ALL)
    assert_valid(out.text)
    assert_round_trip(ALL, out.text)
    parsed = read_837p(out.text)
    assert (parsed.interchange_control, parsed.group_control, parsed.transaction_control) == (417, 52, 1003)
    assert (parsed.sender_id, parsed.receiver_id, parsed.usage_indicator) == ("CLHOT4471", "HRBRLN", "T")
    assert not parsed.warnings


def test_other_separators_and_no_newline():
    seps = Separators(element="|", component=">", repetition="!", segment="\n")
    out = write(ALL, separators=seps, newline=False)
    assert "*" not in out.text.replace("O*", "")
    assert_valid(out.text, seps=seps)
    assert_round_trip(ALL, out.text)
    compact = write(ALL, newline=False).text
    assert "\n" not in compact
    assert compact.replace("~", "~\n") == write(ALL).text


# --------------------------------------------------------------------------------------------------
# Segment details


def segs_of(claims, **kw):
    return split_segments(write(claims, **kw).text)


def find(segs, *prefix):
    return [s for s in segs if s[:len(prefix)] == list(prefix)]


def test_envelope_and_header():
    text = write([CLEAN]).text
    isa = text.split("~")[0] + "~"
    assert isa == ("ISA*00*          *00*          *ZZ*CLHOT4471      *ZZ*HRBRLN         *260302*1405*^*00501*"
                   "000000417*0*T*:~")
    segs = split_segments(text)
    assert segs[1] == ["GS", "HC", "CLHOT4471", "HRBRLN", "20260302", "1405", "52", "X", "005010X222A1"]
    assert segs[2] == ["ST", "837", "1003", "005010X222A1"]
    assert segs[3] == ["BHT", "0019", "00", "1003", "20260302", "1405", "CH"]
    assert segs[4] == ["NM1", "41", "2", "CEDAR LANE HAND & OT", "", "", "", "", "46", "CLHOT4471"]
    assert segs[5] == ["PER", "IC", "DANA WHITFIELD", "TE", "8565550143"]
    assert segs[6] == ["NM1", "40", "2", "HARBORLINE CLEARINGHOUSE", "", "", "", "", "46", "HRBRLN"]
    assert segs[7] == ["HL", "1", "", "20", "1"]
    assert segs[8] == ["PRV", "BI", "PXC", "225X00000X"]
    assert segs[9][:3] == ["NM1", "85", "2"] and segs[9][-2:] == ["XX", BILLING_NPI]
    assert segs[11] == ["N4", "CHERRY HILL", "NJ", "080341234"]
    assert segs[12] == ["REF", "EI", "123456789"]
    assert segs[-2:] == [["GE", "1", "52"], ["IEA", "1", "000000417"]]
    assert segs[-3] == ["SE", str(len(segs) - 4), "1003"]


def test_self_patient_subscriber_loop():
    segs = segs_of([CLEAN])
    assert find(segs, "HL", "2") == [["HL", "2", "1", "22", "0"]]
    assert find(segs, "SBR") == [["SBR", "P", "18", "", "", "", "", "", "", "MB"]]
    i = segs.index(find(segs, "NM1", "IL")[0])
    assert segs[i][-2:] == ["MI", "1EG4TE5MK72"]
    assert [s[0] for s in segs[i:i + 6]] == ["NM1", "N3", "N4", "DMG", "NM1", "CLM"]
    assert segs[i + 3] == ["DMG", "D8", "19510409", "F"]
    assert segs[i + 4] == ["NM1", "PR", "2", "NOVITAS SOLUTIONS JL", "", "", "", "", "PI", "12502"]
    assert not find(segs, "PAT")
    assert find(segs, "CLM") == [["CLM", "C1001", "376.05", "", "", "11:B:1", "Y", "A", "Y", "Y"]]
    assert find(segs, "HI") == [["HI", "ABK:M25641", "ABF:M79641"]]
    assert find(segs, "SV1")[1] == ["SV1", "HC:97530:GO", "130.5", "UN", "2", "", "", "1:2"]
    assert find(segs, "DTP") == [["DTP", "472", "D8", "20260216"]] * 3
    assert [s[1] for s in find(segs, "LX")] == ["1", "2", "3"]


def test_dependent_patient_loop():
    segs = segs_of([DEPENDENT])
    hl = find(segs, "HL")
    assert hl == [["HL", "1", "", "20", "1"], ["HL", "2", "1", "22", "1"], ["HL", "3", "2", "23", "0"]]
    assert find(segs, "SBR") == [["SBR", "P", "", "GRP-7781", "", "", "", "", "", "CI"]]
    il = find(segs, "NM1", "IL")[0]
    assert il[3:5] == ["RIVERA", "LUCIA"] and il[-2:] == ["MI", "W123456789"]
    i = segs.index(il)
    assert [s[0] for s in segs[i:i + 9]] == ["NM1", "NM1", "HL", "PAT", "NM1", "N3", "N4", "DMG", "CLM"]
    assert segs[i + 3] == ["PAT", "19"]
    assert segs[i + 4] == ["NM1", "QC", "1", "RIVERA", "MATEO"]
    assert segs[i + 7] == ["DMG", "D8", "20160821", "M"]
    assert find(segs, "REF", "G1") == [["REF", "G1", "AUTH-55821"]]
    assert find(segs, "SV1")[0] == ["SV1", "HC:97166", "210", "UN", "1", "", "", "1"]


def test_corrected_and_void_carry_the_original_claim_number():
    segs = segs_of([CORRECTED, VOID])
    assert [s[5] for s in find(segs, "CLM")] == ["11:B:7", "11:B:8"]
    assert find(segs, "REF", "F8") == [["REF", "F8", "26052000123"], ["REF", "F8", "26052000124"]]
    assert len(find(segs, "HL", "2")) == 1 and len(find(segs, "HL")) == 2  # same subscriber loop


def test_referring_and_rendering_providers():
    segs = segs_of([REFERRED, RENDERED])
    assert find(segs, "NM1", "DN") == [["NM1", "DN", "1", "HASSAN", "AMIR", "", "", "", "XX", REFERRING_NPI]]
    assert find(segs, "NM1", "82") == [["NM1", "82", "1", "DELACROIX", "NADIA", "", "", "", "XX", RENDERING_NPI]]
    assert find(segs, "PRV", "PE") == [["PRV", "PE", "PXC", "225X00000X"]]
    # 2310A/2310B come after HI and before the first LX of their claim
    ids = [s[0] if s[0] != "CLM" else s[1] for s in segs]
    ref, ren = ids.index("C1005"), ids.index("C1006")
    assert ids[ref:ref + 4] == ["C1005", "HI", "NM1", "LX"]
    assert ids[ren:ren + 5] == ["C1006", "HI", "NM1", "PRV", "LX"]


def test_twelve_diagnoses_and_pointers():
    segs = segs_of([TWELVE_DX])
    hi = find(segs, "HI")[0]
    assert len(hi) == 13 and hi[1] == "ABK:M25641" and all(h.startswith("ABF:") for h in hi[2:])
    assert "ABF:Z96651" in hi and "." not in "".join(hi)
    assert find(segs, "SV1")[0][-1] == "1:5:9:12"


def test_fifty_lines_and_modifiers():
    segs = segs_of([FIFTY, MODIFIERS])
    assert len(find(segs, "LX")) == 52
    assert find(segs, "SV1")[50][1] == "HC:97530:GO:CO:KX:59"
    assert find(segs, "SV1")[51][1] == "HC:97140:GO:KX:59"
    assert find(segs, "NM1", "82")[0][3:5] == ["BRENNAN", "OWEN"]
    assert not find(segs, "PRV", "PE")  # no taxonomy given for the assistant


def test_claims_of_one_subscriber_share_the_2000b_loop():
    segs = segs_of([SAME_SUBSCRIBER_A, CLEAN, SAME_SUBSCRIBER_B])
    hl = find(segs, "HL")
    assert [s[1:] for s in hl] == [["1", "", "20", "1"], ["2", "1", "22", "1"], ["3", "2", "23", "0"],
                                   ["4", "1", "22", "0"]]
    ids = [s[0] if s[0] != "CLM" else s[1] for s in segs]
    assert ids.index("C1010A") < ids.index("C1010B") < ids.index("C1001")
    assert ids.count("PAT") == 1


def test_forbidden_characters_are_cleaned_and_reported_without_patient_data():
    out = write([FORBIDDEN])
    nm1 = find(split_segments(out.text), "NM1", "IL")[0]
    assert nm1[3:5] == ["O BRIEN", "ZOE"]
    assert len(out.warnings) == 2
    assert all("claim C1011" in w for w in out.warnings)
    assert any("'*'" in w and "'~'" in w and "NM103" in w for w in out.warnings)
    assert any("accented" in w and "NM104" in w for w in out.warnings)
    for w in out.warnings:
        assert "BRIEN" not in w.upper() and "ZO" not in w.upper() and "1EG4" not in w
    assert_valid(out.text)


def test_clean_file_has_no_warnings_and_five_digit_billing_zip_warns():
    assert write([CLEAN]).warnings == ()
    out = write([CLEAN], practice=PRACTICE.model_copy(update={"zip": "08034"}))
    assert len(out.warnings) == 1 and "ZIP+4" in out.warnings[0]


def test_text_is_cut_to_the_element_maximum_with_a_warning():
    long_name = PRACTICE.model_copy(update={"practice_name": "A" * 70})
    out = write([CLEAN], practice=long_name)
    assert find(split_segments(out.text), "NM1", "85")[0][3] == "A" * 60
    assert any("cut to 60" in w for w in out.warnings)
    assert_valid(out.text)


def test_amount_format():
    assert [format_amount(Decimal(v), "x") for v in ("130", "130.00", "130.5", "130.50", "130.55", "0.00",
                                                      "0.10", "1E+2")] == [
        "130", "130", "130.5", "130.5", "130.55", "0", "0.1", "100"]
    with pytest.raises(X12Error, match="fractions of a cent"):
        format_amount(Decimal("1.005"), "x")
    with pytest.raises(X12Error, match="Decimal"):
        format_amount(1.5, "x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Data that cannot make a valid file


def bad(claim_: Claim, match: str, **kw) -> X12Error:
    with pytest.raises(X12Error, match=match) as info:
        write([claim_], **kw)
    msg = str(info.value)
    for secret in ("OKAFOR", "Okafor", "Grace", "1EG4TE5MK", "1951", "RIVERA", "Rivera", "W1234"):
        assert secret not in msg, msg
    return info.value


@pytest.mark.parametrize("change, match", [
    ({"member_id": "1EG4*TE5"}, "member ID .*2010BA NM109.* character"),
    ({"member_id": ""}, "member ID .* blank"),
    ({"claim_id": "C1~2"}, "claim ID"),
    ({"claim_id": "C" * 21}, "claim ID .* 1 to 20"),
    ({"payer": MEDICARE.model_copy(update={"payer_id": "125:02"})}, "payer ID"),
    ({"diagnoses": ()}, "no diagnosis"),
    ({"diagnoses": tuple(f"M25.6{i:02d}" for i in range(13))}, "at most 12"),
    ({"diagnoses": ("M25641", "M25.641")}, "twice"),
    ({"diagnoses": ("M2*5641",)}, "ICD-10"),
    ({"lines": tuple(line(i, "97530", 1, "10") for i in range(51))}, "at most 50"),
    ({"lines": (line(1, "97530", 1, "10", pointers=(3,)),)}, "points past"),
    ({"lines": (line(1, "97530", 1, "10", pointers=(1, 2, 1)),)}, "twice"),
    ({"lines": (line(1, "97530", 1, "10", pointers=()),)}, "pointers"),
    ({"lines": (line(1, "97530", 1, "10.001"),)}, "fractions of a cent"),
    ({"lines": (line(1, "97530", 1, "-10"),)}, "negative"),
    ({"lines": (line(1, "97530", 0, "10"),)}, "units"),
    ({"lines": (line(1, "975*0", 1, "10"),)}, "procedure code"),
    ({"lines": (line(1, "97530", 1, "10", mods=("GO", "C:")),)}, "modifier"),
    ({"lines": (line(1, "97530", 1, "10", mods=("GO", "CO", "KX", "59", "XU")),)}, "at most 4"),
    ({"lines": ()}, "no service lines"),
    ({"frequency": "7"}, "original claim number .* blank"),
    ({"frequency": "3"}, "frequency"),
    ({"pos": "1"}, "place of service"),
    ({"referring": Referring(npi="1234567890", last_name="Hassan")}, "referring .* check digit"),
    ({"rendering": THERAPIST.model_copy(update={"npi": "12345"})}, "rendering .* 10 digits"),
    ({"patient": ADULT.model_copy(update={"dob": None})}, "date of birth .* DMG02"),
    ({"patient": ADULT.model_copy(update={"zip": "0803"})}, "ZIP"),
    ({"patient": ADULT.model_copy(update={"last_name": " "})}, "last name .* blank"),
    ({"patient": CHILD.model_copy(update={"subscriber": None}), "payer": AETNA}, "subscriber"),
])
def test_bad_claim_data_raises(change, match):
    err = bad(CLEAN._replace(**change), match)
    if "claim_id" not in change:
        assert "claim C1001" in str(err)


@pytest.mark.parametrize("change, match", [
    ({"billing_npi": "1234567890"}, "billing NPI"),
    ({"tax_id": "12345678"}, "tax ID"),
    ({"submitter_id": "CL*HOT"}, "submitter ID"),
    ({"interchange_sender_id": "A" * 16}, "ISA06"),
    ({"usage_indicator": "X"}, "usage indicator"),
    ({"contact_phone": "", "phone": ""}, "phone"),
    ({"receiver_name": ""}, "receiver name"),
    ({"state": "New Jersey"}, "state"),
])
def test_bad_practice_settings_raise(change, match):
    err = bad(CLEAN, match, practice=PRACTICE.model_copy(update=change))
    assert "practice settings" in str(err)


def test_bad_control_numbers_and_empty_input():
    with pytest.raises(X12Error, match="ISA13"):
        write([CLEAN], control=ControlNumbers(0, 1, 1))
    with pytest.raises(X12Error, match="ST02"):
        write([CLEAN], control=ControlNumbers(1, 1, 1_000_000_000))
    with pytest.raises(X12Error, match="no claims"):
        write([])
    with pytest.raises(X12Error, match="separators must all differ"):
        Separators(element="*", component="*")
    with pytest.raises(X12Error, match="ASCII"):
        Separators(segment="§")


def test_big_control_numbers_pad_and_fit():
    control = ControlNumbers(interchange=999_999_999, group=123_456_789, transaction=87_654_321)
    out = write([CLEAN], control=control)
    assert_valid(out.text, control)


# --------------------------------------------------------------------------------------------------
# Reader


def test_reader_errors_name_the_segment():
    text = write([CLEAN]).text
    with pytest.raises(X12ReadError, match="segment 1 \\(ISA\\)"):
        read_837p("GS*HC~")
    with pytest.raises(X12ReadError, match=r"segment \d+ \(SV1\): SV102 is not a number"):
        read_837p(text.replace("*130.5*", "*13O.5*"))
    with pytest.raises(X12ReadError, match=r"segment \d+ \(DTP\): the date"):
        read_837p(text.replace("20260216", "20260231", 1))
    with pytest.raises(X12ReadError, match="cut short"):
        read_837p(text[: text.index("\nSE*")])
    assert "SE01" in read_837p(text.replace("\nSE*", "\nSE*9")).warnings[0]


def test_reader_tolerates_bom_crlf_and_indentation():
    text = write(ALL, newline=False).text
    messy = "\ufeff" + "~\r\n    ".join(text.split("~"))
    assert read_837p(messy).claims == read_837p(text).claims


def _sample(name: str) -> str:
    require_shared(SAMPLES)
    return (SAMPLES / name).read_text(encoding="utf-8")


# file: (claims, first claim id, its total, first line (code, charge, units, dos), payer id, member id,
#        patient is subscriber, sender id, interchange control)
SAMPLE_FACTS = {
    "lfh-837p-example1.837": (1, "26463774", "100.00", ("99213", "40.00", "1.00", date(2006, 10, 3)),
                              "999996666", "JS00111223333", False, "000000005", 907),
    "lfh-837p-cob-example3A.837": (1, "26407789", "79.04", ("99213", "43.00", "1.00", date(2005, 10, 3)),
                                   "999996666", "111223333", False, "000000005", 907),
    "oop-837p-example1.837": (1, "26463774", "100", ("99213", "40", "1", date(2006, 10, 3)),
                              "999996666", "JS00111223333", False, "SUBMITTERS.ID", 905),
    "oop-837p-medicaid.837": (5, "9999", "99.99", ("99999", "99.99", "99.99", date(2011, 12, 12)),
                              "999999999XXXX", "999999999", True, "123456789", 2478),
    "oop-837p-st1309.837": (1, "B330004Y", "360", ("99204", "250", "1", date(2013, 3, 12)),
                            "91919191", "X9999999", False, "999999999", 3774),
    "ims-837p-valid.837": (2, "A37YH556", "500", ("99211", "12.25", "1", date(2005, 3, 14)),
                           "11122333", "123456", True, "SUBMITTERS.ID", 905),
}


def test_every_sample_837_is_listed():
    require_shared(SAMPLES)
    assert sorted(p.name for p in SAMPLES.glob("*.837")) == sorted(SAMPLE_FACTS)


@pytest.mark.parametrize("name", sorted(SAMPLE_FACTS))
def test_read_public_samples(name):
    parsed = read_837p(_sample(name))
    n, claim_id, total, (code, charge, units, dos), payer_id, member, is_sub, sender, isa13 = SAMPLE_FACTS[name]
    assert len(parsed.claims) == n
    first = parsed.claims[0]
    assert (first.claim_id, first.total_charge) == (claim_id, Decimal(total))
    ln = first.lines[0]
    assert (ln.code, ln.charge, ln.units, ln.dos) == (code, Decimal(charge), Decimal(units), dos)
    assert (first.payer_id, first.subscriber_member_id, first.patient_is_subscriber) == (payer_id, member, is_sub)
    assert (parsed.sender_id, parsed.interchange_control) == (sender, isa13)
    for c in parsed.claims:
        assert c.lines


def test_sample_details():
    st1309 = read_837p(_sample("oop-837p-st1309.837"))
    c = st1309.claims[0]
    # claim-level providers, not the other payer's (2330B) or subscriber's (2330A) NM1s
    assert (c.rendering_npi, c.referring_npi, c.payer_name) == ("9999999999", "9999999999", "ABC Health Plans")
    assert c.diagnoses == ("84500",) and (st1309.group_control, st1309.transaction_control) == (440, 1309)
    assert [ln.code for ln in c.lines] == ["99204", "73610"] and st1309.usage_indicator == "P"
    cob = read_837p(_sample("lfh-837p-cob-example3A.837")).claims[0]
    assert cob.diagnoses == ("4779", "2724", "2780", "53081")
    assert [ln.pointers for ln in cob.lines] == [(1, 2, 3, 4), (1, 2), (1, 2)]
    assert sum(ln.charge for ln in cob.lines) == cob.total_charge
    assert cob.payer_id == "999996666"  # 2010BB, not the 2330B other payer
    medicaid = read_837p(_sample("oop-837p-medicaid.837"))
    assert sum(len(c.lines) for c in medicaid.claims) == 10 and medicaid.claims[0].referring_npi == "9999999999"
    ims = read_837p(_sample("ims-837p-valid.837"))
    assert ims.claims[0].diagnoses == ("8901", "87200", "5559") and ims.warnings  # SE01 is wrong there


# --------------------------------------------------------------------------------------------------
# Volume


def volume_claims(n_claims: int = 25_000, per_claim: int = 4) -> list[Claim]:
    patients = [ADULT.model_copy(update={"patient_id": f"P{i}", "member_id": f"1EG4TE5M{i:03d}"})
                for i in range(1000)]
    codes = ("97530", "97110", "97140", "97535", "97112", "97165")
    charges = [Decimal(f"{v}.{c:02d}") for v in (45, 65, 70, 130) for c in (0, 25, 50)]
    claims = []
    for i in range(n_claims):
        p = patients[i % len(patients)]
        lines = tuple(ServiceLine(f"L{i}-{j}", j, date(2026, 1 + i % 12, 1 + (i + j) % 28), codes[(i + j) % 6],
                                  ("GO", "KX") if j % 2 else ("GO",), 1 + j % 3, charges[(i * 7 + j) % 12],
                                  (1, 2) if j % 2 else (1,))
                      for j in range(per_claim))
        claims.append(Claim(claim_id=f"V{i:07d}", payer=MEDICARE, patient=p, member_id=p.member_id,
                            rendering=THERAPIST if i % 3 == 0 else None, pos="11",
                            diagnoses=("M25641", "M79641"), lines=lines))
    return claims


def test_a_100k_line_file_is_well_formed_and_reads_back():
    """Volume correctness (speed is measured by `make bench`, never asserted in tests)."""
    claims = volume_claims()
    out = write(claims)
    assert out.lines == 100_000 and out.claims == 25_000
    assert not check_structure(out.text, CONTROL)
    parsed = read_837p(out.text)
    assert len(parsed.claims) == 25_000
    assert sum(c.total_charge for c in parsed.claims) == sum(c.total_charge for c in claims)
