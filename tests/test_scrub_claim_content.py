"""Claim content `check` finds before the 837P (issue #12 §1, §3): referring provider, Medicare/Medicaid
members as their own subscriber, billing provider (PO Box, ZIP+4, pay-to, entity type), place of service
against the dated CMS code set, charges, bad Minutes, patient address and plan-of-care dates.

Each expected value comes from the rule's source (facts §7, §7a; refdata/SOURCES.md for POS dates) or is
worked out in the test. For each rule: a case that fires and one that must not (a false error holds a
billable line back)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from conftest import CHARGE_HEADER, PATIENT_ROWS, contract_sheets, make_workbook
from test_scrub_support import (
    AS_OF,
    COM,
    MCR,
    PRACTICE,
    book,
    clean_lines,
    line,
    one,
    only,
    patient,
    run,
    where,
)

from otbill_xl.domain.claims import assemble_claims
from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import Payer, PayerType, Relationship, Subscriber, UnitRule
from otbill_xl.domain.scrub import scrub
from otbill_xl.domain.scrub.claim_values import pos_codes
from otbill_xl.domain.scrub.identifiers import looks_like_organisation
from otbill_xl.domain.scrub.practice import is_po_box

MAID = Payer(payer_key="MAID", payer_name="Medicaid", payer_type=PayerType.MEDICAID, unit_rule=UnitRule.AMA)
MA = Payer(payer_key="MA", payer_name="Medicare Advantage", payer_type=PayerType.MEDICARE_ADVANTAGE)
REF = Payer(payer_key="REF", payer_name="Referral plan", payer_type=PayerType.COMMERCIAL, requires_referring=True)
ALL_PAYERS = (MCR, COM, MAID, MA, REF)
NO_REFERRER = {"referring_npi": "", "referring_last_name": "", "referring_first_name": ""}


def _patients_run(*patients, charges=(), practice=PRACTICE):
    return run(charges, patients=patients, payers=ALL_PAYERS, practice=practice)


# --- referring provider (facts §7a: Medicare requires the certifying physician/NPP in 2310A) -------------


def test_medicare_patient_without_referring_npi_is_an_error():
    r = _patients_run(patient("P1", row=3, **NO_REFERRER))
    f = one(r, "ref.referring-missing")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Patients", 3, "ReferringNPI")


def test_requires_referring_payer_without_referring_npi_is_an_error():
    r = _patients_run(patient("P1", row=4, payer_key="REF", member_id="R1", **NO_REFERRER))
    assert where(one(r, "ref.referring-missing")) == ("Patients", 4, "ReferringNPI")


@pytest.mark.parametrize("payer", ["COM", "MA", "MAID"])
def test_payers_that_do_not_require_a_referrer_pass_without_one(payer):
    # Only Medicare (Part B) and payers with RequiresReferring need 2310A (facts §7a; the payer setting).
    r = _patients_run(patient("P1", payer_key=payer, member_id="X1", **NO_REFERRER))
    assert not only(r, "ref.referring-missing")


def test_referring_npi_without_last_name_is_an_error():
    # 2310A is an individual, NM102=1: NM103 (last name) is required with the NPI (facts §7a).
    r = _patients_run(patient("P1", row=5, referring_last_name="", referring_first_name="Lena"))
    f = one(r, "ref.referring-missing")
    assert where(f) == ("Patients", 5, "ReferringLastName")


def test_medicare_patient_with_referring_provider_passes():
    r = _patients_run(patient("P1"))  # support patient: NPI_REFERRING, Reyes, Lena
    assert not only(r, "ref.referring-missing") and not only(r, "ref.referring-organisation")


@pytest.mark.parametrize("last, first", [("Bayside Rehab LLC", ""), ("Shore Orthopedic Group", ""),
                                          ("Smith & Jones, P.C.", ""), ("Mercy Hospital", ""),
                                          ("Harbor", "Health"), ("Family Medical Associates", "")])
def test_organisation_looking_referrer_is_a_warning(last, first):
    r = _patients_run(patient("P1", row=6, referring_last_name=last, referring_first_name=first))
    f = one(r, "ref.referring-organisation")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Patients", 6, "ReferringLastName")
    assert last not in f.message  # names are never quoted


@pytest.mark.parametrize("last, first", [("Reyes", "Lena"), ("Healy", "Pat"), ("Centeno", "Ana"),
                                          ("Paige", "Incy"), ("Grouper", "Al"), ("Clinich", "Mara")])
def test_person_referrer_names_pass(last, first):
    # Whole words only: "Healy" is not HEALTH, "Centeno" not CENTER, "Paige" not PA.
    assert not looks_like_organisation(last, first)
    r = _patients_run(patient("P1", referring_last_name=last, referring_first_name=first))
    assert not only(r, "ref.referring-organisation")


def test_a_patients_row_error_holds_back_only_that_patients_lines():
    # _blocking_findings maps a Patients row to its patient: P1 (no referrer) waits, P2 is billed.
    b = book([*clean_lines("P1"), *clean_lines("P2", start_row=4)],
             patients=(patient("P1", row=2, **NO_REFERRER), patient("P2", row=3, payer_key="COM", member_id="X2")))
    result = scrub(b, as_of=AS_OF)
    assert one(result, "ref.referring-missing").location.row == 2
    lines = tuple(ln._replace(charge=Decimal("65.00")) for ln in b.charges)
    b = book(lines, patients=b.patients)
    assembly = assemble_claims(b, result.findings, computed_units=result.computed_units)
    held = {h.row for h in assembly.held_back}
    billed = {ln.row for c in assembly.claims for ln in c.lines}
    assert held == {2, 3} and billed == {4, 5}
    assert any("ref.referring-missing" in reason for h in assembly.held_back for reason in h.reasons)


# --- Medicare and Medicaid members are their own subscriber (X12 RFI #263, facts §7a) -------------------


@pytest.mark.parametrize("payer", ["MCR", "MAID"])
def test_medicare_medicaid_dependent_is_a_warning(payer):
    p = patient("P1", row=7, payer_key=payer, relationship=Relationship.CHILD,
                subscriber=Subscriber(last_name="Doe", first_name="Pat"))
    f = one(_patients_run(p), "ref.subscriber-not-self")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Patients", 7, "Relationship")
    assert "MemberID" in f.message and "own" in f.fix


@pytest.mark.parametrize("payer, relationship", [("COM", Relationship.CHILD), ("MA", Relationship.SPOUSE),
                                                 ("MCR", Relationship.SELF), ("MAID", Relationship.SELF)])
def test_own_subscriber_or_other_payer_passes(payer, relationship):
    p = patient("P1", payer_key=payer, member_id="X1", relationship=relationship,
                subscriber=Subscriber(last_name="Doe", first_name="Pat"))
    assert not only(_patients_run(p), "ref.subscriber-not-self")


# --- billing provider (facts §7a: 2010AA street address, ZIP+4, 2010AB pay-to, NM102) ------------------


@pytest.mark.parametrize("street", ["PO Box 123", "P.O. Box 77", "P O Box 9", "po box 5", "Post Office Box 12",
                                    "Lockbox 4410", "Lock Box 15", "Drawer 20", "100 Main St, P.O. BOX 4"])
def test_po_box_in_practice_address_is_an_error(street):
    assert is_po_box(street)
    r = run(practice=PRACTICE.model_copy(update={"address": street}))
    f = one(r, "practice.address-po-box")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Practice", None, "Address")
    assert "PayToAddress" in f.fix


@pytest.mark.parametrize("street", ["12 Box Hill Rd", "4 Boxwood Ln", "9 Drawbridge Rd", "1 Post Rd",
                                    "410 Kings Hwy N Suite 200"])
def test_street_addresses_pass(street):
    assert not is_po_box(street)
    r = run(practice=PRACTICE.model_copy(update={"address": street}))
    assert not only(r, "practice.address-po-box")


def test_five_digit_practice_zip_is_a_warning():
    r = run(practice=PRACTICE.model_copy(update={"zip": "02134"}))
    f = one(r, "practice.zip-not-9")
    assert f.severity is Severity.WARNING and where(f) == ("Practice", None, "ZIP")


@pytest.mark.parametrize("zip_code", ["021341234", "02134-1234", ""])
def test_nine_digit_or_blank_practice_zip_passes(zip_code):
    assert not only(run(practice=PRACTICE.model_copy(update={"zip": zip_code})), "practice.zip-not-9")


def test_pay_to_address_partly_filled_names_the_missing_parts():
    r = run(practice=PRACTICE.model_copy(update={"pay_to_address": "PO Box 123", "pay_to_state": "MA"}))
    f = one(r, "practice.pay-to-incomplete")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Practice", None, "PayToCity")
    assert "PayToCity, PayToZIP" in f.message


@pytest.mark.parametrize("update", [{}, {"pay_to_address": "PO Box 123", "pay_to_city": "Boston", "pay_to_state": "MA",
                                         "pay_to_zip": "021340123"}])
def test_pay_to_address_whole_or_absent_passes(update):
    assert not only(run(practice=PRACTICE.model_copy(update=update)), "practice.pay-to-incomplete")


@pytest.mark.parametrize("value", ["3", "org", "0"])
def test_billing_entity_type_other_than_1_or_2_is_an_error(value):
    f = one(run(practice=PRACTICE.model_copy(update={"billing_entity_type": value})), "practice.entity-type")
    assert where(f) == ("Practice", None, "BillingEntityType")


@pytest.mark.parametrize("value", ["1", "2", ""])
def test_billing_entity_type_1_or_2_passes(value):
    practice = PRACTICE.model_copy(update={"billing_entity_type": value, "billing_last_name": "Rivera",
                                           "billing_first_name": "Ana"})
    assert not only(run(practice=practice), "practice.entity-type")


def test_person_billing_provider_needs_last_and_first_name():
    r = run(practice=PRACTICE.model_copy(update={"billing_entity_type": "1", "billing_first_name": "Ana"}))
    f = one(r, "practice.billing-name-missing")
    assert where(f) == ("Practice", None, "BillingLastName")
    r = run(practice=PRACTICE.model_copy(update={"billing_entity_type": "1"}))
    assert "BillingLastName and BillingFirstName are blank" in one(r, "practice.billing-name-missing").message


def test_organisation_billing_provider_needs_no_person_name():
    r = run(practice=PRACTICE.model_copy(update={"billing_entity_type": "2"}))
    assert not only(r, "practice.billing-name-missing")


def test_a_practice_error_holds_back_every_line():
    # The clearinghouse rejects every claim of a file with a bad billing provider.
    practice = PRACTICE.model_copy(update={"address": "PO Box 1"})
    lines = tuple(ln._replace(charge=Decimal("65.00")) for ln in (*clean_lines("P1"), *clean_lines("P2", start_row=4)))
    b = book(lines, practice=practice)
    result = scrub(b, as_of=AS_OF)
    assembly = assemble_claims(b, result.findings, computed_units=result.computed_units)
    assert not assembly.claims and {h.row for h in assembly.held_back} == {2, 3, 4, 5}


# --- place of service (CMS POS code set, refdata/pos_codes.csv; facts §7) ----------------------------


def _pos_line(pos, dos=date(2026, 2, 2), row=2):
    return line(row=row, dos=dos)._replace(pos=pos)


@pytest.mark.parametrize("pos", ["00", "28", "35", "59", "98", "AB", "1O", "123"])
def test_invalid_or_unassigned_pos_is_an_error(pos):
    # 00 is not a POS; 28-30, 35-40, 43-48, 59, 63-64, 67-70, 73-80, 82-98 are "Unassigned" (CMS table).
    f = one(run([_pos_line(pos)]), "pos.invalid")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 2, "POS")


@pytest.mark.parametrize("pos", ["11", "12", "02", "10", "22", "31", "32", "99", "", "2"])
def test_valid_or_blank_pos_passes(pos):
    # Blank POS is billed as 11 (office); "2" typed in a number cell is 02.
    assert not only(run([_pos_line(pos)]), "pos.invalid")


@pytest.mark.parametrize("pos, before, first_day", [
    ("10", date(2021, 12, 31), date(2022, 1, 1)),    # telehealth in the patient's home: from 2022-01-01 (facts §7)
    ("02", date(2016, 12, 31), date(2017, 1, 1)),    # telehealth: from 2017-01-01, renamed 2022-01-01
    ("27", date(2023, 9, 30), date(2023, 10, 1)),    # outreach site/street: CR 13314, from 2023-10-01
    ("58", date(2019, 12, 31), date(2020, 1, 1)),    # opioid treatment facility: CR 11353, from 2020-01-01
])
def test_pos_is_checked_on_the_date_of_service(pos, before, first_day):
    f = one(run([_pos_line(pos, dos=before)], as_of=date(2024, 1, 1)), "pos.invalid")
    assert "not valid on the date of service" in f.message
    assert not only(run([_pos_line(pos, dos=first_day)], as_of=date(2024, 1, 1)), "pos.invalid")


def test_pos_table_holds_the_telehealth_codes_and_no_00():
    table = pos_codes()
    assert "00" not in table and "28" not in table
    assert [r[0] for r in table["10"]] == [date(2022, 1, 1)]
    assert [r[0] for r in table["02"]] == [date(2017, 1, 1), date(2022, 1, 1)]
    assert table["11"][0][:2] == (None, None)


# --- charges ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount, units, message", [(Decimal("-65.00"), 2, "negative"),
                                                    (Decimal("0"), 2, "0.00"),
                                                    (Decimal("-1"), 0, "negative")])
def test_negative_or_zero_charge_is_an_error(amount, units, message):
    f = one(run([line(row=3, units=units)._replace(charge=amount)]), "charge.not-positive")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "Charge") and message in f.message


@pytest.mark.parametrize("amount, units", [(Decimal("0.01"), 2), (Decimal("130.00"), 2), (None, 2),
                                           (Decimal("0"), 0)])
def test_positive_blank_or_unbilled_zero_charge_passes(amount, units):
    # Blank: priced from the charge master. 0 units: the line is not billed, its 0.00 bills nothing.
    assert not only(run([line(row=3, units=units)._replace(charge=amount)]), "charge.not-positive")


# --- Minutes: a bad value is a finding on its cell, never the end of the visit's unit checks ----------


def _visit(bad_minutes, pid="P1"):
    # The example: a bad Minutes line and an over-billed 97140 (20 minutes, 3 units).
    return [line("97110", row=2, pid=pid, minutes=bad_minutes, units=1),
            line("97140", row=3, pid=pid, minutes=20, units=3)]


@pytest.mark.parametrize("bad", [-5, 12.5, "abc", float("nan")])
def test_bad_minutes_cms_still_reports_the_over_billed_97140(bad):
    # CMS (Medicare), whatever 97110's real minutes: 97140 gets 20 // 15 = 1 full unit and at most one
    # remainder unit (facts §1.3 step 6) → at most 2 units; 3 is over-billed.
    r = run(_visit(bad))
    f = one(r, "units.minutes-invalid")
    assert f.severity is Severity.ERROR and where(f) == ("Charges", 2, "Minutes")
    over = one(r, "units.over-billed")
    assert where(over) == ("Charges", 3, "Units")
    assert "at most 2" in over.message


@pytest.mark.parametrize("bad", [-5, "abc"])
def test_bad_minutes_ama_still_reports_the_over_billed_97140(bad):
    # AMA per code: 97140 alone, (20 + 7) // 15 = 1 unit; 3 billed.
    r = run(_visit(bad, pid="P2"))
    assert where(one(r, "units.minutes-invalid")) == ("Charges", 2, "Minutes")
    over = one(r, "units.over-billed")
    assert where(over) == ("Charges", 3, "Units") and "support 1" in over.message


def test_blank_minutes_cms_still_reports_the_over_billed_97140():
    # A negative or non-numeric cell in a workbook is read as blank (read.out-of-range / read.bad-number
    # on the cell): the other line is still checked.
    r = run(_visit(None))
    assert where(one(r, "units.over-billed")) == ("Charges", 3, "Units")
    assert one(r, "units.minutes-missing").location.row == 2


def test_unknown_pool_does_not_invent_errors_on_the_other_lines():
    # CMS, 97110 minutes unknown; 97140 7 min 1 unit. With 97110 at, say, 20 min the pool is 27 min →
    # 2 units, 97110 one full unit and 97140 (leftover 7 > 5) the remainder: 1 unit is right, so neither
    # under-8-minutes nor over-billed may fire on 97140. 20 min 2 units: ceil(20 / 15) = 2, not over.
    for minutes, units in ((7, 1), (20, 2)):
        visit = [line("97110", row=2, minutes=-5, units=1), line("97140", row=3, minutes=minutes, units=units)]
        r = run(visit)
        for rule_id in ("units.over-billed", "units.under-8-minutes", "units.under-billed"):
            assert not only(r, rule_id), (minutes, rule_id)


def test_whole_float_minutes_are_not_bad():
    r = run([line("97530", row=2, minutes=30.0, units=2), line("97535", row=3, minutes=15, units=1)])
    assert not only(r, "units.minutes-invalid") and not only(r, "units.over-billed")


def test_bad_minutes_on_an_untimed_line_keep_its_unit_check():
    # 97150 (group) is 1 unit per session whatever the minutes (facts §1.1): 2 units is still reported.
    r = run([line("97150", row=2, minutes=-3, units=2)])
    assert where(one(r, "units.minutes-invalid")) == ("Charges", 2, "Minutes")
    assert one(r, "units.untimed-over-1").location.row == 2


# --- patient address and plan of care ----------------------------------------------------------------


@pytest.mark.parametrize("blank, column", [({"address": ""}, "Address"), ({"city": "", "zip": ""}, "City"),
                                           ({"state": ""}, "State"), ({"zip": " "}, "ZIP")])
def test_insured_patient_without_full_address_is_an_error(blank, column):
    f = one(_patients_run(patient("P1", row=8, **blank)), "ref.patient-address-missing")
    assert f.severity is Severity.ERROR and where(f) == ("Patients", 8, column)


def test_self_pay_patient_needs_no_address():
    cash = Payer(payer_key="CASH", payer_type=PayerType.SELF_PAY)
    r = run(patients=(patient("P1", payer_key="CASH", address="", city="", state="", zip=""),),
            payers=(*ALL_PAYERS, cash))
    assert not only(r, "ref.patient-address-missing")


@pytest.mark.parametrize("blank, column", [({"poc_start": None, "poc_end": None}, "POCStart"),
                                           ({"poc_end": None}, "POCEnd")])
def test_medicare_patient_without_plan_of_care_dates_is_a_warning(blank, column):
    # A warning: the claim carries no POC dates and a certified plan may exist on paper (see the rule).
    r = run(clean_lines("P1"), patients=(patient("P1", row=9, **blank),), payers=ALL_PAYERS)
    f = one(r, "date.poc-missing")
    assert f.severity is Severity.WARNING and where(f) == ("Patients", 9, column)


@pytest.mark.parametrize("pid, payer, blank", [("P1", "MCR", {}), ("P2", "COM", {"poc_start": None, "poc_end": None}),
                                               ("P3", "MA", {"poc_start": None, "poc_end": None})])
def test_plan_of_care_dates_not_flagged_when_given_or_not_medicare(pid, payer, blank):
    p = patient(pid, payer_key=payer, member_id="X1", **blank)
    r = run(clean_lines(pid), patients=(p,), payers=ALL_PAYERS)
    assert not only(r, "date.poc-missing")


def test_medicare_patient_without_lines_is_not_asked_for_plan_of_care_dates():
    r = run((), patients=(patient("P1", poc_start=None, poc_end=None),), payers=ALL_PAYERS)
    assert not only(r, "date.poc-missing")


def test_claims_bill_the_other_patients_when_one_has_no_address(tmp_path):
    # Before issue #12 a blank address stopped the payer's whole 837P at the first claim. Now `check`
    # reports it on the Patients row, that patient's lines wait and the others are billed.
    from otbill_xl.actions.claims import create_claims
    from otbill_xl.ledger import Ledger
    from otbill_xl.workbook.files import FileWorkbook

    header = PATIENT_ROWS[0]
    p001 = dict(zip(header, PATIENT_ROWS[1], strict=True))
    p003 = {**p001, "PatientID": "P003", "LastName": "Poe", "MemberID": "2EG4TE5MK73", "Address": "", "City": ""}
    patients = [header, PATIENT_ROWS[1], [p003[h] for h in header]]
    charges = [CHARGE_HEADER,
               ["L1", "P001", "8/3/2026", "1234567893", "97110", "GO", "", "", "", 38, 3, "M62.81", "", "", "", "11",
                195.0, "", "", ""],
               ["L2", "P003", "8/3/2026", "1234567893", "97110", "GO", "", "", "", 38, 3, "M62.81", "", "", "", "11",
                195.0, "", "", ""]]
    src = make_workbook(tmp_path / "p.xlsx", contract_sheets(Patients=patients, Charges=charges))
    with Ledger(tmp_path / "l.sqlite") as lg:
        outcome = create_claims(FileWorkbook(src), out_dir=tmp_path / "o", ledger=lg, as_of=date(2026, 8, 20),
                                created=datetime(2026, 8, 20, 9, 0))
    assert [s.line_id for c in outcome.billed_claims for s in c.lines] == ["L1"]
    held = {e.line_id: " | ".join(e.reasons) for e in outcome.assembly.held_back}
    assert set(held) == {"L2"} and "ref.patient-address-missing" in held["L2"]
    assert len(outcome.files) == 1


# --- addresses: complete, with a USPS state code (837P N3/N4; refdata/us_states.csv) -------------------


@pytest.mark.parametrize(("field", "column"), [("address", "Address"), ("city", "City"), ("state", "State"),
                                               ("zip", "ZIP")])
def test_practice_address_incomplete_is_an_error(field, column):
    practice = PRACTICE.model_copy(update={"address": "12 Harbor St", "city": "Boston", "state": "MA",
                                           "zip": "021341234", field: ""})
    f = one(_patients_run(patient("P1"), practice=practice), "practice.address-missing")
    assert f.severity is Severity.ERROR and f.location.column == column


def test_practice_state_must_be_a_usps_code():
    practice = PRACTICE.model_copy(update={"address": "12 Harbor St", "city": "Boston", "state": "Mass",
                                           "zip": "021341234"})
    f = one(_patients_run(patient("P1"), practice=practice), "practice.address-missing")
    assert f.location.column == "State" and "US state code" in f.message
    ok = practice.model_copy(update={"state": "ma"})  # (lower case is written upper case)
    assert not only(_patients_run(patient("P1"), practice=ok), "practice.address-missing")


def test_patient_state_must_be_a_usps_code():
    f = one(_patients_run(patient("P1", state="ZZ")), "ref.patient-address-missing")
    assert f.location.column == "State" and f.severity is Severity.ERROR
    for state in ("NJ", "PR", "AE", "dc"):   # a state, a territory, an Armed Forces code; any case
        assert not only(_patients_run(patient("P1", state=state)), "ref.patient-address-missing")


# --- a secondary payer that cannot be billed (coordination of benefits, issue #12 §2) -------------------


@pytest.mark.parametrize(("update", "column", "why"), [
    ({"secondary_payer_key": "NOPE", "secondary_member_id": "S1"}, "SecondaryPayerKey", "not on the Payers"),
    ({"secondary_payer_key": "MCR", "secondary_member_id": "S1"}, "SecondaryPayerKey", "primary payer too"),
    ({"secondary_payer_key": "COM", "secondary_member_id": ""}, "SecondaryMemberID", "no SecondaryMemberID"),
])
def test_unbillable_secondary_is_a_warning(update, column, why):
    f = one(_patients_run(patient("P1", **update)), "ref.secondary-unbillable")
    assert f.severity is Severity.WARNING and f.location.column == column and why in f.message


def test_billable_secondary_or_none_passes():
    assert not only(_patients_run(patient("P1", secondary_payer_key="COM", secondary_member_id="S1")),
                    "ref.secondary-unbillable")
    assert not only(_patients_run(patient("P1")), "ref.secondary-unbillable")


def test_medicare_secondary_type_is_checked():
    """Medicare as secondary (MSP): SBR05 must be one of the TR3's insurance type codes (blank = 12)."""
    commercial_first = patient("P1", payer_key="COM", secondary_payer_key="MCR", secondary_member_id="1EG4TE5MK73")
    assert not only(_patients_run(commercial_first), "ref.secondary-unbillable")
    bad = commercial_first.model_copy(update={"medicare_secondary_type": "99"})
    f = one(_patients_run(bad), "ref.secondary-unbillable")
    assert f.location.column == "MedicareSecondaryType"


