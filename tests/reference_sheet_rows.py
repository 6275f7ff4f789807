"""The reference for result-sheet rows in the streamed copy: one ``cell_xml`` per cell, the plain way.
``otbill_xl.workbook.xlsx_patch._new_sheet_rows`` writes the same bytes faster; tests/test_xlsx_patch.py
checks the two agree (hypothesis) and ``benchmarks/bench_patch.py --rows`` times one against the other.
It is the oracle, not a fast path: keep it straightforward.
"""

from __future__ import annotations

from collections.abc import Iterator

from otbill_xl.workbook.xlsx_patch import (
    _CHUNK_FLUSH,
    _KEEP,
    _LETTERS,
    _PLAIN,
    NewSheet,
    SheetEdits,
    StyleOp,
    _date_format,
    _plan_cells,
    _Styles,
    body_ops,
    cell_xml,
    header_rows,
    row_attributes,
    totals_row,
    totals_row_xml,
)


def new_sheet_rows(sheet: NewSheet, se: SheetEdits, styles: _Styles, mac: bool, name: str = "Table1") -> Iterator[bytes]:
    """The ``<row>`` elements of a sheet made by ``replace_sheet`` with the later edits applied, one
    ``cell_xml`` per cell: the definition ``xlsx_patch._new_sheet_rows`` is tested against (and timed against
    in ``benchmarks/bench_patch.py``)."""
    plan = _plan_cells(se)
    rows = sheet.rows
    width = max((len(r) for r in rows), default=0)
    totals = totals_row(sheet)
    last = max([len(rows), totals, *plan])
    style_of: dict[tuple[StyleOp, ...], int] = {}
    ops_of = body_ops(sheet)
    bold_rows = header_rows(sheet)
    tall = row_attributes(sheet)
    out: list[str] = []
    size = 0
    for n in range(1, last + 1):
        if n == totals:  # the table's totals row (labels and SUBTOTAL formulas, bold)
            line = totals_row_xml(sheet, n, name, styles, style_of, ops_of, mac)
            out.append(line)
            size += len(line)
            continue
        values = rows[n - 1] if n <= len(rows) else ()
        edits = plan.get(n, {})
        cols = range(1, max(len(values), width if n == 1 and rows else 0) + 1)
        allcols = sorted(set(cols) | set(edits)) if edits else cols
        if not allcols:
            continue
        cells = []
        for c in allcols:
            value = values[c - 1] if c <= len(values) else None
            ops: tuple[StyleOp, ...] = ()
            if c <= len(values) or (n == 1 and c <= width):  # a cell replace_sheet wrote (not a later edit)
                fmt = None if type(value) in _PLAIN else _date_format(value)
                if fmt:
                    ops = (("date", fmt),)
                if n in bold_rows:
                    ops += (("bold",),)
                elif c < len(ops_of):
                    ops += ops_of[c]
            cp = edits.get(c)
            if cp is not None:
                ops += cp.ops
                if cp.value is not _KEEP:
                    value = cp.value
                elif cp.link_text is not None and value is None:
                    value = cp.link_text
            s = style_of.get(ops) if ops else 0
            if s is None:
                s = style_of[ops] = styles.derive(0, ops)
            cells.append(cell_xml("", f"{_LETTERS[c]}{n}", s, value, mac))
        line = f'<row r="{n}"{tall.get(n, "")}>' + "".join(cells) + "</row>"
        out.append(line)
        size += len(line)
        if size > _CHUNK_FLUSH:
            yield "".join(out).encode()
            out, size = [], 0
    yield "".join(out).encode()
