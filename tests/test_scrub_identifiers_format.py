"""ICD-10-CM structure (facts §7) and EIN format checks, python-stdnum style."""

from __future__ import annotations

import pytest

from otbill_xl.domain import icd10, taxid


@pytest.mark.parametrize("code,compact", [
    ("M25.511", "M25511"), ("M25511", "M25511"), (" m25.511 ", "M25511"), ("S52.501A", "S52501A"),
    ("G81", "G81"), ("Z3A.01", "Z3A01"), ("R26.89", "R2689"),
])
def test_icd10_valid(code, compact):
    assert icd10.is_valid(code)
    assert icd10.validate(code) == compact


@pytest.mark.parametrize("code,why", [
    ("", "blank"), ("M2", "3 to 7"), ("M25.51111", "3 to 7"), ("719.41", "letter"), ("MM5", "digit"),
    ("M2.55", "dot"), ("M25.", "nothing follows"), ("M25.5.1", "dot"), ("M25-511", "letters and digits"),
])
def test_icd10_invalid(code, why):
    assert not icd10.is_valid(code)
    with pytest.raises(icd10.InvalidICD10, match=why):
        icd10.validate(code)


def test_icd10_format_and_compact():
    assert icd10.format("m25511") == "M25.511"
    assert icd10.format("G81") == "G81"
    assert icd10.compact("M25.511") == "M25511"


@pytest.mark.parametrize("value", ["12-3456789", "123456789", " 12-3456789 "])
def test_ein_valid(value):
    assert taxid.is_valid(value)
    assert taxid.validate(value) == "123456789"
    assert taxid.format(value) == "12-3456789"


@pytest.mark.parametrize("value,why", [
    ("", "blank"), ("12345678", "leading zero"), ("1234567890", "9 digits"), ("123-456789", "NN-NNNNNNN"),
    ("12-34567A9", "digits only"),
])
def test_ein_invalid(value, why):
    assert not taxid.is_valid(value)
    with pytest.raises(taxid.InvalidTaxID, match=why):
        taxid.validate(value)
