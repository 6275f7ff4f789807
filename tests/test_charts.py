"""Native Excel charts in output workbooks (issue 13 §3 and §7): :class:`ChartSpec` through the workbook
port. The file adapter writes chart parts (openpyxl's chart XML) and a drawing into the streamed copy;
openpyxl reads them back with the references and titles asked for, charts and notes already in the input
are kept, the package stays whole (every relationship resolves, every part has a content type), and
headless LibreOffice opens the copy and keeps the charts."""

from __future__ import annotations

import re
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path, PurePosixPath

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from test_xlsx_patch import (
    _soffice,
    assert_libreoffice_converts,
    assert_untouched_identical,
    calamine_opens,
    parts,
    rich_workbook,
)

from otbill_xl.actions.sheets import MONEY, TEXT, Column, SheetSpec
from otbill_xl.errors import WorkbookError
from otbill_xl.workbook.charts import ChartSpec
from otbill_xl.workbook.files import FileWorkbook
from otbill_xl.workbook.memory import MemoryWorkbook
from otbill_xl.workbook.xlsx_patch import Edits, write_patched

# A denials summary (category, denied amount) and an AR summary (payer, open balance per bucket): the
# shapes of issue 13's Denials and AR Aging summaries; the numbers are made up, only the references count.
DENIALS = [["Category", "Lines", "Denied"],
           ["bundling", 3, Decimal("312.40")],
           ["eligibility", 1, Decimal("98.00")],
           ["authorization", 2, Decimal("180.25")],
           ["frequency limit", 1, Decimal("45.10")]]
AR = [["Payer", "0-30", "31-60", "61-90", "91-120", "120+"],
      ["Acme Health", Decimal("420.00"), Decimal("130.00"), Decimal("0"), Decimal("55.00"), Decimal("0")],
      ["Blue Plan", Decimal("210.50"), Decimal("0"), Decimal("88.00"), Decimal("0"), Decimal("12.00")],
      ["Medicare", Decimal("980.00"), Decimal("75.25"), Decimal("0"), Decimal("0"), Decimal("0")]]

# Denied by category: column C (Denied) of rows 1-5, labels in A; header row 1 names the series.
DENIED_BAR = ChartSpec("bar", "Denials by category", "Denials Summary", (1, 3, 5, 3), 1, anchor="E2",
                       x_title="Category", y_title="Denied ($)")
DENIED_PIE = ChartSpec("pie", "Share of denied dollars", "Denials Summary", (1, 3, 5, 3), 1, anchor="E20")
# AR by bucket (B..F) and payer (A), rows 1-4, stacked columns.
AR_COLUMNS = ChartSpec("column", "AR by bucket and payer", "AR Aging", (1, 2, 4, 6), 1, anchor="H2", stacked=True,
                       y_title="Open balance ($)")


# -- reading charts back ---------------------------------------------------------------------------------------

def _text(title) -> str:
    return "".join(r.t for p in title.tx.rich.p for r in (p.r or []))


def _labels(cat) -> str | None:
    return None if cat is None else (cat.strRef or cat.numRef).f


def chart_facts(chart) -> dict:
    """What a chart draws, read back by openpyxl: kind, title, anchor cell (0-based), size, each series'
    name, label and value references."""
    frm = chart.anchor._from
    facts = {"type": type(chart).__name__, "title": _text(chart.title) if chart.title else None,
             "at": (frm.row, frm.col), "grouping": getattr(chart, "grouping", None),
             "series": [(s.tx.strRef.f, _labels(s.cat), s.val.numRef.f) for s in chart.series]}
    if isinstance(chart, BarChart):
        facts["dir"] = chart.type
    ext = getattr(chart.anchor, "ext", None)
    if ext is not None:
        facts["size_emu"] = (ext.width, ext.height)
    return facts


def charts_of(path: Path) -> dict[str, list[dict]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [chart_facts(c) for c in ws._charts] for ws in wb.worksheets}


# -- package integrity -----------------------------------------------------------------------------------------

