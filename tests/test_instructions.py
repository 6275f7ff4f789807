"""The template's Instructions sheet: readable in Excel and LibreOffice (wrapped cells, set column
widths, rows tall enough for their text, nothing spilling over a neighbour) and complete (every sheet,
column, Practice setting and dropdown choice explained)."""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from test_xlsx_patch import assert_libreoffice_converts

from otbill_xl.actions.reconcile import TOLERANCE_SETTING
from otbill_xl.domain.scrub.ncci import CEILING_SETTING
from otbill_xl.excel.macros import REMIT_SETTING
from otbill_xl.templates.build import INSTRUCTIONS, OPTIONAL_SETTINGS, build_template
from otbill_xl.workbook.contract import PRACTICE_SETTINGS, SHEETS


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("instructions") / "otbill-practice.xlsx")


@pytest.fixture(scope="module")
def book(template):
    return openpyxl.load_workbook(template)


def rows(ws) -> list[tuple]:
    return [tuple("" if v is None else str(v) for v in r) for r in ws.iter_rows(max_col=6, values_only=True)]


def section(ws, title: str) -> list[tuple]:
    """The rows of one numbered section (from its heading to the next heading)."""
    all_rows = rows(ws)
    start = next(i for i, r in enumerate(all_rows) if r[0].endswith(title) and r[0][0].isdigit())
    end = next((i for i in range(start + 1, len(all_rows)) if all_rows[i][0][:2] in {f"{n}." for n in range(1, 10)}
                and not any(all_rows[i][1:])), len(all_rows))
    return all_rows[start + 1:end]


def test_every_sheet_is_explained(book):
    ws = book[INSTRUCTIONS]
    listed = {r[0]: r for r in section(ws, "The sheets")}
    for spec in SHEETS:
        assert spec.name in listed, spec.name
        assert spec.purpose == listed[spec.name][4]
        assert all(alias in listed[spec.name][5] for alias in spec.aliases)


def test_every_column_is_explained(book):
    ws = book[INSTRUCTIONS]
    sheet, seen = "", set()
    for r in section(ws, "The columns of each sheet"):
        if r[0] and r[0] != "Sheet":
            sheet = r[0]
        elif r[1] and sheet:
            seen.add((sheet, r[1]))
            assert r[3] and r[4], f"{sheet}.{r[1]}: no format or no meaning"
    for spec in SHEETS:
        for col in spec.columns:
            assert (spec.name, col.name) in seen, f"{spec.name}.{col.name} is not explained"
    text = "\n".join(" | ".join(r) for r in rows(ws))
    for spec in SHEETS:
        for col in spec.columns:
            assert all(alias in text for alias in col.aliases), (spec.name, col.name)


def test_every_practice_setting_is_explained(book):
    ws = book[INSTRUCTIONS]
    meaning = {r[1]: r[4] for r in section(ws, "Practice settings") if r[1] and r[1] != "Setting"}
    # The settings otbill reads from Practice.extra, by the names the code looks up.
    read_by_code = {CEILING_SETTING, "LedgerPath", REMIT_SETTING, TOLERANCE_SETTING}
    assert read_by_code == {"MaxUnitsPerDay", "LedgerPath", "RemittancePath", "PaymentTolerance"} <= set(OPTIONAL_SETTINGS)
    for setting in (*PRACTICE_SETTINGS, *OPTIONAL_SETTINGS):
        assert meaning.get(setting), f"Practice setting {setting} is not explained"


def dropdown_entries(ws) -> list[tuple[str, str, dict[str, str]]]:
    """(sheets, columns, choice → meaning) of each dropdown the Instructions sheet explains."""
    out: list[tuple[str, str, dict[str, str]]] = []
    for r in section(ws, "Dropdowns"):
        if r[0] == "Sheet" or not any(r):
            continue
        if r[0]:
            out.append((r[0], r[1], {}))
        elif r[3] and out:
            out[-1][2][r[3]] = r[4]
    return out


def test_every_dropdown_and_choice_is_explained(book):
    ws = book[INSTRUCTIONS]
    entries = dropdown_entries(ws)
    lists = book["Lists"]
    checked = 0
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        for dv in sheet.data_validations.dataValidation:
            ref = str(dv.sqref).split(":")[0]
            column = "".join(ch for ch in ref if ch.isalpha())
            col_index = openpyxl.utils.column_index_from_string(column)
            name = (sheet.cell(int(ref[len(column):]), 1).value if sheet.title == "Practice"
                    else header[col_index - 1])  # a Practice setting's dropdown sits on its Value cell
            found = [e for e in entries if sheet.title in e[0] and name in e[1]]
            assert len(found) == 1, f"{sheet.title}.{name}: dropdown explained {len(found)} times"
            choices = found[0][2]
            formula = dv.formula1
            if formula.startswith('"'):
                values = formula.strip('"').split(",")
            elif formula.startswith("=Lists!"):
                letter = formula.split("$")[1]
                values = [str(c.value) for c in lists[letter][1:] if c.value is not None]
            else:  # the PayerKeys of the Payers sheet: explained in words, no fixed choices
                assert formula.startswith("=Payers!") and not choices
                values = []
            for value in values:
                assert choices.get(value), f"{sheet.title}.{name}: choice {value!r} has no meaning"
            checked += 1
    assert checked >= 20  # (every contract sheet's dropdowns: the loop did run)


def test_instructions_are_wrapped_sized_and_do_not_spill(book):
    ws = book[INSTRUCTIONS]
    widths = {}
    for letter in "ABCDEF":
        dim = ws.column_dimensions[letter]
        assert dim.customWidth and dim.width >= 10, letter
        widths[letter] = dim.width
    merged = {r.min_row: r for r in ws.merged_cells.ranges}
    for row in ws.iter_rows(max_col=6):
        for cell in row:
            if cell.value in (None, ""):
                continue
            text = str(cell.value)
            span = merged.get(cell.row)
            if span is not None:
                assert (span.min_col, span.max_col) == (1, 6) and cell.column == 1, cell.coordinate
                width = sum(widths.values())
            else:
                width = widths[get_column_letter(cell.column)]
            # Wrapped, so it never runs over the next cell; and the row is tall enough for it even if
            # every character were as narrow as prose gets (1.3 characters per unit of width).
            assert cell.alignment.wrap_text, cell.coordinate
            lines = sum(max(1, math.ceil(len(part) / (width * 1.3))) for part in text.split("\n"))
            height = ws.row_dimensions[cell.row].height
            assert height is not None and height >= lines * 14, (cell.coordinate, height, lines)
    assert all(c.value is None for c in ws[1][1:6])  # the title is one merged cell, not text spilling right


def test_libreoffice_converts_the_template(template, tmp_path):
    assert_libreoffice_converts([template], tmp_path)
