"""Date rules: date of service present and plausible, inside the plan of care, certification and
progress-report intervals, and timely filing as of a given day (facts §7)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta

from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.models import PayerType
from otbill_xl.domain.scrub._context import (
    BILLED_STATUSES,
    MEDICARE_TYPES,
    PATIENTS,
    Hit,
    PatientFacts,
    PatientVisits,
    SheetContext,
    VisitContext,
    bounds,
    finding,
    hit,
    register,
    rule,
    runs_in,
)

E, W = Severity.ERROR, Severity.WARNING

#: A certification covers at most 90 calendar days counting the first day (facts §7).
CERT_DAYS = 90
#: A progress report at least every 10 treatment days (facts §7).
PROGRESS_EVERY = 10
#: Warn this many days before the timely filing limit.
TIMELY_WARNING_DAYS = 14

register("date.recert-overdue", W, "dates",
         "Plan of care runs past 90 days from its start without recertification (Medicare/MA).")
register("date.timely-filing-passed", E, "dates", "Timely filing limit has passed for an unbilled line.")
register("date.timely-filing-near", W, "dates", "Timely filing limit is within 14 days for an unbilled line.")


@bounds
def date_bounds(pf: PatientFacts, as_of: date) -> tuple[date, date]:
    """DOS range in which none of this module's dated rules fires: not in the future, not before
    birth, inside the plan of care and its first 90 days (Medicare/MA), and more than 14 days
    before the filing limit."""
    p = pf.patient
    lo, hi = date.min, as_of
    if p is None:  # (bounds are only asked for a known patient)
        return lo, hi
    if p.dob is not None:
        lo = max(lo, p.dob)
    if p.poc_start is not None:
        lo = max(lo, p.poc_start)
        if _cert_applies(pf):
            hi = min(hi, shift(p.poc_start, CERT_DAYS - 1))
    if p.poc_end is not None:
        hi = min(hi, p.poc_end)
    if pf.timely is not None:
        # Fires when DOS + limit - 14 days <= as_of; a Medicare year is at least 365 days.
        days = 365 if pf.timely == "year" else int(pf.timely)
        with contextlib.suppress(OverflowError):
            lo = max(lo, as_of - timedelta(days=days - TIMELY_WARNING_DAYS - 1))
    return lo, hi


def _all(v: VisitContext, h: Hit) -> Iterator[tuple[int, Hit]]:
    for i in range(len(v.entries)):
        yield i, h


@rule("date.dos-missing", E, "dates", "Date of service is blank or unreadable.", "dated")
def dos_missing(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Every line needs its date of service: code validity, units, plan of care and filing limits
    all depend on it, and each timed code is one line per DOS (facts §1.1)."""
    if v.dos is None:
        yield from _all(v, hit("date.dos-missing", "DOS", "The date of service is blank or not a date.",
                               "Enter the date of service (e.g. 2026-03-14)."))


