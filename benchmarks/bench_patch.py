"""Issue #11 benchmark: writing an annotated copy of a 100,000-row Charges sheet.

Three figures for the same file and the same edits: python-calamine's read of the sheet (the baseline
every command is compared with), the streaming writer (``xlsx_patch.write_patched``) and openpyxl's
load + save (the writer ``FileWorkbook`` used before, kept as the tests' reference). The edits are what ``check``/``price`` write: a value in
every row (Units), a fill on one row in five, a note on one in fifty, a link on one in a hundred, and a
Findings sheet of 20,000 rows with a link in each. Peak memory is measured in a child process
(``ru_maxrss``) so the parent's earlier work does not count.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

from benchmarks._util import BENCH_DIR, calamine_rows, line, ratio, timed
from benchmarks.bench_load import ROWS, charges_workbook
from benchmarks.bench_process import measure
from otbill_xl.workbook.xlsx_patch import Edits, write_patched

FINDINGS = 20_000


def make_edits(rows: int = ROWS) -> Edits:
    edits = Edits()
    for r in range(2, rows + 2):
        edits.write_values("Charges", r, 11, [[r % 4 + 1]])
        if r % 5 == 0:
            edits.fill("Charges", r, 5, "FFC7CE")
        if r % 50 == 0:
            edits.note("Charges", r, 5, "Code 97110 needs the GO modifier for this payer.")
        if r % 100 == 0:
            edits.hyperlink("Charges", r, 1, f"#Findings!A{r // 100 + 1}")
    header = ["Sheet", "Row", "Column", "Rule", "Severity", "Message", "Amount"]
    body = [["Charges", r, "Code", "codes.go", "error", "Code 97110 needs GO.", Decimal("65.00")]
            for r in range(2, FINDINGS + 2)]
    edits.replace_sheet("Findings", [header, *body], widths=[10, 6, 10, 16, 8, 60, 10],
                        formats=[None, "0", None, None, None, None, "#,##0.00"])
    for i in range(2, FINDINGS + 2):
        edits.hyperlink("Findings", i, 2, f"#Charges!A{i}")
    return edits


def _openpyxl_copy(path: Path, out: Path) -> None:
    """The same edits through openpyxl (load the whole workbook, change cells, save): the writer the file
    adapter used before the streamed copy, kept as the tests' reference (tests/openpyxl_copy.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from openpyxl_copy import OpenpyxlCopy

    fw = OpenpyxlCopy(path)
    edits = make_edits()
    for name, new in edits.new_sheets.items():
        fw.replace_sheet(name, new.rows, widths=new.widths, formats=new.formats)
    for name, se in edits.sheets.items():
        for (r, c), v in se.values.items():
            fw.write_values(name, r, c, [[v]])
        for (r, c), target in se.links.items():
            fw.hyperlink(name, r, c, target)
        for (r, c), rgb in se.fills.items():
            fw.fill(name, r, c, rgb)
        for (r, c), text in se.notes.items():
            fw.note(name, r, c, text)
    fw.save(str(out))


def run(openpyxl: bool = True) -> None:
    path = charges_workbook()
    out = BENCH_DIR / "patched-100000.xlsx"
    print(f"Annotated-copy benchmark: {ROWS:,} charge rows ({path.name}), {FINDINGS:,} findings")
    edits = make_edits()
    t_cal = timed(lambda: calamine_rows(path), repeat=5)
    t_patch = timed(lambda: write_patched(path, edits, out), repeat=5)
    t_edits = timed(make_edits, repeat=3)
    line("python-calamine read of Charges (baseline)", t_cal)
    line("write_patched (stream copy with the edits)", t_patch)
    line("  building the Edits record (not part of the copy)", t_edits)
    ratio("write_patched / calamine read", t_patch / t_cal, "(whole command target ≤ 3.0)")
    child = measure([sys.executable, "-c",
                     "from benchmarks.bench_patch import make_edits, charges_workbook, BENCH_DIR\n"
                     "from otbill_xl.workbook.xlsx_patch import write_patched\n"
                     "write_patched(charges_workbook(), make_edits(), BENCH_DIR / 'patched-child.xlsx')"],
                    cwd=Path(__file__).resolve().parent.parent)
    wall, peak = child["wall"], child["rss_mb"]
    line("process: edits + write_patched, wall", wall)
    print(f"  {'process: edits + write_patched, peak RSS':<58} {peak:8.0f} MB  (target ≤ 400 MB)")
    if openpyxl:
        start = time.perf_counter()
        _openpyxl_copy(path, BENCH_DIR / "openpyxl-100000.xlsx")
        t_opx = time.perf_counter() - start
        line("openpyxl load + edits + save (the previous writer), one run", t_opx)
        ratio("openpyxl / write_patched", t_opx / t_patch)


