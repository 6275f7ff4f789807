"""Diagnosis rules (facts §7: ICD-10-CM shape, 12 per claim) and identifier/reference rules."""

from __future__ import annotations

import pytest
from test_scrub_support import (
    NPI_OT,
    NPI_OTA,
    NPI_PT,
    NPI_UNLISTED,
    PRACTICE,
    clean_lines,
    line,
    one,
    only,
    patient,
    run,
    where,
)

from otbill_xl.domain.findings import Severity

# --- diagnoses -----------------------------------------------------------------------------


def test_dx_missing_primary():
    f = one(run([line(row=4, dx=())]), "dx.missing-primary")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 4, "Dx1")


def test_dx_missing_primary_with_secondary():
    f = one(run([line(row=4, dx=("", "M25.511"))]), "dx.missing-primary")
    assert "Dx2" in f.fix
    assert not only(run([line(row=4)]), "dx.missing-primary")


@pytest.mark.parametrize("bad", ["719.41", "M2.55", "M25.5111X", "MM5.1", "M25.", "M2"])
def test_dx_malformed(bad):
    f = one(run([line(row=5, dx=("M25.511", bad))]), "dx.malformed")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 5, "Dx2")


@pytest.mark.parametrize("good", ["M25.511", "M25511", "S52.501A", "R26.89", "Z3A.01", "G81", "s52.5xxa"])
def test_dx_well_formed_passes(good):
    assert not only(run([line(row=5, dx=(good,))]), "dx.malformed")


def test_dx_malformed_does_not_echo_a_name():
    f = one(run([line(row=5, dx=("Smith",))]), "dx.malformed")
    assert "Smith" not in f.message and "Smith" not in f.fix


def _claim_lines(npis):
    codes = ("97530", "97535", "97110", "97112")
    return [line(code, row=2 + k, npi=npi, mods=("GO", "CO") if npi == NPI_OTA else ("GO",),
                 minutes=15, units=1,
                 dx=tuple(f"M{20 + k}.{j}" for j in range(4)))
            for k, (code, npi) in enumerate(zip(codes, npis, strict=True))]


def test_dx_too_many_on_claim():
    # 4 lines × 4 distinct codes = 16; the 13th distinct code is Dx1 of the 4th line (row 5).
    r = run(_claim_lines([NPI_OT] * 4))
    f = one(r, "dx.too-many-on-claim")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Charges", 5, "Dx1")


def test_dx_split_over_two_rendering_providers_passes():
    # two therapists: two claims (an OTA's lines would join the supervising OT's claim, facts §7a)
    r = run(_claim_lines([NPI_OT, NPI_OT, NPI_PT, NPI_PT]))
    assert not only(r, "dx.too-many-on-claim")


# --- identifiers ---------------------------------------------------------------------------


def test_rendering_npi_invalid():
    f = one(run([line(row=3, npi="1234567890")]), "npi.rendering-invalid")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "RenderingNPI")
    assert "check digit" in f.message


def test_rendering_npi_blank():
    assert one(run([line(row=3, npi="")]), "npi.rendering-invalid")
    assert not only(run(clean_lines()), "npi.rendering-invalid")


def test_rendering_unknown():
    f = one(run([line(row=3, npi=NPI_UNLISTED)]), "ref.rendering-unknown")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "RenderingNPI")
    assert not only(run([line(row=3, npi="1234567890")]), "ref.rendering-unknown")


def test_patient_unknown():
    r = run([line(row=3, pid="P9"), line("97535", row=4, pid="P9", minutes=15, units=1)])
    found = only(r, "ref.patient-unknown")
    assert [where(f) for f in found] == [("Charges", 3, "PatientID"), ("Charges", 4, "PatientID")]
    assert found[0].severity is Severity.ERROR
    assert not only(run(clean_lines()), "ref.patient-unknown")


def test_billing_npi_invalid():
    f = one(run(clean_lines(), practice=PRACTICE.model_copy(update={"billing_npi": "123"})),
            "npi.billing-invalid")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Practice", None, "BillingNPI")


@pytest.mark.parametrize("bad", ["1234-56789", "12345678", "", "12-345678A"])
def test_taxid_format(bad):
    f = one(run(clean_lines(), practice=PRACTICE.model_copy(update={"tax_id": bad})), "ref.taxid-format")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Practice", None, "TaxID")


def test_taxid_nine_digits_passes():
    r = run(clean_lines(), practice=PRACTICE.model_copy(update={"tax_id": "123456789"}))
    assert not only(r, "ref.taxid-format")


def test_referring_npi_invalid():
    r = run(clean_lines(), patients=(patient("P1", referring_npi="1234567890"),))
    f = one(r, "npi.referring-invalid")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Patients", None, "ReferringNPI")
    assert "P1" not in f.message and "Doe" not in f.message  # the cell is the reference: no PatientID echoed
    assert not only(run(clean_lines(), patients=(patient("P1", referring_npi=""),)), "npi.referring-invalid")


def test_payer_unknown():
    r = run(clean_lines(), patients=(patient("P1", payer_key="XX"),))
    f = one(r, "ref.payer-unknown")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Patients", None, "PayerKey")


def test_payer_blank_only_reported_with_charges():
    r = run(clean_lines(), patients=(patient("P1", payer_key="", row=2), patient("P3", payer_key="", row=4)))
    assert [(f.location.row, f.message) for f in only(r, "ref.payer-unknown")] == \
        [(2, "This patient has charge lines but no PayerKey.")]  # P3 (row 4) has no charge lines


def test_member_id_missing():
    r = run(clean_lines(), patients=(patient("P1", member_id=""),))
    f = one(r, "ref.member-id-missing")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Patients", None, "MemberID")
    assert not only(run(clean_lines()), "ref.member-id-missing")
