"""Live-Excel adapter of the workbook port: an open workbook through xlwings.

Deliberately thin — range reads and writes only, no billing logic — because it cannot run
without Excel (it is exercised on Windows/macOS; every action's logic is tested through the file
adapter). ``xlwings`` is imported lazily so a headless install does not need it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from otbill_xl.workbook.charts import ChartSpec
from otbill_xl.workbook.port import OutputTable, TableInfo, is_formula_like, table_name

_EXCEL_ERRORS = frozenset({"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"})


#: xlwings chart types by (kind, stacked).
_LIVE_TYPES = {("bar", False): "bar_clustered", ("bar", True): "bar_stacked",
               ("column", False): "column_clustered", ("column", True): "column_stacked",
               ("pie", False): "pie", ("line", False): "line", ("line", True): "line_stacked"}


def _safe(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    # Excel's quote prefix: the apostrophe makes the cell text and is not shown.
    return [["'" + v if is_formula_like(v) else v for v in r] for r in rows]


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[0:2], 16), int(hex_colour[2:4], 16), int(hex_colour[4:6], 16)


class LiveWorkbook:
    """Wraps an ``xlwings.Book`` (e.g. ``xlwings.Book.caller()`` inside a ribbon macro)."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.name = book.name
        self._notes: dict[tuple[str, int, int], str] = {}  # written in this session: merged per cell

    def sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets]

    def values(self, sheet: str) -> list[list[Any]]:
        ws = self.book.sheets[sheet]
        last = ws.used_range.last_cell
        return ws.range((1, 1), (last.row, last.column)).options(ndim=2, empty="").value

    def tables(self) -> list[TableInfo]:
        out = []
        for ws in self.book.sheets:
            for t in ws.tables:
                header = t.header_row_range
                out.append(TableInfo(t.name, ws.name, header.row, header.column, tuple(header.value)))
        return out

    def merged_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        return []  # Excel reports merged headers itself; the file adapter checks them headless.

    def formulas_without_values(self, sheet: str) -> list[tuple[int, int]]:
        return []  # Excel calculates every formula it shows.

    def error_cells(self, sheet: str) -> list[tuple[int, int, str]]:
        # xlwings hands error cells over as None (a blank) unless asked for their text.
        ws = self.book.sheets[sheet]
        last = ws.used_range.last_cell
        rows = ws.range((1, 1), (last.row, last.column)).options(ndim=2, empty="", err_to_str=True).value
        return [(r, c, v) for r, row in enumerate(rows, start=1) for c, v in enumerate(row, start=1)
                if isinstance(v, str) and v in _EXCEL_ERRORS]

    def hidden_rows(self, sheet: str) -> list[int]:
        return []  # the biller sees the open book; hidden rows are reported for files

    def sheet_state(self, sheet: str) -> str:
        return "visible" if self.book.sheets[sheet].visible else "hidden"

    def write_values(self, sheet: str, row: int, column: int, rows: Sequence[Sequence[Any]]) -> None:
        self.book.sheets[sheet].range((row, column)).value = _safe(rows)

    def fill(self, sheet: str, row: int, column: int, rgb: str) -> None:
        self.book.sheets[sheet].range((row, column)).color = _rgb(rgb)

    def note(self, sheet: str, row: int, column: int, text: str) -> None:
        before = self._notes.get((sheet, row, column))
        if before is not None:  # one note per cell, holding every finding given for it in this session
            lines = before.split("\n")
            text = "\n".join([*lines, *(line for line in text.split("\n") if line not in lines)])
        self._notes[(sheet, row, column)] = text
        cell = self.book.sheets[sheet].range((row, column))
        if cell.note is not None:
            cell.note.delete()
        cell.api.AddComment(text)
        try:  # pragma: no cover - needs Excel (Windows object model): the box sized to the text
            from otbill_xl.workbook.xlsx_patch import note_size

            width, height = note_size(text)
            shape = cell.api.Comment.Shape
            shape.Width, shape.Height = width * 0.75, height * 0.75  # points
        except Exception:
            pass

    def hyperlink(self, sheet: str, row: int, column: int, target: str) -> None:
        cell = self.book.sheets[sheet].range((row, column))
        cell.add_hyperlink(target, text_to_display=str(cell.value or target))

    def replace_sheet(self, sheet: str, rows: Sequence[Sequence[Any]], *, widths: Sequence[float | None] = (),
                      formats: Sequence[str | None] | None = None, table: OutputTable | None = None) -> None:
        names = self.sheet_names()
        ws = self.book.sheets[sheet] if sheet in names else self.book.sheets.add(sheet, after=self.book.sheets[-1])
        for old in list(ws.tables):  # pragma: no cover - needs Excel: the last run's table goes with its rows
            old.api.Delete()
        ws.clear()
        for chart in list(ws.charts):  # the sheet's old charts go with it (a rerun draws them again)
            chart.delete()
        if rows:
            ws.range("A1").value = _safe(rows)
            ws.range((1, 1), (1, len(rows[0]))).font.bold = True
        for i, width in enumerate(widths, start=1):
            if width is not None:
                ws.range((1, i)).column_width = width
        if len(rows) > 1:
            for i, number_format in enumerate(formats or (), start=1):
                if number_format:
                    ws.range((2, i), (len(rows), i)).number_format = number_format
        if table is not None and rows:
            self._table(ws, sheet, rows, table)

    def _table(self, ws: Any, sheet: str, rows: Sequence[Sequence[Any]], table: OutputTable
               ) -> None:  # pragma: no cover - needs Excel
        """The Excel Table over the rows, as the file adapter makes it: name, style, wrapped columns, totals."""
        first = table.header_row
        columns = len(rows[first - 1])
        last = max(len(rows), first + 1)
        taken = [t.name for t in self.tables()] + [n.name.split("!")[-1] for n in self.book.names]
        xl_table = ws.tables.add(source=ws.range((first, 1), (last, columns)), name=table_name(sheet, taken),
                                 table_style_name=table.style)
        for i, wrap in enumerate(table.wrap, start=1):
            body = ws.range((first + 1, i), (last, i))
            body.wrap_text = wrap
            with contextlib.suppress(Exception):  # the Windows object model
                body.api.VerticalAlignment = -4160  # xlTop
        if table.has_totals and len(rows) > first:
            xl_table.show_totals = True
            try:  # the Windows object model: a label or Excel's SUBTOTAL(109, ...) per column
                for i, total in enumerate(table.totals, start=1):
                    if total is None:
                        continue
                    column = xl_table.api.ListColumns(i)
                    if total.function == "label":
                        column.TotalsRowRange.Value = total.value
                    else:
                        column.TotalsCalculation = 1  # xlTotalsCalculationSum
            except Exception:
                pass

    def extend_table(self, table: str, last_row: int) -> None:  # pragma: no cover - needs Excel
        for ws in self.book.sheets:
            for xl_table in ws.tables:
                if xl_table.name == table:
                    rng = xl_table.range
                    if rng.last_cell.row < last_row:
                        xl_table.resize(ws.range((rng.row, rng.column), (last_row, rng.last_cell.column)))
                    return

    def add_chart(self, sheet: str, chart: ChartSpec) -> None:  # pragma: no cover - needs Excel
        ws = self.book.sheets[sheet]
        data = self.book.sheets[chart.data_sheet]
        first_row, first_col, last_row, last_col = chart.data
        labels = data.range((first_row, chart.category_column), (last_row, chart.category_column))
        block = data.range((first_row, first_col), (last_row, last_col))
        # categories first, then the series (Excel reads the first column of the source as labels)
        source = data.range(f"{labels.address},{block.address}")
        points_per_cm = 72 / 2.54
        cell = ws.range(chart.anchor)
        xl_chart = ws.charts.add(cell.left, cell.top, chart.width_cm * points_per_cm,
                                 chart.height_cm * points_per_cm)
        xl_chart.chart_type = _LIVE_TYPES[(chart.kind, chart.stacked)]
        xl_chart.set_source_data(source)
        api = xl_chart.api[1] if isinstance(xl_chart.api, tuple) else xl_chart.api
        try:  # the title through Excel's object model (Windows); macOS keeps Excel's default title
            api.HasTitle = True
            api.ChartTitle.Text = chart.title
        except Exception:
            pass

    def save(self, path: str | None = None) -> None:
        if path:
            self.book.save(path)
        # Without a path the changes stay in the open book for the user to review and save.
