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

from otbill_xl.domain.findings import Finding, printable
from otbill_xl.domain.pricing import LinePrice, PayerTotals, PricingResult
from otbill_xl.workbook.check import annotate_cells
from otbill_xl.workbook.mapping import Overrides
from otbill_xl.workbook.pipeline import Pipeline
from otbill_xl.workbook.port import FILL_ERROR, WorkbookPort
from otbill_xl.workbook.reader import ReadReport, finding_dict

PRICING_SHEET = "Pricing"
TOTALS_SHEET = "Pricing Totals"
LINE_COLUMNS = ("LineID", "Row", "PayerKey", "Code", "Units", "Charge", "FeeAllowed", "MPPRReduction",
                "AssistantReduction", "ExpectedAllowed", "Deductible", "ExpectedPayerPayment", "ExpectedPatientResp",
                "Sequestration", "KXRunningTotal", "KXStatus", "Basis", "Flagged")
TOTAL_COLUMNS = ("PayerKey", "Lines", "Units", "Charge", "FeeAllowed", "MPPRReduction", "AssistantReduction",
                 "ExpectedAllowed", "ExpectedPayerPayment", "ExpectedPatientResp", "Sequestration")


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

        return pd.DataFrame([line_values(p) for p in self.result.lines], columns=list(LINE_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(),
                "lines": [line_dict(p) for p in self.result.lines],
                "totals": [totals_dict(t) for t in self.result.totals],
                "findings": [finding_dict(f) for f in self.findings]}


def money_text(value: Decimal | None) -> str | None:
    """Money for JSON: a string with two decimals (never a float)."""
    return None if value is None else f"{value:.2f}"


def line_values(p: LinePrice) -> list[Any]:
    return [p.line_id, p.row, p.payer_key, p.code, p.units, p.charge, p.fee_allowed, p.mppr_reduction,
            p.assistant_reduction, p.expected_allowed, p.deductible, p.expected_payer_payment, p.expected_patient_resp,
            p.sequestration, p.kx_running_total, p.kx_status, p.basis, "scrub errors" if p.flagged else ""]


def line_dict(p: LinePrice) -> dict[str, Any]:
    out = dict(zip(LINE_COLUMNS, line_values(p), strict=True))
    for key, value in out.items():
        if isinstance(value, Decimal):
            out[key] = money_text(value)
    out["Flagged"] = p.flagged
    return out


def totals_values(t: PayerTotals) -> list[Any]:
    return [t.payer_key, t.lines, t.units, t.charge, t.fee_allowed, t.mppr_reduction, t.assistant_reduction,
            t.expected_allowed, t.expected_payer_payment, t.expected_patient_resp, t.sequestration]


def totals_dict(t: PayerTotals) -> dict[str, Any]:
    return {k: money_text(v) if isinstance(v, Decimal) else v
            for k, v in zip(TOTAL_COLUMNS, totals_values(t), strict=True)}


#: Excel keeps 15 significant digits; a number this large (units typed as 10**30, a charge of 1e20) is
#: written as text so that it is shown as typed (and a 300-digit one cannot break the save).
_EXCEL_DIGITS = 10**15


def _writable(values: list[Any]) -> list[Any]:
    """Text from the workbook (line IDs, payer keys, codes) may hold control characters a cell
    cannot store (a value typed as ``_x0001_``): they are shown as U+FFFD in the Pricing sheets."""
    return [printable(v) if isinstance(v, str) else
            str(v) if isinstance(v, int | Decimal) and not isinstance(v, bool) and not -_EXCEL_DIGITS < v < _EXCEL_DIGITS
            else v
            for v in values]


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
        annotate_cells(port, report, findings)
        rows = [list(LINE_COLUMNS)] + [_writable(line_values(p)) for p in result.lines]
        port.replace_sheet(PRICING_SHEET, rows, widths=(10, 6, 10, 8, 6, 10, 10, 10, 10, 10, 10, 10, 10, 10, 11, 30, 90, 12))
        for i, p in enumerate(result.lines, start=2):
            if p.flagged:
                port.fill(PRICING_SHEET, i, len(LINE_COLUMNS), FILL_ERROR)
        if charges_sheet and charges_sheet.index_of("LineID"):
            for i, p in enumerate(result.lines, start=2):
                port.hyperlink(PRICING_SHEET, i, 1, f"#'{charges_sheet.sheet}'!{charges_sheet.cell('LineID', p.row)}")
        totals = [list(TOTAL_COLUMNS)] + [_writable(totals_values(t)) for t in result.totals]
        port.replace_sheet(TOTALS_SHEET, totals, widths=(12, 8, 8, 12, 12, 12, 12, 12, 14, 14, 12))
    return PriceOutcome(result, findings, report, as_of)
