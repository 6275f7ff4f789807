"""Output sheets are declared once (otbill_xl/actions/sheets.py): every declaration agrees with the
values it produces, and the file adapter writes each sheet with the declared headers, widths and
number formats — on an inline workbook and on the sample."""

from __future__ import annotations

import ast
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import CHARGE_HEADER, ROOT, contract_sheets, make_workbook
from openpyxl.utils import get_column_letter
from test_price_action import FEE, GPCI, PATIENTS, RVU
from test_price_action import row as price_row

from otbill_xl.actions.batch import BATCH, BatchResult, InputResult, write_reports
from otbill_xl.actions.check import CHECK_SUMMARY, FINDINGS, RuleCount, check_charges
from otbill_xl.actions.claims import CLAIMS, HELD_BACK, create_claims
from otbill_xl.actions.finding_context import FindingRow
from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.price import PRICING, PRICING_TOTALS, line_dict, price_charges, totals_dict
from otbill_xl.actions.receivables import (
    AR_AGING,
    AR_BY_PAYER,
    DENIALS,
    DENIALS_BY_CATEGORY,
    DENIALS_BY_CODE,
    CodeSummary,
    DenialRow,
    DenialSummary,
    PayerAging,
)
from otbill_xl.actions.reconcile import (
    EXCEPTIONS,
    PAYMENTS_NEW,
    PROVIDER_ADJUSTMENTS,
    RECONCILIATION,
    REMITTANCES,
)
from otbill_xl.actions.sheets import (
    COUNT,
    DATE,
    MONEY,
    MONEY_FORMAT,
    NUMBER,
    NUMBER_FORMATS,
    PERCENT,
    TEXT,
    Column,
    SheetSpec,
)
from otbill_xl.domain.ar import AgingRow
from otbill_xl.domain.claims import HeldBack
from otbill_xl.domain.denials import Denial
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.pricing import LinePrice, PayerTotals
from otbill_xl.domain.reconcile import (
    ExceptionItem,
    LineResult,
    PaymentRow,
    ProviderAdjustmentLine,
    RemitSummary,
    Variance,
)
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook
from otbill_xl.workbook.memory import MemoryWorkbook

D = Decimal
SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"
SPECS: dict[str, SheetSpec] = {s.name: s for s in (FINDINGS, CHECK_SUMMARY, PRICING, PRICING_TOTALS, CLAIMS,
                                                   HELD_BACK, BATCH, RECONCILIATION, EXCEPTIONS, PAYMENTS_NEW,
                                                   REMITTANCES, PROVIDER_ADJUSTMENTS, DENIALS,
                                                   DENIALS_BY_CATEGORY, DENIALS_BY_CODE, AR_AGING, AR_BY_PAYER)}


def summary_header_row(ws) -> int:
    """The Check Summary's table sits below its Item/Value block and "what to do first" list."""
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == CHECK_SUMMARY.headers[0])


