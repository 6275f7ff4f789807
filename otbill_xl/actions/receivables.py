"""The Denials and AR Aging sheets of ``otbill reconcile`` (issue #13 §3), with their summaries and
charts.

* **Denials**: one row per denied or partly denied line — the CARC/RARC, its category, a plain-language
  reason, the next action for an OT practice and the deadline that goes with it
  (:func:`otbill_xl.domain.denials.explain_denial`). Summaries by category × payer (``Denials by
  Category``, with a chart of denied dollars by category) and by code (``Denials by Code``).
* **AR Aging**: what each payer still owes per claim, in 0–30 … 120+ day buckets from the date of
  service as of ``--as-of``, with timely-filing flags (:func:`otbill_xl.domain.ar.age`); ``AR by
  Payer`` totals each payer's buckets, with a stacked chart.

The summaries are pandas group-bys over the rows (Decimal money stays exact in object columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from otbill_xl.actions.sheets import COUNT, DATE, MONEY, TEXT, Column, SheetSpec
from otbill_xl.domain import ar, denials
from otbill_xl.domain.ar import AgingResult, AgingRow, OpenItem
from otbill_xl.domain.denials import Denial
from otbill_xl.domain.reconcile import ZERO, ChargeOnFile, LineResult, PaymentRow
from otbill_xl.workbook.port import WorkbookPort

DENIALS_SHEET = "Denials"
AR_SHEET = "AR Aging"
AR_PAYER_SHEET = "AR by Payer"
#: Statuses with a denial to work.
DENIED = ("denied", "partially_denied")


class DenialRow(NamedTuple):
    line: LineResult
    denial: Denial


DENIALS: SheetSpec[DenialRow] = SheetSpec(DENIALS_SHEET, (
    Column("ClaimID", 22, TEXT, lambda d: d.line.claim_id),
    Column("LineID", 14, TEXT, lambda d: d.line.line_id),
    Column("PayerKey", 12, TEXT, lambda d: d.line.payer_key),
    Column("DOS", 11, DATE, lambda d: d.line.dos),
    Column("Code", 8, TEXT, lambda d: d.line.code),
    Column("Status", 16, TEXT, lambda d: d.line.status),
    Column("Billed", 11, MONEY, lambda d: d.line.billed, total="sum"),
    Column("Denied", 11, MONEY, lambda d: d.line.variance.denied, total="sum"),
    Column("Group", 7, TEXT, lambda d: d.denial.group),
    Column("CARC", 7, TEXT, lambda d: d.denial.carc),
    Column("RARC", 12, TEXT, lambda d: " ".join(d.denial.rarcs)),
    Column("Category", 18, TEXT, lambda d: d.denial.category),
    Column("Reason", 50, TEXT, lambda d: d.denial.reason),
    Column("NextAction", 70, TEXT, lambda d: d.denial.next_action),
    Column("Deadline", 11, DATE, lambda d: d.denial.deadline),
    Column("DeadlineBasis", 40, TEXT, lambda d: d.denial.deadline_basis),
    Column("CheckNumber", 16, TEXT, lambda d: d.line.trace),
    Column("PaymentDate", 11, DATE, lambda d: d.line.payment_date),
))

AR_AGING: SheetSpec[AgingRow] = SheetSpec(AR_SHEET, (
    Column("ClaimID", 22, TEXT, lambda r: r.claim_id),
    Column("PayerKey", 12, TEXT, lambda r: r.payer_key),
    Column("DOS", 11, DATE, lambda r: r.dos),
    Column("AgeDays", 8, COUNT, lambda r: r.age_days),
    Column("Bucket", 9, TEXT, lambda r: r.bucket),
    Column("OpenBalance", 12, MONEY, lambda r: r.open_balance, total="sum"),
    Column("FilingDeadline", 13, DATE, lambda r: r.filing_deadline),
    Column("FilingRisk", 10, TEXT, lambda r: r.filing_flag),
    Column("Note", 60, TEXT, lambda r: r.filing_note),
))


@dataclass(frozen=True)
class Receivables:
    denials: tuple[DenialRow, ...]
    aging: AgingResult

    def denials_frame(self):
        """The Denials sheet as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([DENIALS.values(d) for d in self.denials], columns=list(DENIALS.headers))

    def aging_frame(self):
        """The AR Aging sheet as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([AR_AGING.values(r) for r in self.aging.rows], columns=list(AR_AGING.headers))

    def denials_by_category(self):
        """Denied dollars by category (rows) and payer (columns), with a Total column."""
        frame = self.denials_frame()
        if frame.empty:
            return frame
        table = frame.pivot_table(index="Category", columns="PayerKey", values="Denied", aggfunc="sum",
                                  fill_value=ZERO)
        table["Total"] = table.sum(axis=1)
        return table.sort_values("Total", ascending=False)

    def denials_by_code(self):
        """Denied lines and dollars by procedure code and CARC."""
        frame = self.denials_frame()
        if frame.empty:
            return frame
        grouped = frame.groupby(["Code", "Group", "CARC", "Category"], sort=True)
        out = grouped.agg(Lines=("Denied", "size"), Denied=("Denied", "sum")).reset_index()
        return out.sort_values(["Denied", "Code"], ascending=[False, True])

    def aging_by_payer(self):
        """Open balance per payer (rows) and bucket (columns), with Total and Claims columns."""
        import pandas as pd

        return pd.DataFrame([AR_BY_PAYER.values(r) for r in payer_aging(self)], columns=list(AR_BY_PAYER.headers))


def build(lines: Sequence[LineResult], charges: Sequence[ChargeOnFile], posted_before: Iterable[Any],
          posted_now: Iterable[PaymentRow], payers: dict[str, Any], as_of: date) -> Receivables:
    """The denial rows of the reconciled lines, and the aging of every billed claim's open balance
    after the earlier postings (the Payments sheet) and this run's."""
    rows = []
    for line in lines:
        if line.status in DENIED:
            on = line.payment_date or as_of
            rows.append(DenialRow(line, denials.explain_denial(line.adjustments, line.remarks,
                                                               payers.get(line.payer_key), line.payment_date, on)))
    return Receivables(tuple(rows), ar.age(open_items(charges, posted_before, posted_now, lines), as_of, payers))


