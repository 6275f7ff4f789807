"""Native Excel charts in output workbooks: the :class:`ChartSpec` record and its openpyxl chart.

A chart is declared as a plain record — what to draw (bar, column, pie, line), from which block of
which sheet, where — and handed to :meth:`otbill_xl.workbook.port.WorkbookPort.add_chart`. The file
adapter turns it into chart and drawing parts with openpyxl's chart classes (:func:`chart_xml`,
:func:`drawing_anchors`; :mod:`otbill_xl.workbook.xlsx_patch` puts them into the package); live Excel
draws it with its own chart objects (:mod:`otbill_xl.workbook.live`).

The chart refers to the cells (it holds no copy of the numbers), so Excel and LibreOffice draw it from
the sheet when the workbook opens. openpyxl is imported only when a chart is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: What a chart can be: horizontal bars, vertical columns, a pie (first series only), lines.
CHART_KINDS = ("bar", "column", "pie", "line")

_ANCHOR = re.compile(r"^([A-Z]{1,3})([1-9][0-9]*)$")
_MAX_ROW = 1_000_000  # openpyxl's limit for a chart reference (Excel's sheet has 1,048,576 rows)
_MAX_COL = 16_384


@dataclass(frozen=True)
class ChartSpec:
    """One chart drawn from a block of a sheet.

    ``data`` is (first row, first column, last row, last column), 1-based, and includes the header row:
    each column of the block is a series named by its header cell, its values in the rows below.
    ``category_column`` holds the labels (payer, denial category ...) in the same rows below the header;
    it may lie outside the block. ``anchor`` is the cell the chart's top-left corner sits on; ``stacked``
    stacks the series (bar, column, line); ``width_cm``/``height_cm`` size it (openpyxl's default size).
    """

    kind: str
    title: str
    data_sheet: str
    data: tuple[int, int, int, int]
    category_column: int
    anchor: str = "H2"
    stacked: bool = False
    y_title: str = ""
    x_title: str = ""
    width_cm: float = 15.0
    height_cm: float = 7.5

    def __post_init__(self) -> None:
        first_row, first_col, last_row, last_col = self.data
        if self.kind not in CHART_KINDS:
            raise ValueError(f"chart {self.title!r}: unknown kind {self.kind!r} (one of {', '.join(CHART_KINDS)})")
        if not (1 <= first_row < last_row <= _MAX_ROW and 1 <= first_col <= last_col <= _MAX_COL):
            raise ValueError(f"chart {self.title!r}: data block {self.data} must be a header row and at least one "
                             "row below it (skip the chart when there is nothing to draw)")
        if not 1 <= self.category_column <= _MAX_COL:
            raise ValueError(f"chart {self.title!r}: category column {self.category_column} is not a column")
        if _ANCHOR.match(self.anchor) is None:
            raise ValueError(f"chart {self.title!r}: anchor {self.anchor!r} is not a cell like H2")
        if self.kind == "pie" and (self.stacked or self.x_title or self.y_title):
            raise ValueError(f"chart {self.title!r}: a pie has no axes and cannot be stacked")
        if not (self.width_cm > 0 and self.height_cm > 0):
            raise ValueError(f"chart {self.title!r}: width and height must be positive")

    @property
    def series_count(self) -> int:
        return self.data[3] - self.data[1] + 1

    @property
    def anchor_cell(self) -> tuple[int, int]:
        """The anchor as (row, column), 1-based."""
        m = _ANCHOR.match(self.anchor)
        assert m is not None
        column = 0
        for ch in m[1]:
            column = column * 26 + ord(ch) - 64
        return int(m[2]), column


def openpyxl_chart(spec: ChartSpec) -> Any:
    """The chart as an openpyxl chart object (anchored, sized), its references on ``spec.data_sheet``."""
    from openpyxl.chart import BarChart, LineChart, PieChart, Reference
    from openpyxl.chart.data_source import AxDataSource, StrRef
    from openpyxl.chart.legend import Legend
    from openpyxl.chart.reference import DummyWorksheet

    sheet = DummyWorksheet(spec.data_sheet)
    first_row, first_col, last_row, last_col = spec.data
    chart: Any
    if spec.kind == "pie":
        chart = PieChart()
    elif spec.kind == "line":
        chart = LineChart()
        chart.grouping = "stacked" if spec.stacked else "standard"
    else:
        chart = BarChart()
        chart.type = "bar" if spec.kind == "bar" else "col"
        if spec.stacked:
            chart.grouping = "stacked"
            chart.overlap = 100
    chart.title = spec.title
    chart.add_data(Reference(sheet, min_col=first_col, min_row=first_row, max_col=last_col, max_row=last_row),
                   titles_from_data=True)
    # The labels are text (payers, denial categories): a string reference, where openpyxl's
    # set_categories writes a number reference.
    labels = Reference(sheet, min_col=spec.category_column, min_row=first_row + 1, max_row=last_row)
    for series in chart.series:
        series.cat = AxDataSource(strRef=StrRef(f=str(labels)))
    if spec.kind != "pie":
        chart.x_axis.title = spec.x_title or None
        chart.y_axis.title = spec.y_title or None
        # openpyxl 3.1 leaves <c:delete> out, and Excel then hides both axes
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        # Whole dollars on the value axis: the cells' two-decimal money format crowds the axis labels.
        chart.y_axis.number_format = "#,##0"
        chart.legend = Legend(legendPos="b") if spec.series_count > 1 else None
    chart.anchor = spec.anchor
    chart.width = spec.width_cm
    chart.height = spec.height_cm
    return chart


def chart_xml(spec: ChartSpec) -> bytes:
    """The chart part (``xl/charts/chartN.xml``): openpyxl's ``chartSpace`` for the chart."""
    from openpyxl.xml.functions import tostring

    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + tostring(openpyxl_chart(spec)._write())


def drawing_anchors(specs: list[ChartSpec]) -> bytes:
    """A drawing part (``xl/drawings/drawingN.xml``) holding one anchored frame per chart, in order; the
    frames refer to their charts as ``rId1``, ``rId2`` ... (openpyxl's numbering, renumbered by the
    caller when the drawing already holds other frames)."""
    from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
    from openpyxl.xml.functions import tostring

    drawing = SpreadsheetDrawing()
    drawing.charts = [openpyxl_chart(s) for s in specs]
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + tostring(drawing._write())