@rule("date.dos-future", E, "dates", "Date of service is after the check date.", "dated")
def dos_future(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """A service cannot be billed before it is furnished."""
    if v.dos is not None and v.dos > v.as_of:
        yield from _all(v, hit("date.dos-future", "DOS",
                               f"The date of service {v.dos.isoformat()} is after {v.as_of.isoformat()}.",
                               "Correct the date of service (typo in the year or month?)."))


@rule("date.dos-before-birth", E, "dates", "Date of service is before the patient's birth date.",
      "dated")
def dos_before_birth(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """A date of service before the patient's birth date is a typo in one of the two dates. The
    message does not show the birth date."""
    p = v.pf.patient
    if v.dos is not None and p is not None and p.dob is not None and v.dos < p.dob:
        yield from _all(v, hit("date.dos-before-birth", "DOS",
                               "The date of service is before the patient's date of birth.",
                               "Correct the date of service, or the patient's DOB on the Patients sheet."))


@rule("date.outside-poc", E, "dates", "Date of service outside the plan of care (POCStart-POCEnd).",
      "dated")
def outside_poc(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """Therapy is covered under a certified plan of care; services before its start or after its end
    are not (Medicare Benefit Policy Manual Ch.15 §220.1; facts §7)."""
    p = v.pf.patient
    if v.dos is None or p is None:
        return
    if p.poc_start is not None and v.dos < p.poc_start:
        what = f"before the plan of care starts ({p.poc_start.isoformat()})"
    elif p.poc_end is not None and v.dos > p.poc_end:
        what = f"after the plan of care ends ({p.poc_end.isoformat()})"
    else:
        return
    yield from _all(v, hit("date.outside-poc", "DOS", f"The date of service is {what}.",
                           "Correct the DOS, or enter the current (re)certified plan of care dates "
                           "on the Patients sheet."))


def _cert_applies(v_or_pf) -> bool:
    payer = v_or_pf.payer
    return payer is not None and payer.payer_type in MEDICARE_TYPES


@runs_in("dated")
def recert_overdue_line(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """``date.recert-overdue`` on a line: a Medicare/MA certification lasts at most 90 calendar days
    from the start of the plan of care (42 CFR 424.24(c); Benefit Policy Manual Ch.15 §220.1.2;
    facts §7); a DOS past day 90 needs a recertified plan. Lines outside POCStart-POCEnd are
    reported by ``date.outside-poc`` instead."""
    p = v.pf.patient
    if v.dos is None or p is None or p.poc_start is None or not _cert_applies(v.pf):
        return
    last = shift(p.poc_start, CERT_DAYS - 1)
    if v.dos <= last or (p.poc_end is not None and v.dos > p.poc_end):
        return
    yield from _all(v, hit("date.recert-overdue", "DOS",
                           f"The DOS is past day {CERT_DAYS} of the plan of care started "
                           f"{p.poc_start.isoformat()} (certified through {last.isoformat()} at most).",
                           "Get the plan recertified by the physician/NPP and enter the new POCStart/"
                           "POCEnd."))


@runs_in("sheet")
def recert_overdue_poc(s: SheetContext) -> Iterator[Finding]:
    """``date.recert-overdue`` on the Patients sheet: a Medicare/MA plan of care whose POCEnd is more
    than 90 days after POCStart cannot be covered by one certification (facts §7)."""
    for pf in s.charged.values():
        p = pf.patient
        if p is None or p.poc_start is None or p.poc_end is None or not _cert_applies(pf):
            continue
        last = shift(p.poc_start, CERT_DAYS - 1)
        if p.poc_end > last:
            yield finding("date.recert-overdue", PATIENTS, p.row, "POCEnd",
                          f"The plan of care runs {(p.poc_end - p.poc_start).days + 1} days; "
                          f"a certification covers {CERT_DAYS} at most (through {last.isoformat()}).",
                          f"Recertify by {last.isoformat()} and enter the recertified period as a new "
                          "POCStart/POCEnd.")


@rule("date.poc-missing", W, "dates", "Medicare patient with charge lines but no POCStart/POCEnd.", "sheet")
def poc_missing(s: SheetContext) -> Iterator[Finding]:
    """Medicare Part B covers outpatient therapy only under a plan of care certified by a physician/NPP
    (42 CFR 424.24(c); Benefit Policy Manual Ch.15 §220.1; facts §7). Without POCStart/POCEnd the
    scrubber cannot check ``date.outside-poc``, ``date.recert-overdue`` or progress reports. A warning,
    not an error: the claim itself carries no plan-of-care dates and the certified plan may well exist
    on paper, so a blank cell must not hold back billable lines; it only says what was not checked.
    Original Medicare only (Medicare Advantage plans set their own rules, often prior authorization)."""
    for pf in s.charged.values():
        p = pf.patient
        if p is None or pf.payer is None or pf.payer.payer_type is not PayerType.MEDICARE:
            continue
        blank = [name for name, value in (("POCStart", p.poc_start), ("POCEnd", p.poc_end)) if value is None]
        if blank:
            yield finding("date.poc-missing", PATIENTS, p.row, blank[0],
                          f"{' and '.join(blank)} {'is' if len(blank) == 1 else 'are'} blank: the lines cannot be "
                          "checked against the certified plan of care Medicare requires.",
                          "Enter the dates of the plan of care the physician/NPP certified (POCStart, POCEnd at most "
                          "90 days later).")


@rule("date.progress-report-due", W, "dates",
      "Progress report due: 10th treatment day of the plan of care (and every 10th after).", "patient")
def progress_report_due(pv: PatientVisits) -> Iterator[tuple[int, int, Hit]]:
    """Medicare requires a progress report at least once every 10 treatment days (Benefit Policy
    Manual Ch.15 §220.3; facts §7). Treatment days are the distinct dates of service within the plan
    of care; the first line of the 10th, 20th ... day is flagged as a reminder. Medicare/MA only."""
    p = pv.pf.patient
    if p is None or p.poc_start is None or not _cert_applies(pv.pf):
        return
    n = 0
    for k, (dos, _entries) in enumerate(pv.visits):
        if dos < p.poc_start or (p.poc_end is not None and dos > p.poc_end):
            continue
        n += 1
        if n % PROGRESS_EVERY == 0:
            yield k, 0, hit("date.progress-report-due", "DOS",
                            f"Treatment day {n} of the plan of care started {p.poc_start.isoformat()}: "
                            "a progress report is due.",
                            "Make sure a progress report was written by this visit (re-evaluation does not "
                            "replace it).")


def shift(day: date, days: int) -> date:
    """``day`` plus ``days`` days, held at the first or last date Python has (0001-01-01,
    9999-12-31) instead of overflowing: a typed 12/31/9999 or a huge TimelyFilingDays never crashes."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def filing_deadline(dos: date, limit: int | str) -> date:
    """Last day a claim for ``dos`` is timely: DOS + N days, or (Medicare) the same day one calendar
    year later, 29 February giving 28 February (facts §7)."""
    if limit == "year":
        if dos.year == date.max.year:
            return date.max
        try:
            return dos.replace(year=dos.year + 1)
        except ValueError:  # 29 February
            return date(dos.year + 1, 2, 28)
    return shift(dos, int(limit))


def _billed(line) -> bool:
    status = line.status.strip().lower()
    if status:
        return status in BILLED_STATUSES
    return bool(line.claim_id)


@runs_in("dated")
def timely_filing(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """``date.timely-filing-passed`` / ``date.timely-filing-near``: a claim must reach the payer
    within its filing limit (payer TimelyFilingDays; Medicare: one calendar year after the DOS,
    42 CFR 424.44; late claims deny CO-29; facts §7). Lines already billed (Status billed /
    submitted / paid ..., or a ClaimID with a blank Status) are skipped; rejected claims do not stop
    the clock, so they are checked."""
    limit = v.pf.timely
    if limit is None or v.dos is None:
        return
    deadline = filing_deadline(v.dos, limit)
    if v.as_of < shift(deadline, -TIMELY_WARNING_DAYS):
        return
    rule_text = "one calendar year after the DOS" if limit == "year" else f"{limit} days after the DOS"
    payer = v.pf.payer_key  # (a timely filing limit comes from the payer: there is one)
    if v.as_of > deadline:
        h = hit("date.timely-filing-passed", "DOS",
                f"The filing limit of payer {payer} ({rule_text}) passed on {deadline.isoformat()}.",
                "Bill only with proof of timely filing or an allowed exception; otherwise write the line "
                "off (CO-29).")
    else:
        h = hit("date.timely-filing-near", "DOS",
                f"The filing limit of payer {payer} ({rule_text}) ends {deadline.isoformat()}.",
                f"Submit the claim by {deadline.isoformat()}.")
    for i, e in enumerate(v.entries):
        if not _billed(e.line):
            yield i, h