def assert_package_whole(path: Path) -> None:
    """Every internal relationship points at a part of the package, relationship ids are unique per part,
    every part has a content type (Override or Default by extension), no Override names a missing part,
    and the copy opens in python-calamine and through otbill's own checks (FileWorkbook)."""
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert len(names) == len(zf.namelist()), "a part is written twice"
        ct = zf.read("[Content_Types].xml").decode()
        overrides = {p.lstrip("/") for p in re.findall(r'PartName="([^"]+)"', ct)}
        defaults = set(re.findall(r'Default Extension="([^"]+)"', ct))
        assert overrides <= names, overrides - names
        for name in names:
            if not name.endswith("/"):
                assert name in overrides or name.rsplit(".", 1)[-1] in defaults, name
        for rels in (n for n in names if n.endswith(".rels")):
            data = zf.read(rels).decode()
            ids = re.findall(r'\bId="([^"]+)"', data)
            assert len(ids) == len(set(ids)), (rels, ids)
            base = rels.replace("_rels/", "").removesuffix(".rels")
            for tag in re.findall(r"<Relationship\b[^>]*>", data):
                if 'TargetMode="External"' in tag:
                    continue
                target = re.search(r'Target="([^"]+)"', tag)[1]
                resolved = target.lstrip("/") if target.startswith("/") else \
                    str(PurePosixPath(base).parent / target)
                parts_ = []
                for piece in resolved.split("/"):
                    if piece == "..":
                        parts_.pop()
                    elif piece not in ("", "."):
                        parts_.append(piece)
                assert "/".join(parts_) in names, (rels, target)
    calamine_opens(path)
    FileWorkbook(path).sheet_names()


def chart_parts(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return sorted(n for n in zf.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))


# -- inputs ----------------------------------------------------------------------------------------------------

