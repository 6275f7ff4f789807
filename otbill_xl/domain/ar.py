"""Accounts receivable aging: what each payer still owes, by age from the date of service, and which
unpaid claims are close to (or past) the payer's timely filing limit (issue 13 §3, facts §7).

Pure: the caller passes the open items (from the ledger and posted payments), the payers and the
``as_of`` date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from otbill_xl.domain.models import Payer, PayerType
from otbill_xl.domain.scrub.dates import filing_deadline, shift

ZERO = Decimal("0")

#: The aging buckets, in days from the DOS: (first day, last day or None = no end, label). The one
#: place the edges live: 30 days old is still 0-30, 31 is 31-60, 120 is 91-120, 121 is 120+.
BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 30, "0-30"),
    (31, 60, "31-60"),
    (61, 90, "61-90"),
    (91, 120, "91-120"),
    (121, None, "120+"),
)
BUCKET_LABELS = tuple(label for _, _, label in BUCKETS)

#: Claim statuses showing the payer accepted (received and adjudicated) the claim: timely filing is
#: then met. "billed"/"submitted"/"sent" are not enough — a rejected claim does not stop the clock
#: (facts §7).
ACCEPTED_STATUSES = frozenset({
    "accepted", "paid", "partially paid", "partial", "partially_paid", "denied", "partially_denied", "appealed",
    "closed", "posted", "underpaid", "overpaid", "patient_responsibility", "readjudicated", "already_posted",
    "duplicate_payment",
})
#: Medicaid timely filing when the payer's TimelyFilingDays is blank: 365 days. Federal rules make
#: states take claims up to 12 months from the DOS (42 CFR 447.45(d)); facts §7 marks it [U].
MEDICAID_DEFAULT_FILING_DAYS = 365
#: Flag a claim ``at_risk`` when its filing deadline is this many days away or fewer.
AT_RISK_DAYS = 30

PAST, AT_RISK, OK, UNKNOWN = "past", "at_risk", "ok", "unknown"


class OpenItem(NamedTuple):
    """One billed claim and what has happened to it so far.

    ``adjusted`` are the payer's adjustments written off (CO/OA/PI); ``patient_responsibility`` the
    PR amounts moved to the patient's balance. What the payer still owes is
    ``billed − paid − adjusted − patient_responsibility`` (:attr:`open_balance`).
    """

    claim_id: str
    payer_key: str
    dos: date
    billed: Decimal
    paid: Decimal
    adjusted: Decimal
    patient_responsibility: Decimal
    status: str = ""
    first_billed: date | None = None

    @property
    def open_balance(self) -> Decimal:
        return self.billed - self.paid - self.adjusted - self.patient_responsibility


class AgingRow(NamedTuple):
    """One claim's line on the AR Aging sheet."""

    claim_id: str
    payer_key: str
    dos: date
    age_days: int
    bucket: str
    open_balance: Decimal
    filing_deadline: date | None
    filing_flag: str  # past / at_risk / ok / unknown
    filing_note: str


@dataclass(slots=True)
class BucketTotals:
    """Open balance per bucket and in all."""

    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKET_LABELS, ZERO))
    total: Decimal = ZERO
    claims: int = 0

    def add(self, bucket: str, amount: Decimal) -> None:
        self.buckets[bucket] += amount
        self.total += amount
        self.claims += 1


@dataclass(slots=True)
class AgingResult:
    """Per-claim rows (oldest first within each payer), totals per payer and overall."""

    as_of: date
    rows: list[AgingRow]
    by_payer: dict[str, BucketTotals]
    total: BucketTotals


def bucket_for(age_days: int) -> str:
    """The bucket label for an age in days (a DOS after ``as_of`` counts as 0 days old)."""
    age = max(age_days, 0)
    for first, last, label in BUCKETS:
        if age >= first and (last is None or age <= last):
            return label
    raise AssertionError("BUCKETS must cover every age from 0")  # pragma: no cover - BUCKETS is contiguous


def filing_limit(payer: Payer | None) -> int | str | None:
    """The payer's timely filing limit: ``TimelyFilingDays``; blank → Medicare one calendar year
    after the DOS (``"year"``: 42 CFR 424.44, facts §7), Medicaid 365 days (facts §7 [U]), any other
    payer unknown (``None``)."""
    if payer is None:
        return None
    if payer.timely_filing_days is not None:
        return payer.timely_filing_days
    if payer.payer_type is PayerType.MEDICARE:
        return "year"
    if payer.payer_type is PayerType.MEDICAID:
        return MEDICAID_DEFAULT_FILING_DAYS
    return None


def accepted(item: OpenItem) -> bool:
    """The payer accepted the claim: an accepted/adjudicated status, or money paid or adjusted."""
    return item.status.strip().lower() in ACCEPTED_STATUSES or item.paid != 0 or item.adjusted != 0


def filing_risk(item: OpenItem, payer: Payer | None, as_of: date,
                at_risk_days: int = AT_RISK_DAYS) -> tuple[date | None, str, str]:
    """``(deadline, flag, note)`` for one claim. Deadline = DOS + the payer's limit (Medicare: the same
    day a year later, 29 February → 28 February, facts §7). ``past``: as_of after the deadline and
    the payer never accepted the claim; ``at_risk``: not accepted and the deadline is at most
    ``at_risk_days`` away; ``ok``: accepted, or the deadline is further away; ``unknown``: no limit
    known for the payer."""
    limit = filing_limit(payer)
    if limit is None:
        return None, UNKNOWN, "unknown: set TimelyFilingDays on the Payers sheet"
    deadline = filing_deadline(item.dos, limit)
    if accepted(item):
        return deadline, OK, "accepted by the payer"
    if as_of > deadline:
        note = f"filing limit passed on {deadline.isoformat()}"
        if item.first_billed is not None and item.first_billed <= deadline:
            note += (f"; billed {item.first_billed.isoformat()}: keep the payer's acceptance report (999/277CA) "
                     "as proof of timely filing")
        else:
            note += ": expect CO-29; bill only with proof of timely filing, otherwise write off"
        return deadline, PAST, note
    if as_of >= shift(deadline, -at_risk_days):
        return deadline, AT_RISK, f"file by {deadline.isoformat()} ({(deadline - as_of).days} days left)"
    return deadline, OK, f"file by {deadline.isoformat()}"


def age(items: Iterable[OpenItem], as_of: date, payers: Mapping[str, Payer],
        at_risk_days: int = AT_RISK_DAYS) -> AgingResult:
    """Age every claim with an open balance as of ``as_of``: days from the DOS into :data:`BUCKETS`,
    with its timely-filing flag; claims with a zero open balance drop out (a negative balance — an
    overpayment — stays, so it is seen). Totals per payer and overall."""
    rows: list[AgingRow] = []
    by_payer: dict[str, BucketTotals] = {}
    total = BucketTotals()
    for item in items:
        balance = item.open_balance
        if balance == 0:
            continue
        days = (as_of - item.dos).days
        bucket = bucket_for(days)
        deadline, flag, note = filing_risk(item, payers.get(item.payer_key), as_of, at_risk_days)
        rows.append(AgingRow(item.claim_id, item.payer_key, item.dos, days, bucket, balance, deadline, flag, note))
        by_payer.setdefault(item.payer_key, BucketTotals()).add(bucket, balance)
        total.add(bucket, balance)
    rows.sort(key=lambda r: (r.payer_key, r.dos, r.claim_id))
    return AgingResult(as_of, rows, dict(sorted(by_payer.items())), total)