#: One row object per sheet, every field filled (so a kind check on it bites).
SAMPLES: dict[str, object] = {
    "Findings": FindingRow(Finding(rule="code.unknown", severity=Severity.ERROR,
                                   location=Location(sheet="Charges", row=7, column="Code", cell="E7"),
                                   message="Code 9711 is not a CPT code.", fix="Type the 5-digit code."),
                           "Procedure code unknown or blank", "L7", "P001", date(2026, 10, 5), "9711", "MCR"),
    "Check Summary": RuleCount("code.unknown", Severity.ERROR, 2, 2),
    "Pricing": LinePrice(row=7, line_id="L7", payer_key="MCR", code="97110", units=2, charge=D("130.00"),
                         fee_allowed=D("60.66"), mppr_reduction=D("14.70"), assistant_reduction=D("0.00"),
                         expected_allowed=D("45.96"), deductible=D("0.00"), expected_payer_payment=D("36.03"),
                         expected_patient_resp=D("9.19"), sequestration=D("0.74"), kx_running_total=D("45.96"),
                         kx_status="below threshold", basis="MPFS 2026 locality 01112", flagged=True,
                         copay=D("0.00")),
    "Pricing Totals": PayerTotals("MCR", lines=3, units=4, charge=D("325.00"), fee_allowed=D("182.03"),
                                  mppr_reduction=D("14.70"), assistant_reduction=D("0.00"),
                                  expected_allowed=D("168.14"), expected_payer_payment=D("131.82"),
                                  expected_patient_resp=D("33.63"), sequestration=D("2.69"), copay=D("0.00")),
    "Claims": {"claim_id": "C1", "payer_key": "MCR", "patient_id": "P001", "frequency": "1",
               "original_claim_number": "C0", "lines": 2, "total": "325.00", "created": "2026-11-27T09:30:00",
               "file": "/out/x-000000001.837", "state": "written", "interchange": 1, "run": "2026-11-27T09:30:00",
               "line_ids": "L1, L2"},
    "Held Back": HeldBack(5, "L5", ("no units", "no charge")),
    "Batch": InputResult(path="in/a.xlsx", sha256="ab" * 32, outcome="converted", message="ok", charge_lines=3,
                         errors=1, warnings=2, claims=1, lines_billed=2, lines_held_back=1, already_billed=0,
                         expected_payment="36.03", files=["out/a.837", "out/b.837"], annotated="out/a.otbill.xlsx",
                         ledger="l.sqlite", attempts=1, seconds=0.5),
}


_LINE = LineResult(
    "underpaid", "OT0123456789ABCDEF01", "L7", 7, "MCR", date(2026, 10, 5), "97110", ("GO",), D("80.00"), D("58.00"),
    D("53.00"), D("40.47"), D("11.60"), (("CO", "45", D("27.00")), ("PR", "2", D("11.60")), ("CO", "253", D("0.93"))),
    Variance(D("0.93"), D("1.00"), D("2.00"), D("11.60"), D("19.00"), D("1.50"), D("5.00")), "CO-45", ("N362",),
    "line_control", D("1.00"), "claim_id", "EFT1", date(2026, 11, 2), "PCN-1", "era.835", 40, "ABCDEF0123456789ABCD",
    "matched without modifiers")
SAMPLES.update({
    "Reconciliation": _LINE,
    "Exceptions": ExceptionItem("unmatched_remittance", "era.835", 40, "OT0123456789ABCDEF01", "L7", "97110",
                                D("40.47"), "no billed line", "post it by hand"),
    "Payments": PaymentRow(0, "ABCDEF0123456789ABCD-1", "MCR", "EFT1", date(2026, 11, 2), "OT0123456789ABCDEF01",
                           "L7", "97110", ("GO",), D("80.00"), D("53.00"), D("40.47"), D("11.60"), "CO", "45", D("27.00"),
                           "835"),
    "Remittances": RemitSummary("era.835", "12402", "MCR", "MEDICARE", "EFT1", date(2026, 11, 2), "ACH", D("28.47"),
                                1, 1, D("40.47"), D("12.00"), True, 3, 1),
    "Provider Adjustments": ProviderAdjustmentLine("era.835", "EFT1", "MCR", date(2026, 11, 2), "WO", "PCN-1",
                                                   "OT0123456789ABCDEF01", D("12.00")),
    "Denials": DenialRow(_LINE, Denial("CO", "151", ("N362",), "frequency_limit", "appeal", D("1.50"), "Units",
                                       "Check the MUE", date(2027, 3, 2), date(2027, 3, 2), date(2027, 11, 2),
                                       "Medicare: 120 days")),
    "Denials by Category": DenialSummary("frequency_limit", "MCR", 1, D("1.50")),
    "Denials by Code": CodeSummary("97110", "CO", "151", "frequency_limit", 1, D("1.50")),
    "AR Aging": AgingRow("OT0123456789ABCDEF01", "MCR", date(2026, 10, 5), 53, "31-60", D("27.00"),
                         date(2027, 10, 5), "ok", "file by 2027-10-05"),
    "AR by Payer": PayerAging("MCR", (D("1.00"), D("2.00"), D("3.00"), D("4.00"), D("5.00")), D("15.00"), 5),
})


