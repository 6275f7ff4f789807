"""The streaming annotated-copy writer (``otbill_xl.workbook.xlsx_patch``) gives the workbook openpyxl
gives (the file adapter's ``FileWorkbook`` writing methods), and copies every part it does not need to
change byte for byte."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.comments import Comment
from openpyxl.styles import Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl_copy import OpenpyxlCopy
from reference_sheet_rows import new_sheet_rows

from otbill_xl.errors import OutputError, WorkbookError
from otbill_xl.workbook import xlsx_patch
from otbill_xl.workbook.port import OutputTable, Total
from otbill_xl.workbook.xlsx_patch import Edits, write_patched

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"


# -- building inputs ------------------------------------------------------------------------------------------

def rich_workbook(path: Path) -> Path:
    """Styles, number formats, a biller's comment, a table, a validation, a formula, a defined name, a
    hyperlink and an untouched second sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Charges"
    ws.append(["LineID", "Date", "Code", "Units", "Charge", "Total"])
    for i in range(1, 31):
        ws.append([f"L{i:03d}", date(2026, 8, i % 28 + 1), "97110", i % 4 + 1, Decimal("65.00") * (i % 4 + 1),
                   f"=D{i + 1}*E{i + 1}"])
    thin = Side(style="thin", color="FF000000")
    for row in ws.iter_rows(min_row=2, max_row=31):
        row[0].font = Font(italic=True, color="FF1F4E79")
        row[1].number_format = "mm/dd/yyyy"
        row[4].number_format = "#,##0.00"
        row[4].border = Border(left=thin, right=thin)
    ws["C5"].comment = Comment("biller: check code", "Dana")
    ws["A8"].comment = Comment("biller: old note", "Dana")
    ws["A9"].fill = PatternFill("solid", start_color="FFFF00", end_color="FFFF00")
    ws["A10"].hyperlink = "https://example.org/x"
    table = Table(displayName="ChargesTable", ref="A1:F31")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    dv = DataValidation(type="list", formula1='"97110,97112,97140"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add("C2:C31")
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 14
    other = wb.create_sheet("Payers")
    other.append(["PayerID", "Name"])
    other.append(["P1", "Acme Health"])
    other["C1"] = "=COUNTA(A:A)"
    wb.defined_names["PayerList"] = DefinedName("PayerList", attr_text="Payers!$A$2:$A$2")
    wb.save(path)
    return path


def xlsm_workbook(path: Path) -> Path:
    """A macro workbook: the rich workbook with a VBA project part (opaque bytes, passed through)."""
    xlsx = rich_workbook(path.with_suffix(".xlsx"))
    with zipfile.ZipFile(xlsx) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"</Types>", b'<Default Extension="bin" ContentType="application/'
                                    b'vnd.ms-office.vbaProject"/></Types>')
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.'
                                    b'microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                                    b"</Relationships>")
            zout.writestr(info, data)
        zout.writestr("xl/vbaProject.bin", bytes(range(256)) * 40)
    return path


def rewrite_part(path: Path, part: str, fn) -> Path:
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, fn(data) if info.filename == part else data)
    tmp.replace(path)
    return path


# -- applying the same edits both ways ----------------------------------------------------------------------------

