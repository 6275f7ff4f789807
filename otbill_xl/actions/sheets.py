"""Output sheets, each declared once: its columns (header, width, kind → number format, value, wrap, total).

A :class:`SheetSpec` is the single place an output sheet's layout lives. The header row, the column
widths, the number formats, the Excel Table over the rows (filter buttons, style, wrapped long-text
columns, a totals row) and every data row come from its list of :class:`Column` — so they cannot
drift apart — and a JSON shape keyed by the headers (:meth:`SheetSpec.as_dict`) comes from it too.
The action that owns the sheet writes it through the port with :meth:`SheetSpec.write`.

Widths: a column is as wide as its header (bold, plus the filter button) and its widest value as
shown (money with thousands separators and cents), at least its declared width and — for columns that
do not wrap — at most :data:`MAX_WIDTH`; a wrapped column keeps its declared width and wraps longer
text. Measured per column with C-level passes (``max``/``min`` of a number column, ``max(map(len, ...))``
of text), so 100,000 rows cost a fraction of writing them (``benchmarks/bench_patch.py``).

``tests/test_sheets.py`` checks every declared sheet: each column's value has its declared kind for
a sample object, and the file adapter writes the declared headers, widths and number formats;
``tests/test_output_sheets.py`` checks the tables, totals, widths and wrapping of every output of
check, price, claims, batch and reconcile, and converts each with LibreOffice.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from otbill_xl.domain.findings import column_letter
from otbill_xl.workbook.charts import ChartSpec
from otbill_xl.workbook.port import OutputTable, Total, WorkbookPort

T = TypeVar("T")

#: What a column holds. The kind decides its number format and what its values may be.
TEXT = "text"      # text (General)
MONEY = "money"    # Decimal dollars and cents
COUNT = "count"    # whole numbers: units, lines, row numbers, counts
DATE = "date"      # datetime.date
NUMBER = "number"  # any other number (General)
PERCENT = "percent"  # a rate as a fraction (0.9 is shown 90%)

#: The money format: thousands separators, always two decimals (``102.10``, ``1,234.50``), negative amounts
#: red with a minus sign. Chosen over Excel's accounting format (``_(* #,##0.00_)...``), which shows zero as
#: ``-`` and negatives in brackets: billers compare these cells with remittances that print ``-12.00``.
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"

#: Excel number format of each kind (``None``: General, left as Excel shows it).
NUMBER_FORMATS: dict[str, str | None] = {TEXT: None, MONEY: MONEY_FORMAT, COUNT: "0", DATE: "yyyy-mm-dd",
                                         NUMBER: None, PERCENT: "0%"}
_NUMERIC = frozenset((MONEY, COUNT, NUMBER, PERCENT))

#: The widest a column grows to fit its values (Excel's width units, about one digit each); longer text
#: is cut at the cell's edge (it is whole in the cell) unless the column wraps.
MAX_WIDTH = 60.0
#: A text column declared at least this wide wraps its text (messages, fixes, notes, reasons) unless it
#: says ``wrap=False``; the width of a wrapped column without a declared one.
WRAP_FROM = 40.0
#: The label in the first column of a totals row (when that column has no total of its own).
TOTAL_LABEL = "Total"
#: The totals a column may declare: ``sum`` (Excel's SUBTOTAL(109, ...): the visible rows' sum).
TOTALS = frozenset(("sum",))


def money_text(value: Decimal | None) -> str | None:
    """Money for JSON: a string with two decimals (never a float)."""
    return None if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of an output sheet: its header, width (the least it is given; ``None``: fitted to the
    header and the values only), kind and the function giving its cell value for a row object. ``data``
    gives the JSON value when it is not the cell value (by default: the cell value, money as a
    two-decimal string). ``wrap``: wrap the text (top-aligned) — by default a text column declared
    :data:`WRAP_FROM` or wider wraps. ``total``: ``"sum"`` puts the column's sum in the table's totals row."""

    header: str
    width: float | None
    kind: str
    value: Callable[[T], Any]
    data: Callable[[T], Any] | None = None
    wrap: bool | None = field(default=None, kw_only=True)
    total: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.kind not in NUMBER_FORMATS:
            raise ValueError(f"column {self.header!r}: unknown kind {self.kind!r}")
        if self.total is not None and (self.total not in TOTALS or self.kind not in _NUMERIC):
            raise ValueError(f"column {self.header!r}: a total must be one of {sorted(TOTALS)} on a number column")

    @property
    def number_format(self) -> str | None:
        return NUMBER_FORMATS[self.kind]

    @property
    def wraps(self) -> bool:
        if self.wrap is not None:
            return self.wrap
        return self.kind == TEXT and self.width is not None and self.width >= WRAP_FROM

    def json_value(self, obj: T) -> Any:
        if self.data is not None:
            return self.data(obj)
        value = self.value(obj)
        return money_text(value) if isinstance(value, Decimal) else value


