"""Cell conversion: the shapes Excel, python-calamine and xlwings hand over."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from otbill_xl.workbook import cells


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, date(1900, 1, 1)),        # Excel day 1
        (59, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),       # Excel's fictitious 1900-02-29 is serial 60
        (45658, date(2025, 1, 1)),    # 2025-01-01 as Excel shows it
        (46027.75, date(2026, 1, 5)),  # 45658 + 365 + 4; time of day dropped
    ],
)
def test_excel_serials(serial, expected):
    assert cells.to_date(serial) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/5/2026", date(2026, 1, 5)), ("01/05/2026", date(2026, 1, 5)), ("1-5-26", date(2026, 1, 5)),
     ("12/31/99", date(1999, 12, 31)), ("2026-01-05", date(2026, 1, 5)), ("2026-01-05 00:00:00", date(2026, 1, 5)),
     ("20260105", date(2026, 1, 5)), ("1/5/2026 0:00", date(2026, 1, 5)), ("01/05/2026 12:00 AM", date(2026, 1, 5))],
)
def test_text_dates(text, expected):
    # Two-digit years: Excel reads 00-29 as 2000-2029 and 30-99 as 1930-1999.
    assert cells.to_date(text) == expected


@pytest.mark.parametrize("bad", ["13/45/2026", "next tuesday", "2/30/2026", 60, True])
def test_bad_dates(bad):
    with pytest.raises(ValueError):
        cells.to_date(bad)


def test_date_column_mixed_shapes_reports_index():
    values = [date(2026, 1, 5), datetime(2026, 1, 5, 9, 30), 46027.0, "1/5/2026", "", None, "soon"]
    out, problems = cells.date_column(values)
    assert out == [date(2026, 1, 5)] * 4 + [None, None, None]
    assert [i for i, _ in problems] == [6]


def test_int_column():
    out, problems = cells.int_column([38.0, "38", "38 min", 7, "", None, 22.5, "lots", True])
    assert out[:6] == [38, 38, 38, 7, None, None]
    assert [i for i, _ in problems] == [6, 7, 8]


def test_int_column_through_the_distinct_value_table():
    values = [15.0, 30.0, "x"] * 10 + [True]
    out, problems = cells.int_column(values)
    assert out[:3] == [15, 30, None] and out[-1] is None
    assert [i for i, _ in problems] == [2 + 3 * k for k in range(10)] + [30]


def test_money():
    out, problems = cells.money_column([123.45, "$1,234.50", "(12.00)", 0.1 + 0.2, 12, "", "abc"])
    assert out[:6] == [Decimal("123.45"), Decimal("1234.50"), Decimal("-12.00"), Decimal("0.30"), Decimal(12), None]
    assert all(isinstance(v, Decimal) for v in out[:5])
    assert [i for i, _ in problems] == [6]


def test_text_and_codes():
    assert cells.text_column([" a ", 1234567893.0, None, 12.5, True])[0] == ["a", "1234567893", "", "12.5", "Y"]
    assert cells.text_column([" go", "gp "], upper=True)[0] == ["GO", "GP"]


def test_choices_and_flags():
    out, problems = cells.choice_column(["Medicare", "Medicare Advantage", "MA", "WC", "spaceship", ""],
                                        ("medicare", "medicare_advantage", "workers_comp"))
    assert out == ["medicare", "medicare_advantage", "medicare_advantage", "workers_comp", "", ""]
    assert [i for i, _ in problems] == [4]
    assert cells.flag_column(["Y", "no", True, "", "maybe"])[0] == [True, False, True, None, None]


def test_zip_codes():
    assert cells.zip_code(2134.0) == "02134" and cells.zip_code("2134") == "02134"
    assert cells.zip_code(21340000) == "021340000" and cells.zip_code("98101") == "98101"