class Both:
    """Sends every port call to openpyxl (``OpenpyxlCopy``, the reference) and to an :class:`Edits` record."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.fw = OpenpyxlCopy(source)
        self.edits = Edits()

    def __getattr__(self, name: str):
        def call(*args: Any, **kwargs: Any) -> None:
            getattr(self.fw, name)(*args, **kwargs)
            getattr(self.edits, name)(*args, **kwargs)
        return call

    def save(self, folder: Path) -> tuple[Path, Path]:
        a, b = folder / "openpyxl.xlsx", folder / "patched.xlsx"
        if self.source.suffix == ".xlsm":
            a, b = a.with_suffix(".xlsm"), b.with_suffix(".xlsm")
        self.fw.save(str(a))
        write_patched(self.source, self.edits, b)
        return a, b


def _link(cell) -> tuple[str | None, str | None] | None:
    h = cell.hyperlink
    return None if h is None else (h.target, h.location)


def _style_name(cell) -> str:
    """The cell style's name. openpyxl takes a cell's xfId as a position in the cellStyles list, which
    only holds when that list and cellStyleXfs match one to one (not in LibreOffice's files); then the
    hyperlink look (the theme's link colour) stands for the Hyperlink style."""
    try:
        return str(cell.style)
    except IndexError:
        color = cell.font.color
        return "Hyperlink" if color is not None and color.theme == 10 else "?"


def snapshot(path: Path) -> dict[str, Any]:
    """What the biller sees, read back by openpyxl: values, fills, number formats, bold, notes, links,
    cell styles, frozen panes, widths, tables, validations, defined names."""
    wb = openpyxl.load_workbook(path, keep_vba=path.suffix == ".xlsm")
    out: dict[str, Any] = {"sheets": wb.sheetnames,
                           "names": sorted((n, d.attr_text) for n, d in wb.defined_names.items())}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                value = c.value
                if isinstance(value, Decimal):
                    value = float(value)
                entry = (value, c.fill.fgColor.rgb if c.fill.fill_type == "solid" else None, c.number_format,
                         bool(c.font.b), (c.comment.text, c.comment.author) if c.comment else None, _link(c),
                         _style_name(c), (bool(c.alignment.wrap_text), c.alignment.vertical if c.alignment.vertical != "bottom"
                                          else None))  # (bottom: Excel's default, which LibreOffice writes out)
                if entry != (None, None, "General", False, None, None, "Normal", (False, None)):
                    cells[c.coordinate] = entry
        out[ws.title] = {
            "cells": cells, "freeze": ws.freeze_panes,
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.customWidth},
            "heights": {n: d.height for n, d in ws.row_dimensions.items() if d.customHeight},
            "tables": sorted((t.name, t.ref, t.totalsRowCount, t.autoFilter.ref if t.autoFilter else None,
                              tuple((c.name, c.totalsRowFunction, c.totalsRowLabel) for c in t.tableColumns),
                              t.tableStyleInfo.name if t.tableStyleInfo else None) for t in ws.tables.values()),
            "validations": sorted((str(d.sqref), d.type, d.formula1) for d in ws.data_validations.dataValidation),
        }
    return out


def assert_same(a: Path, b: Path) -> None:
    sa, sb = snapshot(a), snapshot(b)
    assert sa["sheets"] == sb["sheets"]
    assert sa["names"] == sb["names"]
    for name in sa["sheets"]:
        ca, cb = sa[name].pop("cells"), sb[name].pop("cells")
        diff = {k: (ca.get(k), cb.get(k)) for k in set(ca) | set(cb) if ca.get(k) != cb.get(k)}
        assert not diff, (name, sorted(diff.items())[:10])
        assert sa[name] == sb[name], name
    calamine_opens(b)


def calamine_opens(path: Path) -> None:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python()


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


#: parts write_patched may rewrite besides the edited sheets and their relationships/notes
_PACKAGE_PARTS = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}


def assert_untouched_identical(source: Path, out: Path, edited_parts: set[str]) -> None:
    before, after = parts(source), parts(out)
    for name, data in before.items():
        if name in _PACKAGE_PARTS or name in edited_parts or name == "xl/calcChain.xml":
            continue
        assert after.get(name) == data, name


# -- tests -----------------------------------------------------------------------------------------------------