# --- the EDI settings every file's envelope carries (005010X222A1 ISA/GS/1000A/1000B) -------------------

EDI = {"submitter_id": "HHOT01", "receiver_id": "TESTCH", "receiver_name": "Test Clearinghouse",
       "submitter_name": "Harbor", "phone": "6175550100"}


@pytest.mark.parametrize(("update", "column"), [
    ({"submitter_id": ""}, "SubmitterID"), ({"receiver_id": "X"}, "ReceiverID"),
    ({"receiver_id": "A" * 16}, "ReceiverID"), ({"submitter_id": "HH*01"}, "SubmitterID"),
    ({"receiver_name": ""}, "ReceiverName"), ({"phone": "555-0100"}, "Phone"),
    ({"interchange_sender_qualifier": "zz"}, "InterchangeSenderQualifier"), ({"taxonomy": "225X0000"}, "Taxonomy"),
])
def test_bad_edi_settings_are_errors(update, column):
    practice = PRACTICE.model_copy(update={**EDI, **update})
    f = one(_patients_run(patient("P1"), practice=practice), "practice.edi-setting")
    assert f.severity is Severity.ERROR and f.location.column == column


def test_good_edi_settings_pass():
    practice = PRACTICE.model_copy(update={**EDI, "interchange_sender_qualifier": "30", "taxonomy": "225X00000X",
                                           "contact_phone": "(617) 555-0101"})
    assert not only(_patients_run(patient("P1"), practice=practice), "practice.edi-setting")
