"""``make screenshots``: the README's pictures of what otbill writes, rendered from the bundled sample.

``python -m otbill_xl.templates.screenshots [--dest docs/img]`` runs ``otbill demo`` into a scratch
folder, then, for each picture in :data:`SHOTS`, takes a copy of the output workbook in which only
that sheet is visible, with a print area (the interesting rows and columns, or the chart), fitted to
one landscape page with gridlines and row/column headings, so it looks like the sheet on screen.
LibreOffice turns the copy into a PDF (``soffice --convert-to pdf``, one page per shown sheet) and
poppler's ``pdftoppm`` renders each page to a PNG, cropped to the printed area. The copies are made
at the zip level (``xl/workbook.xml`` and the sheet's XML), not through openpyxl, which would drop the
reconciled copy's charts.

``docs/img/manifest.json`` records the SHA-256 of the sample workbook the pictures were rendered from
(``workbook_templates/examples/sample-practice.xlsx``) and of each PNG; ``tests/test_screenshots.py``
fails when the sample has changed since (a git clone resets file times, so times cannot say that).

Needs ``soffice`` (LibreOffice) and ``pdftoppm`` (Debian: ``apt-get install poppler-utils``); the
tests do not (the PNGs are committed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from otbill_xl.domain.findings import column_letter
from otbill_xl.workbook.files import column_index

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"
DEST = ROOT / "docs" / "img"
AS_OF = "2026-11-27"  # the demo's date: the same pictures on every run
MAX_BYTES = 150_000   # a README picture stays small; a larger render is redone at a lower resolution
DPI = 110


@dataclass(frozen=True)
class Shot:
    """One picture: ``sheet`` of the demo's ``workbook``, rows ``rows`` and columns up to ``last_col``
    (``None``: the sheet's last used column, at most ``max_cols``); a sheet with a chart prints the
    chart's cells too."""

    name: str
    workbook: str
    sheet: str
    caption: str
    rows: int = 25
    last_col: str | None = None
    max_cols: int = 19


OTBILL = "sample-practice.otbill.xlsx"
RECONCILED = "sample-practice.reconciled.xlsx"
SHOTS: tuple[Shot, ...] = (
    Shot("charges.png", OTBILL, "Charges", "The annotated Charges sheet: each cell with a finding coloured, with "
         "a note giving the finding and its fix; blank Units computed; ClaimID and Status filled by claims.",
         rows=40, last_col="S"),
    Shot("findings.png", OTBILL, "Findings", "Findings: every error and warning with its rule, cell, message and "
         "fix.", rows=22),
    Shot("pricing.png", OTBILL, "Pricing", "Pricing: expected allowed, payer payment and patient share of every "
         "line, to the cent.", rows=25, last_col="O"),
    Shot("claims.png", OTBILL, "Claims", "Claims: one row per claim billed, with its 837P file.", rows=22),
    Shot("denials.png", RECONCILED, "Denials by Category", "Denials by category after reconciling a "
         "remittance (reconciled copy).", rows=8),
    Shot("ar-aging.png", RECONCILED, "AR by Payer", "Receivables by payer and age (reconciled copy).", rows=6),
)

_SHEET_TAG = re.compile(r"<sheet\b[^>]*?/>")
_CELL = re.compile(r"([A-Z]+)(\d+)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- a copy that prints only the chosen sheets ------------------------------------------------------

def print_copy(source: Path, target: Path, shots: Sequence[Shot]) -> list[str]:
    """Write ``target``: ``source`` with only the shots' sheets visible, each with its print area fitted
    to one landscape page. Returns the shown sheets in workbook order (= the PDF's pages)."""
    with zipfile.ZipFile(source) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    book = parts["xl/workbook.xml"].decode("utf-8")
    rels = parts["xl/_rels/workbook.xml.rels"].decode("utf-8")
    sheets = [(_attr(tag, "name"), _attr(tag, "r:id"), tag) for tag in _SHEET_TAG.findall(book)]
    wanted = {s.sheet: s for s in shots}
    missing = sorted(set(wanted) - {name for name, _, _ in sheets})
    if missing:
        raise SystemExit(f"{source.name} has no sheet {', '.join(missing)}; update SHOTS in {Path(__file__).name}.")
    areas: list[str] = []
    shown: list[str] = []
    first = None
    for index, (name, rid, tag) in enumerate(sheets):
        state = "visible" if name in wanted else "hidden"
        new_tag = re.sub(r'\sstate="[^"]*"', "", tag).replace("<sheet ", f'<sheet state="{state}" ', 1)
        book = book.replace(tag, new_tag, 1)
        if name not in wanted:
            continue
        first = index if first is None else first
        shown.append(name)
        path = "xl/" + _target(rels, rid).lstrip("/").removeprefix("xl/")
        sheet_xml = parts[path].decode("utf-8")
        last_col, last_row = _print_extent(parts, path, sheet_xml, wanted[name])
        area = f"'{name}'!$A$1:${last_col}${last_row}"
        areas.append(f'<definedName name="_xlnm.Print_Area" localSheetId="{index}">{area}</definedName>')
        parts[path] = _fit_one_page(sheet_xml).encode("utf-8")
    book = re.sub(r'<definedName name="_xlnm.Print_Area"[^>]*>[^<]*</definedName>', "", book)
    book = re.sub(r'activeTab="\d+"', f'activeTab="{first}"', book)
    book = re.sub(r'firstSheet="\d+"', f'firstSheet="{first}"', book)
    if "<definedNames>" in book:
        book = book.replace("<definedNames>", "<definedNames>" + "".join(areas), 1)
    elif "<definedNames/>" in book:
        book = book.replace("<definedNames/>", "<definedNames>" + "".join(areas) + "</definedNames>", 1)
    else:
        book = book.replace("</sheets>", "</sheets><definedNames>" + "".join(areas) + "</definedNames>", 1)
    parts["xl/workbook.xml"] = book.encode("utf-8")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return shown


def _attr(tag: str, name: str) -> str:
    m = re.search(rf'\s{re.escape(name)}="([^"]*)"', tag)
    return m.group(1) if m else ""


def _target(rels: str, rid: str) -> str:
    m = re.search(rf'<Relationship\b[^>]*\bId="{re.escape(rid)}"[^>]*>', rels)
    if m is None:
        raise SystemExit(f"workbook.xml.rels has no {rid}")
    return _attr(m.group(0), "Target")


def _print_extent(parts: dict[str, bytes], path: str, sheet_xml: str, shot: Shot) -> tuple[str, int]:
    """(last column, last row) of the shot's print area: the rows asked for, the columns asked for (or
    the sheet's used columns), and a chart drawn on the sheet (its anchor cell plus its size)."""
    used = re.search(r'<dimension ref="[A-Z]+\d+:([A-Z]+)(\d+)"', sheet_xml)
    used_col, used_row = (column_index(used.group(1)), int(used.group(2))) if used else (shot.max_cols, shot.rows)
    last_col = column_index(shot.last_col) if shot.last_col else min(used_col, shot.max_cols)
    last_row = min(shot.rows, used_row)
    for col, row in _chart_corners(parts, path):
        last_col, last_row = max(last_col, col), max(last_row, row)
    return column_letter(last_col), last_row


_EMU_PER_ROW = 190_500        # a default row: 15 points
_EMU_PER_PIXEL = 9_525        # at 96 dpi
_DEFAULT_COL_WIDTH = 8.43     # characters, Excel's default column


def _chart_corners(parts: dict[str, bytes], path: str) -> list[tuple[int, int]]:
    """(column, row), 1-based, of the bottom-right cell of each chart drawn on the sheet at ``path``."""
    rels_path = path.replace("worksheets/", "worksheets/_rels/") + ".rels"
    rels = parts.get(rels_path, b"").decode("utf-8")
    widths = _col_widths(parts[path].decode("utf-8"))
    corners = []
    for target in re.findall(r'Target="(?:\.\.|/xl)/drawings/(drawing\d+\.xml)"', rels):  # relative or absolute
        drawing = parts.get(f"xl/drawings/{target}", b"").decode("utf-8")
        for m in re.finditer(r"<(?:\w+:)?from><(?:\w+:)?col>(\d+)</(?:\w+:)?col>.*?<(?:\w+:)?row>(\d+)</(?:\w+:)?row>"
                             r".*?</(?:\w+:)?from>\s*<(?:\w+:)?ext cx=\"(\d+)\" cy=\"(\d+)\"", drawing):
            col, row, cx, cy = (int(g) for g in m.groups())
            while cx > 0:  # walk the columns the chart covers, each as wide as the sheet says
                col += 1
                cx -= round((widths.get(col, _DEFAULT_COL_WIDTH) * 7 + 5) * _EMU_PER_PIXEL)
            corners.append((col, row + -(-cy // _EMU_PER_ROW)))  # rows from[row] + 1 .. (1-based)
        for m in re.finditer(r"<(?:\w+:)?to><(?:\w+:)?col>(\d+)</(?:\w+:)?col>.*?<(?:\w+:)?row>(\d+)</(?:\w+:)?row>",
                             drawing):
            corners.append((int(m.group(1)) + 1, int(m.group(2)) + 1))
    return corners


def _col_widths(sheet_xml: str) -> dict[int, float]:
    widths = {}
    for tag in re.findall(r"<col\b[^>]*/>", sheet_xml):
        if _attr(tag, "width"):
            for n in range(int(_attr(tag, "min")), min(int(_attr(tag, "max")), 200) + 1):
                widths[n] = float(_attr(tag, "width"))
    return widths


# after which elements of a worksheet the print settings go (the schema's order)
_BEFORE_PRINT_OPTIONS = ("<pageMargins", "<pageSetup", "<headerFooter", "<rowBreaks", "<colBreaks", "<customProperties",
                         "<cellWatches", "<ignoredErrors", "<smartTags", "<drawing", "<legacyDrawing",
                         "<legacyDrawingHF", "<picture", "<oleObjects", "<controls", "<webPublishItems",
                         "<tableParts", "<extLst", "</worksheet>")


def _fit_one_page(xml: str) -> str:
    """The sheet's print settings: one landscape page, small margins, gridlines and headings."""
    xml = re.sub(r"<printOptions\b[^>]*/>|<pageMargins\b[^>]*/>|<pageSetup\b[^>]*/>", "", xml)
    xml = re.sub(r"<headerFooter\b.*?</headerFooter>|<headerFooter\b[^>]*/>", "", xml, flags=re.S)
    settings = ('<printOptions gridLines="1" headings="1"/>'
                '<pageMargins left="0.2" right="0.2" top="0.2" bottom="0.2" header="0" footer="0"/>'
                '<pageSetup paperSize="1" orientation="landscape" fitToWidth="1" fitToHeight="1"/>'
                '<headerFooter differentFirst="0" differentOddEven="0"/>')
    at = min(i for i in (xml.find(t) for t in _BEFORE_PRINT_OPTIONS) if i >= 0)
    xml = xml[:at] + settings + xml[at:]
    fit = '<pageSetUpPr fitToPage="1"/>'
    xml = re.sub(r"<pageSetUpPr\b[^>]*/>", "", xml)
    if re.search(r"<sheetPr\b[^>]*/>", xml):
        return re.sub(r"<sheetPr\b([^>]*)/>", rf"<sheetPr\1>{fit}</sheetPr>", xml, count=1)
    if "<sheetPr" in xml:
        return xml.replace("</sheetPr>", fit + "</sheetPr>", 1)
    return re.sub(r"(<worksheet\b[^>]*>)", rf"\1<sheetPr>{fit}</sheetPr>", xml, count=1)


# ---- PDF → PNG ------------------------------------------------------------------------------------

def to_pdf(book: Path, folder: Path) -> Path:
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{folder / 'lo-profile'}",
                    "--convert-to", "pdf", "--outdir", str(folder), str(book)],
                   check=True, capture_output=True, timeout=600)
    pdf = folder / (book.stem + ".pdf")
    if not pdf.exists():
        raise SystemExit(f"LibreOffice wrote no PDF for {book.name}")
    return pdf


def to_png(pdf: Path, page: int, target: Path, dpi: int = DPI) -> None:
    """Page ``page`` of ``pdf`` as a PNG cropped to what is printed on it (the white margin cut off)."""
    base = target.with_suffix("")
    common = ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile"]
    subprocess.run([*common, str(pdf), str(base)], check=True, timeout=300)
    ppm = base.with_suffix(".ppm")
    x, y, w, h = _ink_box(ppm.read_bytes())
    ppm.unlink()
    pad = 6
    subprocess.run([*common, "-png", "-x", str(max(x - pad, 0)), "-y", str(max(y - pad, 0)), "-W", str(w + 2 * pad),
                    "-H", str(h + 2 * pad), str(pdf), str(base)], check=True, timeout=300)


def _ink_box(ppm: bytes) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the non-white pixels of a binary PPM (P6) image."""
    fields = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", ppm)
    if fields is None:
        raise SystemExit("pdftoppm did not write a P6 PPM")
    width, height = int(fields.group(1)), int(fields.group(2))
    pixels = ppm[fields.end():]
    stride = 3 * width
    top, bottom, left, right = height, -1, stride, -1
    for y in range(height):
        row = pixels[y * stride:(y + 1) * stride].translate(_INK)
        start = len(row) - len(row.lstrip(b"\0"))
        if start == len(row):
            continue
        end = len(row.rstrip(b"\0"))
        top, bottom = min(top, y), y
        left, right = min(left, start), max(right, end)
    if bottom < 0:
        return 0, 0, width, height
    return left // 3, top, (right - 1) // 3 - left // 3 + 1, bottom - top + 1  # right: the byte after the ink


_INK = bytes(0 if b >= 245 else 1 for b in range(256))  # near-white counts as paper


# ---- the whole run -------------------------------------------------------------------------------

def render(dest: Path = DEST, *, work: Path | None = None) -> dict:
    for tool in ("soffice", "pdftoppm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install "
                             f"{'libreoffice-calc-nogui' if tool == 'soffice' else 'poppler-utils'}).")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="otbill-shots-") as scratch:
        folder = Path(work or scratch)
        demo = folder / "demo"
        subprocess.run([sys.executable, "-m", "otbill_xl", "demo", "--dest", str(demo), "--as-of", AS_OF],
                       check=True, capture_output=True, timeout=900)
        images = {}
        for workbook in dict.fromkeys(s.workbook for s in SHOTS):
            shots = [s for s in SHOTS if s.workbook == workbook]
            copy = folder / f"print-{Path(workbook).stem.replace('.', '-')}.xlsx"
            shown = print_copy(demo / workbook, copy, shots)
            pdf = to_pdf(copy, folder)
            for shot in shots:
                target = dest / shot.name
                for dpi in (DPI, 96, 84, 72):
                    to_png(pdf, shown.index(shot.sheet) + 1, target, dpi)
                    if target.stat().st_size <= MAX_BYTES:
                        break
                images[shot.name] = {"workbook": workbook, "sheet": shot.sheet, "caption": shot.caption,
                                     "sha256": sha256(target)}
    manifest = {"rendered_from": SAMPLE.relative_to(ROOT).as_posix(), "sample_sha256": sha256(SAMPLE),
                "as_of": AS_OF, "how": "make screenshots (otbill_xl/templates/screenshots.py)", "images": images}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEST, help="folder for the PNGs and manifest.json")
    parser.add_argument("--keep", type=Path, default=None, help="keep the demo, copies and PDFs in this folder")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    manifest = render(args.dest, work=args.keep)
    for name in manifest["images"]:
        path = args.dest / name
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