def annotate(both: Both) -> None:
    """The kind of edits check/price make: values in blank and filled cells, fills, notes (one over a
    biller's note), links both ways, result sheets with links, fills and notes of their own."""
    both.write_values("Charges", 2, 4, [[7], [8]])
    both.write_values("Charges", 3, 7, [["OK", "=HYPERLINK(\"x\")", None]])
    both.write_values("Charges", 40, 2, [[date(2026, 9, 1), datetime(2026, 9, 1, 8, 30), True, Decimal("12.34")]])
    both.write_values("Charges", 6, 6, [["replaced formula"]])
    both.fill("Charges", 2, 2, "FFC7CE")
    both.fill("Charges", 5, 5, "FFEB9C")
    both.fill("Charges", 45, 12, "DDEBF7")
    both.note("Charges", 5, 3, "Code 97110 needs GO modifier")
    both.note("Charges", 9, 1, "otbill note")
    both.note("Charges", 9, 1, "otbill note, replaced")
    both.note("Charges", 50, 9, "far away")
    both.hyperlink("Charges", 3, 1, "#Findings!A2")
    both.hyperlink("Charges", 4, 9, "https://example.com/rule?id=1&x=<2>")
    both.fill("Charges", 4, 9, "E2EFDA")
    both.replace_sheet("Findings", [["Row", "Rule", "Message", "Amount", "When"],
                                    [2, "units.max", "Too many units\nfor one visit", Decimal("1.5"), date(2026, 8, 3)],
                                    [3, "codes.gp", "=not a formula", None, datetime(2026, 8, 4, 9)],
                                    ["", "x"]],
                       widths=[8, 20, None, 12], formats=[None, None, None, "#,##0.00", "yyyy-mm-dd"],
                       table=OutputTable(wrap=(False, False, True, False, False),
                                         totals=(Total("label", "Total"), None, None, Total("sum", Decimal("1.5")),
                                                 None)))
    both.hyperlink("Findings", 2, 1, "#Charges!A2")
    both.fill("Findings", 3, 2, "FFC7CE")
    both.note("Findings", 2, 3, "a note on a new sheet")
    both.replace_sheet("Summary", [["Total"], [3]], widths=[30])
    # a table below rows written above it (as the Check Summary's), named apart from the source's
    # table ChargesTable (a sheet of that name gets ChargesTable_2)
    both.replace_sheet("ChargesTable", [["Item", "Value"], ["Lines", 3], [], ["Rule", "Count"], ["a", 2], ["b", 5]],
                       formats=[None, "0"], table=OutputTable(header_row=4, wrap=(True, False),
                                                              totals=(None, Total("sum", 7))))


