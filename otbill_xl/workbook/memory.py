"""In-memory adapter of the workbook port: sheets as lists of rows.

Used where values arrive without a file — a worksheet function handed a range (``OT_EXPECTED``) —
so they go through exactly the same header mapping and cell conversion as a workbook file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otbill_xl.errors import WorkbookError
from otbill_xl.workbook.charts import ChartSpec
from otbill_xl.workbook.port import OutputTable, TableInfo, table_name


class MemoryWorkbook:
    """A read-mostly workbook held in memory (writes are kept in ``self.sheets``)."""

    def __init__(self, sheets: dict[str, list[list[Any]]], name: str = "range") -> None:
        self.sheets = {k: [list(r) for r in v] for k, v in sheets.items()}
        self.name = name
        #: What :meth:`replace_sheet` was given for each sheet it wrote: column widths, number formats.
        self.widths: dict[str, tuple[float | None, ...]] = {}
        self.formats: dict[str, tuple[str | None, ...] | None] = {}
        #: The charts :meth:`add_chart` placed on each sheet, in order.
        self.charts: dict[str, list[ChartSpec]] = {}
        self.grown_tables: dict[str, int] = {}
        #: The Excel Table :meth:`replace_sheet` was asked to make on each sheet (header row, wrapped
        #: columns, totals) and the name it got (unique, as the file adapter names it).
        self.output_tables: dict[str, OutputTable] = {}
        self.table_names: dict[str, str] = {}
        #: The notes written, by (sheet, row, column): one per cell, merged as the file adapter merges them.
        self.notes: dict[tuple[str, int, int], str] = {}

    def sheet_names(self) -> list[str]:
        return list(self.sheets)

    def values(self, sheet: str) -> list[list[Any]]:
        rows = self.sheets[sheet]
        width = max((len(r) for r in rows), default=0)
        return [r + [None] * (width - len(r)) for r in rows]

    def tables(self) -> list[TableInfo]:
        out = []
        for sheet, table in self.output_tables.items():
            header = self.sheets[sheet][table.header_row - 1]
            out.append(TableInfo(self.table_names[sheet], sheet, table.header_row, 1, tuple(header)))
        return out

    def merged_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        return []

    def formulas_without_values(self, sheet: str) -> list[tuple[int, int]]:
        return []

    def error_cells(self, sheet: str) -> list[tuple[int, int, str]]:
        return []  # values handed over in memory carry no Excel error cells

    def hidden_rows(self, sheet: str) -> list[int]:
        return []

    def sheet_state(self, sheet: str) -> str:
        return "visible"

    def write_values(self, sheet: str, row: int, column: int, rows: Sequence[Sequence[Any]]) -> None:
        grid = self.sheets.setdefault(sheet, [])
        for r, values in enumerate(rows):
            while len(grid) < row + r:
                grid.append([])
            target = grid[row + r - 1]
            for c, value in enumerate(values):
                while len(target) < column + c:
                    target.append(None)
                target[column + c - 1] = value

    def fill(self, sheet: str, row: int, column: int, rgb: str) -> None:
        pass

    def note(self, sheet: str, row: int, column: int, text: str) -> None:
        before = self.notes.get((sheet, row, column))
        if before is not None:
            lines = before.split("\n")
            text = "\n".join([*lines, *(line for line in text.split("\n") if line not in lines)])
        self.notes[(sheet, row, column)] = text

    def hyperlink(self, sheet: str, row: int, column: int, target: str) -> None:
        pass

    def replace_sheet(self, sheet: str, rows: Sequence[Sequence[Any]], *, widths: Sequence[float | None] = (),
                      formats: Sequence[str | None] | None = None, table: OutputTable | None = None) -> None:
        self.sheets[sheet] = [list(r) for r in rows]
        self.widths[sheet] = tuple(widths)
        self.formats[sheet] = None if formats is None else tuple(formats)
        self.charts.pop(sheet, None)  # a cleared sheet loses its charts, as in the file adapter
        self.output_tables.pop(sheet, None)
        self.table_names.pop(sheet, None)
        if table is not None:
            self.output_tables[sheet] = table
            self.table_names[sheet] = table_name(sheet, self.table_names.values())

    def add_chart(self, sheet: str, chart: ChartSpec) -> None:
        for name in (sheet, chart.data_sheet):
            if name not in self.sheets:
                raise WorkbookError(f"{self.name}: there is no sheet named {name!r} for chart {chart.title!r}.")
        self.charts.setdefault(sheet, []).append(chart)

    def extend_table(self, table: str, last_row: int) -> None:
        self.grown_tables[table] = max(last_row, self.grown_tables.get(table, 0))

    def save(self, path: str | None = None) -> None:
        pass