def of_kind(kind: str, value: object) -> bool:
    """Whether a cell value fits its column's declared kind (blank allowed everywhere)."""
    if value is None or value == "":
        return True
    if kind == MONEY:
        return isinstance(value, Decimal)
    if kind == COUNT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == DATE:
        return isinstance(value, date) and not isinstance(value, datetime)
    if kind == NUMBER:
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if kind == PERCENT:  # a rate as a fraction
        return isinstance(value, float | Decimal) and 0 <= value <= 1
    return isinstance(value, str)


def test_every_output_sheet_has_a_declaration_and_a_sample():
    assert set(SPECS) == set(SAMPLES) == {"Findings", "Check Summary", "Pricing", "Pricing Totals", "Claims",
                                          "Held Back", "Batch", "Reconciliation", "Exceptions", "Payments",
                                          "Remittances", "Provider Adjustments", "Denials", "Denials by Category",
                                          "Denials by Code", "AR Aging", "AR by Payer"}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_declared_columns_yield_values_of_their_kind(name):
    spec, obj = SPECS[name], SAMPLES[name]
    # Headers, widths and formats are read off the one list of columns, so they line up by construction.
    assert spec.headers == tuple(c.header for c in spec.columns)
    assert spec.widths == tuple(c.width for c in spec.columns)
    assert spec.formats == tuple(NUMBER_FORMATS[c.kind] for c in spec.columns)
    values = spec.values(obj)
    assert len(values) == len(spec.columns)
    for column, value in zip(spec.columns, values, strict=True):
        assert value not in (None, ""), f"{name}.{column.header}: the sample leaves it blank; fill it"
        assert of_kind(column.kind, value), f"{name}.{column.header} is declared {column.kind}, gives {value!r}"
    assert spec.rows([obj, obj]) == [list(spec.headers), values, values]
    data = spec.as_dict(obj)
    assert tuple(data) == spec.headers
    for column in spec.columns:
        if column.kind == MONEY:
            assert data[column.header] == f"{column.value(obj):.2f}"  # JSON money: a two-decimal string


def test_a_declaration_that_disagrees_with_its_values_is_caught():
    wrong = Column("Charge", 10, COUNT, lambda p: p.charge)  # money declared as a count
    assert not of_kind(wrong.kind, wrong.value(SAMPLES["Pricing"]))
    assert not of_kind(MONEY, 130.0) and not of_kind(COUNT, True) and not of_kind(TEXT, 3)
    with pytest.raises(ValueError, match="unknown kind"):
        Column("Charge", 10, "currency", lambda p: p.charge)
    with pytest.raises(ValueError, match="twice"):
        SheetSpec("X", (Column("A", 1, TEXT, str), Column("A", 1, TEXT, str)))


def test_pricing_json_shapes_come_from_the_declaration():
    line = line_dict(SAMPLES["Pricing"])
    assert tuple(line) == PRICING.headers
    assert line["Charge"] == "130.00" and line["Units"] == 2 and line["Flagged"] is True  # JSON: a bool
    assert PRICING.values(SAMPLES["Pricing"])[-1] == "scrub errors"  # the cell: text
    totals = totals_dict(SAMPLES["Pricing Totals"])
    assert tuple(totals) == PRICING_TOTALS.headers and totals["ExpectedAllowed"] == "168.14"


def test_batch_sheet_has_a_column_per_input_result_field():
    assert BATCH.headers == tuple(InputResult.__dataclass_fields__)
    assert BATCH.values(SAMPLES["Batch"])[BATCH.index("files") - 1] == "out/a.837, out/b.837"


