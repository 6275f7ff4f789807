"""Streaming annotated copies of .xlsx/.xlsm workbooks: copy the package part by part, rewrite only
what the edits touch.

openpyxl annotates a copy by loading every cell of every sheet into Python objects and writing them all
back (about 45 s to load and 51 s to save a 100,000-row workbook). This module does the same job by
streaming: every part no edit touches (other sheets, tables, validations, defined names, charts,
``vbaProject.bin``) is copied byte for byte; the edited sheets are read from the zip and written to the
new zip row by row, with only the rows that carry an edit rebuilt. ``styles.xml`` gets a few appended
formats (existing style ids stay valid), notes go into the sheet's comments part and VML drawing,
links into ``<hyperlinks>`` and the sheet's relationships, new sheets are written as streamed XML, and
charts (:class:`~otbill_xl.workbook.charts.ChartSpec`) become chart parts (openpyxl's chart XML) with a
frame each in the sheet's drawing (the sheet's own drawing when it has one; part numbers no input part
uses; a replaced sheet's old drawing and charts are dropped with it). Without charts none of this runs.

The edits are a plain record (:class:`Edits`) with the semantics of the workbook port's writing methods
(:class:`otbill_xl.workbook.port.WorkbookPort`) as the openpyxl adapter implements them: formula-looking
text is written as text; a fill keeps the cell's other formatting; a note is a comment by "otbill"
(a box sized to its text) replacing the note at that cell — notes given for one cell in one run
are merged into one; a link is internal (``#Sheet!A1``) or an external
URL and gives the cell the Hyperlink cell style (which, as in openpyxl, replaces the cell's formatting);
a date keeps the cell's date format or gets ``yyyy-mm-dd`` (``yyyy-mm-dd h:mm:ss`` for a datetime);
:meth:`Edits.replace_sheet` makes a sheet with a bold header row frozen at A2, column widths,
per-column number formats below the header and, given an
:class:`~otbill_xl.workbook.port.OutputTable`, an Excel Table over the rows (a table part named after the
sheet, unique among the workbook's tables and defined names; filter buttons; wrapped, top-aligned
columns; a totals row of ``SUBTOTAL(109, Table[Column])`` formulas with their sums saved as results).

Speed (``python -m benchmarks.bench_patch``; a 2-core machine shared with other jobs, medians): on the
100,000-row benchmark workbook with a value written in every row, a fill on one row in five, a note on
one in fifty, a link on one in a hundred and a 20,000-row Findings sheet with a link per row, the copy
takes 1.6-2.5 s against 1.05-1.5 s for python-calamine's read of the sheet measured alongside
(1.2-1.9x, depending on the machine's load); openpyxl's load + edits + save of the same took 38-39 s.
A copy with a single edit (unpacking and packing the 56 MB sheet) takes 0.8 s. Peak memory of that
process: 145-148 MB (62 MB of it the interpreter and imports). Rows are found as bytes (``bytes.find('<row r="N"')``, cells the same
way) and only the rows with an edit are rebuilt: with a value written into every row, the whole copy
took 2.3 s, while lxml ``iterparse`` + its incremental writer needed 3.7 s for the sheet XML alone
(no zip), so the byte level was kept. New sheets are written as joined strings: 0.31 s for the
20,000 x 7 Findings rows against 0.81 s with lxml's ``xmlfile`` (``run_alternatives`` in the benchmark).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any

from otbill_xl.domain._gc import gc_paused
from otbill_xl.errors import OutputError, WorkbookError
from otbill_xl.workbook.charts import ChartSpec
from otbill_xl.workbook.parts import inflate
from otbill_xl.workbook.port import OutputTable, row_heights, table_name

Cell = tuple[int, int]
StyleOp = tuple[str, ...]

# -- the record of edits --------------------------------------------------------------------------------


@dataclass
class NewSheet:
    """A sheet written from A1 by :meth:`Edits.replace_sheet` (first row is the header)."""

    rows: Sequence[Sequence[Any]]
    widths: Sequence[float | None] = ()
    formats: Sequence[str | None] = ()
    #: the Excel Table over the rows (``None``: plain rows, as before tables)
    table: OutputTable | None = None


@dataclass
class SheetEdits:
    """Edits of one sheet, by (row, column), 1-based.

    ``style_ops`` records, per cell, the formatting changes in the order they were asked for (a date
    value's format, the Hyperlink style, a fill), because the Hyperlink style replaces what came before;
    the methods of :class:`Edits` keep it. A cell with a value, link or fill but no entry gets them in the
    order value, link, fill."""

    values: dict[Cell, Any] = field(default_factory=dict)
    fills: dict[Cell, str] = field(default_factory=dict)
    notes: dict[Cell, str] = field(default_factory=dict)
    links: dict[Cell, str] = field(default_factory=dict)
    style_ops: dict[Cell, tuple[StyleOp, ...]] = field(default_factory=dict)
    #: cells whose value becomes the link text if the cell turns out to be empty (openpyxl's rule)
    link_text_if_empty: dict[Cell, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values or self.fills or self.notes or self.links)


@dataclass
class Edits:
    """Everything to change in a copy of a workbook; the methods mirror the port's writing methods."""

    sheets: dict[str, SheetEdits] = field(default_factory=dict)
    #: sheets created or replaced, in the order they were asked for
    new_sheets: dict[str, NewSheet] = field(default_factory=dict)
    #: charts by the sheet they are placed on, in the order they were asked for
    charts: dict[str, list[ChartSpec]] = field(default_factory=dict)
    #: tables of the input to reach down to a row (rows appended below them), by table name
    grown_tables: dict[str, int] = field(default_factory=dict)

    def sheet(self, name: str) -> SheetEdits:
        return self.sheets.setdefault(name, SheetEdits())

    def write_values(self, sheet: str, row: int, column: int, rows: Sequence[Sequence[Any]]) -> None:
        se = self.sheet(sheet)
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                key = (row + r, column + c)
                se.values[key] = value
                se.link_text_if_empty.pop(key, None)
                fmt = _date_format(value)
                if fmt:
                    se.style_ops[key] = se.style_ops.get(key, ()) + (("date", fmt),)

    def fill(self, sheet: str, row: int, column: int, rgb: str) -> None:
        se = self.sheet(sheet)
        key = (row, column)
        se.fills[key] = rgb
        ops = tuple(op for op in se.style_ops.get(key, ()) if op[0] != "fill")
        se.style_ops[key] = ops + (("fill", rgb),)

    def note(self, sheet: str, row: int, column: int, text: str) -> None:
        notes = self.sheet(sheet).notes
        before = notes.get((row, column))
        if before is not None:  # one note per cell: a second note in the same run adds its new lines
            lines = before.split("\n")
            text = "\n".join([*lines, *(line for line in text.split("\n") if line not in lines)])
        notes[(row, column)] = text

    def hyperlink(self, sheet: str, row: int, column: int, target: str) -> None:
        se = self.sheet(sheet)
        key = (row, column)
        se.links[key] = target
        se.fills.pop(key, None)  # the Hyperlink style replaces the cell's formatting, fill included
        se.style_ops[key] = (("link",),)
        text = target[1:] if target.startswith("#") else target
        if key in se.values:
            if se.values[key] is None:
                se.values[key] = text
        else:  # a second link finds the first one's text in the cell
            se.link_text_if_empty.setdefault(key, text)

    def replace_sheet(self, sheet: str, rows: Sequence[Sequence[Any]], *, widths: Sequence[float | None] = (),
                      formats: Sequence[str | None] | None = None, table: OutputTable | None = None) -> None:
        _check_sheet_name(sheet)
        if table is not None:
            _check_table(sheet, rows, table)
        self.new_sheets.pop(sheet, None)
        self.new_sheets[sheet] = NewSheet(rows, tuple(widths), tuple(formats or ()), table)
        self.sheets[sheet] = SheetEdits()
        self.charts.pop(sheet, None)  # a cleared sheet loses the charts placed on it before

    def add_chart(self, sheet: str, chart: ChartSpec) -> None:
        self.charts.setdefault(sheet, []).append(chart)

    def extend_table(self, table: str, last_row: int) -> None:
        self.grown_tables[table] = max(last_row, self.grown_tables.get(table, 0))


_TABLE_NAME = re.compile(rb'<(?:\w+:)?table\b[^>]*?\bname="([^"]*)"')
_REF_END = re.compile(rb'(\bref="[A-Z]{1,3}[0-9]+:[A-Z]{1,3})([0-9]+)(")')


def grown_table(data: bytes, grown: dict[str, int]) -> bytes:
    """A table part whose ``ref`` (and its autoFilter's) reaches down to the row asked for in ``grown``
    by its name — rows appended below a table (Payments posted by reconcile) belong to it. A table
    with a totals row, or one already reaching further, is left as it is."""
    m = _TABLE_NAME.search(data[:2000])
    if m is None:
        return data
    last = grown.get(m.group(1).decode("utf-8", "replace"))
    if last is None or b'totalsRowCount="1"' in data[:2000]:
        return data

    def end(ref: re.Match[bytes]) -> bytes:
        return ref.group(1) + str(max(int(ref.group(2)), last)).encode() + ref.group(3)
    return _REF_END.sub(end, data)


_BAD_NAME = re.compile(r"[\[\]:*?/\\]")


def _check_table(sheet: str, rows: Sequence[Sequence[Any]], table: OutputTable) -> None:
    """A table's header row must be there and name each column once, in text (Excel repairs a file whose
    table header disagrees with its cells)."""
    header = rows[table.header_row - 1] if 0 < table.header_row <= len(rows) else None
    names = [h for h in header or () if isinstance(h, str) and h.strip()]
    if header is None or not names or len(names) != len(header) or \
            len({h.lower() for h in names}) != len(names):
        raise OutputError(f"Sheet {sheet[:40]!r}: a table needs a header row naming each column once "
                          f"(row {table.header_row}).")


def _check_sheet_name(name: str) -> None:
    if not name or len(name) > 31 or _BAD_NAME.search(name) or name.startswith("'") or name.endswith("'"):
        raise WorkbookError(f"Sheet name {name[:40]!r} cannot be used in Excel: a name has 1 to 31 characters, "
                            "none of [ ] : * ? / \\, and does not start or end with an apostrophe. "
                            "Fix: choose another sheet name.")


# -- values -----------------------------------------------------------------------------------------------

_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_WIN_EPOCH = dt.datetime(1899, 12, 30)
_MAC_EPOCH = dt.datetime(1904, 1, 1)


def _date_format(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return "yyyy-mm-dd h:mm:ss"
    if isinstance(value, dt.date):
        return "yyyy-mm-dd"
    return None


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _esc_attr(text: str) -> str:
    return _esc(text).replace('"', "&quot;")


def _xml_text(text: str) -> str:
    """Text for an element: escaped; characters XML cannot hold as ``_xHHHH_`` (as Excel writes them)."""
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub(lambda m: f"_x{ord(m[0]):04X}_", text)
    return _esc(text)


def _serial(value: dt.date, mac: bool) -> float | int:
    """Excel's serial number of a date or datetime (openpyxl's ``to_excel``, 1900 or 1904 system)."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)
    if moment.tzinfo is not None:
        raise OutputError("A date with a time zone cannot be written into a workbook (Excel has no time "
                          "zones). Fix: convert it to local time first.")
    epoch = _MAC_EPOCH if mac else _WIN_EPOCH
    delta = moment - epoch
    days = delta.days
    if not mac and 0 < days <= 60:
        days -= 1
    if not isinstance(value, dt.datetime):
        return days
    return days + (delta.seconds + delta.microseconds / 1e6) / 86400


def cell_xml(p: str, ref: str, s: int, value: Any, mac: bool = False) -> str:
    """One ``<c>`` element holding ``value`` with style ``s`` (strings inline; see module docstring)."""
    sa = f' s="{s}"' if s else ""
    if value is None or value == "":
        return f'<{p}c r="{ref}"{sa}/>'
    kind = type(value)
    if kind is str or isinstance(value, str):
        if value in _ERROR_CODES:
            return f'<{p}c r="{ref}"{sa} t="e"><{p}v>{value}</{p}v></{p}c>'
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<{p}c r="{ref}"{sa} t="inlineStr"><{p}is><{p}t{space}>{_xml_text(value)}</{p}t></{p}is></{p}c>'
    if kind is bool:
        return f'<{p}c r="{ref}"{sa} t="b"><{p}v>{int(value)}</{p}v></{p}c>'
    if kind is int:
        return f'<{p}c r="{ref}"{sa}><{p}v>{value}</{p}v></{p}c>'
    if kind is float or kind is Decimal or isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else value - value == 0
        if not finite:
            return f'<{p}c r="{ref}"{sa}/>'  # openpyxl writes no value for NaN or infinity
        return f'<{p}c r="{ref}"{sa}><{p}v>{float(value):.16g}</{p}v></{p}c>'
    if isinstance(value, dt.date):
        return f'<{p}c r="{ref}"{sa}><{p}v>{_serial(value, mac):.16g}</{p}v></{p}c>'
    if isinstance(value, int):
        return f'<{p}c r="{ref}"{sa}><{p}v>{int(value)}</{p}v></{p}c>'
    raise OutputError(f"Cell {ref}: a value of type {type(value).__name__} cannot be written into a workbook "
                      "(text, numbers, dates, true/false or blank only).")


def column_letter(col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_LETTERS = [column_letter(i) for i in range(0, 16385)]
_LETTERS_B = [x.encode() for x in _LETTERS]


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


# -- number formats ----------------------------------------------------------------------------------------

BUILTIN_FORMATS = {
    0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 5: '"$"#,##0_);("$"#,##0)',
    6: '"$"#,##0_);[Red]("$"#,##0)', 7: '"$"#,##0.00_);("$"#,##0.00)', 8: '"$"#,##0.00_);[Red]("$"#,##0.00)',
    9: "0%", 10: "0.00%", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??", 14: "mm-dd-yy", 15: "d-mmm-yy",
    16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss",
    22: "m/d/yy h:mm", 37: "#,##0_);(#,##0)", 38: "#,##0_);[Red](#,##0)", 39: "#,##0.00_);(#,##0.00)",
    40: "#,##0.00_);[Red](#,##0.00)", 41: r'_(* #,##0_);_(* \(#,##0\);_(* "-"_);_(@_)',
    42: r'_("$"* #,##0_);_("$"* \(#,##0\);_("$"* "-"_);_(@_)',
    43: r'_(* #,##0.00_);_(* \(#,##0.00\);_(* "-"??_);_(@_)',
    44: r'_("$"* #,##0.00_)_("$"* \(#,##0.00\)_("$"* "-"??_)_(@_)', 45: "mm:ss", 46: "[h]:mm:ss",
    47: "mmss.0", 48: "##0.0E+0", 49: "@",
}
_BUILTIN_REVERSE = {code: i for i, code in BUILTIN_FORMATS.items()}
_STRIP_FORMAT = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_DATE_CHARS = re.compile(r"(?<![_\\])[dmhysDMHYS]")


def is_date_format(code: str | None) -> bool:
    """openpyxl's test of a number format for dates (the first section, quoted text ignored)."""
    if code is None:
        return False
    return _DATE_CHARS.search(_STRIP_FORMAT.sub("", code.split(";")[0])) is not None


# -- package constants ---------------------------------------------------------------------------------------

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL_BASE = _NS_REL + "/"
_REL_WORKSHEET = _REL_BASE + "worksheet"
_REL_COMMENTS = _REL_BASE + "comments"
_REL_VML = _REL_BASE + "vmlDrawing"
_REL_HYPERLINK = _REL_BASE + "hyperlink"
_REL_TABLE = _REL_BASE + "table"
_REL_CALC_CHAIN = _REL_BASE + "calcChain"
_REL_DRAWING = _REL_BASE + "drawing"
_REL_CHART = _REL_BASE + "chart"
_CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
_CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
_CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
_CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
_CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
_XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_ATTR = re.compile(rb'([\w:.-]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
_REL_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?Relationship\b[^>]*>")


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    return {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTR.finditer(tag)}


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _rels_path(part: str) -> str:
    pp = PurePosixPath(part)
    return str(pp.parent / "_rels" / (pp.name + ".rels"))


def _resolve(base_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = []
    for piece in (str(PurePosixPath(base_part).parent) + "/" + target).split("/"):
        if piece in ("", "."):
            continue
        if piece == "..":
            if parts:
                parts.pop()
        else:
            parts.append(piece)
    return "/".join(parts)


def _relative(base_part: str, target_part: str) -> str:
    return os.path.relpath(target_part, str(PurePosixPath(base_part).parent)).replace(os.sep, "/")


@dataclass
class _Rel:
    rid: str
    type: str
    target: str
    external: bool


def _parse_rels(data: bytes) -> list[_Rel]:
    out = []
    for m in _REL_ELEMENT.finditer(data):
        a = _attrs(m[0])
        out.append(_Rel(_unescape(a.get(b"Id", b"").decode()), a.get(b"Type", b"").decode(),
                        _unescape(a.get(b"Target", b"").decode()), a.get(b"TargetMode", b"") == b"External"))
    return out


def _unused_rid(used: set[str]) -> str:
    n = len(used) + 1
    while f"rId{n}" in used:
        n += 1
    used.add(f"rId{n}")
    return f"rId{n}"


def _rels_with(data: bytes | None, new: list[_Rel], drop: frozenset[str] | set[str] = frozenset()) -> bytes:
    """A relationships part: the existing one (``data``) less the ids in ``drop``, plus ``new``."""
    if data is None:
        data = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="'
                b'http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>')
    if drop:
        def keep(m: re.Match[bytes]) -> bytes:
            return b"" if _unescape(_attrs(m[0]).get(b"Id", b"").decode()) in drop else m[0]
        data = _REL_ELEMENT.sub(keep, data)
        data = re.sub(rb"</(?:[\w.-]+:)?Relationship>", b"", data) if b"</Relationship>" in data else data
    if not new:
        return data
    added = "".join(
        f'<Relationship Id="{r.rid}" Type="{r.type}" Target="{_esc_attr(r.target)}"'
        + (' TargetMode="External"' if r.external else "") + "/>" for r in new).encode()
    m = re.search(rb"</(?:[\w.-]+:)?Relationships\s*>", data)
    if m is None:
        data = re.sub(rb"<((?:[\w.-]+:)?Relationships\b[^>]*?)/>", rb"<\1></Relationships>", data)
        m = re.search(rb"</(?:[\w.-]+:)?Relationships\s*>", data)
    assert m is not None
    return data[:m.start()] + added + data[m.start():]


# -- styles.xml -------------------------------------------------------------------------------------------------


class _Styles:
    """``styles.xml`` with formats appended on demand: ``derive(base_xf, ops)`` gives the id of a cell
    format equal to ``base_xf`` changed by ``ops``; existing ids never change."""

    def __init__(self, data: bytes | None, book: str) -> None:
        from lxml import etree

        self._etree = etree
        self.changed = False
        self.created = data is None
        if data is None:
            data = (f'<styleSheet xmlns="{_NS_MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/>'
                    '<family val="2"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/>'
                    '</fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border>'
                    '<left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf '
                    'numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="1"><xf '
                    'numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs><cellStyles count="1">'
                    '<cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>').encode()
            self.changed = True
        try:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
            self.root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            raise WorkbookError(f"{book}: part xl/styles.xml (the cell formats) is not valid XML, so otbill "
                                "cannot add its formats. Open the workbook in Excel and save it again as .xlsx."
                                ) from None
        self.ns = etree.QName(self.root).namespace or ""
        self._memo: dict[tuple[int, tuple[StyleOp, ...]], int] = {}
        self._fonts: dict[str, int] = {}
        self._fills: dict[str, int] = {}
        self._link_style: int | None = None
        numfmts = self._find("numFmts")
        self.formats: dict[int, str] = dict(BUILTIN_FORMATS)
        self._codes: dict[str, int] = {}
        if numfmts is not None:
            for nf in numfmts:
                if isinstance(nf.tag, str) and nf.get("numFmtId", "").isdigit():
                    self.formats[int(nf.get("numFmtId"))] = nf.get("formatCode", "")
                    self._codes.setdefault(nf.get("formatCode", ""), int(nf.get("numFmtId")))
        self.cell_xfs = self._section("cellXfs", "xf")

    def _q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}" if self.ns else name

    def _find(self, name: str) -> Any:
        return self.root.find(self._q(name))

    _ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
              "tableStyles", "colors", "extLst")

    def _section(self, name: str, child: str) -> Any:
        el = self._find(name)
        if el is None:
            el = self._etree.Element(self._q(name))
            later = self._ORDER[self._ORDER.index(name) + 1:]
            for i, existing in enumerate(self.root):
                if isinstance(existing.tag, str) and self._etree.QName(existing).localname in later:
                    self.root.insert(i, el)
                    break
            else:
                self.root.append(el)
            if name == "cellXfs":  # a part without cell formats: index 0 is the default
                self._append(el, self._etree.Element(self._q("xf"), numFmtId="0", fontId="0", fillId="0",
                                                     borderId="0", xfId="0"))
        return el

    def _items(self, section: Any) -> list[Any]:
        return [x for x in section if isinstance(x.tag, str)]

    def _append(self, section: Any, el: Any) -> int:
        section.append(el)
        n = len(self._items(section))
        section.set("count", str(n))
        self.changed = True
        return n - 1

    def _xf(self, xf_id: int) -> Any:
        items = self._items(self.cell_xfs)
        if 0 <= xf_id < len(items):
            return items[xf_id]
        return items[0] if items else self._etree.Element(self._q("xf"), numFmtId="0", fontId="0", fillId="0",
                                                          borderId="0")

    def number_format(self, xf: Any) -> str:
        nid = xf.get("numFmtId", "0")
        return self.formats.get(int(nid) if nid.isdigit() else 0, "General")

    def _numfmt_id(self, code: str) -> int:
        if code in _BUILTIN_REVERSE:
            return _BUILTIN_REVERSE[code]
        if code in self._codes:
            return self._codes[code]
        section = self._section("numFmts", "numFmt")
        new_id = max([163, *(k for k in self.formats if k >= 164)]) + 1
        self._append(section, self._etree.Element(self._q("numFmt"), numFmtId=str(new_id), formatCode=code))
        self.formats[new_id] = code
        self._codes[code] = new_id
        return new_id

    def _base_font(self) -> list[Any]:
        fonts = self._items(self._section("fonts", "font"))
        return [c for c in fonts[0] if isinstance(c.tag, str)] if fonts else []

    def _font(self, kind: str) -> int:
        if kind in self._fonts:
            return self._fonts[kind]
        import copy

        font = self._etree.Element(self._q("font"))
        base = self._base_font()
        if kind == "bold":
            font.append(self._etree.Element(self._q("b")))
            for child in base:
                if self._etree.QName(child).localname != "b":
                    font.append(copy.deepcopy(child))
        else:  # the Hyperlink style's font: the default font, underlined, in the theme's link colour
            font.append(self._etree.Element(self._q("u")))
            keep = {"sz", "name", "family", "charset", "scheme"}
            for child in base:
                name = self._etree.QName(child).localname
                if name == "sz":
                    font.append(copy.deepcopy(child))
                    font.append(self._etree.Element(self._q("color"), theme="10"))
                elif name in keep:
                    font.append(copy.deepcopy(child))
            if not any(self._etree.QName(c).localname == "color" for c in font):
                font.append(self._etree.Element(self._q("color"), theme="10"))
        self._fonts[kind] = self._append(self._section("fonts", "font"), font)
        return self._fonts[kind]

    def _fill(self, rgb: str) -> int:
        if rgb not in self._fills:
            argb = rgb if len(rgb) == 8 else "00" + rgb  # openpyxl's reading of a 6-digit colour
            fill = self._etree.Element(self._q("fill"))
            pattern = self._etree.SubElement(fill, self._q("patternFill"), patternType="solid")
            self._etree.SubElement(pattern, self._q("fgColor"), rgb=argb)
            self._etree.SubElement(pattern, self._q("bgColor"), rgb=argb)
            self._fills[rgb] = self._append(self._section("fills", "fill"), fill)
        return self._fills[rgb]

    def _hyperlink_style(self) -> int:
        """The ``cellStyleXfs`` index of the workbook's Hyperlink cell style (added when missing)."""
        if self._link_style is None:
            styles = self._section("cellStyles", "cellStyle")
            for cs in self._items(styles):
                if cs.get("builtinId") == "8" or cs.get("name") == "Hyperlink":
                    self._link_style = int(cs.get("xfId", "0"))
                    break
            else:
                style_xfs = self._section("cellStyleXfs", "xf")
                if not self._items(style_xfs):
                    self._append(style_xfs, self._etree.Element(self._q("xf"), numFmtId="0", fontId="0",
                                                                fillId="0", borderId="0"))
                xf = self._etree.Element(self._q("xf"), numFmtId="0", fontId=str(self._font("link")),
                                         fillId="0", borderId="0", applyNumberFormat="0", applyFill="0",
                                         applyBorder="0", applyAlignment="0", applyProtection="0")
                self._link_style = self._append(style_xfs, xf)
                self._append(styles, self._etree.Element(self._q("cellStyle"), name="Hyperlink",
                                                         xfId=str(self._link_style), builtinId="8"))
        return self._link_style

    def derive(self, base: int, ops: tuple[StyleOp, ...]) -> int:
        """The id of cell format ``base`` changed by ``ops`` (appended once per distinct pair)."""
        key = (base, ops)
        known = self._memo.get(key)
        if known is not None:
            return known
        import copy

        xf = copy.deepcopy(self._xf(base))
        for op in ops:
            kind = op[0]
            if kind == "date":
                if not is_date_format(self.number_format(xf)):
                    xf.set("numFmtId", str(self._numfmt_id(op[1])))
                    xf.set("applyNumberFormat", "1")
            elif kind == "numfmt":
                xf.set("numFmtId", str(self._numfmt_id(op[1])))
                xf.set("applyNumberFormat", "1")
            elif kind == "bold":
                xf.set("fontId", str(self._font("bold")))
                xf.set("applyFont", "1")
            elif kind == "align":  # ("align", "wrap"): wrapped and top-aligned; ("align", "top"): top-aligned
                self._align(xf, wrap=op[1] == "wrap")
            elif kind == "fill":
                xf.set("fillId", str(self._fill(op[1])))
                xf.set("applyFill", "1")
            elif kind == "link":
                style_id = self._hyperlink_style()
                style_xf = self._items(self._section("cellStyleXfs", "xf"))[style_id]
                xf = self._etree.Element(self._q("xf"))
                for attr in ("numFmtId", "fontId", "fillId", "borderId"):
                    xf.set(attr, style_xf.get(attr, "0"))
                xf.set("xfId", str(style_id))
                for child in style_xf:
                    if isinstance(child.tag, str):
                        xf.append(copy.deepcopy(child))
        new_id = self._append(self.cell_xfs, xf)
        self._memo[key] = new_id
        return new_id

    def _align(self, xf: Any, *, wrap: bool) -> None:
        alignment = xf.find(self._q("alignment"))
        if alignment is None:
            alignment = self._etree.Element(self._q("alignment"))
            xf.insert(0, alignment)  # the first child of <xf> (before protection, extLst)
        alignment.set("vertical", "top")
        if wrap:
            alignment.set("wrapText", "1")
        xf.set("applyAlignment", "1")

    def serialize(self) -> bytes:
        return bytes(self._etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", standalone=True))


# -- the plan for one sheet ------------------------------------------------------------------------------------

_KEEP = object()


@dataclass(slots=True)
class _CellPlan:
    value: Any  # _KEEP: the cell's own value stays
    ops: tuple[StyleOp, ...]
    link_text: str | None  # written when the cell has no value


def _plan_cells(se: SheetEdits) -> dict[int, dict[int, _CellPlan]]:
    """The edits of a sheet by row, then column, each cell with its value and formatting steps."""
    values, style_ops, links, fills = se.values, se.style_ops, se.links, se.fills
    rows: dict[int, dict[int, _CellPlan]] = {}
    for key, value in values.items():
        ops = style_ops.get(key)
        if ops is None:
            ops = () if type(value) in _PLAIN and key not in links and key not in fills else \
                _canonical_ops(se, key, value)
        row = rows.get(key[0])
        if row is None:
            row = rows[key[0]] = {}
        row[key[1]] = _CellPlan(value, ops, None)
    for source in (style_ops, links, fills):
        for key in source:
            if key in values:
                continue
            row = rows.get(key[0])
            if row is None:
                row = rows[key[0]] = {}
            elif key[1] in row:
                continue
            ops = style_ops.get(key)
            link_text = se.link_text_if_empty.get(key)
            if ops is None:
                ops = _canonical_ops(se, key, None)
                if key in links and link_text is None:
                    link_text = links[key][1:] if links[key].startswith("#") else links[key]
            row[key[1]] = _CellPlan(_KEEP, ops, link_text)
    return rows


_PLAIN = frozenset((str, int, float, Decimal, bool, type(None)))


def _canonical_ops(se: SheetEdits, key: Cell, value: Any) -> tuple[StyleOp, ...]:
    """Formatting steps of a cell the record's methods did not note: date format, link, fill."""
    fmt = _date_format(value) if value is not None else None
    ops: tuple[StyleOp, ...] = (("date", fmt),) if fmt else ()
    if key in se.links:
        ops += (("link",),)
    if key in se.fills:
        ops += (("fill", se.fills[key]),)
    return ops


def _prefetched(pieces: Iterator[bytes], depth: int = 8) -> Iterator[bytes]:
    """``pieces`` inflated in a second thread, up to ``depth`` pieces ahead (zlib releases the GIL, so
    the sheet is unpacked while rows are patched; the pieces are 256 KiB, so memory stays bounded)."""
    import queue
    import threading

    q: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for piece in pieces:
                if stop.is_set():
                    return
                q.put((True, piece))
            q.put((False, None))
        except BaseException as exc:  # re-raised in the reading thread
            q.put((False, exc))

    thread = threading.Thread(target=run, name="otbill-zip-reader", daemon=True)
    thread.start()
    try:
        while True:
            more, item = q.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.01)


class _Pipe:
    """Writes to a zip member from a second thread. zlib's compressor and crc32 release the GIL, so the
    next rows are patched while the last ones are compressed (measured on the 100,000-row benchmark:
    compression is ~1 s of the copy when done inline). At most 8 pieces (~8 MB) wait in the queue."""

    def __init__(self, dst: IO[bytes]) -> None:
        import queue
        import threading

        self._dst = dst
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="otbill-zip-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._dst.write(item)
                except BaseException as exc:  # handed to the writing thread by write()/close()
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        if data:
            self._queue.put(data)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


# -- streaming an existing sheet ----------------------------------------------------------------------------------

_SHEETDATA = re.compile(rb"<([\w.-]+:)?sheetData\b[^>]*?(/?)>")
_DIMENSION = re.compile(rb'(<(?:[\w.-]+:)?dimension\b[^>]*?\bref\s*=\s*")([^"]*)(")')
_ROW_R = re.compile(rb'\br\s*=\s*["\']([0-9]+)["\']')
_CELL_R = re.compile(rb'\br\s*=\s*["\']([A-Z]{1,3})([0-9]+)["\']')
_S_ATTR = re.compile(rb'\bs\s*=\s*["\']([0-9]+)["\']')
_T_ATTR = re.compile(rb'\bt\s*=\s*["\']([a-zA-Z]+)["\']')
_SPANS = re.compile(rb'\sspans\s*=\s*["\'][^"\']*["\']')
_REF_RANGE = re.compile(r"^\$?([A-Z]{1,3})\$?([0-9]+)(?::\$?([A-Z]{1,3})\$?([0-9]+))?$")
_CHUNK_FLUSH = 1 << 20

#: Elements that follow <hyperlinks> / <legacyDrawing> in a worksheet (ECMA-376 CT_Worksheet order).
_AFTER_HYPERLINKS = ("printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks",
                     "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
                     "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems",
                     "tableParts", "extLst")
_AFTER_LEGACY = ("legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems",
                 "tableParts", "extLst")
_AFTER_DRAWING = ("legacyDrawing", *_AFTER_LEGACY)


def _insert_before(tail: bytes, p: bytes, followers: tuple[str, ...], element: bytes) -> bytes:
    """Insert ``element`` into the part after ``</sheetData>`` where the schema's order puts it."""
    names = b"|".join(n.encode() for n in followers)
    m = re.search(rb"<" + re.escape(p) + rb"(?:" + names + rb")\b", tail)
    at = m.start() if m else tail.rfind(b"</")
    if m is not None:  # inside <mc:AlternateContent>? then before the wrapper
        opened = [a.start() for a in re.finditer(rb"<[\w.-]+:AlternateContent\b", tail[:at])]
        if opened and not re.search(rb"</[\w.-]+:AlternateContent>", tail[opened[-1]:at]):
            at = opened[-1]
    return tail[:at] + element + tail[at:]


class _SheetPatcher:
    """Copies one worksheet part, patching the rows of ``plan`` as they stream by."""

    def __init__(self, plan: dict[int, dict[int, _CellPlan]], styles: _Styles, mac: bool, book: str,
                 part: str) -> None:
        self.plan = plan
        self.rows = sorted(plan)
        self.styles = styles
        self.mac = mac
        self.book = book
        self.part = part
        self.p = b""
        self.ps = ""
        self.unshare: dict[bytes, tuple[str, str]] = {}  # si -> (formula, master ref)
        self.overwrote_formula = False
        self.tail_info: bytes = b""
        self._r_decl = f' xmlns:r="{_NS_REL}"'
        self.max_row = max(self.rows) if self.rows else 0
        self.max_col = max((max(cols) for cols in plan.values()), default=0)

    def _damaged(self, what: str) -> WorkbookError:
        return WorkbookError(f"{self.book}: part {self.part} (a worksheet) {what}, so otbill cannot copy it with "
                             "its notes. Open the workbook in Excel and save it again as .xlsx.")

    # the rows ------------------------------------------------------------------------------------------------
    def _compile(self) -> None:
        p = re.escape(self.p)
        self.row_open = re.compile(rb"<" + p + rb"row\b([^>]*?)(/?)>")
        self.row_no_r = re.compile(rb"<" + p + rb"row(?![^>]*\br\s*=)[\s/>]")
        self.row_tag = b"<" + self.p + b"row"
        self.row_close = b"</" + self.p + b"row>"
        self.cell_re = re.compile(rb"<" + p + rb"c\b([^>]*?)/>|<" + p + rb"c\b([^>]*)>(.*?)</" + p + rb"c>",
                                  re.S)
        self.cell_close = b"</" + self.p + b"c>"
        self.cell_opener = b"<" + self.p + b'c r="'
        self.f_re = re.compile(rb"<" + p + rb"f\b([^>]*?)(?:/>|>(.*?)</" + p + rb"f>)", re.S)
        self.end_re = re.compile(rb"</" + p + rb"sheetData\s*>")

    def _row_at(self, buf: bytes, i: int, limit: int) -> tuple[bytes, bytes | None, int] | None:
        """(attributes, body or None, end) of the complete row starting at ``i``, or None."""
        m = self.row_open.match(buf, i)
        if m is None or m.end() > limit:
            return None
        if m[2]:
            return m[1], None, m.end()
        close = buf.find(self.row_close, m.end(), limit)
        if close < 0:
            return None
        return m[1], buf[m.end():close], close + len(self.row_close)

    def _new_row(self, n: int) -> bytes:
        ps = self.ps
        cells = self.plan[n]
        out = [f'<{ps}row r="{n}">']
        for col in sorted(cells):
            out.append(self._cell(n, col, None, None, cells[col]).decode())
        out.append(f"</{ps}row>")
        return "".join(out).encode()

    def _cell(self, n: int, col: int, attrs: bytes | None, inner: bytes | None, plan: _CellPlan) -> bytes:
        ref = _LETTERS[col] + str(n)
        s = 0
        if attrs is not None and b"s=" in attrs:
            sm = _S_ATTR.search(attrs)
            s = int(sm[1]) if sm else 0
        if plan.ops:
            s = self.styles.derive(s, plan.ops)
        value = plan.value
        if value is _KEEP and plan.link_text is not None and not (inner and re.search(rb"<(?:[\w.-]+:)?(?:v|is|f)\b",
                                                                                     inner)):
            value = plan.link_text
        if value is _KEEP:
            if attrs is None:
                return f'<{self.ps}c r="{ref}"' .encode() + (f' s="{s}"'.encode() if s else b"") + b"/>"
            kept = _S_ATTR.sub(b"", attrs).rstrip()
            if not _CELL_R.search(kept):
                kept = f' r="{ref}"'.encode() + kept
            head = b"<" + self.p + b"c" + kept + (f' s="{s}"'.encode() if s else b"")
            if inner is None:
                return head + b"/>"
            if self.unshare:
                inner = self._unshared(inner, ref)
            return head + b">" + inner + b"</" + self.p + b"c>"
        if inner is not None and b"f" in inner:
            fm = self.f_re.search(inner)
            if fm is not None:
                self.overwrote_formula = True
                fa = _attrs(fm[1])
                if fa.get(b"t") == b"shared" and b"ref" in fa and fm[2]:
                    from html import unescape

                    self.unshare[fa.get(b"si", b"")] = (unescape(fm[2].decode("utf-8")), ref)
        return cell_xml(self.ps, ref, s, value, self.mac).encode()

    def _unshared(self, inner: bytes, ref: str) -> bytes:
        """A dependent of an overwritten shared-formula master gets the formula written out in full."""
        fm = self.f_re.search(inner)
        if fm is None:
            return inner
        fa = _attrs(fm[1])
        si = fa.get(b"si")
        if fa.get(b"t") != b"shared" or si not in self.unshare or b"ref" in fa:
            return inner
        from openpyxl.formula.translate import Translator

        formula, origin = self.unshare[si]
        try:
            text = Translator("=" + formula, origin=origin).translate_formula(ref)[1:]
        except Exception:  # a formula the translator cannot shift: keep the master's text
            text = formula
        return inner[:fm.start()] + f"<{self.ps}f>{_esc(text)}</{self.ps}f>".encode() + inner[fm.end():]

    def _patch_row(self, n: int, attrs: bytes, body: bytes | None, had_r: bool) -> bytes:
        cells = self.plan.get(n)
        if cells is not None and body and had_r and not self.unshare:
            fast = self._patch_cells_by_ref(n, attrs, body, cells)
            if fast is not None:
                return fast
        if not had_r:
            attrs = f' r="{n}"'.encode() + attrs
        if cells is None:  # only here for a row without r= or for shared-formula dependents
            if body is None:
                return b"<" + self.p + b"row" + attrs + b"/>"
            return b"<" + self.p + b"row" + attrs + b">" + self._keep_cells(n, body) + b"</" + self.p + b"row>"
        pending = sorted(cells)
        i = 0
        out: list[bytes] = []
        pos = 0
        col = 0
        body = body or b""
        added = False
        for m in self.cell_re.finditer(body):
            cattrs = m[1] if m[1] is not None else m[2]
            inner = m[3] if m[1] is None else None
            cm = _CELL_R.search(cattrs)
            col = _col_index(cm[1]) if cm else col + 1
            out.append(body[pos:m.start()])
            while i < len(pending) and pending[i] < col:
                out.append(self._cell(n, pending[i], None, None, cells[pending[i]]))
                added = True
                i += 1
            if i < len(pending) and pending[i] == col:
                out.append(self._cell(n, col, cattrs, inner, cells[col]))
                i += 1
            elif cm is None or self.unshare:
                out.append(self._cell(n, col, cattrs, inner, _CellPlan(_KEEP, (), None)))
            else:
                out.append(m[0])
            pos = m.end()
        rest = body[pos:]
        extra = [self._cell(n, c, None, None, cells[c]) for c in pending[i:]]
        if extra:
            added = True
            ext = re.search(rb"<" + re.escape(self.p) + rb"extLst\b", rest)
            at = ext.start() if ext else len(rest)
            rest = rest[:at] + b"".join(extra) + rest[at:]
        if added:
            attrs = _SPANS.sub(b"", attrs)
        return b"<" + self.p + b"row" + attrs + b">" + b"".join(out) + rest + b"</" + self.p + b"row>"

    def _patch_cells_by_ref(self, n: int, attrs: bytes, body: bytes, cells: dict[int, _CellPlan]) -> bytes | None:
        """Patch a row whose edited cells all exist and start ``<c r="REF"`` (how Excel and openpyxl write
        them): found with ``bytes.find`` instead of walking every cell of the row. None: use the walk."""
        out: list[bytes] = []
        pos = 0
        opener = b"<" + self.p + b'c r="'
        row = str(n).encode()
        last_col = -1  # the row's last cell's column, looked up once a planned cell is missing
        appended: list[bytes] = []
        for col in sorted(cells):
            i = body.find(opener + _LETTERS_B[col] + row + b'"', pos)
            if i < 0:
                # A blank cell Excel did not store (ClaimID/Status, Units ...): when it lies after the
                # row's last cell it goes at the end; anywhere else the walk below places it. Measured on
                # 100,920 lines where claims fill two trailing cells per row: 8.0 s -> 1.9 s of the copy.
                if last_col < 0:
                    j = body.rfind(opener)
                    m = _CELL_R.match(body, j + len(self.p) + 3) if j >= 0 else None  # at "r="
                    if m is None or m[2] != row or b"extLst" in body:
                        return None
                    last_col = _col_index(m[1])
                if col <= last_col:
                    return None
                appended.append(self._cell(n, col, None, None, cells[col]))
                continue
            if appended:  # an existing cell after a missing one: not in column order, use the walk
                return None
            gt = body.find(b">", i)
            if body[gt - 1] == 47:  # "/>"
                cattrs, inner, end = body[i + 2 + len(self.p):gt - 1], None, gt + 1
            else:
                close = body.find(self.cell_close, gt)
                if close < 0:
                    return None
                cattrs, inner, end = body[i + 2 + len(self.p):gt], body[gt + 1:close], close + len(self.cell_close)
            out.append(body[pos:i])
            out.append(self._cell(n, col, cattrs, inner, cells[col]))
            pos = end
        out.append(body[pos:])
        if appended:
            out.extend(appended)
            attrs = _SPANS.sub(b"", attrs)
        return b"<" + self.p + b"row" + attrs + b">" + b"".join(out) + self.row_close

    def _keep_cells(self, n: int, body: bytes) -> bytes:
        out: list[bytes] = []
        pos = 0
        col = 0
        for m in self.cell_re.finditer(body):
            cattrs = m[1] if m[1] is not None else m[2]
            cm = _CELL_R.search(cattrs)
            col = _col_index(cm[1]) if cm else col + 1
            out.append(body[pos:m.start()])
            if cm is None or (self.unshare and m[3] is not None and b"shared" in m[3]):
                out.append(self._cell(n, col, cattrs, m[3] if m[1] is None else None, _CellPlan(_KEEP, (), None)))
            else:
                out.append(m[0])
            pos = m.end()
        out.append(body[pos:])
        return b"".join(out)

    # the part ------------------------------------------------------------------------------------------------
    def stream(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Yield the patched part; ``self.tail_info`` holds the part after ``</sheetData>`` at the end."""
        buf = b""
        for piece in pieces:
            buf += piece
            m = _SHEETDATA.search(buf)
            if m:
                break
            if len(buf) > 64 << 20:
                raise self._damaged("has no <sheetData> in its first 64 MB")
        else:
            m = _SHEETDATA.search(buf)
            if m is None:
                raise self._damaged("has no <sheetData> element (no cell table)")
        self.p = m[1] or b""
        self.ps = self.p.decode()
        self._compile()
        head = buf[:m.start()]
        # r:id attributes otbill adds need the prefix r bound; declared on the element unless the root does
        root = re.search(rb"<(?:[\w.-]+:)?worksheet\b[^>]*>", head)
        if root is not None and f'xmlns:r="{_NS_REL}"'.encode() in root[0]:
            self._r_decl = ""
        dim = _DIMENSION.search(head)
        if dim and (self.max_row or self.max_col):
            head = head[:dim.start(2)] + self._dimension(dim[2]) + head[dim.end(2):]
        yield head
        if m[2]:  # <sheetData/>: no rows at all
            rows = b"".join(self._new_row(n) for n in self.rows)
            yield b"<" + self.p + b"sheetData>" + rows + b"</" + self.p + b"sheetData>"
            rest = buf[m.end():] + b"".join(pieces)
            self.tail_info = rest
            return
        yield buf[m.start():m.end()]
        buf = buf[m.end():]
        self.idx = 0
        self.last = 0
        out: list[bytes] = []
        size = 0
        exhausted = False
        while True:
            end = self.end_re.search(buf)
            done, last_n = (end.start(), 1 << 30) if end else self._complete(buf)
            pos = self._rows(buf, done, last_n, out)
            if end is not None:
                out.append(buf[pos:end.start()])
                while self.idx < len(self.rows):
                    out.append(self._new_row(self.rows[self.idx]))
                    self.idx += 1
                out.append(buf[end.start():end.end()])
                yield b"".join(out)
                self.tail_info = buf[end.end():] + b"".join(pieces)
                return
            if exhausted:
                raise self._damaged("ends inside its cell table (</sheetData> missing)")
            out.append(buf[pos:done])
            size += done
            buf = buf[done:]
            if size >= _CHUNK_FLUSH:
                yield b"".join(out)
                out = []
                size = 0
            nxt = next(pieces, None)
            if nxt is None:
                exhausted = True
            else:
                buf += nxt

    def _complete(self, buf: bytes) -> tuple[int, int]:
        """(end of the complete rows at the start of ``buf``, number of the last of them; -1 unknown)."""
        at = len(buf)
        while True:
            i = buf.rfind(self.row_tag, 0, at)
            if i < 0:
                return 0, -1
            m = self.row_open.match(buf, i)
            if m is None:  # the open tag is cut off
                at = i
                continue
            r = _ROW_R.search(m[1])
            number = int(r[1]) if r else -1
            if m[2]:
                return m.end(), number
            close = buf.find(self.row_close, m.end())
            if close >= 0:
                return close + len(self.row_close), number
            return i, (number - 1 if number > 0 else -1)

    def _rows(self, buf: bytes, done: int, last_n: int, out: list[bytes]) -> int:
        """Patch the plan's rows in ``buf[:done]``; return how far ``buf`` has been copied into ``out``.

        Fast path: when every row carries ``r=`` (checked at C speed) and no shared formula is being
        unshared, each planned row is found with ``bytes.find('<row r="N"')``, so the rows between edits
        are never looked at in Python. Otherwise every row is walked."""
        rows = self.rows
        pos = 0
        if last_n >= 0 and not self.unshare and not self.row_no_r.search(buf, 0, done):
            tag = self.row_tag + b' r="'
            while self.idx < len(rows) and rows[self.idx] <= last_n:
                n = rows[self.idx]
                i = buf.find(tag + b'%d"' % n, pos, done)
                if i >= 0 and not self.unshare:
                    moved = self._patch_in_place(buf, i, done, n, out, pos)
                    if moved is not None:
                        self.idx += 1
                        pos = moved
                        if self.unshare:
                            self.last = n
                            return self._walk(buf, pos, done, out)
                        continue
                row = self._row_at(buf, i, done) if i >= 0 else None
                if row is None:  # not written r-first, or a row to insert: walk to it
                    before = self.idx
                    pos = self._walk(buf, pos, done, out, stop=n)
                    if self.idx == before:
                        break
                    continue
                self.idx += 1
                out.append(buf[pos:i])
                out.append(self._patch_row(n, row[0], row[1], True))
                pos = row[2]
                if self.unshare:  # a shared formula's master was overwritten: its dependents follow
                    self.last = n
                    return self._walk(buf, pos, done, out)
            self.last = max(self.last, last_n) if last_n < 1 << 30 else self.last
            return pos
        return self._walk(buf, pos, done, out)

    def _patch_in_place(self, buf: bytes, i: int, done: int, n: int, out: list[bytes], pos: int) -> int | None:
        """Patch row ``n`` starting at ``buf[i]`` when each edited cell exists and starts ``<c r="REF"``
        (how Excel and openpyxl write cells): the cells are found with ``bytes.find`` and the unchanged
        bytes go to ``out`` as slices of ``buf`` (no copy of the row). Returns the new copy position, or
        None (nothing written) for the general path."""
        m = self.row_open.match(buf, i)
        if m is None or m[2]:
            return None
        close = buf.find(self.row_close, m.end(), done)
        if close < 0:
            return None
        cells = self.plan[n]
        row = b'%d"' % n
        opener = self.cell_opener
        skip = len(opener) - 4  # the attributes start after "<c"
        start = m.end()
        found: list[tuple[int, int, int, bytes, bytes | None]] = []
        for col in sorted(cells) if len(cells) > 1 else cells:
            ci = buf.find(opener + _LETTERS_B[col] + row, start, close)
            if ci < 0:
                return None
            gt = buf.find(b">", ci, close)
            if gt < 0:
                return None
            if buf[gt - 1] == 47:  # "/>"
                found.append((ci, gt + 1, col, buf[ci + skip:gt - 1], None))
                start = gt + 1
            else:
                cc = buf.find(self.cell_close, gt, close)
                if cc < 0:
                    return None
                start = cc + len(self.cell_close)
                found.append((ci, start, col, buf[ci + skip:gt], buf[gt + 1:cc]))
        for ci, end, col, cattrs, inner in found:
            out.append(buf[pos:ci])
            out.append(self._cell(n, col, cattrs, inner, cells[col]))
            pos = end
        return pos

    def _walk(self, buf: bytes, pos: int, done: int, out: list[bytes], stop: int | None = None) -> int:
        """Walk the rows of ``buf[pos:done]`` one by one (numbering rows without ``r=``); with ``stop``,
        only until the planned row ``stop`` has been written."""
        rows = self.rows
        i = buf.find(self.row_tag, pos, done)
        while i >= 0:
            row = self._row_at(buf, i, done)
            if row is None:
                break
            attrs, body, end = row
            r = _ROW_R.search(attrs)
            n = int(r[1]) if r else self.last + 1
            self.last = n
            while self.idx < len(rows) and rows[self.idx] < n:
                out.append(buf[pos:i])
                pos = i
                out.append(self._new_row(rows[self.idx]))
                self.idx += 1
                if stop is not None and rows[self.idx - 1] == stop:
                    return pos
            planned = self.idx < len(rows) and rows[self.idx] == n
            if planned or r is None or (self.unshare and body is not None and b"si=" in body):
                if planned:
                    self.idx += 1
                out.append(buf[pos:i])
                out.append(self._patch_row(n, attrs, body, r is not None))
                pos = end
                if planned and stop == n:
                    return pos
            i = buf.find(self.row_tag, end, done)
        return pos

    def _dimension(self, ref: bytes) -> bytes:
        m = _REF_RANGE.match(ref.decode("ascii", "replace"))
        if m is None:
            return ref
        c1, r1 = _col_index(m[1].encode()), int(m[2])
        c2, r2 = (_col_index(m[3].encode()), int(m[4])) if m[3] else (c1, r1)
        min_r = min(r1, min(self.rows)) if self.rows else r1
        min_c = min(c1, min(min(cols) for cols in self.plan.values())) if self.plan else c1
        if r1 == 1 and c1 == 1 and r2 == 1 and c2 == 1:  # "A1" of an empty sheet
            min_r, min_c = (min(self.rows), min(min(cols) for cols in self.plan.values())) if self.plan else (1, 1)
        r2, c2 = max(r2, self.max_row), max(c2, self.max_col)
        return f"{_LETTERS[min_c]}{min_r}:{_LETTERS[c2]}{r2}".encode()

    def finish_tail(self, tail: bytes, links: dict[Cell, str], link_rids: dict[Cell, str],
                    legacy_rid: str | None, drawing_rid: str | None = None) -> bytes:
        """The part after ``</sheetData>`` with otbill's links merged and a ``<legacyDrawing>`` and a
        ``<drawing>`` (charts) if needed; a sheet that has a ``<drawing>`` keeps its own."""
        p = self.p
        ps = self.ps
        if links:
            items = []
            for (r, c), target in sorted(links.items()):
                ref = f"{_LETTERS[c]}{r}"
                if target.startswith("#"):
                    items.append(f'<{ps}hyperlink ref="{ref}" location="{_esc_attr(target[1:])}"/>')
                else:
                    items.append(f'<{ps}hyperlink{self._r_decl} ref="{ref}" r:id="{link_rids[(r, c)]}"/>')
            new = "".join(items).encode()
            block = re.search(rb"<" + re.escape(p) + rb"hyperlinks\b[^>]*?(/?)>", tail)
            if block is not None:
                refs = {f"{_LETTERS[c]}{r}".encode() for r, c in links}
                if block[1]:
                    tail = tail[:block.start()] + b"<" + p + b"hyperlinks>" + new + b"</" + p + b"hyperlinks>" + \
                        tail[block.end():]
                else:
                    close = tail.find(b"</" + p + b"hyperlinks>", block.end())
                    inner = tail[block.end():close]
                    inner = re.sub(rb"<" + re.escape(p) + rb"hyperlink\b[^>]*?(?:/>|>.*?</" + re.escape(p)
                                   + rb"hyperlink>)",
                                   lambda m: b"" if _attrs(m[0]).get(b"ref") in refs else m[0], inner, flags=re.S)
                    tail = tail[:block.end()] + inner + new + tail[close:]
            else:
                tail = _insert_before(tail, p, _AFTER_HYPERLINKS,
                                      b"<" + p + b"hyperlinks>" + new + b"</" + p + b"hyperlinks>")
        if legacy_rid is not None:
            tail = _insert_before(tail, p, _AFTER_LEGACY,
                                  f'<{ps}legacyDrawing{self._r_decl} r:id="{legacy_rid}"/>'.encode())
        if drawing_rid is not None and re.search(rb"<" + re.escape(p) + rb"drawing\b", tail) is None:
            tail = _insert_before(tail, p, _AFTER_DRAWING,
                                  f'<{ps}drawing{self._r_decl} r:id="{drawing_rid}"/>'.encode())
        return tail


def legacy_drawing_rid(tail: bytes) -> str | None:
    m = re.search(rb"<(?:[\w.-]+:)?legacyDrawing\b([^>]*)>", tail)
    if m is None:
        return None
    for key, value in _attrs(m[1]).items():
        if key.endswith(b":id"):
            return value.decode()
    return None


# -- new sheets --------------------------------------------------------------------------------------------------


_TEXT_AS_IS = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]").search  # None: a string needs no escaping
_CACHE_LIMIT = 1 << 16


def body_ops(sheet: NewSheet) -> list[tuple[StyleOp, ...]]:
    """Per column (from index 1) the formatting of a cell below the header: its number format and, in a
    table, top alignment (wrapped where the table wraps the column)."""
    formats = list(sheet.formats)
    table = sheet.table
    out: list[tuple[StyleOp, ...]] = [()]
    for i in range(max(len(formats), len(table.wrap) if table else 0)):
        ops: tuple[StyleOp, ...] = (("numfmt", formats[i]),) if i < len(formats) and formats[i] else ()
        if table is not None:
            ops += (("align", "wrap" if i < len(table.wrap) and table.wrap[i] else "top"),)
        out.append(ops)
    return out


def row_attributes(sheet: NewSheet) -> dict[int, str]:
    """The ``ht``/``customHeight`` attributes of the rows whose wrapped text needs more than one line."""
    return {n: f' ht="{h:g}" customHeight="1"' for n, h in row_heights(sheet.rows, sheet.widths, sheet.table).items()}


def header_rows(sheet: NewSheet) -> tuple[int, int]:
    """The rows written bold: the sheet's first row and the table's header row (the same row unless rows
    were written above the table)."""
    return 1, (sheet.table.header_row if sheet.table is not None else 1)


def totals_row(sheet: NewSheet) -> int:
    """The row of the table's totals (0: none): below the last data row, when the table has data."""
    table = sheet.table
    if table is None or not table.has_totals or len(sheet.rows) <= table.header_row:
        return 0
    return len(sheet.rows) + 1


def _structured(header: str) -> str:
    """A column name in a structured reference (``Table[Column]``): ``[ ] # '`` escaped with ``'``."""
    return re.sub(r"([\[\]#'])", r"'\1", header)


def totals_row_xml(sheet: NewSheet, n: int, name: str, styles: _Styles, style_of: dict[tuple[StyleOp, ...], int],
                   ops_of: list[tuple[StyleOp, ...]], mac: bool) -> str:
    """The totals row (row ``n``) of the table named ``name``: the labels, and ``SUBTOTAL(109, ...)`` with
    the sum of every row saved as its result (readers that do not calculate see the number), bold."""
    table = sheet.table
    assert table is not None
    header = sheet.rows[table.header_row - 1]
    cells = []
    for c, total in enumerate(table.totals, start=1):
        if total is None:
            continue
        ops = (ops_of[c] if c < len(ops_of) else ()) + (("bold",),)
        s = style_of.get(ops)
        if s is None:
            s = style_of[ops] = styles.derive(0, ops)
        ref = f"{_LETTERS[c]}{n}"
        if total.function == "label":
            cells.append(cell_xml("", ref, s, total.value, mac))
            continue
        formula = _esc(f"SUBTOTAL(109,{name}[{_structured(str(header[c - 1]))}])")
        value = total.value
        text = str(value) if type(value) is int else f"{float(value):.16g}"
        cells.append(f'<c r="{ref}" s="{s}"><f>{formula}</f><v>{text}</v></c>')
    return f'<row r="{n}">' + "".join(cells) + "</row>"


def _new_sheet_rows(sheet: NewSheet, se: SheetEdits, styles: _Styles, mac: bool,
                    name: str = "Table1") -> Iterator[bytes]:
    """The ``<row>`` elements of a sheet made by ``replace_sheet`` with the later edits applied: the text
    the straightforward way writes (``cell_xml`` per cell: ``tests/reference_sheet_rows.py``), written faster.

    The header row, every edited cell and any cell of a kind not seen before go through ``cell_xml``
    (``_cell`` below), which also learns, for that column, the ``s`` attribute of a body cell and, for
    the value, its text: a string that needs no escaping, a finite ``Decimal``'s number (by its ``str``),
    a date's serial. The other cells of a row — str, int, Decimal, None or date values already seen — are
    written by one f-string each in the loop, without a call per cell; so is a linked or filled cell
    holding such a string (Pricing links column A of every row). Styles are derived by ``_cell`` only, in
    the reference's order, so ``styles.xml`` gets the same ids.

    Measured (``python -m benchmarks.bench_patch --rows``: a Pricing-like sheet of 100,000 rows x 18
    columns, a link in every row, a fill in one in seven; GC paused as in ``write_patched``; medians of 5,
    same run, shared 2-core machine): 2.64-2.74 s with ``cell_xml`` per cell, 0.74-0.78 s this way (3.5x;
    ~0.15 s of it is ``_plan_cells``). Without the path for linked/filled cells: 0.88 s against 2.64 s
    (3.0x), with it 0.79 s against 2.77 s (3.5x), the same run.
    Per value (micro-benchmarks): a string already seen 40 ns against 160 ns for the escaping checks; a
    ``Decimal``'s text looked up by ``str(d)`` 0.3 us against 0.56 us for ``f"{float(d):.16g}"`` (a
    lookup by the ``Decimal`` itself is slower, 0.73 us: its hash is computed afresh for every new value)."""
    plan = _plan_cells(se)
    rows = sheet.rows
    width = max((len(r) for r in rows), default=0)
    totals = totals_row(sheet)
    last = max([len(rows), totals, *plan])
    style_of: dict[tuple[StyleOp, ...], int] = {}
    ops_of = body_ops(sheet)
    bold_rows = header_rows(sheet)
    tall = row_attributes(sheet)
    letters = _LETTERS
    sas: list[str | None] = [None] * (width + 1)  # per column: ' s="N"' of a body cell holding a plain value
    date_sas: list[str | None] = [None] * (width + 1)  # ... holding a datetime.date
    texts: set[str] = set()  # strings written as they are
    numbers: dict[str, str] = {}  # str(Decimal) -> the number's text
    dates: dict[dt.date, str] = {}  # date -> its serial's text
    kept_sas: dict[tuple[int, type, tuple[StyleOp, ...]], str] = {}  # (column, type, ops of a link or fill) -> ' s="N"'

    def _cell(n: int, c: int, values: Sequence[Any], cp: _CellPlan | None) -> str:
        written = c <= len(values)
        value = values[c - 1] if written else None
        ops: tuple[StyleOp, ...] = ()
        if written or (n == 1 and c <= width):  # a cell replace_sheet wrote (not a later edit)
            fmt = None if type(value) in _PLAIN else _date_format(value)
            if fmt:
                ops = (("date", fmt),)
            if n in bold_rows:
                ops += (("bold",),)
            elif c < len(ops_of):
                ops += ops_of[c]
        if cp is not None:
            ops += cp.ops
            if cp.value is not _KEEP:
                value = cp.value
            elif cp.link_text is not None and value is None:
                value = cp.link_text
        s = style_of.get(ops) if ops else 0
        if s is None:
            s = style_of[ops] = styles.derive(0, ops)
        xml = cell_xml("", f"{letters[c]}{n}", s, value, mac)
        if cp is not None:
            if written and n > 1 and cp.value is _KEEP:
                kept_sas[(c, type(values[c - 1]), cp.ops)] = f' s="{s}"' if s else ""
        elif written and n not in bold_rows:  # learn what the loop needs to write cells like this one
            kind = type(value)
            sa = f' s="{s}"' if s else ""
            if kind in _PLAIN:
                sas[c] = sa
                if len(texts) > _CACHE_LIMIT or len(numbers) > _CACHE_LIMIT:
                    texts.clear()
                    numbers.clear()
                if kind is str:
                    if value and value not in _ERROR_CODES and value == value.strip() and \
                            _TEXT_AS_IS(value) is None:
                        texts.add(value)
                elif kind is Decimal and value.is_finite():
                    numbers[str(value)] = f"{float(value):.16g}"
            elif kind is dt.date:
                date_sas[c] = sa
                if len(dates) > _CACHE_LIMIT:
                    dates.clear()
                dates[value] = f"{_serial(value, mac):.16g}"
        return xml

    out: list[str] = []
    size = 0
    for n in range(1, last + 1):
        values = rows[n - 1] if n <= len(rows) else ()
        edits = plan.get(n)
        count = len(values)
        if n == totals:
            line = totals_row_xml(sheet, n, name, styles, style_of, ops_of, mac)
        elif n in bold_rows or not count:
            cols = range(1, max(count, width if n == 1 and rows else 0) + 1)
            allcols = sorted(set(cols) | set(edits)) if edits else cols
            if not allcols:
                continue
            line = f'<row r="{n}"{tall.get(n, "")}>' + "".join([_cell(n, c, values, edits.get(c) if edits else None)
                                               for c in allcols]) + "</row>"
        else:
            cells: list[str] = []
            add = cells.append
            r = str(n)
            start = 1
            for stop in (*sorted(edits), None) if edits else (None,):  # the edited columns, then the end
                for c in range(start, count + 1 if stop is None else min(stop, count + 1)):  # cells with no later edit
                    v = values[c - 1]
                    kind = type(v)
                    if kind is str:
                        sa = sas[c]
                        if sa is not None:
                            if v in texts:
                                add(f'<c r="{letters[c]}{r}"{sa} t="inlineStr"><is><t>{v}</t></is></c>')
                                continue
                            if not v:
                                add(f'<c r="{letters[c]}{r}"{sa}/>')
                                continue
                    elif kind is Decimal:
                        sa = sas[c]
                        if sa is not None:
                            text = numbers.get(str(v))
                            if text is not None:
                                add(f'<c r="{letters[c]}{r}"{sa}><v>{text}</v></c>')
                                continue
                    elif kind is int:
                        sa = sas[c]
                        if sa is not None:
                            add(f'<c r="{letters[c]}{r}"{sa}><v>{v}</v></c>')
                            continue
                    elif v is None:
                        sa = sas[c]
                        if sa is not None:
                            add(f'<c r="{letters[c]}{r}"{sa}/>')
                            continue
                    elif kind is dt.date:
                        sa = date_sas[c]
                        if sa is not None:
                            text = dates.get(v)
                            if text is not None:
                                add(f'<c r="{letters[c]}{r}"{sa}><v>{text}</v></c>')
                                continue
                    add(_cell(n, c, values, None))
                if stop is None:
                    break
                cp = edits[stop]  # type: ignore[index]
                if stop <= count and cp.value is _KEEP:  # a link or fill on a cell the sheet wrote
                    v = values[stop - 1]
                    sa = kept_sas.get((stop, type(v), cp.ops))
                    if sa is not None and type(v) is str and v and v not in _ERROR_CODES and \
                            v == v.strip() and _TEXT_AS_IS(v) is None:
                        add(f'<c r="{letters[stop]}{r}"{sa} t="inlineStr"><is><t>{v}</t></is></c>')
                        start = stop + 1
                        continue
                add(_cell(n, stop, values, cp))
                start = stop + 1
            line = f'<row r="{r}"{tall.get(n, "")}>' + "".join(cells) + "</row>"
        out.append(line)
        size += len(line)
        if size > _CHUNK_FLUSH:
            yield "".join(out).encode()
            out, size = [], 0
    yield "".join(out).encode()


def _new_sheet_part(sheet: NewSheet, se: SheetEdits, styles: _Styles, mac: bool, link_rids: dict[Cell, str],
                    legacy_rid: str | None, drawing_rid: str | None = None, table_rid: str | None = None,
                    name: str = "Table1") -> Iterator[bytes]:
    rows = sheet.rows
    width = max((len(r) for r in rows), default=0)
    plan_cols = max((c for _, c in set(se.values) | set(se.links) | set(se.fills)), default=0)
    plan_rows = max((r for r, _ in set(se.values) | set(se.links) | set(se.fills)), default=0)
    last_row, last_col = max(len(rows), plan_rows, totals_row(sheet)), max(width, plan_cols)
    yield _XML_DECL + f'<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'.encode()
    if last_row and last_col:
        yield f'<dimension ref="A1:{_LETTERS[last_col]}{last_row}"/>'.encode()
    if rows:
        yield (b'<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft"'
               b' state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>')
    else:
        yield b'<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    yield b'<sheetFormatPr defaultRowHeight="15"/>'
    cols = [f'<col min="{i}" max="{i}" width="{w!r}" customWidth="1"/>'
            for i, w in enumerate(sheet.widths, start=1) if w is not None]
    if cols:
        yield ("<cols>" + "".join(cols) + "</cols>").encode()
    yield b"<sheetData>"
    yield from _new_sheet_rows(sheet, se, styles, mac, name)
    yield b"</sheetData>"
    if se.links:
        items = []
        for (r, c), target in sorted(se.links.items()):
            ref = f"{_LETTERS[c]}{r}"
            if target.startswith("#"):
                items.append(f'<hyperlink ref="{ref}" location="{_esc_attr(target[1:])}"/>')
            else:
                items.append(f'<hyperlink ref="{ref}" r:id="{link_rids[(r, c)]}"/>')
        yield ("<hyperlinks>" + "".join(items) + "</hyperlinks>").encode()
    yield b'<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
    if drawing_rid:
        yield f'<drawing r:id="{drawing_rid}"/>'.encode()
    if legacy_rid:
        yield f'<legacyDrawing r:id="{legacy_rid}"/>'.encode()
    if table_rid:
        yield f'<tableParts count="1"><tablePart r:id="{table_rid}"/></tableParts>'.encode()
    yield b"</worksheet>"


# -- tables: the Excel Table over a new sheet's rows -------------------------------------------------------------

_CT_TABLE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
_TABLE_ROOT = re.compile(rb"<(?:[\w.-]+:)?table\b[^>]*>")
_DEFINED_NAME = re.compile(rb"<(?:[\w.-]+:)?definedName\b[^>]*?\bname\s*=\s*\"([^\"]*)\"")


def table_ref(sheet: NewSheet) -> tuple[str, str]:
    """(the table's range, its filter's range): the header row to the last data row (one blank row when
    there is none: a table has at least one), plus the totals row."""
    table = sheet.table
    assert table is not None
    columns = len(sheet.rows[table.header_row - 1])
    last_data = max(len(sheet.rows), table.header_row + 1)
    last = totals_row(sheet) or last_data
    first = f"A{table.header_row}:{_LETTERS[columns]}"
    return f"{first}{last}", f"{first}{last_data}"


def table_xml(sheet: NewSheet, table_id: int, name: str) -> bytes:
    """The table part (``xl/tables/tableN.xml``): range, filter buttons, column names (the header cells'
    text), the totals row's labels and functions, the style with banded rows."""
    table = sheet.table
    assert table is not None
    ref, filter_ref = table_ref(sheet)
    header = sheet.rows[table.header_row - 1]
    columns = []
    for i, text in enumerate(header, start=1):
        total = table.totals[i - 1] if i <= len(table.totals) else None
        extra = ""
        if total is not None and totals_row(sheet):
            extra = (f' totalsRowLabel="{_esc_attr(str(total.value))}"' if total.function == "label"
                     else f' totalsRowFunction="{_esc_attr(total.function)}"')
        columns.append(f'<tableColumn id="{i}" name="{_esc_attr(str(text))}"{extra}/>')
    shown = ' totalsRowCount="1"' if totals_row(sheet) else ' totalsRowShown="0"'
    return (_XML_DECL.decode() + f'<table xmlns="{_NS_MAIN}" id="{table_id}" name="{_esc_attr(name)}" '
            f'displayName="{_esc_attr(name)}" ref="{ref}"{shown}><autoFilter ref="{filter_ref}"/>'
            f'<tableColumns count="{len(columns)}">{"".join(columns)}</tableColumns>'
            f'<tableStyleInfo name="{_esc_attr(table.style)}" showFirstColumn="0" showLastColumn="0" '
            'showRowStripes="1" showColumnStripes="0"/></table>').encode()


def _tables_in_use(zin: zipfile.ZipFile, book: str, names: set[str], dropped: set[str],
                   wb_xml: bytes) -> tuple[set[int], set[str]]:
    """The ids and names (tables' and defined names', which Excel keeps apart from table names) the
    copy keeps, so a new table takes neither."""
    ids: set[int] = set()
    taken = {_unescape(m[1].decode("utf-8", "replace")).split("!")[-1] for m in _DEFINED_NAME.finditer(wb_xml)}
    for part in names:
        if part in dropped or not (part.startswith("xl/tables/") and part.endswith(".xml")):
            continue
        root = _TABLE_ROOT.search(_read(zin, part, book, 1 << 20))
        if root is None:
            continue
        a = _attrs(root[0])
        if a.get(b"id", b"").isdigit():
            ids.add(int(a[b"id"]))
        taken |= {_unescape(a[k].decode("utf-8", "replace")) for k in (b"name", b"displayName") if k in a}
    return ids, taken


# -- notes: comments part and VML drawing -----------------------------------------------------------------------

_VML_SHAPETYPE = (
    '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
    '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')


#: A note's box: pixels per character and per line of the note font (Tahoma 9 pt; generous, so text is not
#: cut off), the padding, and the limits: between 30 and 64 characters a line, at most 900 px high (Excel
#: scrolls nothing in a note, so the box holds the whole text; ``annotate_cells`` caps a note's length).
NOTE_CHAR_PX, NOTE_LINE_PX, NOTE_PAD_PX = 7, 15, 16
NOTE_MIN_CHARS, NOTE_MAX_CHARS, NOTE_MAX_PX = 30, 64, 900


def note_size(text: str) -> tuple[int, int]:
    """(width, height) in pixels of the box that shows ``text`` whole: as wide as its longest line (within
    the limits), as high as its lines once wrapped at that width."""
    lines = text.split("\n")
    chars = min(max(max(len(line) for line in lines), NOTE_MIN_CHARS), NOTE_MAX_CHARS)
    wrapped = sum(max(1, -(-len(line) // chars)) for line in lines)
    return chars * NOTE_CHAR_PX + NOTE_PAD_PX, min(wrapped * NOTE_LINE_PX + NOTE_PAD_PX, NOTE_MAX_PX)


def _vml_shape(shape_id: int, row: int, col: int, text: str = "") -> str:
    """openpyxl's note shape: a hidden box anchored at the cell (row, col 0-based), sized to ``text``."""
    width, height = note_size(text)
    return (f'<v:shape id="_x0000_s{shape_id:04d}" type="#_x0000_t202" style="position:absolute; '
            f'margin-left:59.25pt;margin-top:1.5pt;width:{width}px;height:{height}px;z-index:1;visibility:hidden" '
            'fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow color="black" '
            'obscured="t"/><v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div '
            'style="text-align:left"/></v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/>'
            f'<x:SizeWithCells/><x:AutoFill>False</x:AutoFill><x:Row>{row - 1}</x:Row><x:Column>{col - 1}'
            '</x:Column></x:ClientData></v:shape>')


def _new_vml(notes: dict[Cell, str]) -> bytes:
    shapes = "".join(_vml_shape(1026 + i, r, c, notes[(r, c)]) for i, (r, c) in enumerate(sorted(notes)))
    return ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" '
            f'data="1"/></o:shapelayout>{_VML_SHAPETYPE}{shapes}</xml>').encode()


_VML_SHAPE = re.compile(rb"<([\w.-]+:)?shape\b[^>]*>.*?</\1shape>", re.S)
_VML_ROW = re.compile(rb"<(?:[\w.-]+:)?Row>\s*([0-9]+)\s*</(?:[\w.-]+:)?Row>")
_VML_COL = re.compile(rb"<(?:[\w.-]+:)?Column>\s*([0-9]+)\s*</(?:[\w.-]+:)?Column>")
_VML_NAMESPACES = ((b"v", b"urn:schemas-microsoft-com:vml"), (b"o", b"urn:schemas-microsoft-com:office:office"),
                   (b"x", b"urn:schemas-microsoft-com:office:excel"))


def _merged_vml(data: bytes, notes: dict[Cell, str], book: str, part: str) -> bytes:
    """The sheet's existing VML drawing with the note shapes at otbill's cells replaced by its own.

    VML is edited as text (Excel's VML is not always well-formed XML); the v/o/x prefixes otbill's shapes
    use are declared on the root element when the drawing does not declare them (openpyxl's VML binds
    its own ns0/ns1 prefixes on each element)."""
    cells = {(r - 1, c - 1) for r, c in notes}

    def keep(m: re.Match[bytes]) -> bytes:
        shape = m[0]
        if b'ObjectType="Note"' not in shape:
            return shape
        row, col = _VML_ROW.search(shape), _VML_COL.search(shape)
        if row and col and (int(row[1]), int(col[1])) in cells:
            return b""
        return shape

    root = re.search(rb"<xml\b[^>]*>", data)
    end = data.rfind(b"</xml>")
    if root is None or end < 0:
        raise WorkbookError(f"{book}: part {part} (the drawing of a sheet's notes) has no <xml> root element. "
                            "Open the workbook in Excel and save it again as .xlsx.")
    declared = _attrs(root[0])
    extra = b""
    for prefix, uri in _VML_NAMESPACES:
        bound = declared.get(b"xmlns:" + prefix)
        if bound is None:
            extra += b" xmlns:" + prefix + b'="' + uri + b'"'
        elif bound != uri:
            raise WorkbookError(f"{book}: part {part} binds the prefix {prefix.decode()}: to an unexpected "
                                "namespace. Open the workbook in Excel and save it again as .xlsx.")
    data = data[:root.end() - 1] + extra + data[root.end() - 1:]
    data = _VML_SHAPE.sub(keep, data)
    ids = [int(x) for x in re.findall(rb"_x0000_s([0-9]+)", data)]
    start = max([1025, *ids]) + 1
    shapes = "".join(_vml_shape(start + i, r, c, notes[(r, c)]) for i, (r, c) in enumerate(sorted(notes))).encode()
    if b'id="_x0000_t202"' not in data:
        shapes = _VML_SHAPETYPE.encode() + shapes
    end = data.rfind(b"</xml>")
    return data[:end] + shapes + data[end:]


def _comments_xml(existing: bytes | None, notes: dict[Cell, str], book: str, part: str) -> bytes:
    """The sheet's comments part: the biller's comments kept, those at otbill's cells replaced."""
    from lxml import etree

    if existing is None:
        root = etree.fromstring(f'<comments xmlns="{_NS_MAIN}"><authors/><commentList/></comments>'.encode())
    else:
        try:
            root = etree.fromstring(existing, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            raise WorkbookError(f"{book}: part {part} (the notes of a sheet) is not valid XML. Open the workbook "
                                "in Excel and save it again as .xlsx.") from None
    ns = etree.QName(root).namespace or ""

    def q(name: str) -> str:
        return f"{{{ns}}}{name}" if ns else name

    authors = root.find(q("authors"))
    if authors is None:
        authors = etree.Element(q("authors"))
        root.insert(0, authors)
    names = [a.text or "" for a in authors.findall(q("author"))]
    if "otbill" not in names:
        etree.SubElement(authors, q("author")).text = "otbill"
        names.append("otbill")
    author_id = str(names.index("otbill"))
    clist = root.find(q("commentList"))
    if clist is None:
        clist = etree.SubElement(root, q("commentList"))
    refs = {f"{_LETTERS[c]}{r}" for r, c in notes}
    for comment in clist.findall(q("comment")):
        if comment.get("ref") in refs:
            clist.remove(comment)
    for (r, c), text in sorted(notes.items()):
        comment = etree.SubElement(clist, q("comment"), ref=f"{_LETTERS[c]}{r}", authorId=author_id)
        t = etree.SubElement(etree.SubElement(comment, q("text")), q("t"))
        t.text = _ILLEGAL.sub(lambda m: f"_x{ord(m[0]):04X}_", text)
        if text != text.strip():
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


# -- charts: chart parts and the sheet's drawing -------------------------------------------------------------------

_NS_DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_NS_CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"


def _check_charts(book: str, name: str, charts: list[ChartSpec], sheets: dict[str, _SheetInfo],
                  rel_by_id: dict[str, _Rel], edits: Edits) -> None:
    """Refuse charts placed on, or drawn from, a sheet the copy will not have (a chart Excel would drop)."""
    if name not in edits.new_sheets:
        if name not in sheets:
            raise WorkbookError(f"{book}: there is no sheet named {name[:40]!r} to put a chart on. Check the "
                                "sheet name.")
        if rel_by_id[sheets[name].rid].type != _REL_WORKSHEET:
            raise WorkbookError(f"{book}: sheet {name[:40]!r} is a chart sheet or dialog, not a worksheet, so otbill "
                                "cannot put a chart on it. Fix: rename or delete that sheet in Excel.")
    for chart in charts:
        if chart.data_sheet not in sheets and chart.data_sheet not in edits.new_sheets:
            raise WorkbookError(f"{book}: chart {chart.title[:40]!r} draws from sheet {chart.data_sheet[:40]!r}, "
                                "which the workbook does not have. Check the sheet name.")


def _drawing_parts(zin: zipfile.ZipFile, book: str, drawing: str, names: set[str]) -> set[str]:
    """A drawing part, its relationships and the chart parts it holds (with their own relationships and
    the chart styles beside them) — the parts that go when otbill replaces the sheet they are on."""
    gone = {drawing}
    rels = _rels_path(drawing)
    if rels not in names:
        return gone
    gone.add(rels)
    for r in _parse_rels(_read(zin, rels, book)):
        if r.external or r.type != _REL_CHART:
            continue
        chart = _resolve(drawing, r.target)
        gone.add(chart)
        chart_rels = _rels_path(chart)
        if chart_rels in names:
            gone.add(chart_rels)
            gone |= {t for cr in _parse_rels(_read(zin, chart_rels, book)) if not cr.external
                     and (t := _resolve(chart, cr.target)).startswith("xl/charts/")}
    return gone


def _plan_charts(job: _SheetJob, charts: list[ChartSpec], used: set[str], names: set[str], taken: set[str],
                 ct_add: list[tuple[str, str]]) -> None:
    """Name the chart parts (unused numbers) and the drawing holding their frames: the sheet's own drawing
    when it has one (a sheet has at most one), else a new part related from the sheet."""
    job.charts = list(charts)
    existing = None
    if job.new is None:
        existing = next((r for r in job.old_rels if r.type == _REL_DRAWING and not r.external
                         and _resolve(job.part, r.target) in names), None)
    if existing is not None:
        job.drawing_part = _resolve(job.part, existing.target)
        job.drawing_existing = True
        job.drawing_rid = existing.rid
    else:
        job.drawing_part = _unused_part(taken, "xl/drawings/drawing{}.xml")
        job.drawing_rid = _unused_rid(used)
        job.new_rels.append(_Rel(job.drawing_rid, _REL_DRAWING, _relative(job.part, job.drawing_part), False))
        ct_add.append((job.drawing_part, _CT_DRAWING))
    job.chart_parts = [_unused_part(taken, "xl/charts/chart{}.xml") for _ in charts]
    ct_add.extend((part, _CT_CHART) for part in job.chart_parts)


def _write_charts(zin: zipfile.ZipFile, book: str, job: _SheetJob, names: set[str], put: Any) -> None:
    """The chart parts (openpyxl's chart XML) and the drawing with one frame per chart."""
    from otbill_xl.workbook.charts import chart_xml

    drawing = job.drawing_part
    assert drawing is not None
    for spec, part in zip(job.charts, job.chart_parts, strict=True):
        put(part, chart_xml(spec))
    rels_part = _rels_path(drawing)
    old_rels = _read(zin, rels_part, book) if job.drawing_existing and rels_part in names else None
    used = {r.rid for r in _parse_rels(old_rels)} if old_rels else set()
    rids = [_unused_rid(used) for _ in job.charts]
    new_rels = [_Rel(rid, _REL_CHART, _relative(drawing, part), False) for rid, part in zip(rids, job.chart_parts,
                                                                                           strict=True)]
    like = zin.getinfo(rels_part) if old_rels is not None else None
    put(rels_part, _rels_with(old_rels, new_rels), like)
    old = _read(zin, drawing, book) if job.drawing_existing else None
    put(drawing, _drawing_xml(old, job.charts, rids, book, drawing), zin.getinfo(drawing) if old else None)


def _drawing_xml(existing: bytes | None, charts: list[ChartSpec], rids: list[str], book: str, part: str) -> bytes:
    """A drawing part with a frame per chart (openpyxl's anchors) referring to ``rids``; appended to
    ``existing`` (the sheet's drawing: its pictures, shapes and charts are kept) when given."""
    from lxml import etree

    from otbill_xl.workbook.charts import drawing_anchors

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    new = etree.fromstring(drawing_anchors(charts), parser)
    if existing is None:
        root, first_id = new, 1
    else:
        try:
            root = etree.fromstring(existing, parser)
        except etree.XMLSyntaxError:
            raise WorkbookError(f"{book}: part {part} (the pictures and charts of a sheet) is not valid XML. Open "
                                "the workbook in Excel and save it again as .xlsx.") from None
        ids = [int(x) for x in root.xpath("//*[local-name()='cNvPr']/@id") if str(x).isdigit()]
        first_id = max([0, *ids]) + 1
    anchors = [a for a in new if isinstance(a.tag, str)]
    for i, (anchor, rid) in enumerate(zip(anchors, rids, strict=True)):
        anchor.find(f".//{{{_NS_CHART}}}chart").set(f"{{{_NS_REL}}}id", rid)
        pr = anchor.find(f".//{{{_NS_DRAWING}}}cNvPr")
        pr.set("id", str(first_id + i))
        pr.set("name", f"Chart {first_id + i}")
        if root is not new:
            root.append(anchor)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


# -- the package --------------------------------------------------------------------------------------------------

_SHEET_ENTRY = re.compile(rb"<(?:[\w.-]+:)?sheet\b[^>]*?/?>")


@dataclass
class _SheetInfo:
    name: str
    part: str
    rid: str


@dataclass
class _SheetJob:
    """What happens to one sheet part (patched in place, or written new)."""

    name: str
    part: str
    edits: SheetEdits
    new: NewSheet | None
    rels_part: str
    old_rels: list[_Rel]
    old_rels_data: bytes | None
    comments_part: str | None = None
    comments_existing: bool = False
    vml_part: str | None = None
    vml_existing: bool = False
    legacy_rid: str | None = None
    link_rids: dict[Cell, str] = field(default_factory=dict)
    new_rels: list[_Rel] = field(default_factory=list)
    used_rids: set[str] = field(default_factory=set)
    #: charts placed on the sheet, their parts, and the drawing part holding their frames
    charts: list[ChartSpec] = field(default_factory=list)
    chart_parts: list[str] = field(default_factory=list)
    drawing_part: str | None = None
    drawing_existing: bool = False
    drawing_rid: str | None = None
    #: the new sheet's table: its part, relationship, id and name
    table_part: str | None = None
    table_rid: str | None = None
    table_id: int = 0
    table_name: str = ""


def _read(zf: zipfile.ZipFile, name: str, book: str, limit: int = 64 << 20) -> bytes:
    try:
        with zf.open(name) as fh:
            data = fh.read(limit + 1)
    except KeyError:
        raise WorkbookError(f"{book}: part {name} is missing from the workbook package. Open the workbook in "
                            "Excel and save it again as .xlsx.") from None
    if len(data) > limit:
        raise WorkbookError(f"{book}: part {name} is larger than {limit >> 20} MB, far more than a workbook needs. "
                            "Open it in Excel and save it again as .xlsx.")
    return data


def _unused_part(names: set[str], pattern: str) -> str:
    n = 1
    while pattern.format(n) in names or pattern.format(n).lower() in {x.lower() for x in names}:
        n += 1
    names.add(pattern.format(n))
    return pattern.format(n)


def write_patched(source_path: str | os.PathLike[str], edits: Edits,
                  out: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write a copy of the workbook at ``source_path`` with ``edits`` applied to ``out`` (a path or a
    writable binary stream). Parts the edits do not touch are copied byte for byte; the edited sheets
    are streamed (a sheet is never held in memory whole). The caller makes a path write atomic (see
    :func:`otbill_xl.workbook.files.atomic_save`).

    Raises :class:`WorkbookError` for a package that cannot be copied this way and :class:`OutputError`
    for a value that cannot be written or an output that cannot be written to."""
    src = Path(source_path)
    book = src.name
    target = Path(out) if isinstance(out, str | os.PathLike) else None
    if target is not None and target.exists() and target.resolve() == src.resolve():
        raise OutputError(f"{book}: refusing to write the copy over the input workbook. Fix: choose another "
                          "output name.")
    try:
        zin = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError):
        raise WorkbookError(f"{book}: the file is not a complete .xlsx/.xlsm package (zip). Open it in Excel "
                            "and save it again as .xlsx.") from None
    try:
        with zin, gc_paused():  # the cell plans are many small acyclic objects: ~5-8% of the copy in GC
            _write(zin, src, book, edits, out)
    except BaseException:
        if target is not None:  # no half-written workbook is left behind under the output name
            target.unlink(missing_ok=True)
        raise


def _write(zin: zipfile.ZipFile, src: Path, book: str, edits: Edits, out: str | os.PathLike[str] | IO[bytes]) -> None:
    infos = zin.infolist()
    names = {i.filename for i in infos}
    taken = set(names)  # part names in use, new ones included
    wb_part = "xl/workbook.xml"
    wb_rels_part = _rels_path(wb_part)
    wb_xml = _read(zin, wb_part, book)
    wb_rels_data = _read(zin, wb_rels_part, book)
    wb_rels = _parse_rels(wb_rels_data)
    ct_data = _read(zin, "[Content_Types].xml", book)
    mac = bool(re.search(rb'date1904\s*=\s*["\'](?:1|true)["\']', wb_xml))
    rel_by_id = {r.rid: r for r in wb_rels}
    sheets: dict[str, _SheetInfo] = {}
    for m in _SHEET_ENTRY.finditer(wb_xml):
        a = _attrs(m[0])
        rid = next((v.decode() for k, v in a.items() if k.endswith(b":id")), "")
        name = _unescape(a.get(b"name", b"").decode("utf-8", "replace"))
        rel = rel_by_id.get(rid)
        if rel is not None:
            sheets[name] = _SheetInfo(name, _resolve(wb_part, rel.target), rid)

    for name, se in edits.sheets.items():
        if name not in sheets and name not in edits.new_sheets and se:
            raise WorkbookError(f"{book}: there is no sheet named {name[:40]!r} to annotate. Check the sheet name.")
    for name, charts in edits.charts.items():
        _check_charts(book, name, charts, sheets, rel_by_id, edits)

    # styles
    styles_rel = next((r for r in wb_rels if r.type.endswith("/styles")), None)
    styles_part = _resolve(wb_part, styles_rel.target) if styles_rel else "xl/styles.xml"
    styles = _Styles(_read(zin, styles_part, book) if styles_part in names else None, book)

    # plan every sheet job
    jobs: list[_SheetJob] = []
    wb_new_rels: list[_Rel] = []
    wb_drop: set[str] = set()
    wb_used = {r.rid for r in wb_rels}
    ct_add: list[tuple[str, str]] = []  # (part, content type) overrides
    ct_drop: set[str] = set()
    dropped_parts: set[str] = set()
    new_sheet_entries: list[str] = []
    sheet_ids = [int(x) for x in re.findall(rb'<(?:[\w.-]+:)?sheet\b[^>]*?\bsheetId\s*=\s*"([0-9]+)"', wb_xml)]
    next_sheet_id = max([0, *sheet_ids]) + 1
    wb_root = re.search(rb"<(?:[\w.-]+:)?workbook\b[^>]*>", wb_xml)
    wb_r_decl = "" if wb_root and f'xmlns:r="{_NS_REL}"'.encode() in wb_root[0] else f' xmlns:r="{_NS_REL}"'
    replaced_any = False
    for name, new in edits.new_sheets.items():
        se = edits.sheets.get(name, SheetEdits())
        if name in sheets:
            entry = sheets[name]
            rel = rel_by_id[entry.rid]
            if rel.type != _REL_WORKSHEET:
                raise WorkbookError(f"{book}: sheet {name[:40]!r} is a chart sheet or dialog, not a worksheet, so "
                                    "otbill cannot replace it. Fix: rename or delete that sheet in Excel.")
            part = entry.part
            replaced_any = True
            rels_part = _rels_path(part)
            old = _parse_rels(_read(zin, rels_part, book)) if rels_part in names else []
            for r in old:  # the old sheet's own parts go with it
                if not r.external and r.type in (_REL_COMMENTS, _REL_VML, _REL_TABLE):
                    target = _resolve(part, r.target)
                    dropped_parts.add(target)
                    ct_drop.add(target)
                elif not r.external and r.type == _REL_DRAWING:  # its charts too (else each rerun adds orphans)
                    gone = _drawing_parts(zin, book, _resolve(part, r.target), names)
                    dropped_parts |= gone
                    ct_drop |= gone
            if rels_part in names:
                dropped_parts.add(rels_part)
            job = _SheetJob(name, part, se, new, rels_part, [], None)
        else:
            part = _unused_part(taken, "xl/worksheets/sheet{}.xml")
            rid = _unused_rid(wb_used)
            wb_new_rels.append(_Rel(rid, _REL_WORKSHEET, _relative(wb_part, part), False))
            ct_add.append((part, _CT_WORKSHEET))
            new_sheet_entries.append(f'<sheet{wb_r_decl} name="{_esc_attr(name)}" '
                                     f'sheetId="{next_sheet_id}" r:id="{rid}"/>')
            next_sheet_id += 1
            job = _SheetJob(name, part, se, new, _rels_path(part), [], None)
        jobs.append(job)
    for name in dict.fromkeys([*edits.sheets, *edits.charts]):
        se = edits.sheets.get(name) or SheetEdits()
        if name in edits.new_sheets or not (se or edits.charts.get(name)):
            continue
        part = sheets[name].part
        if part not in names:
            raise WorkbookError(f"{book}: part {part} (sheet {name[:40]!r}) is missing. Open the workbook in Excel "
                                "and save it again as .xlsx.")
        rels_part = _rels_path(part)
        data = _read(zin, rels_part, book) if rels_part in names else None
        jobs.append(_SheetJob(name, part, se, None, rels_part, _parse_rels(data) if data else [], data))

    ct_lower = ct_data.lower()
    need_vml_default = False
    table_ids: set[int] = set()
    table_names: set[str] | None = None
    for job in jobs:
        used = {r.rid for r in job.old_rels}
        if job.edits.notes:
            comments = next((r for r in job.old_rels if r.type == _REL_COMMENTS and not r.external), None)
            if comments is not None:
                job.comments_part = _resolve(job.part, comments.target)
                job.comments_existing = job.comments_part in names
            if job.comments_part is None or not job.comments_existing:
                job.comments_part = job.comments_part or _unused_part(taken, "xl/comments{}.xml")
                if comments is None:
                    job.new_rels.append(_Rel(_unused_rid(used), _REL_COMMENTS,
                                             _relative(job.part, job.comments_part), False))
                ct_add.append((job.comments_part, _CT_COMMENTS))
            need_vml_default = True
        for key, target in sorted(job.edits.links.items()):
            if not target.startswith("#"):
                rid = _unused_rid(used)
                job.link_rids[key] = rid
                job.new_rels.append(_Rel(rid, _REL_HYPERLINK, target, True))
        charts = edits.charts.get(job.name)
        if charts:
            _plan_charts(job, charts, used, names, taken, ct_add)
        if job.new is not None and job.new.table is not None:
            if table_names is None:
                table_ids, table_names = _tables_in_use(zin, book, names, dropped_parts, wb_xml)
            job.table_part = _unused_part(taken, "xl/tables/table{}.xml")
            job.table_rid = _unused_rid(used)
            job.table_id = max([0, *table_ids]) + 1
            table_ids.add(job.table_id)
            job.table_name = table_name(job.name, table_names)
            table_names.add(job.table_name)
            job.new_rels.append(_Rel(job.table_rid, _REL_TABLE, _relative(job.part, job.table_part), False))
            ct_add.append((job.table_part, _CT_TABLE))
        job.used_rids = used  # the ids in use, for the VML relationship decided while streaming
    if need_vml_default and b'extension="vml"' not in ct_lower:
        ct_add.append(("vml", _CT_VML))

    # calcChain: a formula overwritten or a sheet replaced would leave entries Excel repairs; Excel rebuilds it
    calc = next((r for r in wb_rels if r.type == _REL_CALC_CHAIN), None)
    if calc is not None and (replaced_any or any(j.new is None and j.edits.values for j in jobs)):
        target = _resolve(wb_part, calc.target)
        wb_drop.add(calc.rid)
        dropped_parts.add(target)
        ct_drop.add(target)

    # the workbook parts
    new_wb_xml = wb_xml
    if new_sheet_entries:
        sheets_end = re.search(rb"</(?:[\w.-]+:)?sheets\s*>", wb_xml)
        if sheets_end is None:
            raise WorkbookError(f"{book}: part {wb_part} has no list of sheets. Open the workbook in Excel and "
                                "save it again as .xlsx.")
        bound = re.match(rb"</([\w.-]+:)?", sheets_end[0])
        prefix = (bound[1] or b"").decode() if bound else ""
        entries = "".join(e.replace("<sheet ", f"<{prefix}sheet ") for e in new_sheet_entries).encode()
        new_wb_xml = wb_xml[:sheets_end.start()] + entries + wb_xml[sheets_end.start():]
    new_wb_rels = _rels_with(wb_rels_data, wb_new_rels, wb_drop) if (wb_new_rels or wb_drop) else wb_rels_data
    if styles.created:
        rid = _unused_rid(wb_used)
        new_wb_rels = _rels_with(new_wb_rels, [_Rel(rid, _REL_BASE + "styles", "styles.xml", False)])
        ct_add.append((styles_part, _CT_STYLES))
    new_ct = _content_types(ct_data, ct_add, ct_drop)

    job_by_part = {j.part: j for j in jobs}
    deferred = {j.rels_part for j in jobs}
    for j in jobs:
        if j.comments_part:
            deferred.add(j.comments_part)
    vml_of_job: dict[str, _SheetJob] = {}
    for j in jobs:
        for r in j.old_rels:
            if r.type == _REL_VML and not r.external and j.edits.notes:
                vml_of_job[_resolve(j.part, r.target)] = j
    deferred |= set(vml_of_job)
    for j in jobs:
        if j.drawing_existing:  # the sheet's drawing gets the new charts' frames
            assert j.drawing_part is not None
            deferred |= {j.drawing_part, _rels_path(j.drawing_part)}

    try:
        zout = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_LEVEL,
                               allowZip64=True)
    except OSError as exc:
        raise OutputError(f"{_out_name(out)}: the copy cannot be written ({exc.strerror or type(exc).__name__}). "
                          "Fix: choose another --out in a folder you can write to.") from None
    try:
        with zout:
            written: set[str] = set()

            def put(name: str, data: bytes, like: zipfile.ZipInfo | None = None) -> None:
                zout.writestr(_zinfo(name, like), data)
                written.add(name)

            for info in infos:
                name = info.filename
                if name in dropped_parts or name in deferred:
                    continue
                if name == "[Content_Types].xml":
                    put(name, new_ct, info)
                elif name == wb_part:
                    put(name, new_wb_xml, info)
                elif name == wb_rels_part:
                    put(name, new_wb_rels, info)
                elif name == styles_part:
                    continue  # written once every sheet has asked for its formats
                elif name in job_by_part:
                    _write_sheet(zin, zout, src, book, job_by_part[name], styles, mac, info, taken)
                    written.add(name)
                elif edits.grown_tables and name.startswith("xl/tables/") and info.file_size < 1 << 20:
                    put(name, grown_table(zin.read(info), edits.grown_tables), info)
                else:
                    with zin.open(info) as fh, zout.open(_zinfo(name, info), "w", force_zip64=info.file_size
                                                         > 1 << 30) as dst:
                        shutil.copyfileobj(fh, dst, 1 << 20)
            for job in jobs:
                if job.part not in written:
                    _write_sheet(zin, zout, src, book, job, styles, mac, None, taken)
                    written.add(job.part)
            # the parts that depend on what streaming found (legacyDrawing ids)
            for job in jobs:
                _write_sheet_parts(zin, book, job, names, vml_of_job, put)
            for name in sorted(deferred - written - dropped_parts):
                if name in names:  # a deferred part no job rewrote (e.g. VML of an untouched kind)
                    info = zin.getinfo(name)
                    put(name, zin.read(info), info)
            styles_info = zin.getinfo(styles_part) if styles_part in names else None
            put(styles_part, styles.serialize() if styles.changed else zin.read(styles_part), styles_info)
    except OSError as exc:
        raise OutputError(f"{_out_name(out)}: the copy cannot be written ({exc.strerror or type(exc).__name__}). "
                          "Fix: check the disk has free space, or choose another --out.") from None
    except zipfile.BadZipFile:
        raise WorkbookError(f"{book}: the file is damaged (a part cannot be unpacked). Open it in Excel and save "
                            "it again as .xlsx.") from None


#: zlib level for written parts: level 1 is ~3x faster than the default 6 on sheet XML for a file ~25% larger.
_LEVEL = 1


def _out_name(out: Any) -> str:
    return Path(out).name if isinstance(out, str | os.PathLike) else "the output"


def _zinfo(name: str, like: zipfile.ZipInfo | None) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=like.date_time if like else (1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    zi.external_attr = like.external_attr if like else 0o600 << 16
    return zi


def _write_sheet(zin: zipfile.ZipFile, zout: zipfile.ZipFile, src: Path, book: str, job: _SheetJob,
                 styles: _Styles, mac: bool, info: zipfile.ZipInfo | None, names: set[str]) -> None:
    with zout.open(_zinfo(job.part, info), "w", force_zip64=True) as member:
        dst = _Pipe(member)
        try:
            _stream_sheet(zin, src, book, job, styles, mac, info, dst, names)
        finally:
            dst.close()


def _stream_sheet(zin: zipfile.ZipFile, src: Path, book: str, job: _SheetJob, styles: _Styles, mac: bool,
                  info: zipfile.ZipInfo | None, dst: _Pipe, names: set[str]) -> None:
    """Write one sheet part: a new sheet from its rows, or the source part patched while it streams."""
    used = job.used_rids
    if job.new is not None:
        if job.edits.notes:
            job.vml_part = job.vml_part or _unused_part(names, "xl/drawings/vmlDrawing{}.vml")
            job.legacy_rid = _unused_rid(used)
            job.new_rels.append(_Rel(job.legacy_rid, _REL_VML, _relative(job.part, job.vml_part), False))
        for piece in _new_sheet_part(job.new, job.edits, styles, mac, job.link_rids, job.legacy_rid,
                                     job.drawing_rid, job.table_rid, job.table_name):
            dst.write(piece)
        return
    assert info is not None
    patcher = _SheetPatcher(_plan_cells(job.edits), styles, mac, book, job.part)
    for piece in patcher.stream(_prefetched(inflate(src, info, book))):
        dst.write(piece)
    tail = patcher.tail_info
    new_legacy: str | None = None
    if job.edits.notes:
        existing = legacy_drawing_rid(tail)
        rel = next((r for r in job.old_rels if r.rid == existing), None) if existing else None
        if rel is not None and rel.type == _REL_VML:
            job.vml_part = _resolve(job.part, rel.target)
            job.vml_existing = job.vml_part in zin.namelist()
        else:
            job.vml_part = _unused_part(names, "xl/drawings/vmlDrawing{}.vml")
            new_legacy = _unused_rid(used)
            job.new_rels.append(_Rel(new_legacy, _REL_VML, _relative(job.part, job.vml_part), False))
    dst.write(patcher.finish_tail(tail, job.edits.links, job.link_rids, new_legacy, job.drawing_rid))


def _write_sheet_parts(zin: zipfile.ZipFile, book: str, job: _SheetJob, names: set[str],
                       vml_of_job: dict[str, _SheetJob], put: Any) -> None:
    notes = job.edits.notes
    if notes:
        assert job.comments_part is not None and job.vml_part is not None
        existing = _read(zin, job.comments_part, book) if job.comments_existing else None
        like = zin.getinfo(job.comments_part) if job.comments_existing else None
        put(job.comments_part, _comments_xml(existing, notes, book, job.comments_part), like)
        if job.vml_existing:
            put(job.vml_part, _merged_vml(_read(zin, job.vml_part, book), notes, book, job.vml_part),
                zin.getinfo(job.vml_part))
        else:
            put(job.vml_part, _new_vml(notes))
    if job.charts:
        _write_charts(zin, book, job, names, put)
    if job.table_part is not None and job.new is not None:
        put(job.table_part, table_xml(job.new, job.table_id, job.table_name))
    # the other VML parts of this sheet pass through unchanged
    for vml, owner in vml_of_job.items():
        if owner is job and vml != job.vml_part and vml in names:
            put(vml, zin.read(vml), zin.getinfo(vml))
    if job.new is not None:
        if job.new_rels:
            put(job.rels_part, _rels_with(None, job.new_rels))
        return
    if job.new_rels:
        like = zin.getinfo(job.rels_part) if job.old_rels_data is not None else None
        put(job.rels_part, _rels_with(job.old_rels_data, job.new_rels), like)
    elif job.old_rels_data is not None:
        put(job.rels_part, job.old_rels_data, zin.getinfo(job.rels_part))


def _content_types(data: bytes, add: list[tuple[str, str]], drop: set[str]) -> bytes:
    if drop:
        def keep(m: re.Match[bytes]) -> bytes:
            part = _unescape(_attrs(m[0]).get(b"PartName", b"").decode()).lstrip("/")
            return b"" if part in drop else m[0]
        data = re.sub(rb"<(?:[\w.-]+:)?Override\b[^>]*?/>", keep, data)
    if not add:
        return data
    items = []
    for part, ctype in add:
        if part == "vml":
            items.append(f'<Default Extension="vml" ContentType="{ctype}"/>')
        else:
            items.append(f'<Override PartName="/{_esc_attr(part)}" ContentType="{ctype}"/>')
    m = re.search(rb"</(?:[\w.-]+:)?Types\s*>", data)
    if m is None:
        raise WorkbookError("The workbook's [Content_Types].xml part has no closing </Types>. Open the workbook "
                            "in Excel and save it again as .xlsx.")
    return data[:m.start()] + "".join(items).encode() + data[m.start():]
