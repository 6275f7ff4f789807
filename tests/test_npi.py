"""NPI check digit (facts §7: Luhn over 80840 + NPI; 1234567893 valid, 1234567890 invalid)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otbill_xl.domain import npi


def test_reference_values():
    assert npi.is_valid("1234567893")
    assert not npi.is_valid("1234567890")
    # Hand calculation (facts §7 short form): first nine digits 123456789; double every other digit
    # from the rightmost: 9→18→1+8=9, 7→14→5, 5→10→1, 3→6, 1→2 = 23; the others 8+6+4+2 = 20;
    # 23 + 20 + 24 (the 80840 prefix) = 67; the check digit tops 67 up to 70 → 3.
    assert npi.calc_check_digit("123456789") == "3"


@pytest.mark.parametrize(
    ("value", "reason"),
    [("", "blank"), ("12345", "10 digits"), ("12345678AB", "digits only"), ("3234567893", "starts with 1 or 2"),
     ("1234567890", "check digit")],
)
def test_reasons(value, reason):
    with pytest.raises(npi.InvalidNPI, match=reason):
        npi.validate(value)


def test_compact_accepts_spaces_and_dashes():
    assert npi.validate("123-456-7893") == "1234567893"


@given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.sampled_from("12"))
def test_any_payload_with_its_check_digit_is_valid_and_other_digits_are_not(body, first):
    nine = first + body
    good = nine + npi.calc_check_digit(nine)
    assert npi.is_valid(good)
    for d in "0123456789":
        if d != good[-1]:
            assert not npi.is_valid(nine + d)