def test_actions_write_output_sheets_only_through_declarations():
    """A new output sheet cannot slip in as a bare replace_sheet call with its own header and widths
    (the fee-schedule import writes input sheets, whose columns are the imported file's)."""
    bad = []
    for path in sorted((ROOT / "otbill_xl").rglob("*.py")):
        if path.name in ("sheets.py", "fee_schedule.py", "port.py", "files.py", "live.py", "memory.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace_sheet":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"declare the sheet with SheetSpec and call its write(): {bad}"


def test_memory_adapter_records_widths_and_formats():
    port = MemoryWorkbook({})
    HELD_BACK.write(port, [SAMPLES["Held Back"]])
    assert port.sheets["Held Back"] == [["LineID", "Row", "Reasons"], ["L5", 5, "no units | no charge"]]
    # the declared widths are the least a column gets: "no units | no charge" fits in them
    assert port.widths["Held Back"] == (12, 7, 90) and port.formats["Held Back"] == (None, "0", None)
    table = port.output_tables["Held Back"]
    assert table.header_row == 1 and table.wrap == (False, False, True) and not table.has_totals
    assert [(t.name, t.sheet, t.header_row) for t in port.tables()] == [("Held_Back", "Held Back", 1)]
    port.replace_sheet("Plain", [["A"], [1]])
    assert port.formats["Plain"] is None and port.widths["Plain"] == ()


def assert_sheet_as_declared(ws, spec: SheetSpec, header_row: int = 1) -> int:
    """Headers, widths, number formats and cell kinds of ``ws`` are ``spec``'s; returns the data rows (the
    rows of the sheet's table between its header and its totals row)."""
    n = len(spec.columns)
    assert tuple(c.value for c in ws[header_row][:n]) == spec.headers
    for i, column in enumerate(spec.columns, start=1):
        dim = ws.column_dimensions.get(get_column_letter(i))  # (indexing would create one)
        assert dim is not None and dim.customWidth, (spec.name, column.header)
        assert dim.width >= (column.width or 0), (spec.name, column.header)  # the declared width is the least
    (table,) = ws.tables.values()
    last = int(table.ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) - (table.totalsRowCount or 0)
    rows = list(ws.iter_rows(min_row=header_row + 1, max_row=last, max_col=n))
    if len(rows) == 1 and all(c.value is None for c in rows[0]):
        rows = []  # an empty table keeps one blank row
    money_cells = 0
    for row in rows:
        for cell, column in zip(row, spec.columns, strict=True):
            assert cell.number_format == (column.number_format or "General"), (spec.name, cell.coordinate)
            if cell.value is None:
                continue
            if column.kind == MONEY:
                assert isinstance(cell.value, int | float), (spec.name, cell.coordinate, cell.value)
                assert cell.number_format == MONEY_FORMAT
                money_cells += 1
            elif column.kind == COUNT:
                assert isinstance(cell.value, int) or cell.value == "", (spec.name, cell.coordinate, cell.value)
            elif column.kind == TEXT:
                assert isinstance(cell.value, str), (spec.name, cell.coordinate, cell.value)
    if any(c.kind == MONEY for c in spec.columns) and rows:
        assert money_cells, f"{spec.name}: no money cell written"
    return len(rows)


def run_all(src: Path, out: Path, as_of: date) -> tuple[Path, object, object, object]:
    port = FileWorkbook(src)
    pipe = Pipeline(port, as_of=as_of, prices=True)
    checked = check_charges(port, pipeline=pipe)
    priced = price_charges(port, pipeline=pipe)
    with Ledger(out / "ledger.sqlite") as lg:
        claimed = create_claims(port, out_dir=out / "claims", ledger=lg, as_of=as_of,
                                created=datetime(2026, 11, 27, 9, 30), pipeline=pipe)
    copy = out / "annotated.xlsx"
    port.save(str(copy))
    return copy, checked, priced, claimed


def assert_book_as_declared(copy: Path, checked, priced, claimed) -> None:
    wb = openpyxl.load_workbook(copy)
    assert assert_sheet_as_declared(wb["Findings"], FINDINGS) == len(checked.findings)
    assert assert_sheet_as_declared(wb["Check Summary"], CHECK_SUMMARY, summary_header_row(wb["Check Summary"])) >= 1
    assert assert_sheet_as_declared(wb["Pricing"], PRICING) == len(priced.result.lines)
    assert assert_sheet_as_declared(wb["Pricing Totals"], PRICING_TOTALS) == len(priced.result.totals)
    assert assert_sheet_as_declared(wb["Claims"], CLAIMS) == len(claimed.ledger_claims) >= 1
    assert assert_sheet_as_declared(wb["Held Back"], HELD_BACK) == len(claimed.assembly.held_back)
    # The Item/Value block above the Check Summary table keeps General formats.
    assert wb["Check Summary"]["B3"].number_format == "General"


def priced_workbook(tmp_path: Path) -> Path:
    """test_price_action's book (Medicare and a contracted payer), with charges so that it bills, and a
    line held back (no units)."""
    rows = [price_row("L1", "P001", "97165", 1), price_row("L2", "P001", "97110", 2, minutes=38),
            price_row("L3", "P002", "97110", 2, minutes=38), price_row("L4", "P002", "97530", None)]
    for r, charge in zip(rows, (180.0, 130.0, 130.0, 65.0), strict=True):
        r[CHARGE_HEADER.index("Charge")] = charge
    sheets = contract_sheets(Charges=[CHARGE_HEADER, *rows], Patients=PATIENTS, MedicareRVU=RVU, MedicareGPCI=GPCI,
                             FeeSchedule=FEE)
    return make_workbook(tmp_path / "p.xlsx", sheets)


def test_inline_workbook_sheets_are_written_as_declared(tmp_path):
    copy, checked, priced, claimed = run_all(priced_workbook(tmp_path), tmp_path, date(2026, 8, 20))
    assert claimed.assembly.claims and [e.line_id for e in claimed.assembly.held_back] == ["L4"]
    assert_book_as_declared(copy, checked, priced, claimed)
    ws = openpyxl.load_workbook(copy)["Pricing"]
    money = {ws.cell(1, i).value: ws.cell(2, i) for i in range(1, len(PRICING.columns) + 1)}
    assert money["ExpectedAllowed"].number_format == MONEY_FORMAT and money["Units"].number_format == "0"


def test_sample_sheets_are_written_as_declared(tmp_path):
    src = tmp_path / "sample.xlsx"
    shutil.copy(SAMPLE, src)
    copy, checked, priced, claimed = run_all(src, tmp_path, date(2026, 11, 27))
    assert len(claimed.assembly.held_back) and len(checked.findings)
    assert_book_as_declared(copy, checked, priced, claimed)


def test_batch_report_sheet_is_written_as_declared(tmp_path):
    pending = InputResult(path="in/b.xlsx", outcome="not-started")
    batch = BatchResult([SAMPLES["Batch"], pending], str(tmp_path / "r.json"), str(tmp_path / "r.xlsx"), 1.0,
                        interrupted=True)
    write_reports(batch, as_of=date(2026, 11, 27), created=datetime(2026, 11, 27, 10, 0))
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["Batch"]
    assert assert_sheet_as_declared(ws, BATCH) == 2  # two inputs; then the totals row, a blank row, the note
    assert ws.cell(4, 1).value == "Total" and ws.cell(4, BATCH.index("errors")).value == "=SUBTOTAL(109,Batch[errors])"
    assert ws.cell(6, 1).value == "interrupted" and ws.cell(6, 2).number_format == "General"
    assert ws.cell(2, BATCH.index("errors")).number_format == "0"
    assert ws.cell(2, BATCH.index("files")).value == "out/a.837, out/b.837"


def test_file_adapter_formats_data_rows_only_and_defaults_to_general(tmp_path):
    port = FileWorkbook(make_workbook(tmp_path / "b.xlsx", {"Data": [["x"], [1]]}, tables=False))
    port.replace_sheet("Formatted", [["Amount", "Units", "Note"], [D("1234.5"), 3, "a"], [D("2")]],
                       widths=(12, None, 30), formats=("#,##0.00", "0", None))
    port.replace_sheet("Plain", [["Amount"], [D("1234.5")]], widths=(12,))
    port.save(str(tmp_path / "out.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    ws = wb["Formatted"]
    assert [c.number_format for c in ws[1]] == ["General"] * 3  # the header keeps General
    assert [c.number_format for c in ws[2]] == ["#,##0.00", "0", "General"] and ws["A3"].number_format == "#,##0.00"
    assert ws["A2"].value == 1234.5 and ws.column_dimensions["A"].width == 12
    assert ws.column_dimensions.get("B") is None or not ws.column_dimensions["B"].customWidth
    assert wb["Plain"]["A2"].number_format == "General"  # no formats: today's behaviour