def run_alternatives() -> None:
    """The figures behind the design comments in ``xlsx_patch``: the same patch (one value per row of the
    100,000-row sheet) with lxml's ``iterparse`` + incremental writer instead of the byte-level row
    search, and the 20,000-row Findings sheet written with lxml's ``xmlfile`` instead of joined strings."""
    import io
    import zipfile

    from lxml import etree

    from otbill_xl.workbook.xlsx_patch import _new_sheet_rows, _Styles

    path = charges_workbook()
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

    def lxml_patch() -> None:
        with zipfile.ZipFile(path) as zf, zf.open("xl/worksheets/sheet1.xml") as src:
            sink = io.BytesIO()
            with etree.xmlfile(sink) as xf, xf.element(ns + "worksheet"), xf.element(ns + "sheetData"):
                for _, row in etree.iterparse(src, tag=ns + "row"):
                    for c in row:
                        if c.get("r", "").startswith("K"):
                            c.set("s", "5")
                            for child in list(c):
                                c.remove(child)
                            etree.SubElement(c, ns + "v").text = "3"
                    xf.write(row)
                    row.clear()
                    while row.getprevious() is not None:
                        del row.getparent()[0]

    edits = make_edits()
    sheet, se = edits.new_sheets["Findings"], edits.sheets["Findings"]

    def strings() -> None:
        for _ in _new_sheet_rows(sheet, se, _Styles(None, "bench"), False):
            pass

    def lxml_writer() -> None:
        sink = io.BytesIO()
        with etree.xmlfile(sink) as xf, xf.element("sheetData"):
            for n, values in enumerate(sheet.rows, start=1):
                with xf.element("row", r=str(n)):
                    for c, value in enumerate(values, start=1):
                        cell = etree.Element("c", r=f"{chr(64 + c)}{n}")
                        if isinstance(value, str):
                            cell.set("t", "inlineStr")
                            etree.SubElement(etree.SubElement(cell, "is"), "t").text = value
                        else:
                            etree.SubElement(cell, "v").text = str(value)
                        xf.write(cell)

    line("lxml iterparse + xmlfile patch of Charges (values only)", timed(lxml_patch, repeat=3))
    line("byte-level write_patched of Charges (values only)",
         timed(lambda: write_patched(path, _values_only(), BENCH_DIR / "values-only.xlsx"), repeat=3))
    line("Findings rows as joined strings (write_patched's way)", timed(strings, repeat=3))
    line("Findings rows with lxml xmlfile", timed(lxml_writer, repeat=3))


def _values_only() -> Edits:
    edits = Edits()
    for r in range(2, ROWS + 2):
        edits.write_values("Charges", r, 11, [[r % 4 + 1]])
    return edits


PRICING_ROWS = 100_000


#: The kinds of the Pricing-like sheet's 18 columns (for its declaration, :func:`pricing_spec`).
_KINDS = ["text", "count", "text", "text", "count", "date"] + ["money"] * 9 + ["text", "text", "text"]


def pricing_spec():  # type: ignore[no-untyped-def]
    """The declaration of the Pricing-like sheet (a row is its list of values): widths, wrapped Basis,
    totals of the units and the money columns — what ``SheetSpec.layout`` measures on every write."""
    from operator import itemgetter

    from otbill_xl.actions.sheets import Column, SheetSpec

    header = ["LineID", "Row", "PayerKey", "Code", "Units", "DOS", "Charge", "FeeAllowed", "MPPRReduction",
              "AssistantReduction", "ExpectedAllowed", "Deductible", "ExpectedPayerPayment",
              "ExpectedPatientResp", "Sequestration", "KXStatus", "Basis", "Flagged"]
    widths = [10, 6, 10, 8, 6, 10] + [10] * 9 + [30, 90, 12]
    return SheetSpec("Pricing", tuple(
        Column(h, w, k, itemgetter(i), total="sum" if k == "money" or h == "Units" else None)
        for i, (h, w, k) in enumerate(zip(header, widths, _KINDS, strict=True))))


def pricing_body(rows: int = PRICING_ROWS) -> list[list]:  # type: ignore[type-arg]
    return pricing_sheet(rows, table=False).new_sheets["Pricing"].rows[1:]  # type: ignore[return-value]


