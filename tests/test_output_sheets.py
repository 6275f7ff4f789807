"""Every sheet otbill writes reads without reformatting (issue #14 §1): check, price, claims, batch and
reconcile run on the sample workbook; each output sheet is opened with openpyxl and must be one Excel
Table (header to last row, a filter row, the table style, a totals row where amounts are summed, with
the sums saved as results), with its declared number formats, widths that fit the header and the
values, the header frozen and long text wrapped; LibreOffice converts every output to PDF; notes are
one per cell and sized to their text."""

from __future__ import annotations

import functools
import re
import shutil
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import python_calamine
from openpyxl.utils import get_column_letter
from test_sheets import summary_header_row
from test_simulate import OUTCOMES
from test_xlsx_patch import assert_libreoffice_converts

from otbill_xl.actions.batch import BATCH, run_batch
from otbill_xl.actions.check import CHECK_SUMMARY, FINDINGS, check_charges
from otbill_xl.actions.claims import CLAIMS, HELD_BACK, create_claims
from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.price import PRICING, PRICING_TOTALS, price_charges
from otbill_xl.actions.receivables import (
    AR_AGING,
    AR_BY_PAYER,
    DENIALS,
    DENIALS_BY_CATEGORY,
    DENIALS_BY_CODE,
)
from otbill_xl.actions.reconcile import (
    EXCEPTIONS,
    PAYMENTS_NEW,
    PROVIDER_ADJUSTMENTS,
    RECONCILIATION,
    REMITTANCES,
    RemitFile,
    reconcile_payments,
)
from otbill_xl.actions.sheets import MAX_WIDTH, MONEY, MONEY_FORMAT, PERCENT, TEXT, Column, SheetSpec
from otbill_xl.actions.simulate import simulate_remittances
from otbill_xl.domain.reconcile import PaymentRow
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook
from otbill_xl.workbook.memory import MemoryWorkbook
from otbill_xl.workbook.port import TABLE_STYLE, table_name
from otbill_xl.workbook.xlsx_patch import Edits, note_size

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"
AS_OF = date(2026, 11, 27)
D = Decimal

#: Every sheet the commands write, by the file it ends up in.
BILLED_SHEETS = (FINDINGS, CHECK_SUMMARY, PRICING, PRICING_TOTALS, CLAIMS, HELD_BACK)
RECONCILED_SHEETS = (REMITTANCES, RECONCILIATION, EXCEPTIONS, PROVIDER_ADJUSTMENTS, DENIALS, DENIALS_BY_CATEGORY,
                     DENIALS_BY_CODE, AR_AGING, AR_BY_PAYER)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """The sample checked, priced and billed (one annotated copy), paid by the simulated payer and
    reconciled (a copy that also keeps the first run's sheets and tables), and a batch over the sample."""
    d = tmp_path_factory.mktemp("outputs")
    src = d / "sample.xlsx"
    shutil.copy(SAMPLE, src)
    port = FileWorkbook(src)
    pipe = Pipeline(port, as_of=AS_OF, prices=True)
    checked = check_charges(port, pipeline=pipe)
    priced = price_charges(port, pipeline=pipe)
    with Ledger(d / "ledger.sqlite") as ledger:
        claimed = create_claims(port, out_dir=d / "claims", ledger=ledger, as_of=AS_OF,
                                created=datetime(2026, 11, 27, 9, 30), pipeline=pipe)
    billed = d / "billed.xlsx"
    port.save(str(billed))
    sim = simulate_remittances(billed, d / "claims", OUTCOMES, as_of=AS_OF)
    reconciled = d / "reconciled.xlsx"
    with Ledger(d / "ledger.sqlite") as ledger:
        outcome = reconcile_payments(FileWorkbook(billed), [RemitFile("era.835", sim.text.encode())], as_of=AS_OF,
                                     posted_at=datetime(2026, 11, 28, 10, 0), ledger=ledger, output=reconciled)
    inputs = d / "in"
    inputs.mkdir()
    shutil.copy(SAMPLE, inputs / "sample.xlsx")
    batch = run_batch([str(inputs / "sample.xlsx")], d / "batch", ledger_path=d / "batch-ledger.sqlite", workers=1,
                      as_of=AS_OF, created=datetime(2026, 11, 27, 9, 30))
    return {"dir": d, "billed": billed, "reconciled": reconciled, "batch": Path(batch.report_xlsx),
            "checked": checked, "priced": priced, "claimed": claimed, "outcome": outcome, "batch_result": batch}