@dataclass(frozen=True)
class SheetSpec(Generic[T]):
    """An output sheet: its name and its columns, left to right."""

    name: str
    columns: tuple[Column[T], ...]

    def __post_init__(self) -> None:
        if len(set(self.headers)) != len(self.headers):
            raise ValueError(f"sheet {self.name!r}: a header appears twice")

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)

    @property
    def widths(self) -> tuple[float | None, ...]:
        return tuple(c.width for c in self.columns)

    @property
    def formats(self) -> tuple[str | None, ...]:
        return tuple(c.number_format for c in self.columns)

    def index(self, header: str) -> int:
        """The 1-based column of ``header``."""
        return self.headers.index(header) + 1

    def values(self, obj: T) -> list[Any]:
        """One data row: every column's value for ``obj``."""
        return [c.value(obj) for c in self.columns]

    @property
    def wrapped(self) -> tuple[bool, ...]:
        return tuple(c.wraps for c in self.columns)

    def rows(self, objects: Iterable[T], *, cell: Callable[[Any], Any] | None = None) -> list[list[Any]]:
        """The header row, then one row per object (each value passed through ``cell`` if given)."""
        out: list[list[Any]] = [list(self.headers)]
        for obj in objects:
            values = self.values(obj)
            out.append([cell(v) for v in values] if cell is not None else values)
        return out

    def as_dict(self, obj: T) -> dict[str, Any]:
        """The JSON shape of one row: header → value (money as a two-decimal string)."""
        return {c.header: c.json_value(obj) for c in self.columns}

    def chart(self, kind: str, title: str, rows: int, *, category: str, series: Sequence[str], header_row: int = 1,
              anchor: str | None = None, **options: Any) -> ChartSpec | None:
        """A chart of this sheet as written by :meth:`write`: the ``series`` columns (adjacent, left to
        right) over the ``rows`` data rows, labelled by the ``category`` column; ``header_row`` is 1 plus the
        rows written ``above``. Anchored beside the table (two columns right of it) unless ``anchor`` is
        given; ``options`` are :class:`ChartSpec`'s (stacked, y_title, x_title, width_cm, height_cm).
        None when there are no rows (nothing to draw)."""
        columns = [self.index(h) for h in series]
        if not columns or columns != list(range(columns[0], columns[0] + len(columns))):
            raise ValueError(f"sheet {self.name!r}: chart series {tuple(series)} are not adjacent columns")
        if rows <= 0:
            return None
        if anchor is None:
            anchor = f"{column_letter(len(self.columns) + 2)}{header_row}"
        return ChartSpec(kind, title, self.name, (header_row, columns[0], header_row + rows, columns[-1]),
                         self.index(category), anchor, **options)

    def _columns(self, rows: Sequence[Sequence[Any]], header_row: int) -> list[Sequence[Any]]:
        """The values below the header, column by column (one transposition, in C)."""
        body = rows[header_row:]
        return list(zip(*body, strict=True)) if body else [() for _ in self.columns]

    def fitted_widths(self, rows: Sequence[Sequence[Any]], header_row: int = 1,
                      totals: Sequence[Total | None] = (), columns: list[Sequence[Any]] | None = None
                      ) -> tuple[float, ...]:
        """The column widths for ``rows`` as written (header at ``header_row``; rows above it count too)
        and the ``totals`` row below them: see the module docstring."""
        if columns is None:
            columns = self._columns(rows, header_row)
        out = []
        for i, column in enumerate(self.columns):
            need = _header_width(column.header)
            above = max((_shown_width(r[i], TEXT) for r in rows[:header_row - 1] if i < len(r)), default=0)
            if i < len(totals) and totals[i] is not None:  # bold: ~10% wider
                above = max(above, _shown_width(totals[i].value, column.kind) * 1.1)  # type: ignore[union-attr]
            if column.wraps:
                width = max(column.width or WRAP_FROM, need, min(above, MAX_WIDTH))
            else:
                content = max(_longest(columns[i], column.kind), above)
                width = max(column.width or 0, need, min(content, MAX_WIDTH))
            out.append(float(math.ceil(width)))
        return tuple(out)

    def table(self, rows: Sequence[Sequence[Any]], header_row: int = 1,
              columns: list[Sequence[Any]] | None = None) -> OutputTable:
        """The Excel Table over ``rows`` (header at ``header_row``): wrapped columns, and a totals row
        when a column declares a total (its cached value: the sum of the column's numbers)."""
        totals: tuple[Total | None, ...] = ()
        if len(rows) > header_row and any(c.total for c in self.columns):
            if columns is None:
                columns = self._columns(rows, header_row)
            found: list[Total | None] = []
            for i, column in enumerate(self.columns):
                if column.total == "sum":
                    found.append(Total("sum", _sum(columns[i])))
                else:
                    found.append(None)
            if found[0] is None:
                found[0] = Total("label", TOTAL_LABEL)
            totals = tuple(found)
        return OutputTable(header_row=header_row, wrap=self.wrapped, totals=totals)

    def layout(self, objects: Iterable[T], *, cell: Callable[[Any], Any] | None = None,
               above: Sequence[Sequence[Any]] = ()) -> tuple[list[list[Any]], tuple[float, ...],
                                                             tuple[str | None, ...], OutputTable]:
        """What :meth:`write` gives the port: the rows (``above``, the header, one per object), the fitted
        widths, the number formats and the table."""
        rows = [list(r) for r in above] + self.rows(objects, cell=cell)
        header_row = len(above) + 1
        columns = self._columns(rows, header_row)
        table = self.table(rows, header_row, columns)
        return rows, self.fitted_widths(rows, header_row, table.totals, columns), self.formats, table

    def write(self, port: WorkbookPort, objects: Iterable[T], *, cell: Callable[[Any], Any] | None = None,
              above: Sequence[Sequence[Any]] = ()) -> list[list[Any]]:
        """Replace the sheet in ``port`` with the header and one row per object as an Excel Table
        (``above``: rows written before the table, the first of them then being the sheet's header).
        Returns the rows written."""
        rows, widths, formats, table = self.layout(objects, cell=cell, above=above)
        port.replace_sheet(self.name, rows, widths=widths, formats=formats, table=table)
        return rows


