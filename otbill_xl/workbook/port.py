"""The workbook port: the one interface every ribbon action and CLI command reads and writes through.

Two adapters implement it: :class:`~otbill_xl.workbook.files.FileWorkbook` (a file on disk:
python-calamine reads values fast; an annotated copy is written by streaming the package) and
:class:`~otbill_xl.workbook.live.LiveWorkbook` (an open Excel book through xlwings).
Rows and columns are 1-based worksheet positions, as Excel shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from otbill_xl.workbook.charts import ChartSpec


@dataclass(frozen=True)
class TableInfo:
    """An Excel Table (ListObject): its name, sheet, header row and first column (1-based)."""

    name: str
    sheet: str
    header_row: int
    first_column: int
    columns: tuple[str, ...]


#: Fill colours for annotated cells (RGB hex): red error, amber warning, blue info, green computed.
FILL_ERROR = "FFC7CE"
FILL_WARNING = "FFEB9C"
FILL_INFO = "DDEBF7"
FILL_COMPUTED = "E2EFDA"


#: Text starting with these characters could run as a formula when written into a cell.
FORMULA_TRIGGERS = ("=", "+", "-", "@")


def is_formula_like(value: object) -> bool:
    """True for text an adapter must write as inert text (formula-injection guard)."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


@runtime_checkable
class WorkbookPort(Protocol):
    """What otbill needs from a workbook, whatever holds it."""

    #: Name to use in messages (the file name, or the Excel book's name).
    name: str

    # -- reading ---------------------------------------------------------------------------
    def sheet_names(self) -> list[str]:
        """Worksheet names in workbook order."""

    def values(self, sheet: str) -> list[list[Any]]:
        """All cell values of a sheet from A1, as a list of rows (blank cells are ``""`` or ``None``)."""

    def tables(self) -> list[TableInfo]:
        """The Excel Tables in the workbook."""

    def merged_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        """Merged ranges as (first row, first column, last row, last column), 1-based."""

    def formulas_without_values(self, sheet: str) -> list[tuple[int, int]]:
        """Cells (row, column) holding a formula whose result was never calculated and saved."""

    def error_cells(self, sheet: str) -> list[tuple[int, int, str]]:
        """Cells holding an Excel error value as (row, column, error such as ``#N/A``); their
        :meth:`values` are blank, so the reader needs to know."""

    def hidden_rows(self, sheet: str) -> list[int]:
        """Rows hidden in Excel (they are read like any other; the reader says so)."""

    def sheet_state(self, sheet: str) -> str:
        """``visible``, ``hidden`` or ``veryHidden``."""

    # -- writing ---------------------------------------------------------------------------
    def write_values(self, sheet: str, row: int, column: int, rows: Sequence[Sequence[Any]]) -> None:
        """Write a block of values with its top-left cell at (row, column). Text that looks like a
        formula (see :func:`is_formula_like`) is written as text, never evaluated."""

    def fill(self, sheet: str, row: int, column: int, rgb: str) -> None:
        """Give a cell a solid background colour (RGB hex, e.g. ``FFC7CE``)."""

    def note(self, sheet: str, row: int, column: int, text: str) -> None:
        """Attach a note (comment) to a cell, replacing any note otbill put there."""

    def hyperlink(self, sheet: str, row: int, column: int, target: str) -> None:
        """Make a cell a link to a place in the workbook (``#Charges!F17``) or a URL."""

    def replace_sheet(self, sheet: str, rows: Sequence[Sequence[Any]], *, widths: Sequence[float | None] = (),
                      formats: Sequence[str | None] | None = None) -> None:
        """Create the sheet (or clear it if it exists) and fill it from A1; the first row is a header.
        ``widths`` and ``formats`` go column by column from A (``None``: Excel's default width, or
        General); each format (e.g. ``#,##0.00``) applies to the rows below the header. Output sheets
        pass both from their declaration (:class:`otbill_xl.actions.sheets.SheetSpec`)."""

    def add_chart(self, sheet: str, chart: ChartSpec) -> None:
        """Put a native Excel chart (:class:`~otbill_xl.workbook.charts.ChartSpec`: bar, column, pie or
        line; title; a block of ``chart.data_sheet`` with a header row naming the series; the category
        column; anchor cell; stacked; axis titles; size in cm) on ``sheet``. Both sheets exist in the
        workbook or are written in the same run with :meth:`replace_sheet` (call it first: replacing a
        sheet clears the charts put on it before); they may be the same sheet. The chart refers to the
        cells, so Excel draws it from what the sheet holds when the workbook opens."""

    def save(self, path: str | None = None) -> None:
        """Persist the changes (a file adapter writes a new file; it never overwrites its input)."""
