"""The workbook port: the one interface every ribbon action and CLI command reads and writes through.

Two adapters implement it: :class:`~otbill_xl.workbook.files.FileWorkbook` (a file on disk:
python-calamine reads values fast; an annotated copy is written by streaming the package) and
:class:`~otbill_xl.workbook.live.LiveWorkbook` (an open Excel book through xlwings).
Rows and columns are 1-based worksheet positions, as Excel shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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


#: The table style of every output sheet (Excel's default blue, banded rows; LibreOffice shows it too).
TABLE_STYLE = "TableStyleMedium2"


@dataclass(frozen=True)
class Total:
    """One cell of a table's totals row: ``function`` ``"sum"`` (the cell holds ``SUBTOTAL(109, column)``,
    so it sums the rows a filter leaves visible, with ``value`` — the sum of every row — saved as its
    result for readers that do not calculate) or ``"label"`` (``value`` is the text, e.g. ``Total``)."""

    function: str
    value: Any


@dataclass(frozen=True)
class OutputTable:
    """How :meth:`WorkbookPort.replace_sheet` makes its block an Excel Table (ListObject): header row
    ``header_row`` (1 plus the rows written above it), one column per header, a filter button on each,
    ``style``; ``wrap`` per column (text wrapped, top-aligned: long messages); ``totals`` per column
    (a :class:`Total` or None) adds a totals row below the last data row when any is given. Every body
    cell is top-aligned, so a row made tall by a wrapped message still reads across."""

    header_row: int = 1
    wrap: tuple[bool, ...] = ()
    totals: tuple[Total | None, ...] = ()
    style: str = TABLE_STYLE

    @property
    def has_totals(self) -> bool:
        return any(t is not None for t in self.totals)


#: The height of one line of text in a row (Calibri 11, Excel's default row height), in points, and the
#: most Excel allows a row.
LINE_HEIGHT = 15.0
MAX_ROW_HEIGHT = 409.0
#: A column's width is in widths of the digit 0; a line of text holds about that many characters less
#: this margin (word breaks, wider letters, LibreOffice's substitute fonts) — erring to a spare line.
_WRAP_MARGIN = 2


def wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` takes wrapped in a column ``width`` wide (an estimate that errs high)."""
    per_line = max(1, int(width) - _WRAP_MARGIN)
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


def row_heights(rows: Sequence[Sequence[Any]], widths: Sequence[float | None], table: OutputTable | None
                ) -> dict[int, float]:
    """The height (points) of each row below the table's header whose wrapped text needs more than one
    line, by row number: set on the row, so Excel and LibreOffice (which do not measure rows of a file
    when they open it) show the whole message instead of lines overlapping the next row."""
    if table is None or not any(table.wrap):
        return {}
    columns = [(i, widths[i] if i < len(widths) and widths[i] else 8.43) for i, wrap in enumerate(table.wrap) if wrap]
    out: dict[int, float] = {}
    for n in range(table.header_row + 1, len(rows) + 1):
        row = rows[n - 1]
        lines = 1
        for i, width in columns:
            if i < len(row):
                value = row[i]
                if type(value) is str and (len(value) > width - _WRAP_MARGIN or "\n" in value):
                    lines = max(lines, wrapped_lines(value, width))  # type: ignore[arg-type]
        if lines > 1:
            out[n] = min(lines * LINE_HEIGHT, MAX_ROW_HEIGHT)
    return out


_CELL_LIKE = re.compile(r"^(?:[A-Za-z]{1,3}[0-9]+|[RrCc]|[Rr][0-9]*[Cc][0-9]*)$")


def table_name(sheet: str, taken: Iterable[str] = ()) -> str:
    """An Excel table name for ``sheet`` not in ``taken`` (table and defined names, compared as Excel does,
    ignoring case): the sheet name with every character a name cannot hold (spaces, dashes) as ``_``,
    ``T_`` in front when it would not start with a letter or look like a cell (``AR1``), ``_2``, ``_3`` ...
    after it when taken. ``Pricing Totals`` -> ``Pricing_Totals``."""
    base = re.sub(r"_+", "_", re.sub(r"[^\w.]", "_", sheet.strip())).strip("_")[:200]
    if not base or not (base[0].isalpha() or base[0] == "_") or _CELL_LIKE.match(base):
        base = "T_" + base
    used = {t.lower() for t in taken}
    name, n = base, 2
    while name.lower() in used:
        name, n = f"{base}_{n}", n + 1
    return name


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
        """Attach a note (comment) to a cell, replacing any note otbill put there in an earlier run; notes
        given for the same cell in one run are merged into one (each line once), so a cell has one note
        holding all its findings. The note's box is sized to its text."""

    def hyperlink(self, sheet: str, row: int, column: int, target: str) -> None:
        """Make a cell a link to a place in the workbook (``#Charges!F17``) or a URL."""

    def replace_sheet(self, sheet: str, rows: Sequence[Sequence[Any]], *, widths: Sequence[float | None] = (),
                      formats: Sequence[str | None] | None = None, table: OutputTable | None = None) -> None:
        """Create the sheet (or clear it if it exists) and fill it from A1; the first row is a header,
        frozen. ``widths`` and ``formats`` go column by column from A (``None``: Excel's default width, or
        General); each format (e.g. ``#,##0.00``) applies to the rows below the header. ``table`` makes the
        rows from ``table.header_row`` on an Excel Table (:class:`OutputTable`: filter buttons, style,
        wrapped columns, a totals row), named after the sheet and unique in the workbook. Output sheets
        pass all three from their declaration (:class:`otbill_xl.actions.sheets.SheetSpec`)."""

    def add_chart(self, sheet: str, chart: ChartSpec) -> None:
        """Put a native Excel chart (:class:`~otbill_xl.workbook.charts.ChartSpec`: bar, column, pie or
        line; title; a block of ``chart.data_sheet`` with a header row naming the series; the category
        column; anchor cell; stacked; axis titles; size in cm) on ``sheet``. Both sheets exist in the
        workbook or are written in the same run with :meth:`replace_sheet` (call it first: replacing a
        sheet clears the charts put on it before); they may be the same sheet. The chart refers to the
        cells, so Excel draws it from what the sheet holds when the workbook opens."""

    def extend_table(self, table: str, last_row: int) -> None:
        """Make the Excel Table named ``table`` reach down to ``last_row``: rows written just below a
        table (reconcile's Payments rows) become part of it, so its filter and formulas see them."""

    def save(self, path: str | None = None) -> None:
        """Persist the changes (a file adapter writes a new file; it never overwrites its input)."""
