"""The reference for the file adapter's writing: the same port calls applied through openpyxl (load
the whole workbook, change cells, save), as ``FileWorkbook`` did before the streamed copy (issue #11).
tests/test_xlsx_patch.py checks the two give the same workbook (values, fills, notes, links, formats,
widths, frozen headers, tables, validations).

Slow (openpyxl holds every cell as an object) and straightforward: it is the oracle, not a fast path.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from otbill_xl.errors import WorkbookError
from otbill_xl.workbook.files import atomic_save
from otbill_xl.workbook.port import OutputTable, is_formula_like, row_heights, table_name


def text_ref(header: str) -> str:
    """A column name in a structured reference, ``[ ] # '`` escaped with ``'``."""
    return "".join("'" + ch if ch in "[]#'" else ch for ch in header)


@contextmanager
def _openpyxl_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _set(cell, value: Any) -> None:
    cell.value = value
    if is_formula_like(value):
        cell.data_type = "s"  # stored as text: Excel never evaluates it


class OpenpyxlCopy:
    """The port's writing methods on an openpyxl workbook loaded from ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._wb = None
        self._notes: dict[tuple[str, int, int], str] = {}

    def _openpyxl(self):
        if self._wb is None:
            import openpyxl  # deferred: only needed when annotating

            with _openpyxl_quiet():
                try:
                    self._wb = openpyxl.load_workbook(self.path, keep_vba=self.path.suffix.lower() == ".xlsm")
                except (ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
                    raise WorkbookError(
                        f"{self.name}: the workbook can be read but not copied with otbill's notes "
                        f"({type(exc).__name__}: a part Excel would repair). Open it in Excel, save it again "
                        "as .xlsx, and run otbill on the saved copy.") from None
        return self._wb

    def _ws(self, sheet: str):
        return self._openpyxl()[sheet]

    def write_values(self, sheet: str, row: int, column: int, rows: Sequence[Sequence[Any]]) -> None:
        ws = self._ws(sheet)
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                _set(ws.cell(row=row + r, column=column + c), value)

    def fill(self, sheet: str, row: int, column: int, rgb: str) -> None:
        from openpyxl.styles import PatternFill

        self._ws(sheet).cell(row=row, column=column).fill = PatternFill("solid", start_color=rgb, end_color=rgb)

    def note(self, sheet: str, row: int, column: int, text: str) -> None:
        from openpyxl.comments import Comment

        from otbill_xl.workbook.xlsx_patch import note_size

        before = self._notes.get((sheet, row, column))
        if before is not None:  # one note per cell: the lines of a second note in the same run are added
            lines = before.split("\n")
            text = "\n".join([*lines, *(line for line in text.split("\n") if line not in lines)])
        self._notes[(sheet, row, column)] = text
        comment = Comment(text, "otbill")
        comment.width, comment.height = note_size(text)
        self._ws(sheet).cell(row=row, column=column).comment = comment

    def hyperlink(self, sheet: str, row: int, column: int, target: str) -> None:
        from openpyxl.worksheet.hyperlink import Hyperlink

        cell = self._ws(sheet).cell(row=row, column=column)
        if target.startswith("#"):
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=target[1:])
        else:
            cell.hyperlink = target
        cell.style = "Hyperlink"

    def replace_sheet(self, sheet: str, rows: Sequence[Sequence[Any]], *, widths: Sequence[float | None] = (),
                      formats: Sequence[str | None] | None = None, table: OutputTable | None = None) -> None:
        from openpyxl.styles import Alignment, Font
        from openpyxl.utils import get_column_letter

        wb = self._openpyxl()
        index = None
        if sheet in wb.sheetnames:
            index = wb.sheetnames.index(sheet)
            del wb[sheet]
        ws = wb.create_sheet(sheet, index)
        self._notes = {k: v for k, v in self._notes.items() if k[0] != sheet}
        column_formats = list(formats or ())
        header_row = table.header_row if table is not None else 1
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values, start=1):
                cell = ws.cell(row=r, column=c)
                _set(cell, value)
                if r in (1, header_row):
                    continue
                if c <= len(column_formats) and column_formats[c - 1]:
                    cell.number_format = column_formats[c - 1]
                if table is not None and c <= len(table.wrap):
                    cell.alignment = Alignment(vertical="top", wrap_text=table.wrap[c - 1] or None)
        if rows:
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for cell in ws[header_row]:
                cell.font = Font(bold=True)
            ws.freeze_panes = "A2"
        if table is not None:
            self._table(ws, sheet, rows, column_formats, table)
        for n, height in row_heights(rows, widths, table).items():
            ws.row_dimensions[n].height = height
        for i, width in enumerate(widths, start=1):
            if width is not None:
                ws.column_dimensions[get_column_letter(i)].width = width

    def _table(self, ws, sheet: str, rows: Sequence[Sequence[Any]], formats: list[str | None],
               table: OutputTable) -> None:
        """openpyxl's Table over the rows: the file adapter's name, range, style and totals row."""
        from openpyxl.styles import Alignment, Font
        from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

        wb = self._openpyxl()
        taken = {t.name for w in wb.worksheets for t in w.tables.values()} | set(wb.defined_names)
        name = table_name(sheet, taken)
        header = [str(h) for h in rows[table.header_row - 1]]
        last_data = max(len(rows), table.header_row + 1)
        totals = table.has_totals and len(rows) > table.header_row
        last = last_data + 1 if totals else last_data
        end = chr(64 + len(header)) if len(header) <= 26 else None
        assert end is not None, "the reference handles tables of up to 26 columns"
        t = Table(displayName=name, name=name, ref=f"A{table.header_row}:{end}{last}")
        t._initialise_columns()
        for column, text in zip(t.tableColumns, header, strict=True):
            column.name = text
        if totals:
            t.totalsRowCount = 1
            for c, total in enumerate(table.totals, start=1):
                if total is None:
                    continue
                cell = ws.cell(row=last, column=c)
                cell.font = Font(bold=True)
                cell.alignment = Alignment(vertical="top", wrap_text=table.wrap[c - 1] or None)
                column: TableColumn = t.tableColumns[c - 1]
                if total.function == "label":
                    column.totalsRowLabel = total.value
                    cell.value = total.value
                else:
                    column.totalsRowFunction = total.function
                    cell.value = f"=SUBTOTAL(109,{name}[{text_ref(header[c - 1])}])"
                    if c <= len(formats) and formats[c - 1]:
                        cell.number_format = formats[c - 1]
        else:
            t.totalsRowShown = False
        t.autoFilter.ref = f"A{table.header_row}:{end}{last_data}"
        t.tableStyleInfo = TableStyleInfo(name=table.style, showFirstColumn=False, showLastColumn=False,
                                          showRowStripes=True, showColumnStripes=False)
        ws.add_table(t)

    def save(self, path: str | None = None, *, replace: bool = True) -> None:
        """Write the copy to ``path`` atomically; ``replace=False`` never replaces an existing file."""
        if path is None:
            raise ValueError(f"{self.name}: otbill never overwrites its input; give a new file name.")
        target = Path(path)
        if target.resolve() == self.path.resolve():
            raise ValueError(f"{self.name}: refusing to overwrite the input workbook; choose another name.")
        wb = self._openpyxl()
        with _openpyxl_quiet():
            atomic_save(wb.save, target, replace=replace)
