"""Contracted fee schedules: which row of the ``FeeSchedule`` table prices a line.

Lookup by payer + code + modifier + date of service. A row with a modifier applies only to lines
carrying that modifier and beats a row with a blank modifier ("any"); among rows of the same
specificity, the one whose date range covers the DOS wins. Two rows of one payer + code + modifier
whose date ranges overlap, or a gap between consecutive ranges, are reported as findings: the
biller must say which rate applies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.models import FeeScheduleEntry

SHEET = "FeeSchedule"


class FeeSchedule:
    """The practice's contracted rates, indexed by payer and code."""

    def __init__(self, entries: Iterable[FeeScheduleEntry]) -> None:
        self._by_key: dict[tuple[str, str], list[FeeScheduleEntry]] = defaultdict(list)
        for e in entries:
            self._by_key[(e.payer_key, e.code)].append(e)
        for rows in self._by_key.values():
            rows.sort(key=lambda e: (e.effective_from or date.min))

    def lookup(self, payer_key: str, code: str, modifiers: tuple[str, ...], dos: date) -> FeeScheduleEntry | None:
        """The row that prices ``code`` for ``payer_key`` on ``dos``: modifier-specific rows first,
        then the "any modifier" rows; the latest-starting covering row when ranges overlap."""
        rows = self._by_key.get((payer_key, code))
        if not rows:
            return None
        best = None
        for e in rows:
            if not e.covers(dos):
                continue
            if e.modifier and e.modifier not in modifiers:
                continue
            if best is None or (bool(e.modifier), e.effective_from or date.min) > (bool(best.modifier), best.effective_from or date.min):
                best = e
        return best

    def problems(self) -> list[Finding]:
        """Overlapping or gapped date ranges for the same payer + code + modifier."""
        out: list[Finding] = []
        groups: dict[tuple[str, str, str], list[FeeScheduleEntry]] = defaultdict(list)
        for (payer, code), rows in self._by_key.items():
            for e in rows:
                groups[(payer, code, e.modifier)].append(e)
        for (payer, code, mod), rows in groups.items():
            label = f"{payer} {code}" + (f" with {mod}" if mod else "")
            for prev, cur in zip(rows, rows[1:], strict=False):
                prev_end = prev.effective_to or date.max
                cur_start = cur.effective_from or date.min
                if cur_start <= prev_end:
                    out.append(_finding("fee.overlap", Severity.ERROR, cur,
                                        f"Rates for {label} overlap: {_span(prev)} and {_span(cur)}.",
                                        "End the earlier row the day before the later one starts (EffectiveTo)."))
                elif prev.effective_to is not None and cur_start > prev_end + timedelta(days=1):
                    out.append(_finding("fee.gap", Severity.WARNING, cur,
                                        f"No rate for {label} from {(prev_end + timedelta(days=1)).isoformat()} to "
                                        f"{(cur_start - timedelta(days=1)).isoformat()}.",
                                        "Add the rate for the missing dates, or extend a row to cover them."))
        return out


def _span(e: FeeScheduleEntry) -> str:
    start = e.effective_from.isoformat() if e.effective_from else "any date"
    end = e.effective_to.isoformat() if e.effective_to else "open-ended"
    return f"{start}..{end}"


def _finding(rule: str, severity: Severity, e: FeeScheduleEntry, message: str, fix: str) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, fix=fix,
                   location=Location(sheet=SHEET, row=e.row, column="EffectiveFrom"))