def _last_row(ref: str) -> int:
    return int(ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _shown(value, kind: str) -> int:
    """How many characters a value shows (money with separators and cents, dates as yyyy-mm-dd)."""
    if value is None or value == "":
        return 0
    if isinstance(value, datetime):
        return 10 if value.time() == datetime.min.time() else 19
    if isinstance(value, int | float) and kind == MONEY:
        return len(f"{value:,.2f}")
    if isinstance(value, int | float) and kind == PERCENT:
        return len(f"{value:.0%}")
    return len(str(value))


@functools.lru_cache(maxsize=8)
def _loaded(path: Path, data_only: bool) -> openpyxl.Workbook:
    """Each output workbook loaded once (a reconciled copy takes seconds to load; the tests only read it)."""
    return openpyxl.load_workbook(path, data_only=data_only)


def assert_output_sheet(path: Path, name: str, spec: SheetSpec) -> int:
    """``spec``'s sheet in the workbook at ``path`` is laid out as declared; returns its data rows."""
    cached = _loaded(path, True)[name]
    ws = _loaded(path, False)[name]
    # the Check Summary's table sits below its Item/Value block and "what to do first" list
    header_row = summary_header_row(ws) if name == "Check Summary" else 1
    n = len(spec.columns)
    last_col = get_column_letter(n)
    assert ws.freeze_panes == "A2", name
    # exactly one table, from the header row to the last row written
    assert len(ws.tables) == 1, (name, list(ws.tables))
    (table,) = ws.tables.values()
    assert table.name == table.displayName and table.tableStyleInfo.name == TABLE_STYLE
    assert table.tableStyleInfo.showRowStripes
    assert [c.name for c in table.tableColumns] == list(spec.headers)
    totals = bool(table.totalsRowCount)
    last = _last_row(table.ref)
    assert table.ref == f"A{header_row}:{last_col}{last}", (name, table.ref)
    data_last = last - 1 if totals else last
    assert table.autoFilter.ref == f"A{header_row}:{last_col}{data_last}", name
    rows = [r for r in ws.iter_rows(min_row=header_row + 1, max_row=data_last, max_col=n)
            if any(c.value is not None for c in r)]
    assert ws.max_row == last or name == "Batch", (name, ws.max_row, last)
    assert totals == (any(c.total for c in spec.columns) and bool(rows)), name
    # number formats on data cells, wrapped long-text columns, top alignment
    for row in rows:
        for cell, column in zip(row, spec.columns, strict=True):
            assert cell.number_format == (column.number_format or "General"), (name, cell.coordinate)
            if cell.hyperlink is not None:
                continue  # a link takes Excel's Hyperlink cell style (as openpyxl gives it), alignment included
            assert cell.alignment.vertical == "top", (name, cell.coordinate)
            assert bool(cell.alignment.wrap_text) == column.wraps, (name, cell.coordinate)
    # widths: at least the header (bold, with its filter button) and the declared width; the values up to
    # the cap unless the column wraps
    for i, column in enumerate(spec.columns, start=1):
        dim = ws.column_dimensions[get_column_letter(i)]
        assert dim.customWidth and dim.width >= len(column.header) + 3, (name, column.header, dim.width)
        assert dim.width >= (column.width or 0), (name, column.header)
        if not column.wraps:
            longest = max((_shown(r[i - 1].value, column.kind) for r in rows), default=0)
            assert dim.width >= min(longest, MAX_WIDTH), (name, column.header, dim.width, longest)
    # the totals row: SUBTOTAL(109, Table[Column]) whose saved result is the column's sum
    if totals:
        for i, column in enumerate(spec.columns, start=1):
            cell = ws.cell(last, i)
            if column.total == "sum":
                assert cell.value == f"=SUBTOTAL(109,{table.name}[{column.header}])", (name, cell.value)
                assert table.tableColumns[i - 1].totalsRowFunction == "sum"
                expected = sum((D(str(r[i - 1].value)) for r in rows if isinstance(r[i - 1].value, int | float)),
                               D(0))
                assert D(str(cached.cell(last, i).value)).quantize(D("0.01")) == expected.quantize(D("0.01")), \
                    (name, column.header)
                assert cell.font.b and cell.number_format == (column.number_format or "General")
            elif i == 1:
                assert cell.value == "Total" and table.tableColumns[0].totalsRowLabel == "Total"
    return len(rows)


def assert_tables_unique(path: Path) -> None:
    """Table names (compared as Excel does, ignoring case) and ids are unique in the workbook."""
    wb = _loaded(path, False)
    tables = [t for ws in wb.worksheets for t in ws.tables.values()]
    names = [t.name.lower() for t in tables]
    assert len(set(names)) == len(names), names
    with zipfile.ZipFile(path) as zf:
        ids = [re.search(rb'<(?:\w+:)?table\b[^>]*?\sid="(\d+)"', zf.read(p))[1] for p in zf.namelist()  # type: ignore[index]
               if p.startswith("xl/tables/")]
    assert len(set(ids)) == len(ids), ids


def test_check_price_claims_sheets_are_tables_as_declared(outputs):
    billed = outputs["billed"]
    assert assert_output_sheet(billed, "Findings", FINDINGS) == len(outputs["checked"].findings) > 0
    assert assert_output_sheet(billed, "Check Summary", CHECK_SUMMARY) >= 1
    assert assert_output_sheet(billed, "Pricing", PRICING) == len(outputs["priced"].result.lines)
    assert assert_output_sheet(billed, "Pricing Totals", PRICING_TOTALS) == len(outputs["priced"].result.totals)
    assert assert_output_sheet(billed, "Claims", CLAIMS) == len(outputs["claimed"].ledger_claims) > 0
    assert assert_output_sheet(billed, "Held Back", HELD_BACK) == len(outputs["claimed"].assembly.held_back)
    assert_tables_unique(billed)


def test_reconcile_sheets_are_tables_as_declared(outputs):
    path = outputs["reconciled"]
    result = outputs["outcome"].result
    assert assert_output_sheet(path, "Reconciliation", RECONCILIATION) == len(result.lines)
    assert assert_output_sheet(path, "Remittances", REMITTANCES) == len(result.remittances)
    assert assert_output_sheet(path, "Exceptions", EXCEPTIONS) == len(result.exceptions)
    assert assert_output_sheet(path, "Provider Adjustments", PROVIDER_ADJUSTMENTS) == len(result.plb)
    for spec in (DENIALS, DENIALS_BY_CATEGORY, DENIALS_BY_CODE, AR_AGING, AR_BY_PAYER):
        assert assert_output_sheet(path, spec.name, spec) >= 1, spec.name
    # the first run's sheets come along as they were (their tables too), and no new table takes their names
    for spec in BILLED_SHEETS:
        assert_output_sheet(path, spec.name, spec)
    assert_tables_unique(path)
    # AR by Payer ends with the Total row the action computes, so its table has no totals row to double it
    ws = openpyxl.load_workbook(path)["AR by Payer"]
    (table,) = ws.tables.values()
    assert not table.totalsRowCount and ws.cell(_last_row(table.ref), 1).value == "Total"
    # Confidence is a rate, shown as a percentage
    ws = openpyxl.load_workbook(path)["Reconciliation"]
    col = RECONCILIATION.index("Confidence")
    assert ws.cell(2, col).number_format == "0%" and ws.cell(2, col).value in (1, 0.95, 0.9, 0.8, 0.7, 0.6, None)


def test_batch_report_is_a_table_with_totals(outputs):
    path = outputs["batch"]
    (r,) = outputs["batch_result"].results
    assert r.outcome in ("converted", "held-back"), r.message
    assert assert_output_sheet(path, "Batch", BATCH) == 1
    ws = openpyxl.load_workbook(path)["Batch"]
    money = ws.cell(2, BATCH.index("expected_payment"))
    assert money.value == float(r.expected_payment) and money.number_format == MONEY_FORMAT
    assert ws.cell(3, BATCH.index("claims")).value == "=SUBTOTAL(109,Batch[claims])"


def test_totals_row_saves_its_sums_for_readers_without_a_calc_engine(outputs):
    """The cached totals: the Pricing sheet's Charge total is the sum of the priced lines' charges (from the
    domain objects, not the cells), read by python-calamine as openpyxl reads it."""
    lines = outputs["priced"].result.lines
    expected = sum((p.charge for p in lines if p.charge is not None), D(0))
    book = python_calamine.CalamineWorkbook.from_path(str(outputs["billed"]))
    rows = book.get_sheet_by_name("Pricing").to_python()
    total = rows[len(lines) + 1]
    assert total[0] == "Total"
    assert D(str(total[PRICING.index("Charge") - 1])).quantize(D("0.01")) == expected
    claims = book.get_sheet_by_name("Claims").to_python()
    claim_total = sum((D(c["total"]) for c in outputs["claimed"].ledger_claims), D(0))
    assert D(str(claims[-1][CLAIMS.index("Total") - 1])).quantize(D("0.01")) == claim_total


def test_hand_checked_totals_widths_and_wrapping(tmp_path):
    """Three amounts by hand: 1,234.56 + 20.20 + 0.05 = 1,254.81; 2 + 3 units = 5 (a blank is skipped).
    Widths (whole units, rounded up): the 20-character ClaimID "OT0123456789ABCDEF01" needs 20 + 2 = 22; Paid
    fits "1,234.56" (8 + 2 = 10) and its bold total "1,254.81" (10 x 1.1 = 11) -> 11, over its declared 6;
    Units keeps its header, "Units" bold with the filter button: 5 x 1.1 + 3 = 8.5 -> 9; Note wraps at its
    declared 40; the empty MPPRReduction column fits its header, 13 x 1.1 + 3 = 17.3 -> 18 (no cut-off)."""
    spec = SheetSpec("Hand", (
        Column("ClaimID", 10, TEXT, lambda r: r[0]),
        Column("Paid", 6, MONEY, lambda r: r[1], total="sum"),
        Column("Units", 6, "count", lambda r: r[2], total="sum"),
        Column("Note", 40, TEXT, lambda r: r[3]),
        Column("MPPRReduction", 8, MONEY, lambda r: None),
    ))
    rows = [("OT0123456789ABCDEF01", D("1234.56"), 2, "short"), ("C2", D("20.20"), None, "x " * 60),
            ("C3", D("0.05"), 3, "")]
    src = tmp_path / "in.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Hand"  # replaced: its table gets the sheet's name
    wb.save(src)
    port = FileWorkbook(src)
    spec.write(port, rows)
    port.save(str(tmp_path / "out.xlsx"))
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Hand"]
    cached = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["Hand"]
    assert [ws.column_dimensions[c].width for c in "ABCDE"] == [22, 11, 9, 40, 18]
    assert ws["B5"].value == "=SUBTOTAL(109,Hand[Paid])" and cached["B5"].value == 1254.81
    assert ws["C5"].value == "=SUBTOTAL(109,Hand[Units])" and cached["C5"].value == 5
    assert ws["A5"].value == "Total" and ws["B2"].number_format == MONEY_FORMAT
    assert ws["D3"].alignment.wrap_text and ws["D3"].alignment.vertical == "top" and not ws["A3"].alignment.wrap_text
    # "x " * 60 is 120 characters: 38 a line in a 40-wide column -> 4 lines of 15 pt
    assert ws.row_dimensions[3].height == 60 and not ws.row_dimensions[2].customHeight
    (table,) = ws.tables.values()
    assert (table.name, table.ref, table.autoFilter.ref, table.totalsRowCount) == ("Hand", "A1:E5", "A1:E4", 1)


def test_payments_sheet_otbill_creates_is_a_table_without_totals(tmp_path):
    """A workbook without a Payments sheet gets one from reconcile: a table (no totals row: the sheet is
    read back as postings, and a sum row would be read as one)."""
    src = tmp_path / "in.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Charges"
    wb.save(src)
    port = FileWorkbook(src)
    row = PaymentRow(0, "ABCDEF0123456789ABCD-1", "MCR", "EFT1", date(2026, 11, 2), "OT0123456789ABCDEF01", "L7",
                     "97110", ("GO",), D("80.00"), D("53.00"), D("40.47"), D("11.60"), "CO", "45", D("27.00"), "835")
    PAYMENTS_NEW.write(port, [row])
    port.save(str(tmp_path / "out.xlsx"))
    assert assert_output_sheet(tmp_path / "out.xlsx", "Payments", PAYMENTS_NEW) == 1


def test_memory_adapter_records_tables_and_totals():
    port = MemoryWorkbook({})
    PRICING_TOTALS.write(port, [])
    assert not port.output_tables["Pricing Totals"].has_totals  # no rows: nothing to total
    from test_sheets import SAMPLES

    PRICING_TOTALS.write(port, [SAMPLES["Pricing Totals"]] * 2)
    table = port.output_tables["Pricing Totals"]
    charge = table.totals[PRICING_TOTALS.index("Charge") - 1]
    assert table.totals[0].value == "Total" and (charge.function, charge.value) == ("sum", D("650.00"))  # 2 x 325.00
    assert port.widths["Pricing Totals"][PRICING_TOTALS.index("ExpectedPayerPayment") - 1] >= len("ExpectedPayerPayment")
    assert [t.name for t in port.tables()] == ["Pricing_Totals"]


def test_table_names_are_valid_and_unique():
    assert table_name("Pricing Totals") == "Pricing_Totals"
    assert table_name("Denials by Code") == "Denials_by_Code"
    assert table_name("Findings", ["FINDINGS", "Findings_2"]) == "Findings_3"
    assert table_name("R1C1") == "T_R1C1" and table_name("AR1") == "T_AR1" and table_name("2026") == "T_2026"


def test_a_total_is_declared_on_a_number_column_only():
    with pytest.raises(ValueError):
        Column("Payer", 10, TEXT, str, total="sum")
    with pytest.raises(ValueError):
        Column("Paid", 10, MONEY, str, total="average")


# -- notes -------------------------------------------------------------------------------------------------------

def test_notes_on_one_cell_merge_into_one(tmp_path):
    """check and price annotate the same port (``otbill run``): a cell gets one note with every line."""
    edits = Edits()
    edits.note("Charges", 5, 3, "ERROR [codes.unknown] Code 9711 is not a CPT code.")
    edits.note("Charges", 5, 3, "ERROR [codes.unknown] Code 9711 is not a CPT code.\nWARNING [price.no-fee] No fee.")
    assert edits.sheets["Charges"].notes == {
        (5, 3): "ERROR [codes.unknown] Code 9711 is not a CPT code.\nWARNING [price.no-fee] No fee."}
    port = MemoryWorkbook({"Charges": [["x"]]})
    port.note("Charges", 5, 3, "a")
    port.note("Charges", 5, 3, "b")
    assert port.notes == {("Charges", 5, 3): "a\nb"}


def test_note_box_is_sized_to_its_text():
    # a short note: the narrowest box, 30 characters x 7 px + 16 = 226 px; one line, 15 + 16 = 31 px
    assert note_size("Code 9711 is not a CPT code.") == (226, 31)
    # three lines of 100 characters: 64 a line at most (64 x 7 + 16 = 464 px), each line wraps to 2: 6 x 15 + 16
    assert note_size("\n".join(["y" * 100] * 3)) == (464, 106)
    # a very long note stops at 900 px (annotate_cells caps a note at 1,500 characters)
    assert note_size("z " * 5000)[1] == 900


def test_sample_notes_are_one_per_cell_with_all_findings_and_fit(outputs):
    """Each noted cell of the annotated sample has one otbill note holding each of its findings, in a box
    sized to that note's text."""
    by_cell: dict[str, list] = {}
    for f in outputs["checked"].findings:
        if f.location.cell and f.location.sheet == "Charges":
            by_cell.setdefault(f.location.cell, []).append(f)
    ws = openpyxl.load_workbook(outputs["billed"])["Charges"]
    for cell, findings in by_cell.items():
        comment = ws[cell].comment
        assert comment is not None and comment.author == "otbill", cell
        for f in findings:
            assert f.message in comment.text, (cell, f.rule)
    with zipfile.ZipFile(outputs["billed"]) as zf:
        sheet_rels = zf.read("xl/worksheets/_rels/sheet10.xml.rels").decode()
        comments = next(zf.read(n).decode() for n in zf.namelist() if "comments" in n and n[-4:] == ".xml"
                        and n.rsplit("/", 1)[-1] in sheet_rels)
        vml = next(zf.read(n).decode() for n in zf.namelist() if n.endswith(".vml")
                   and n.rsplit("/", 1)[-1] in sheet_rels)
    refs = re.findall(r'<comment ref="([A-Z]+[0-9]+)"', comments)
    assert len(refs) == len(set(refs)) >= len(by_cell)  # one note per cell
    longest = max((ws[c].comment.text for c in by_cell), key=len)
    width, height = note_size(longest)
    assert f"width:{width}px;height:{height}px" in vml and height > 31


def test_two_notes_on_a_cell_are_one_note_in_the_copy(tmp_path):
    src = tmp_path / "in.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Charges"
    wb.save(src)
    port = FileWorkbook(src)
    port.note("Charges", 2, 5, "ERROR [codes.unknown] Code 9711 is not a CPT code.")  # check's note
    port.note("Charges", 2, 5, "WARNING [price.no-fee] No fee for 9711.")  # price's note, same run
    port.save(str(tmp_path / "out.xlsx"))
    comment = openpyxl.load_workbook(tmp_path / "out.xlsx")["Charges"]["E2"].comment
    assert comment.text == "ERROR [codes.unknown] Code 9711 is not a CPT code.\nWARNING [price.no-fee] No fee for 9711."


# -- LibreOffice -------------------------------------------------------------------------------------------------

def test_every_output_converts_with_libreoffice(outputs, tmp_path):
    """LibreOffice opens every output (tables, totals formulas, wrapped columns) and prints it to PDF."""
    assert_libreoffice_converts([outputs["billed"], outputs["reconciled"], outputs["batch"]], tmp_path)
