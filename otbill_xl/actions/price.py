"""The "Price charges" action, written once against the workbook port.

Read → scrub (for computed units and to flag rejected lines) → price (domain) → write a ``Pricing``
sheet (one row per charge line, every adjustment in its own column, and the basis of each number)
and a ``Pricing Totals`` sheet (totals by payer); pricing problems are marked on their cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from otbill_xl.actions.check import annotate_cells
from otbill_xl.actions.pipeline import Pipeline
from otbill_xl.actions.sheets import COUNT, MONEY, TEXT, Column, SheetSpec
from otbill_xl.domain.findings import Finding, printable
from otbill_xl.domain.pricing import LinePrice, PayerTotals, PricingResult
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.port import FILL_ERROR, WorkbookPort
from otbill_xl.workbook.reader import ReadReport

PRICING_SHEET = "Pricing"
TOTALS_SHEET = "Pricing Totals"

#: The Pricing sheet: one row per charge line. Its headers are also the keys of a line's JSON shape.
PRICING: SheetSpec[LinePrice] = SheetSpec(PRICING_SHEET, (
    Column("LineID", 10, TEXT, lambda p: p.line_id),
    Column("Row", 6, COUNT, lambda p: p.row),
    Column("PayerKey", 10, TEXT, lambda p: p.payer_key),
    Column("Code", 8, TEXT, lambda p: p.code),
    Column("Units", 6, COUNT, lambda p: p.units, total="sum"),
    Column("Charge", 10, MONEY, lambda p: p.charge, total="sum"),
    Column("FeeAllowed", 10, MONEY, lambda p: p.fee_allowed, total="sum"),
    Column("MPPRReduction", 10, MONEY, lambda p: p.mppr_reduction, total="sum"),
    Column("AssistantReduction", 10, MONEY, lambda p: p.assistant_reduction, total="sum"),
    Column("ExpectedAllowed", 10, MONEY, lambda p: p.expected_allowed, total="sum"),
    Column("Deductible", 10, MONEY, lambda p: p.deductible, total="sum"),
    Column("Copay", 10, MONEY, lambda p: p.copay, total="sum"),
    Column("ExpectedPayerPayment", 10, MONEY, lambda p: p.expected_payer_payment, total="sum"),
    Column("ExpectedPatientResp", 10, MONEY, lambda p: p.expected_patient_resp, total="sum"),
    Column("Sequestration", 10, MONEY, lambda p: p.sequestration, total="sum"),
    Column("KXRunningTotal", 11, MONEY, lambda p: p.kx_running_total),
    Column("KXStatus", 30, TEXT, lambda p: p.kx_status),
    Column("Basis", 90, TEXT, lambda p: p.basis),
    Column("Flagged", 12, TEXT, lambda p: "scrub errors" if p.flagged else "", data=lambda p: p.flagged),
))
#: The Pricing Totals sheet: one row per payer (also the keys of a payer's JSON totals).
PRICING_TOTALS: SheetSpec[PayerTotals] = SheetSpec(TOTALS_SHEET, (
    Column("PayerKey", 12, TEXT, lambda t: t.payer_key),
    Column("Lines", 8, COUNT, lambda t: t.lines, total="sum"),
    Column("Units", 8, COUNT, lambda t: t.units, total="sum"),
    Column("Charge", 12, MONEY, lambda t: t.charge, total="sum"),
    Column("FeeAllowed", 12, MONEY, lambda t: t.fee_allowed, total="sum"),
    Column("MPPRReduction", 12, MONEY, lambda t: t.mppr_reduction, total="sum"),
    Column("AssistantReduction", 12, MONEY, lambda t: t.assistant_reduction, total="sum"),
    Column("ExpectedAllowed", 12, MONEY, lambda t: t.expected_allowed, total="sum"),
    Column("Copay", 12, MONEY, lambda t: t.copay, total="sum"),
    Column("ExpectedPayerPayment", 14, MONEY, lambda t: t.expected_payer_payment, total="sum"),
    Column("ExpectedPatientResp", 14, MONEY, lambda t: t.expected_patient_resp, total="sum"),
    Column("Sequestration", 12, MONEY, lambda t: t.sequestration, total="sum"),
))
LINE_COLUMNS = PRICING.headers
TOTAL_COLUMNS = PRICING_TOTALS.headers


@dataclass(frozen=True)
class PriceOutcome:
    result: PricingResult
    findings: tuple[Finding, ...]
    report: ReadReport
    as_of: date

    def to_frame(self):
        """The priced lines as a pandas DataFrame (the Pricing sheet's columns; money stays Decimal,
        in object columns, so sums are exact)."""
        import pandas as pd

        return pd.DataFrame([PRICING.values(p) for p in self.result.lines], columns=list(PRICING.headers))

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(),
                "lines": [PRICING.as_dict(p) for p in self.result.lines],
                "totals": [PRICING_TOTALS.as_dict(t) for t in self.result.totals],
                "findings": [f.to_dict() for f in self.findings]}


def line_values(p: LinePrice) -> list[Any]:
    return PRICING.values(p)


def line_dict(p: LinePrice) -> dict[str, Any]:
    return PRICING.as_dict(p)


def totals_values(t: PayerTotals) -> list[Any]:
    return PRICING_TOTALS.values(t)


def totals_dict(t: PayerTotals) -> dict[str, Any]:
    return PRICING_TOTALS.as_dict(t)


#: Excel keeps 15 significant digits; a number this large (units typed as 10**30, a charge of 1e20) is
#: written as text so that it is shown as typed (and a 300-digit one cannot break the save).
_EXCEL_DIGITS = 10**15


def _writable(value: Any) -> Any:
    """Text from the workbook (line IDs, payer keys, codes) may hold control characters a cell
    cannot store (a value typed as ``_x0001_``): they are shown as U+FFFD in the Pricing sheets."""
    if isinstance(value, str):
        return printable(value)
    # not abs(): mypy types abs() of int | Decimal as object
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and not -_EXCEL_DIGITS < value < _EXCEL_DIGITS:
        return str(value)
    return value


def price_charges(port: WorkbookPort, *, as_of: date | None = None, overrides: Overrides | None = None,
                  annotate: bool = True, pipeline: Pipeline | None = None) -> PriceOutcome:
    """Price every charge line in ``port`` and (by default) write the Pricing sheets into it. With a
    ``pipeline`` (the same port), its read, scrub and pricing are used."""
    if pipeline is None:
        if as_of is None:
            raise TypeError("as_of is required without a pipeline")
        pipeline = Pipeline(port, as_of=as_of, overrides=overrides, prices=True)
    as_of, report = pipeline.as_of, pipeline.report
    charges_sheet = report.sheet("Charges")
    result = pipeline.pricing
    findings = tuple(report.locate(f) for f in result.findings)
    if annotate:
        annotate_cells(port, report, findings, pipeline.cell_notes)
        PRICING.write(port, result.lines, cell=_writable)
        flagged = PRICING.index("Flagged")
        for i, p in enumerate(result.lines, start=2):
            if p.flagged:
                port.fill(PRICING_SHEET, i, flagged, FILL_ERROR)
        if charges_sheet and charges_sheet.index_of("LineID"):
            for i, p in enumerate(result.lines, start=2):
                port.hyperlink(PRICING_SHEET, i, PRICING.index("LineID"),
                               f"#'{charges_sheet.sheet}'!{charges_sheet.cell('LineID', p.row)}")
        PRICING_TOTALS.write(port, result.totals, cell=_writable)
    return PriceOutcome(result, findings, report, as_of)
