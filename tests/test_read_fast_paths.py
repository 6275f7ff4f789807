"""The reader's fast paths against straightforward reference implementations.

``cells.columns`` (columns as stepped slices of the flattened sheet) and ``cells.text_column``'s
look at the joined column each replace a plain per-cell loop; the references below are those loops,
and hypothesis checks that both give the same values, on single columns and on whole Charges sheets
read through the port (records, findings and the read report).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from conftest import CHARGE_HEADER, contract_sheets
from hypothesis import given, settings
from hypothesis import strategies as st

from otbill_xl.workbook import cells, reader
from otbill_xl.workbook.contract import CellKind
from otbill_xl.workbook.reader import read_book

# --- references -------------------------------------------------------------------------------------


def columns_reference(rows: list[list[Any]], indexes: list[int]) -> list[list[Any]] | None:
    """Column by column, cell by cell; ``None`` for rows of different lengths or too short."""
    if not rows:
        return [[] for _ in indexes]
    width = len(rows[0])
    if any(len(r) != width for r in rows) or any(not 0 <= i < width for i in indexes):
        return None
    return [[r[i] for r in rows] for i in indexes]


def text_column_reference(values: list[Any], *, upper: bool = False) -> tuple[list[str], list]:
    """Every cell through ``text_of`` (strip), then upper-cased for code columns."""
    return [cells.text_of(v).upper() if upper else cells.text_of(v) for v in values], []


# --- single columns -----------------------------------------------------------------------------------

_CELL = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.floats(allow_nan=False), st.none(), st.booleans(),
                  st.dates(date(2020, 1, 1), date(2030, 1, 1)))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows=st.lists(st.lists(_CELL, min_size=0, max_size=5), max_size=8),
       indexes=st.lists(st.integers(-1, 6), max_size=6))
def test_columns_agree_with_the_reference(rows, indexes):
    assert cells.columns(rows, indexes) == columns_reference(rows, indexes)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(width=st.integers(1, 6), data=st.data())
def test_columns_of_rectangular_rows_are_always_taken(width, data):
    rows = data.draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), min_size=1, max_size=8))
    indexes = data.draw(st.lists(st.integers(0, width - 1), min_size=1, max_size=6))
    assert cells.columns(rows, indexes) == columns_reference(rows, indexes) is not None


# Characters where strip and upper matter: ASCII and Unicode white space (str.isspace), NUL (the
# joiner), letters whose upper case is longer (ß -> SS) or title case (ǅ), digits and punctuation.
_TEXT = st.text(alphabet=" \t\n\r\x0b\x0c\x1c\x1f\x00\x85\xa0\u2003\u3000abcAB9.-ßǅéÉ", max_size=6)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(values=st.lists(st.one_of(_TEXT, st.sampled_from(["", "97110", "go", "GO", "M62.81", " 97530 "])),
                       min_size=1, max_size=12),
       upper=st.booleans())
def test_text_column_agrees_with_the_reference(values, upper):
    out, problems = cells.text_column(values, upper=upper)
    expected, _ = text_column_reference(values, upper=upper)
    assert out == expected and problems == []
    assert all(type(v) is str for v in out)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(values=st.lists(st.one_of(_TEXT, _CELL), min_size=1, max_size=12), upper=st.booleans())
def test_text_column_of_mixed_cells_agrees_with_the_reference(values, upper):
    assert cells.text_column(values, upper=upper) == text_column_reference(values, upper=upper)


# --- whole sheets through the reader --------------------------------------------------------------------

def _slow_reader(mp: pytest.MonkeyPatch) -> None:
    """The reader with its fast paths replaced by the references."""
    mp.setattr(cells, "columns", lambda rows, indexes: None)  # the transposing path
    mp.setattr(cells, "text_column", text_column_reference)
    for kind in (CellKind.TEXT, CellKind.ID):
        mp.setitem(reader._CONVERTERS, kind, text_column_reference)


class _Port:
    """Rows exactly as given (ragged or not), as live Excel may hand them over."""

    name = "Generated.xlsx"

    def __init__(self, sheets: dict[str, list[list[Any]]]) -> None:
        self._sheets = sheets

    def sheet_names(self) -> list[str]:
        return list(self._sheets)

    def values(self, sheet: str) -> list[list[Any]]:
        return [list(r) for r in self._sheets[sheet]]

    def tables(self) -> list:
        return []

    def merged_ranges(self, sheet: str) -> list:
        return []

    def formulas_without_values(self, sheet: str) -> list:
        return []


_CODE = st.sampled_from(["97110", "97530", " 97140", "g0283", "", "97110 ", 97110.0, None])
_MOD = st.sampled_from(["GO", "go", " GP", "", "59", None, "KX "])
_DX = st.sampled_from(["M62.81", "r26.89", "", " S52.501A", "\xa0G81.94", None])
_ID = st.sampled_from(["P001", "P002", " P003", "", 1234567893.0, None, "P 4"])
_DATE = st.sampled_from([date(2026, 8, 3), datetime(2026, 8, 4), "8/5/2026", "", 46238.0, "03.08.2026", None, "soon"])
_NUMBER = st.sampled_from([38.0, 3.0, "", None, "38 min", 2.5, -1.0, 1e9, "x"])
_MONEY = st.sampled_from([195.0, 65.0, "", None, "12.30", 12.299999999999999, "abc"])
_NOTE = st.sampled_from(["", "see chart", " late entry ", "ok", None])


def _charge_row() -> st.SearchStrategy[list[Any]]:
    return st.tuples(_ID, _ID, _DATE, _ID, _CODE, _MOD, _MOD, _MOD, _MOD, _NUMBER, _NUMBER, _DX, _DX, _DX, _DX,
                     st.sampled_from(["11", 11.0, "", " 02"]), _MONEY, _ID, _NOTE, _NOTE).map(list)


_BLANK_ROW = st.sampled_from([[""] * 20, [None] * 20, [" "] * 20, []])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(rows=st.lists(st.one_of(_charge_row(), _BLANK_ROW), min_size=1, max_size=25),
       ragged=st.lists(st.integers(0, 24), max_size=3), extra=st.booleans())
def test_reading_charges_agrees_with_the_reference(rows, ragged, extra):
    """Generated Charges sheets (blank rows, ragged rows, a column otbill does not read, every cell
    shape) read with the fast paths and with the references: identical records, findings, report."""
    body = [list(r) for r in rows]
    for i in ragged:  # a row cut short, as live Excel may hand it over
        if i < len(body) and body[i]:
            body[i] = body[i][:-2]
    header = list(CHARGE_HEADER)
    if extra:  # a biller's own column in the middle
        header.insert(3, "Therapist")
        body = [r[:3] + ["x"] + r[3:] if len(r) >= 3 else r for r in body]
    sheets = contract_sheets()
    sheets["Charges"] = [header, *body]

    fast = read_book(_Port(sheets))
    with pytest.MonkeyPatch.context() as mp:
        _slow_reader(mp)
        slow = read_book(_Port(sheets))
    assert fast.book.charges == slow.book.charges
    assert fast.book == slow.book
    assert fast.report.findings == slow.report.findings
    assert fast.report.to_dict() == slow.report.to_dict()