def _header_width(header: str) -> float:
    """A header's width: bold text is ~10% wider, and the filter button covers about three characters."""
    return len(header) * 1.1 + 3


_NUMBER_TYPES = frozenset((int, float, Decimal))


def _is_number(value: Any) -> bool:
    return type(value) in _NUMBER_TYPES or (isinstance(value, int | float | Decimal) and not isinstance(value, bool))


def _shown_width(value: Any, kind: str) -> float:
    """How wide ``value`` is shown in a column of ``kind``, in Excel's width units, padding included."""
    if value is None or value == "":
        return 0
    if isinstance(value, dt.datetime):
        text = f"{value:%Y-%m-%d %H:%M:%S}"
    elif isinstance(value, dt.date):
        text = value.isoformat()
    elif _is_number(value) and kind == MONEY:
        text = f"{value:,.2f}"
    elif _is_number(value) and kind == PERCENT:
        text = f"{value:.0%}"
    elif isinstance(value, float):
        text = f"{value:.10g}"
    else:
        text = str(value)
    return len(text) + 2


def _longest(values: Sequence[Any], kind: str) -> float:
    """The widest of ``values`` as shown: a number column by its largest and smallest number (a whole
    pass each in C), a text column by ``max(map(len, ...))``; mixed columns value by value."""
    if not values:
        return 0
    if kind in _NUMERIC:
        try:
            return max(_shown_width(max(values), kind), _shown_width(min(values), kind))
        except TypeError:  # blanks or text among the numbers
            numbers = [v for v in values if type(v) in _NUMBER_TYPES]
            others = [v for v in values if type(v) not in _NUMBER_TYPES]
            widest = max(_shown_width(max(numbers), kind), _shown_width(min(numbers), kind)) if numbers else 0
            return max(widest, _longest(others, TEXT))
    try:
        return max(map(len, values)) + 2
    except TypeError:  # dates, numbers or blanks in a text column
        return max(_shown_width(v, kind) for v in set(values))


def _sum(values: Sequence[Any]) -> Decimal | int | float:
    """The sum of a column's numbers (exact for Decimal money; blanks and text are skipped, as SUM does).
    A column of numbers only is summed in one C pass; otherwise its numbers are picked out first."""
    try:
        return sum(values)
    except TypeError:  # blanks or text (a number too large for Excel, written as text)
        numbers = [v for v in values if type(v) in _NUMBER_TYPES]
    try:
        return sum(numbers)
    except TypeError:  # Decimal and float mixed
        return sum(float(v) for v in numbers)