def test_rich_workbook_same_as_openpyxl(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsx")
    both = Both(src)
    annotate(both)
    a, b = both.save(tmp_path)
    assert_same(a, b)
    assert_untouched_identical(src, b, {"xl/worksheets/sheet1.xml", "xl/worksheets/_rels/sheet1.xml.rels",
                                        "xl/comments/comment1.xml", "xl/drawings/commentsDrawing1.vml"})
    out = parts(b)
    assert b"vbaProject" not in out["[Content_Types].xml"]
    # the untouched sheet, its formula and the table part are the source's bytes
    assert out["xl/worksheets/sheet2.xml"] == parts(src)["xl/worksheets/sheet2.xml"]
    assert out["xl/tables/table1.xml"] == parts(src)["xl/tables/table1.xml"]


def test_no_edits_copies_every_part(tmp_path: Path) -> None:
    src = xlsm_workbook(tmp_path / "macro.xlsm")
    write_patched(src, Edits(), tmp_path / "copy.xlsm")
    assert parts(tmp_path / "copy.xlsm") == parts(src)


def test_biller_comments_kept(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsx")
    edits = Edits()
    edits.note("Charges", 8, 1, "otbill replaces this one")
    edits.note("Charges", 12, 2, "new one")
    write_patched(src, edits, tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Charges"]
    assert (ws["C5"].comment.text, ws["C5"].comment.author) == ("biller: check code", "Dana")
    assert (ws["A8"].comment.text, ws["A8"].comment.author) == ("otbill replaces this one", "otbill")
    assert ws["B12"].comment.author == "otbill"
    vml = parts(tmp_path / "out.xlsx")["xl/drawings/commentsDrawing1.vml"]
    assert vml.count(b'ObjectType="Note"') == 3
    # sized to the text: a short note gets the narrowest box, 30 characters x 7 px + 16 px padding = 226 px
    # wide, one line of 15 px + 16 px = 31 px high
    assert b"width:226px;height:31px" in vml


def test_xlsm_keeps_vba(tmp_path: Path) -> None:
    src = xlsm_workbook(tmp_path / "macro.xlsm")
    both = Both(src)
    annotate(both)
    a, b = both.save(tmp_path)
    assert_same(a, b)
    assert parts(b)["xl/vbaProject.bin"] == parts(src)["xl/vbaProject.bin"]
    assert_untouched_identical(src, b, {"xl/worksheets/sheet1.xml", "xl/worksheets/_rels/sheet1.xml.rels",
                                        "xl/comments/comment1.xml", "xl/drawings/commentsDrawing1.vml"})
    assert b"macroEnabled" in parts(b)["[Content_Types].xml"]


def test_sample_practice(tmp_path: Path) -> None:
    src = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, src)
    both = Both(src)
    rows = len(python_calamine.CalamineWorkbook.from_path(str(src)).get_sheet_by_name("Charges").to_python())
    for r in range(2, rows + 1, 3):
        both.write_values("Charges", r, 11, [[r % 4 + 1]])
        if r % 7 == 0:
            both.fill("Charges", r, 5, "FFC7CE")
            both.note("Charges", r, 5, f"rule {r}")
        if r % 11 == 0:
            both.fill("Charges", r, 11, "E2EFDA")
    both.write_values("Charges", rows + 2, 1, [["after the table"]])
    both.replace_sheet("Findings", [["Sheet", "Row", "Message"]] + [["Charges", r, f"m{r}"] for r in range(2, 60)],
                       widths=[12, 6, 60], formats=[None, "0", None])
    for r in range(2, 60):
        both.hyperlink("Findings", r, 2, f"#Charges!A{r}")
    a, b = both.save(tmp_path)
    assert_same(a, b)
    assert_untouched_identical(src, b, {"xl/worksheets/sheet10.xml", "xl/worksheets/_rels/sheet10.xml.rels"})


def test_replace_existing_sheet_keeps_position(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsx")
    first = Both(src)
    first.replace_sheet("Findings", [["Old"], ["x"]])
    first.note("Findings", 2, 1, "old note")
    a, _ = first.save(tmp_path)
    again = Both(a)
    again.replace_sheet("Findings", [["New", "Col"], [1, 2]], widths=[5, 6])
    again.hyperlink("Findings", 2, 2, "https://example.com")
    (tmp_path / "2").mkdir()
    a2, b2 = again.save(tmp_path / "2")
    assert_same(a2, b2)
    assert openpyxl.load_workbook(b2).sheetnames == ["Charges", "Payers", "Findings"]


def test_rows_and_cells_without_references(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsx")

    def strip_refs(data: bytes) -> bytes:
        data = re.sub(rb'(<row\b[^>]*?) r="[0-9]+"', rb"\1", data)
        return re.sub(rb'(<c\b[^>]*?) r="[A-Z]+[0-9]+"', rb"\1", data)

    rewrite_part(src, "xl/worksheets/sheet1.xml", strip_refs)
    assert b'<row r="' not in parts(src)["xl/worksheets/sheet1.xml"]
    both = Both(src)
    annotate(both)
    a, b = both.save(tmp_path)
    assert_same(a, b)


def test_shared_formula_master_overwritten(tmp_path: Path) -> None:
    src = tmp_path / "shared.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Charges"
    for i in range(1, 7):
        ws.append([i, f"=A{i}*2"])
    wb.save(src)

    def share(data: bytes) -> bytes:
        data = data.replace(b"<f>A1*2</f>", b'<f t="shared" ref="B1:B6" si="0">A1*2</f>')
        return re.sub(rb"<f>A([2-6])\*2</f>", rb'<f t="shared" si="0"/>', data)

    rewrite_part(src, "xl/worksheets/sheet1.xml", share)
    assert parts(src)["xl/worksheets/sheet1.xml"].count(b'si="0"') == 6
    both = Both(src)
    both.write_values("Charges", 1, 2, [["overwritten"]])
    both.write_values("Charges", 4, 2, [[None]])
    a, b = both.save(tmp_path)
    assert_same(a, b)
    ws = openpyxl.load_workbook(b)["Charges"]
    assert [ws.cell(r, 2).value for r in range(1, 7)] == ["overwritten", "=A2*2", "=A3*2", None, "=A5*2", "=A6*2"]


@pytest.mark.parametrize("refs", ["with", "no cell refs", "no refs"])
def test_large_sheet_across_pieces(tmp_path: Path, refs: str) -> None:
    """A sheet several unpacked pieces long (rows cut at piece boundaries), with blank rows in the middle
    that edits fill (new rows inserted mid-stream), with and without r= on rows and cells."""
    src = tmp_path / "big.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Charges"
    ws.append(["LineID", "Code", "Units", "Note"])
    for i in range(2, 12_001):
        if i % 97 == 0:
            continue  # a blank row: no <row> element at all
        ws.cell(i, 1, f"L{i:06d}")
        ws.cell(i, 2, "97110")
        ws.cell(i, 4, "some text to make the rows longer " * (i % 3))
    wb.save(src)
    if refs != "with":
        rewrite_part(src, "xl/worksheets/sheet1.xml",
                     lambda d: re.sub(rb'(<c\b[^>]*?) r="[A-Z]+[0-9]+"', rb"\1", d))
    if refs == "no refs":  # rows numbered by position: the blank rows are gone
        rewrite_part(src, "xl/worksheets/sheet1.xml", lambda d: re.sub(rb'(<row\b[^>]*?) r="[0-9]+"', rb"\1", d))
    both = Both(src)
    for r in range(2, 12_003, 5):
        both.write_values("Charges", r, 3, [[r % 4 + 1]])
    for r in range(97, 12_001, 97):
        both.write_values("Charges", r, 2, [["filled blank row"]])
    for r in range(3, 12_001, 101):
        both.fill("Charges", r, 1, "FFC7CE")
    both.note("Charges", 6000, 2, "middle")
    a, b = both.save(tmp_path)
    assert_same(a, b)


def test_empty_sheet_data_and_prefixed_xml(tmp_path: Path) -> None:
    src = tmp_path / "empty.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Charges"
    wb.create_sheet("Blank")
    wb.save(src)
    rewrite_part(src, "xl/worksheets/sheet2.xml",
                 lambda d: re.sub(rb"<sheetData\s*>\s*</sheetData>", b"<sheetData/>", d))
    assert b"<sheetData/>" in parts(src)["xl/worksheets/sheet2.xml"]
    both = Both(src)
    both.write_values("Blank", 3, 2, [["x", 1], [None, 2]])
    both.fill("Blank", 1, 1, "FFC7CE")
    both.note("Blank", 2, 2, "n")
    both.hyperlink("Blank", 5, 1, "https://example.com")
    a, b = both.save(tmp_path)
    assert_same(a, b)


def test_prefixed_namespace_sheet(tmp_path: Path) -> None:
    """Some generators write the sheet with a namespace prefix (<x:row>, <x:c>)."""
    src = rich_workbook(tmp_path / "rich.xlsx")

    def prefix(data: bytes) -> bytes:
        data = data.replace(b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                            b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
        data = re.sub(rb"<(/?)(?!\?)([A-Za-z]+)([\s/>])", rb"<\1x:\2\3", data)
        return data

    rewrite_part(src, "xl/worksheets/sheet1.xml", prefix)
    assert b"<x:row" in parts(src)["xl/worksheets/sheet1.xml"]
    edits = Edits()
    edits.write_values("Charges", 2, 4, [[9]])
    edits.write_values("Charges", 33, 1, [["new row"]])
    edits.fill("Charges", 3, 1, "FFC7CE")
    edits.note("Charges", 3, 1, "n")
    edits.hyperlink("Charges", 4, 1, "https://example.com")
    write_patched(src, edits, tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Charges"]
    assert (ws["D2"].value, ws["A33"].value, ws["A3"].fill.fgColor.rgb) == (9, "new row", "00FFC7CE")
    assert ws["A3"].comment.text == "n" and ws["A4"].hyperlink.target == "https://example.com"
    calamine_opens(tmp_path / "out.xlsx")


def test_write_to_stream(tmp_path: Path) -> None:
    import io

    src = rich_workbook(tmp_path / "rich.xlsx")
    edits = Edits()
    edits.write_values("Charges", 2, 1, [["x"]])
    buf = io.BytesIO()
    write_patched(src, edits, buf)
    (tmp_path / "out.xlsx").write_bytes(buf.getvalue())
    assert openpyxl.load_workbook(tmp_path / "out.xlsx")["Charges"]["A2"].value == "x"


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsx")
    edits = Edits()
    edits.write_values("Nope", 1, 1, [["x"]])
    with pytest.raises(WorkbookError, match="no sheet named"):
        write_patched(src, edits, tmp_path / "out.xlsx")
    (tmp_path / "text.xlsx").write_text("LineID,Date\n")
    with pytest.raises(WorkbookError, match="not a complete"):
        write_patched(tmp_path / "text.xlsx", Edits(), tmp_path / "out2.xlsx")
    bad = Edits()
    bad.write_values("Charges", 2, 1, [[object()]])
    with pytest.raises(OutputError, match="cannot be written"):
        write_patched(src, bad, tmp_path / "out3.xlsx")
    assert not (tmp_path / "out3.xlsx").exists()
    with pytest.raises(OutputError, match="over the input"):
        write_patched(src, Edits(), src)
    with pytest.raises(WorkbookError, match="cannot be used in Excel"):
        Edits().replace_sheet("a/b", [])
    broken = rewrite_part(rich_workbook(tmp_path / "broken.xlsx"), "xl/worksheets/sheet1.xml",
                          lambda d: d[: d.index(b"</sheetData>")])
    with pytest.raises(WorkbookError, match="sheetData"):
        write_patched(broken, Edits(values_only(2, 2)), tmp_path / "out4.xlsx")


def values_only(row: int, col: int) -> dict:
    e = Edits()
    e.write_values("Charges", row, col, [["x"]])
    return e.sheets


# -- random edit sets ---------------------------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_values = st.one_of(
    st.none(), _text, st.sampled_from(["=1+1", "+x", "-3", "@a", " padded ", "#N/A", "a&b<c>"]),
    st.integers(-10**9, 10**9), st.decimals(-10**6, 10**6, places=2, allow_nan=False, allow_infinity=False),
    st.dates(date(1900, 3, 1), date(2100, 1, 1)),
    st.datetimes(datetime(1900, 3, 1), datetime(2100, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    st.booleans())
_cell = st.tuples(st.integers(1, 40), st.integers(1, 9))
_ops = st.one_of(
    st.tuples(st.just("write_values"), _cell, st.lists(st.lists(_values, min_size=1, max_size=3), min_size=1,
                                                       max_size=2)),
    st.tuples(st.just("fill"), _cell, st.sampled_from(["FFC7CE", "FFEB9C", "DDEBF7", "E2EFDA"])),
    st.tuples(st.just("note"), _cell, _text.filter(lambda t: t.strip() == t and t != "")),
    st.tuples(st.just("hyperlink"), _cell, st.sampled_from(["#Charges!A2", "#Payers!B1", "https://example.com/a",
                                                           "mailto:x@example.com"])),
    st.tuples(st.just("replace_sheet"), st.sampled_from(["Findings", "Payers"]),
              st.lists(st.lists(_values, min_size=1, max_size=4), max_size=5)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_ops, min_size=1, max_size=12))
def test_random_edits_same_as_openpyxl(tmp_path_factory, ops) -> None:
    folder = tmp_path_factory.mktemp("h")
    src = rich_workbook(folder / "rich.xlsx")
    both = Both(src)
    for kind, where, what in ops:
        if kind == "replace_sheet":
            both.replace_sheet(where, what, widths=[10, None, 5], formats=[None, "0.00", "yyyy-mm-dd"])
            continue
        sheet = "Findings" if "Findings" in both.edits.new_sheets and where[0] % 3 == 0 else "Charges"
        if kind == "write_values":
            both.write_values(sheet, where[0], where[1], what)
        else:
            getattr(both, kind)(sheet, where[0], where[1], what)
    a, b = both.save(folder)
    assert_same(a, b)


# -- result sheets: the fast row writer against cell_xml per cell ---------------------------------------------------

_POOL = ["", " ", "97110", "97110", "Acme Health", " padded", "padded ", "a&b<c>", "x > y", "tab\there", "line\nbreak",
         "bell\x07", "nul\x00x", "\ufffe", "#N/A", "#DIV/0!", "#REF!", "#n/a", "=SUM(A1:A3)", "+x", "-3", "@a",
         "_x0041_", "\u00a0nbsp", "é ü 中", 0, 1, -7, 10**20, True, False, None, None, 0.5, float("nan"),
         float("inf"), Decimal("65.00"), Decimal("65.0"), Decimal("0.00"), Decimal("-0"), Decimal("1E+3"),
         Decimal("1e-7"), Decimal("123456789012345678"), Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN"),
         date(2026, 8, 3), date(1900, 2, 28), date(1900, 1, 1), datetime(2026, 8, 3, 9, 30),
         datetime(2026, 8, 3)]
_sheet_values = st.one_of(st.sampled_from(_POOL), st.sampled_from(_POOL), _text,
                          st.decimals(-10**6, 10**6, places=2), st.integers(-10**6, 10**6))
_sheet_link = st.sampled_from(["#Charges!A2", "#Pricing!B1", "https://example.com/a"])
_sheet_cell = st.tuples(st.integers(1, 14), st.integers(1, 8))
_sheet_edits = st.lists(st.one_of(
    st.tuples(st.just("write_values"), _sheet_cell, st.lists(st.lists(_sheet_values, min_size=1, max_size=3),
                                                             min_size=1, max_size=2)),
    st.tuples(st.just("fill"), _sheet_cell, st.sampled_from(["FFC7CE", "FFEB9C"])),
    st.tuples(st.just("note"), _sheet_cell, st.just("a note")),
    st.tuples(st.just("hyperlink"), _sheet_cell, _sheet_link)), max_size=20)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(_sheet_values, max_size=7), max_size=12), edits=_sheet_edits,
       formats=st.lists(st.sampled_from([None, "0", "#,##0.00", "yyyy-mm-dd", "@"]), max_size=8),
       mac=st.booleans(), limit=st.sampled_from([1, 4, 1 << 16]), every_row_linked=st.booleans(),
       twice=st.booleans())
def test_result_sheet_rows_same_as_reference(rows, edits, formats, mac, limit, every_row_linked, twice) -> None:
    """``_new_sheet_rows`` writes the bytes ``reference_sheet_rows.new_sheet_rows`` (``cell_xml`` per cell) writes,
    and derives the same styles in the same order, whatever the values and the later edits."""
    if twice:  # every body value met again in its column: the rows the loop writes from what it learnt
        rows = rows + rows[1:]
    e = Edits()
    e.replace_sheet("Pricing", rows, formats=formats)
    if every_row_linked:  # as price --out does: a link in column A of every row, a fill on some
        for n in range(2, len(rows) + 1):
            e.hyperlink("Pricing", n, 1, f"#Charges!A{n}")
            if n % 3 == 0:
                e.fill("Pricing", n, 5, "FFC7CE")
    for kind, (r, c), what in edits:
        getattr(e, kind)("Pricing", r, c, what)
    sheet, se = e.new_sheets["Pricing"], e.sheets["Pricing"]
    styles_fast, styles_ref = xlsx_patch._Styles(None, "t"), xlsx_patch._Styles(None, "t")
    saved = xlsx_patch._CACHE_LIMIT
    xlsx_patch._CACHE_LIMIT = limit  # small limits exercise the clearing of the value caches
    try:
        fast = b"".join(xlsx_patch._new_sheet_rows(sheet, se, styles_fast, mac))
    finally:
        xlsx_patch._CACHE_LIMIT = saved
    assert fast == b"".join(new_sheet_rows(sheet, se, styles_ref, mac))
    assert styles_fast.serialize() == styles_ref.serialize()


def test_result_sheet_rows_mixed_kinds_in_linked_column() -> None:
    """A linked, a filled and a plain column holding text, dates, numbers and blanks by turns: each kind
    of value keeps its own style."""
    kinds = ["L1", date(2026, 8, 3), "L2", Decimal("1.50"), None, datetime(2026, 8, 3, 9), 7, "L3", "",
             date(2026, 8, 3), "L4", True, "a&b", "L5", datetime(2026, 8, 3, 9), Decimal("1.50"), "L1"]
    e = Edits()
    e.replace_sheet("Pricing", [["LineID", "Amount", "Other"], *([k, k, k] for k in kinds)],
                    formats=["@", "#,##0.00"])
    for n in range(2, len(kinds) + 2):
        e.hyperlink("Pricing", n, 1, f"#Charges!A{n}")
        e.fill("Pricing", n, 2, "FFC7CE")
    sheet, se = e.new_sheets["Pricing"], e.sheets["Pricing"]
    fast_styles, ref_styles = xlsx_patch._Styles(None, "t"), xlsx_patch._Styles(None, "t")
    fast = b"".join(xlsx_patch._new_sheet_rows(sheet, se, fast_styles, False))
    assert fast == b"".join(new_sheet_rows(sheet, se, ref_styles, False))
    assert fast_styles.serialize() == ref_styles.serialize()

def test_result_sheet_rows_same_as_reference_on_a_pricing_like_sheet() -> None:
    from benchmarks.bench_patch import pricing_sheet

    e = pricing_sheet(3000)
    sheet, se = e.new_sheets["Pricing"], e.sheets["Pricing"]
    fast = b"".join(xlsx_patch._new_sheet_rows(sheet, se, xlsx_patch._Styles(None, "t"), False))
    assert len(fast) > 1_000_000  # more than one chunk
    assert fast == b"".join(new_sheet_rows(sheet, se, xlsx_patch._Styles(None, "t"), False))


# -- LibreOffice opens every output -------------------------------------------------------------------------------

def test_libreoffice_converts_outputs(tmp_path: Path) -> None:
    _soffice()  # skip (or, on CI, fail) before building anything
    outputs = []
    for name, make in (("rich.xlsx", rich_workbook), ("macro.xlsm", xlsm_workbook)):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        both = Both(make(folder / name))
        annotate(both)
        out = both.save(folder)[1]
        outputs.append(out.rename(out.with_name(f"{folder.name}-{out.name}")))
    sample = tmp_path / "sample"
    sample.mkdir()
    shutil.copy(SAMPLE, sample / SAMPLE.name)
    s = Both(sample / SAMPLE.name)
    s.write_values("Charges", 2, 11, [[3]])
    s.fill("Charges", 3, 5, "FFC7CE")
    s.note("Charges", 3, 5, "n")
    s.replace_sheet("Findings", [["Row", "Message"], [3, "x"]], widths=[6, 40])
    s.hyperlink("Findings", 2, 1, "#Charges!A3")
    out = s.save(sample)[1]
    outputs.append(out.rename(out.with_name(f"sample-{out.name}")))
    assert_libreoffice_converts(outputs, tmp_path)


def assert_libreoffice_converts(outputs: list[Path], tmp_path: Path) -> None:
    """Headless LibreOffice turns every workbook in ``outputs`` into a PDF (it opens them without a repair)."""
    soffice = _soffice()
    pdfs = tmp_path / "pdf"
    profile = (tmp_path / "lo-profile").as_uri()
    result = subprocess.run([str(soffice), f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                             "--outdir", str(pdfs), *map(str, outputs)], capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for out in outputs:
        pdf = pdfs / (out.stem + ".pdf")
        assert pdf.exists() and pdf.stat().st_size > 1000, (out.name, result.stdout[-2000:])


def libreoffice_resave(workbook: Path, tmp_path: Path) -> Path:
    """Headless LibreOffice opens ``workbook`` and saves its own .xlsx of it (faster than a PDF of a large
    workbook, and what it kept — sheets, charts — can be read back); fails on a conversion error."""
    soffice = _soffice()
    out = tmp_path / "lo-xlsx"
    result = subprocess.run([str(soffice), f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
                             "--headless", "--convert-to", "xlsx", "--outdir", str(out), str(workbook)],
                            capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    resaved = out / workbook.name
    assert resaved.exists() and resaved.stat().st_size > 1000, result.stdout[-2000:]
    return resaved


def _soffice() -> str | None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        if os.environ.get("CI"):
            pytest.fail("soffice (libreoffice-calc-nogui) is required in CI")
        pytest.skip("LibreOffice (soffice) is not installed")
    return soffice


def test_libreoffice_saved_input(tmp_path: Path) -> None:
    """A workbook saved by another program (LibreOffice: shared strings, its own attribute order and
    comment drawings) is patched to the same result as openpyxl's."""
    soffice = _soffice()
    rich = rich_workbook(tmp_path / "rich-source.xlsx")
    saved = tmp_path / "lo"
    result = subprocess.run([str(soffice), f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}", "--headless",
                             "--convert-to", "xlsx", "--outdir", str(saved), str(rich)],
                            capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    src = saved / "rich-source.xlsx"
    assert b"sharedStrings" in parts(src)["[Content_Types].xml"]
    both = Both(src)
    annotate(both)
    a, b = both.save(tmp_path)
    assert_same(a, b)


def test_a_table_grows_down_to_rows_appended_below_it():
    from otbill_xl.workbook.xlsx_patch import grown_table

    part = (b'<?xml version="1.0"?><table xmlns="x" id="3" name="Payments" displayName="Payments" ref="A1:P202">'
            b'<autoFilter ref="A1:P202"/></table>')
    grown = grown_table(part, {"Payments": 250})
    assert b'ref="A1:P250"' in grown and b'<autoFilter ref="A1:P250"/>' in grown
    assert grown_table(part, {"Payments": 100}) == part          # never shrinks
    assert grown_table(part, {"Charges": 900}) == part           # another table
    totals = part.replace(b'ref="A1:P202">', b'ref="A1:P202" totalsRowCount="1">')
    assert grown_table(totals, {"Payments": 250}) == totals      # rows below a totals row are not its data