def open_items(charges: Sequence[ChargeOnFile], posted_before: Iterable[Any], posted_now: Iterable[PaymentRow],
               lines: Sequence[LineResult]) -> list[OpenItem]:
    """One open item per billed claim: its charges, less what was paid, written off (contractual
    adjustments: CO-45, sequestration, MPPR, the prior payer's effect) and moved to the patient (PR
    deductible, coinsurance, copay) by every Payments row of its lines.

    A **denied** amount stays open: a denial is worked from AR — appealed, corrected, rebilled — and
    leaves it only when the biller writes it off (a contractual adjustment) or it is paid. A claim
    with any posted adjudication counts as accepted for timely filing (the payer received it)."""
    answered = {line.row for line in lines if line.row is not None and line.status != "unmatched_remittance"}
    claims: dict[str, dict[str, Any]] = {}
    for c in charges:
        if not (c.billed or c.row in answered) or not c.claim_id or c.dos is None:
            continue
        claim = claims.setdefault(c.claim_id, {"payer": c.payer_key, "dos": c.dos, "billed": ZERO, "paid": ZERO,
                                               "adjusted": ZERO, "patient": ZERO, "status": ""})
        claim["billed"] += c.charge or ZERO
        claim["dos"] = min(claim["dos"], c.dos)
    for p in (*posted_before, *posted_now):
        owed = claims.get(p.claim_id.strip())
        if owed is None:
            continue
        owed["status"] = "posted"
        owed["paid"] += p.paid or ZERO
        amount = p.adj_amount or ZERO
        if not amount:
            continue
        group, reason = p.adj_group.strip().upper(), p.adj_reason.strip().upper()
        if group == "PR" and denials.carc_category(reason) == "patient_responsibility":
            owed["patient"] += amount
        elif group != "PR" and (reason in WRITE_OFF_REASONS or denials.carc_category(reason) == "contractual"):
            owed["adjusted"] += amount
    return [OpenItem(claim_id, c["payer"], c["dos"], c["billed"], c["paid"], c["adjusted"], c["patient"], c["status"])
            for claim_id, c in claims.items()]


#: Adjustments that settle a balance whatever the catalogue says: the contractual write-down (45),
#: sequestration (253), multiple-procedure rules (59) and the prior payer's adjudication (23).
WRITE_OFF_REASONS = frozenset({"45", "253", "59", "23"})


def _bucket(i: int):
    return lambda r: r.buckets[i]


class DenialSummary(NamedTuple):
    category: str
    payer_key: str
    lines: int
    denied: Decimal


class CodeSummary(NamedTuple):
    code: str
    group: str
    carc: str
    category: str
    lines: int
    denied: Decimal


class PayerAging(NamedTuple):
    payer_key: str
    buckets: tuple[Decimal, ...]
    total: Decimal
    claims: int


#: All payers together: the first rows of Denials by Category (the chart's rows).
ALL_PAYERS = "(all payers)"

DENIALS_BY_CATEGORY: SheetSpec[DenialSummary] = SheetSpec("Denials by Category", (
    Column("Category", 22, TEXT, lambda r: r.category),
    Column("PayerKey", 14, TEXT, lambda r: r.payer_key),
    Column("Lines", 8, COUNT, lambda r: r.lines),
    Column("Denied", 12, MONEY, lambda r: r.denied),
))

