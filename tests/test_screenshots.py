"""Issue #14 §4: the README's pictures (``make screenshots``) exist, are small valid PNGs, and are not stale.

"Not stale" cannot rest on file times (a git clone resets them): ``docs/img/manifest.json`` records the
SHA-256 of the sample workbook the pictures were rendered from, and of each picture; when the sample
changes, this test says to run ``make screenshots``. Rendering needs LibreOffice and pdftoppm; these
tests do not (the PNGs are committed), except the print-copy tests, which need only openpyxl.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.chart import BarChart, Reference

from otbill_xl.templates import screenshots
from otbill_xl.templates.screenshots import SHOTS, Shot, print_copy

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
MANIFEST = IMG / "manifest.json"
SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_picture_is_a_small_png():
    for shot in SHOTS:
        path = IMG / shot.name
        assert path.is_file(), f"{path} missing: run make screenshots"
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE, shot.name
        # the IHDR chunk comes first: its width and height (big-endian)
        assert data[12:16] == b"IHDR", shot.name
        width, height = struct.unpack(">II", data[16:24])
        assert 300 <= width <= 2000 and 100 <= height <= 2000, (shot.name, width, height)
        assert len(data) <= 150_000, f"{shot.name} is {len(data)} bytes; keep README pictures under ~150 KB"


def test_pictures_cover_the_outputs_the_issue_asks_for():
    sheets = {(Path(s.workbook).name, s.sheet) for s in SHOTS}
    otbill, reconciled = "sample-practice.otbill.xlsx", "sample-practice.reconciled.xlsx"
    for sheet in ("Charges", "Findings", "Pricing", "Claims"):
        assert (otbill, sheet) in sheets, sheet
    assert any(w == reconciled and "Denials" in s for w, s in sheets)
    assert any(w == reconciled and s.startswith("AR") for w, s in sheets)


def test_pictures_were_rendered_from_the_current_sample():
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["rendered_from"] == "workbook_templates/examples/sample-practice.xlsx"
    assert manifest["sample_sha256"] == sha256(SAMPLE), (
        "the sample workbook changed since the README's pictures were rendered: run make screenshots")
    assert sorted(manifest["images"]) == sorted(s.name for s in SHOTS)
    for name, entry in manifest["images"].items():
        assert entry["sha256"] == sha256(IMG / name), f"{name} is not the picture make screenshots wrote"


def test_readme_shows_every_picture():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## What it looks like" in readme
    section = readme.split("## What it looks like", 1)[1].split("\n## ", 1)[0]
    for shot in SHOTS:
        assert f"](docs/img/{shot.name})" in section, shot.name
    assert "make screenshots" in section


def test_makefile_has_the_screenshots_target():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\nscreenshots:" in makefile and "otbill_xl.templates.screenshots" in makefile


# ---- the print copy (no LibreOffice needed) ---------------------------------------------------------

def _book(path: Path) -> Path:
    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "Data"
    for i in range(1, 60):
        first.append([f"L{i:04d}", i, i * 1.5, "x", "y", "z"])
    wb.create_sheet("Other").append(["a", "b"])
    chart_sheet = wb.create_sheet("Chart Sheet")
    for row in (["Payer", "Open"], ["MAPLAN", 336], ["MEDICARE", 290]):
        chart_sheet.append(row)
    chart = BarChart()  # openpyxl's default size: 15 cm x 7.5 cm, anchored at one cell
    chart.add_data(Reference(chart_sheet, min_col=2, min_row=1, max_row=3), titles_from_data=True)
    chart_sheet.add_chart(chart, "E2")
    wb.save(path)
    return path


def test_print_copy_shows_only_the_shot_sheets_with_their_print_areas(tmp_path):
    source = _book(tmp_path / "book.xlsx")
    target = tmp_path / "print.xlsx"
    shots = [Shot("a.png", "book.xlsx", "Data", "", rows=20, last_col="D"),
             Shot("c.png", "book.xlsx", "Chart Sheet", "", rows=3)]
    assert print_copy(source, target, shots) == ["Data", "Chart Sheet"]
    wb = openpyxl.load_workbook(target)
    assert [ws.sheet_state for ws in wb.worksheets] == ["visible", "hidden", "visible"]
    assert wb["Data"].print_area == "'Data'!$A$1:$D$20"
    # the chart: its top-left corner at E2 (column 5, row 2), 15 cm = 5,400,000 EMU wide and 7.5 cm =
    # 2,700,000 EMU high; a default column is (8.43 × 7 + 5) px × 9,525 EMU/px = 609,695 EMU, so it covers
    # 5,400,000 / 609,695 = 8.9 → 9 columns from E: E..M (13); a default row is 190,500 EMU:
    # 2,700,000 / 190,500 = 14.2 → 15 rows from row 2: up to row 16
    assert wb["Chart Sheet"].print_area == "'Chart Sheet'!$A$1:$M$16"
    for name in ("Data", "Chart Sheet"):
        setup = wb[name].page_setup
        assert setup.orientation == "landscape" and setup.fitToWidth == 1 and setup.fitToHeight == 1
        assert wb[name].sheet_properties.pageSetUpPr.fitToPage
        assert wb[name].print_options.gridLines and wb[name].print_options.headings
    # the source is untouched and the chart is still in the copy (openpyxl would drop it on a round trip)
    assert not openpyxl.load_workbook(source)["Data"].print_area
    with zipfile.ZipFile(target) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())


def test_ink_box_finds_the_printed_area():
    # a 6 x 4 white image with two dark pixels at (2, 1) and (4, 2): the box is x 2..4, y 1..2
    width, height = 6, 4
    pixels = bytearray(b"\xff" * 3 * width * height)
    for x, y in ((2, 1), (4, 2)):
        pixels[3 * (y * width + x):3 * (y * width + x) + 3] = b"\x10\x10\x10"
    ppm = f"P6\n{width} {height}\n255\n".encode() + bytes(pixels)
    assert screenshots._ink_box(ppm) == (2, 1, 3, 2)