def pricing_sheet(rows: int = PRICING_ROWS, table: bool = True) -> Edits:
    """A Pricing-like result sheet, as ``price --out`` writes it: ``rows`` lines of 18 columns (text,
    whole numbers, money, a date, blank cells), a link on column A of every row and a fill on the last
    column of one row in seven; with ``table``, laid out by its declaration (fitted widths, an Excel Table
    with the Basis column wrapped and a totals row)."""
    import datetime as dt

    header = ["LineID", "Row", "PayerKey", "Code", "Units", "DOS", "Charge", "FeeAllowed", "MPPRReduction",
              "AssistantReduction", "ExpectedAllowed", "Deductible", "ExpectedPayerPayment",
              "ExpectedPatientResp", "Sequestration", "KXStatus", "Basis", "Flagged"]
    payers, codes = ["MCR", "BCBS", "AETNA", "MEDICAID"], ["97110", "97112", "97140", "97530", "97535"]
    body = []
    for i in range(rows):
        units = i % 4 + 1
        charge = Decimal(f"{65 + i % 37}.00") * units
        allowed = (charge * Decimal("0.8")).quantize(Decimal("0.01"))
        body.append([f"L{i + 1:07d}", i + 2, payers[i % 4], codes[i % 5], units, dt.date(2026, 1 + i % 12, 1 + i % 28),
                     charge, allowed, Decimal("0.00") if i % 3 else allowed / 2, Decimal("0.00"), allowed,
                     Decimal("0.00"), (allowed * Decimal("0.8")).quantize(Decimal("0.01")),
                     (allowed * Decimal("0.2")).quantize(Decimal("0.01")), None, "under the KX threshold",
                     f"fee schedule {payers[i % 4]} 2026, {units} unit(s) x rate", "scrub errors" if i % 7 == 0 else ""])
    edits = Edits()
    if table:
        all_rows, widths, formats, layout = pricing_spec().layout(body)
        edits.replace_sheet("Pricing", all_rows, widths=widths, formats=formats, table=layout)
    else:
        edits.replace_sheet("Pricing", [header, *body], widths=[10, 6, 10, 8, 6, 10] + [10] * 9 + [30, 90, 12],
                            formats=[None, "0", None, None, "0", None] + ["#,##0.00"] * 9 + [None] * 3)
    for i in range(rows):
        edits.hyperlink("Pricing", i + 2, 1, f"#Charges!A{i + 2}")
        if i % 7 == 0:
            edits.fill("Pricing", i + 2, 18, "FFC7CE")
    return edits


def run_rows(rows: int = PRICING_ROWS) -> None:
    """Serialising the rows of a result sheet (``_new_sheet_rows``) against the reference that calls
    ``cell_xml`` per cell, on the Pricing-like sheet of :func:`pricing_sheet` (no zip, no file)."""
    from otbill_xl.domain._gc import gc_paused
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from reference_sheet_rows import new_sheet_rows as _new_sheet_rows_reference

    from otbill_xl.workbook.xlsx_patch import _new_sheet_rows, _Styles

    edits = pricing_sheet(rows)
    sheet, se = edits.new_sheets["Pricing"], edits.sheets["Pricing"]

    def serialise(fn):  # type: ignore[no-untyped-def]
        def run() -> int:
            with gc_paused():  # as write_patched runs it
                return sum(len(chunk) for chunk in fn(sheet, se, _Styles(None, "bench"), False))
        return run

    assert b"".join(_new_sheet_rows(sheet, se, _Styles(None, "bench"), False)) == \
        b"".join(_new_sheet_rows_reference(sheet, se, _Styles(None, "bench"), False))
    print(f"Result-sheet rows: a Pricing-like sheet of {rows:,} rows x 18 columns, a link in every row")
    t_ref = timed(serialise(_new_sheet_rows_reference), repeat=5)
    t_fast = timed(serialise(_new_sheet_rows), repeat=5)
    line("cell_xml per cell (tests/reference_sheet_rows.py)", t_ref)
    line("_new_sheet_rows (table: wrapped Basis, row heights, totals row)", t_fast)
    ratio("reference / _new_sheet_rows", t_ref / t_fast)
    spec, body = pricing_spec(), pricing_body(rows)
    t_rows = timed(lambda: spec.rows(body), repeat=5)
    t_layout = timed(lambda: spec.layout(body), repeat=5)
    line("SheetSpec.rows (the values of every row)", t_rows)
    line("SheetSpec.layout (rows + fitted widths + totals)", t_layout)


if __name__ == "__main__":
    if "--alternatives" in sys.argv:
        run_alternatives()
    elif "--rows" in sys.argv:
        run_rows()
    else:
        run(openpyxl="--no-openpyxl" not in sys.argv)