DENIALS_BY_CODE: SheetSpec[CodeSummary] = SheetSpec("Denials by Code", (
    Column("Code", 8, TEXT, lambda r: r.code),
    Column("Group", 7, TEXT, lambda r: r.group),
    Column("CARC", 7, TEXT, lambda r: r.carc),
    Column("Category", 22, TEXT, lambda r: r.category),
    Column("Lines", 8, COUNT, lambda r: r.lines, total="sum"),
    Column("Denied", 12, MONEY, lambda r: r.denied, total="sum"),
))

AR_BY_PAYER: SheetSpec[PayerAging] = SheetSpec(AR_PAYER_SHEET, (
    Column("PayerKey", 14, TEXT, lambda r: r.payer_key),
    *(Column(label, 12, MONEY, _bucket(i)) for i, label in enumerate(ar.BUCKET_LABELS)),
    Column("Total", 13, MONEY, lambda r: r.total),
    Column("Claims", 8, COUNT, lambda r: r.claims),
))


def category_summary(receivables: Receivables) -> list[DenialSummary]:
    """Per category for all payers (largest first), then per category and payer."""
    frame = receivables.denials_frame()
    if frame.empty:
        return []
    overall = frame.groupby("Category").agg(Lines=("Denied", "size"), Denied=("Denied", "sum")).reset_index()
    overall = overall.sort_values(["Denied", "Category"], ascending=[False, True])
    split = frame.groupby(["Category", "PayerKey"]).agg(Lines=("Denied", "size"), Denied=("Denied", "sum"))
    rows = [DenialSummary(r.Category, ALL_PAYERS, int(r.Lines), _money(r.Denied)) for r in overall.itertuples()]
    rows += [DenialSummary(cat, payer, int(r.Lines), _money(r.Denied))
             for (cat, payer), r in zip(split.index, split.itertuples(index=False), strict=True)]
    return rows


def code_summary(receivables: Receivables) -> list[CodeSummary]:
    by_code = receivables.denials_by_code()
    return [CodeSummary(r.Code, r.Group, r.CARC, r.Category, int(r.Lines), _money(r.Denied))
            for r in by_code.itertuples(index=False)] if not by_code.empty else []


def payer_aging(receivables: Receivables) -> list[PayerAging]:
    rows = [PayerAging(payer, tuple(t.buckets.values()), t.total, t.claims)
            for payer, t in receivables.aging.by_payer.items()]
    if rows:
        total = receivables.aging.total
        rows.append(PayerAging("Total", tuple(total.buckets.values()), total.total, total.claims))
    return rows


def write(port: WorkbookPort, receivables: Receivables, cell) -> None:
    """The Denials, Denials by Category, Denials by Code, AR Aging and AR by Payer sheets, and the two
    charts (denied dollars by category; open AR by payer, stacked by age bucket)."""
    from otbill_xl.workbook.charts import ChartSpec

    DENIALS.write(port, receivables.denials, cell=cell)
    categories = category_summary(receivables)
    DENIALS_BY_CATEGORY.write(port, categories, cell=cell)
    DENIALS_BY_CODE.write(port, code_summary(receivables), cell=cell)
    AR_AGING.write(port, receivables.aging.rows, cell=cell)
    payers = payer_aging(receivables)
    AR_BY_PAYER.write(port, payers, cell=cell)
    overall = sum(1 for r in categories if r.payer_key == ALL_PAYERS)
    if overall:
        col = DENIALS_BY_CATEGORY.index("Denied")
        port.add_chart(DENIALS_BY_CATEGORY.name, ChartSpec(
            "bar", "Denied dollars by category", DENIALS_BY_CATEGORY.name, (1, col, 1 + overall, col),
            DENIALS_BY_CATEGORY.index("Category"), anchor=_anchor(len(DENIALS_BY_CATEGORY.headers) + 2),
            x_title="Category", y_title="Denied ($)"))
    if len(payers) > 1:   # the payers' rows (not the Total row), one series per age bucket
        port.add_chart(AR_BY_PAYER.name, ChartSpec(
            "column", "Open AR by payer and age", AR_BY_PAYER.name, (1, 2, len(payers), 1 + len(ar.BUCKET_LABELS)),
            1, anchor=_anchor(len(AR_BY_PAYER.headers) + 2), stacked=True, x_title="Payer",
            y_title="Open balance ($)"))


def _anchor(column: int) -> str:
    from otbill_xl.domain.findings import column_letter

    return f"{column_letter(column)}2"


def _money(value: Any) -> Any:
    return value if isinstance(value, Decimal) else Decimal(str(value))