def with_chart(path: Path) -> Path:
    """The rich workbook (a biller's notes, i.e. a VML drawing, on Charges) with a chart of the biller's own
    on Charges: a drawing and a chart part already in the package."""
    rich_workbook(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Charges"]
    own = BarChart()
    own.title = "Units per line"
    own.add_data(Reference(ws, min_col=4, min_row=1, max_row=31), titles_from_data=True)
    ws.add_chart(own, "J2")
    wb.save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "xl/charts/chart1.xml" in names and "xl/drawings/drawing1.xml" in names
    assert any(n.endswith(".vml") for n in names)
    return path


def summaries(port) -> None:
    port.replace_sheet("Denials Summary", DENIALS, widths=[18, 8, 12], formats=[None, "0", "#,##0.00"])
    port.replace_sheet("AR Aging", AR, widths=[16, 10, 10, 10, 10, 10], formats=[None, *["#,##0.00"] * 5])
    port.add_chart("Denials Summary", DENIED_BAR)
    port.add_chart("Denials Summary", DENIED_PIE)
    port.add_chart("AR Aging", AR_COLUMNS)


# -- the file adapter --------------------------------------------------------------------------------------------

def test_bar_pie_and_stacked_columns_on_new_sheets(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsx")
    port = FileWorkbook(src)
    summaries(port)
    out = tmp_path / "out.xlsx"
    port.save(str(out))

    got = charts_of(out)
    assert got["Charges"] == [] and got["Payers"] == []
    bar, pie = got["Denials Summary"]
    # the Denied column C, rows 2-5 below the header in row 1; the labels in column A
    series = [("'Denials Summary'!C1", "'Denials Summary'!$A$2:$A$5", "'Denials Summary'!$C$2:$C$5")]
    assert bar == {"type": "BarChart", "title": "Denials by category", "at": (1, 4), "grouping": "clustered",
                   "series": series, "dir": "bar", "size_emu": (5400000, 2700000)}  # E2; 15 x 7.5 cm at 360,000 EMU/cm
    assert pie == {"type": "PieChart", "title": "Share of denied dollars", "at": (19, 4), "grouping": None,
                   "series": series, "size_emu": (5400000, 2700000)}
    (columns,) = got["AR Aging"]
    # five buckets B..F are five series over the payers in A2:A4
    assert columns["type"] == "BarChart" and columns["dir"] == "col" and columns["grouping"] == "stacked"
    assert columns["title"] == "AR by bucket and payer" and columns["at"] == (1, 7)
    assert columns["series"] == [(f"'AR Aging'!{c}1", "'AR Aging'!$A$2:$A$4", f"'AR Aging'!${c}$2:${c}$4")
                                 for c in "BCDEF"]
    wb = openpyxl.load_workbook(out)
    bar_chart = wb["Denials Summary"]._charts[0]
    assert _text(bar_chart.x_axis.title) == "Category" and _text(bar_chart.y_axis.title) == "Denied ($)"
    assert bar_chart.x_axis.delete is False and bar_chart.y_axis.delete is False  # Excel shows the axes
    assert wb["AR Aging"]._charts[0].overlap == 100  # stacked columns sit on each other

    assert_package_whole(out)
    # the input's parts pass through: only the package lists change, the new parts are added
    assert_untouched_identical(src, out, set())
    assert chart_parts(out) == ["xl/charts/chart1.xml", "xl/charts/chart2.xml", "xl/charts/chart3.xml"]
    # the data the charts draw from is there
    assert FileWorkbook(out).values("AR Aging")[1][:2] == ["Acme Health", 420.0]


def test_existing_chart_and_notes_kept_and_new_chart_added(tmp_path: Path) -> None:
    """An input with a chart and notes (VML) on Charges: both stay, the new chart on Charges joins the
    sheet's own drawing, the new sheet's charts get part numbers that collide with nothing."""
    src = with_chart(tmp_path / "charted.xlsx")
    before = parts(src)
    port = FileWorkbook(src)
    summaries(port)
    port.note("Charges", 12, 3, "otbill: check units")
    on_charges = ChartSpec("line", "Denied by category (line)", "Denials Summary", (1, 3, 5, 3), 1, anchor="J20")
    port.add_chart("Charges", on_charges)
    out = tmp_path / "out.xlsx"
    port.save(str(out))

    got = charts_of(out)
    own, line = got["Charges"]
    assert own["title"] == "Units per line" and own["at"] == (1, 9)
    assert own["series"][0][2] == "'Charges'!$D$2:$D$31"
    assert line["type"] == "LineChart" and line["at"] == (19, 9)
    assert line["series"] == [("'Denials Summary'!C1", "'Denials Summary'!$A$2:$A$5",
                               "'Denials Summary'!$C$2:$C$5")]
    assert [c["title"] for c in got["Denials Summary"]] == ["Denials by category", "Share of denied dollars"]
    assert [c["title"] for c in got["AR Aging"]] == ["AR by bucket and payer"]

    after = parts(out)
    assert after["xl/charts/chart1.xml"] == before["xl/charts/chart1.xml"]  # the biller's chart, byte for byte
    assert chart_parts(out) == [f"xl/charts/chart{i}.xml" for i in range(1, 6)]
    drawing = after["xl/drawings/drawing1.xml"].decode()
    assert drawing.count("graphicFrame>") == 4  # two frames (open + close tag each): the biller's and the line
    assert sorted(re.findall(r'cNvPr id="(\d+)"', drawing)) == ["1", "2"]  # frame ids stay unique
    wb = openpyxl.load_workbook(out)
    notes = {c.coordinate: (c.comment.text, c.comment.author) for row in wb["Charges"].iter_rows()
             for c in row if c.comment}
    assert notes["C5"] == ("biller: check code", "Dana") and notes["C12"] == ("otbill: check units", "otbill")
    sheet = after["xl/worksheets/sheet1.xml"].decode()
    assert sheet.count("<drawing ") == 1 and sheet.index("<drawing ") < sheet.index("<legacyDrawing ")
    assert_package_whole(out)
    assert_untouched_identical(src, out, {"xl/worksheets/sheet1.xml", "xl/worksheets/_rels/sheet1.xml.rels",
                                          "xl/drawings/drawing1.xml", "xl/drawings/_rels/drawing1.xml.rels",
                                          "xl/comments/comment1.xml", "xl/drawings/commentsDrawing1.vml"})


def test_chart_alone_on_an_existing_sheet(tmp_path: Path) -> None:
    """A chart is the only change to an existing sheet without a drawing: the sheet gets one."""
    src = rich_workbook(tmp_path / "rich.xlsx")
    port = FileWorkbook(src)
    port.add_chart("Payers", ChartSpec("column", "Units by line", "Charges", (1, 4, 31, 4), 1, anchor="E2"))
    out = tmp_path / "out.xlsx"
    port.save(str(out))
    (chart,) = charts_of(out)["Payers"]
    assert chart["series"] == [("'Charges'!D1", "'Charges'!$A$2:$A$31", "'Charges'!$D$2:$D$31")]
    sheet2 = parts(out)["xl/worksheets/sheet2.xml"].decode()
    assert re.search(r'<drawing (?:xmlns:r="[^"]+" )?r:id="rId\d+"/></worksheet>$', sheet2)
    assert_package_whole(out)
    assert openpyxl.load_workbook(out)["Payers"]["C1"].value == "=COUNTA(A:A)"  # the sheet's cells are kept


def test_rerun_replaces_the_charts_instead_of_adding_orphans(tmp_path: Path) -> None:
    """Reconciling the reconciled copy again replaces the summary sheets: their old drawings and charts go
    with them (the biller's chart stays), so the package does not grow with every run."""
    first = tmp_path / "first.xlsx"
    port = FileWorkbook(with_chart(tmp_path / "charted.xlsx"))
    summaries(port)
    port.save(str(first))
    second = tmp_path / "second.xlsx"
    again = FileWorkbook(first)
    summaries(again)
    again.save(str(second))
    assert len(chart_parts(second)) == len(chart_parts(first)) == 4
    with zipfile.ZipFile(second) as zf:
        drawings = [n for n in zf.namelist() if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n)]
    assert len(drawings) == 3  # the biller's and one per summary sheet
    assert charts_of(second) == charts_of(first)
    assert_package_whole(second)


def test_replace_sheet_after_add_chart_clears_its_charts(tmp_path: Path) -> None:
    src = rich_workbook(tmp_path / "rich.xlsx")
    port = FileWorkbook(src)
    summaries(port)
    port.replace_sheet("AR Aging", AR)  # written again: the chart put on it before is gone
    out = tmp_path / "out.xlsx"
    port.save(str(out))
    assert charts_of(out)["AR Aging"] == []
    assert len(charts_of(out)["Denials Summary"]) == 2
    assert_package_whole(out)


def test_no_chart_no_chart_parts(tmp_path: Path) -> None:
    """Without a chart nothing of the chart machinery reaches the copy."""
    src = rich_workbook(tmp_path / "rich.xlsx")
    edits = Edits()
    edits.replace_sheet("Denials Summary", DENIALS)
    write_patched(src, edits, tmp_path / "out.xlsx")
    out = parts(tmp_path / "out.xlsx")
    assert not any("chart" in n or re.search(r"drawing\d", n) for n in out)
    assert b"<drawing" not in out["xl/worksheets/sheet3.xml"]


@pytest.mark.parametrize(("sheet", "chart", "phrase"), [
    ("Nowhere", DENIED_BAR, "no sheet named 'Nowhere' to put a chart on"),
    ("Charges", ChartSpec("bar", "t", "Missing Data", (1, 2, 3, 2), 1), "draws from sheet 'Missing Data'"),
])
def test_chart_on_or_from_a_missing_sheet_is_refused(tmp_path: Path, sheet, chart, phrase) -> None:
    port = FileWorkbook(rich_workbook(tmp_path / "rich.xlsx"))
    port.add_chart(sheet, chart)
    out = tmp_path / "out.xlsx"
    with pytest.raises(WorkbookError, match=re.escape(phrase)):
        port.save(str(out))
    assert not out.exists()


@pytest.mark.parametrize(("kwargs", "phrase"), [
    ({"kind": "donut"}, "unknown kind"),
    ({"data": (1, 2, 1, 2)}, "at least one row below"),  # a header and no rows: nothing to draw
    ({"data": (3, 2, 2, 2)}, "at least one row below"),
    ({"data": (1, 3, 5, 2)}, "at least one row below"),
    ({"category_column": 0}, "not a column"),
    ({"anchor": "h2"}, "not a cell"),
    ({"anchor": "B0"}, "not a cell"),
    ({"kind": "pie", "stacked": True}, "a pie has no axes"),
    ({"kind": "pie", "y_title": "USD"}, "a pie has no axes"),
    ({"width_cm": 0}, "positive"),
])
def test_chart_spec_refuses_what_cannot_be_drawn(kwargs, phrase) -> None:
    base = {"kind": "column", "title": "t", "data_sheet": "S", "data": (1, 2, 3, 2), "category_column": 1}
    with pytest.raises(ValueError, match=phrase):
        ChartSpec(**{**base, **kwargs})


def test_chart_spec_anchor_cell() -> None:
    assert ChartSpec("line", "t", "S", (1, 2, 3, 2), 1, anchor="AB12").anchor_cell == (12, 28)  # A..Z, AA, AB


# -- the memory adapter and the sheet declarations ---------------------------------------------------------------

def test_memory_workbook_records_charts() -> None:
    book = MemoryWorkbook({"Charges": [["x"]]})
    summaries(book)
    assert book.charts == {"Denials Summary": [DENIED_BAR, DENIED_PIE], "AR Aging": [AR_COLUMNS]}
    book.replace_sheet("Denials Summary", DENIALS)
    assert "Denials Summary" not in book.charts
    with pytest.raises(WorkbookError, match="no sheet named 'Missing'"):
        book.add_chart("Missing", DENIED_BAR)
    with pytest.raises(WorkbookError, match="no sheet named 'Denials Summary 2'"):
        book.add_chart("AR Aging", ChartSpec("pie", "t", "Denials Summary 2", (1, 2, 3, 2), 1))


AR_SPEC: SheetSpec[list] = SheetSpec("AR Aging", (
    Column("Payer", 16, TEXT, lambda r: r[0]),
    *(Column(b, 10, MONEY, lambda r, i=i: r[i]) for i, b in enumerate(AR[0][1:], start=1)),
    Column("Claims", 8, TEXT, lambda r: ""),
))


def test_sheet_spec_chart_finds_the_columns() -> None:
    chart = AR_SPEC.chart("column", "AR by bucket and payer", 3, category="Payer",
                          series=("0-30", "31-60", "61-90", "91-120", "120+"), stacked=True)
    # 7 columns: the chart sits in column I (7 + 2), on the header row
    assert chart == ChartSpec("column", "AR by bucket and payer", "AR Aging", (1, 2, 4, 6), 1, "I1", stacked=True)
    below = AR_SPEC.chart("pie", "t", 2, category="Payer", series=("0-30",), header_row=3, anchor="K3")
    assert below is not None and below.data == (3, 2, 5, 2) and below.anchor == "K3"
    assert AR_SPEC.chart("column", "t", 0, category="Payer", series=("0-30",)) is None  # nothing to draw
    with pytest.raises(ValueError, match="not adjacent"):
        AR_SPEC.chart("column", "t", 3, category="Payer", series=("0-30", "61-90"))


# -- LibreOffice opens the copy and keeps the charts ---------------------------------------------------------------

def test_libreoffice_converts_the_charted_copy(tmp_path: Path) -> None:
    """Headless LibreOffice converts the copies with charts to PDF, and its own .xlsx of the copy still
    holds the charts with the same references (it read them rather than dropping them)."""
    soffice = _soffice()  # skip (or, on CI, fail) before building anything
    outputs = []
    for name, make in (("plain", rich_workbook), ("charted", with_chart)):
        port = FileWorkbook(make(tmp_path / f"{name}.xlsx"))
        summaries(port)
        port.replace_sheet("Payer's AR", AR)  # an apostrophe and a space in the referenced sheet's name
        port.add_chart("Payer's AR", ChartSpec("line", "AR by payer", "Payer's AR", (1, 2, 4, 3), 1, anchor="H2"))
        # on a sheet of the input: joins the biller's drawing in the charted workbook
        port.add_chart("Charges", ChartSpec("line", "Denied", "Denials Summary", (1, 3, 5, 3), 1, anchor="J20"))
        out = tmp_path / f"{name}-charts.xlsx"
        port.save(str(out))
        outputs.append(out)
    assert_libreoffice_converts(outputs, tmp_path)

    resaved = tmp_path / "lo-xlsx"
    result = subprocess.run([str(soffice), f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
                             "--headless", "--convert-to", "xlsx", "--outdir", str(resaved), str(outputs[1])],
                            capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    got = charts_of(resaved / outputs[1].name)
    assert len(got["Charges"]) == 2 and len(got["Denials Summary"]) == 2 and len(got["AR Aging"]) == 1
    (ar,) = got["AR Aging"]
    assert [s[2].replace("'", "") for s in ar["series"]] == [f"AR Aging!${c}$2:${c}$4" for c in "BCDEF"]
    (payer,) = got["Payer's AR"]
    assert payer["series"][0][2] == "'Payer''s AR'!$B$2:$B$4"
