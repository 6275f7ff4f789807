"""Output sheets, each declared once: its columns (header, width, kind → number format, value).

A :class:`SheetSpec` is the single place an output sheet's layout lives. The header row, the column
widths, the number formats and every data row come from its list of :class:`Column` — so they cannot
drift apart — and a JSON shape keyed by the headers (:meth:`SheetSpec.as_dict`) comes from it too.
The action that owns the sheet writes it through the port with :meth:`SheetSpec.write`.

``tests/test_sheets.py`` checks every declared sheet: each column's value has its declared kind for
a sample object, and the file adapter writes the declared headers, widths and number formats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from otbill_xl.domain.findings import column_letter
from otbill_xl.workbook.charts import ChartSpec
from otbill_xl.workbook.port import WorkbookPort

T = TypeVar("T")

#: What a column holds. The kind decides its number format and what its values may be.
TEXT = "text"      # text (General)
MONEY = "money"    # Decimal dollars and cents
COUNT = "count"    # whole numbers: units, lines, row numbers, counts
DATE = "date"      # datetime.date
NUMBER = "number"  # any other number (General)

#: Excel number format of each kind (``None``: General, left as Excel shows it).
NUMBER_FORMATS: dict[str, str | None] = {TEXT: None, MONEY: "#,##0.00", COUNT: "0", DATE: "yyyy-mm-dd",
                                         NUMBER: None}


def money_text(value: Decimal | None) -> str | None:
    """Money for JSON: a string with two decimals (never a float)."""
    return None if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of an output sheet: its header, width (``None``: Excel's default), kind and the
    function giving its cell value for a row object. ``data`` gives the JSON value when it is not
    the cell value (by default: the cell value, money as a two-decimal string)."""

    header: str
    width: float | None
    kind: str
    value: Callable[[T], Any]
    data: Callable[[T], Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in NUMBER_FORMATS:
            raise ValueError(f"column {self.header!r}: unknown kind {self.kind!r}")

    @property
    def number_format(self) -> str | None:
        return NUMBER_FORMATS[self.kind]

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

    def write(self, port: WorkbookPort, objects: Iterable[T], *, cell: Callable[[Any], Any] | None = None,
              above: Sequence[Sequence[Any]] = ()) -> list[list[Any]]:
        """Replace the sheet in ``port`` with the header and one row per object (``above``: rows written
        before the table, the first of them then being the sheet's header). Returns the rows written."""
        rows = [list(r) for r in above] + self.rows(objects, cell=cell)
        port.replace_sheet(self.name, rows, widths=self.widths, formats=self.formats)
        return rows
