"""Payer rules: prior authorization (number, date window, visit count) and yearly visit limits
(facts §7: authorization denials CARC 197/198; benefit maximum CARC 119)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from otbill_xl.domain.findings import Finding, Severity
from otbill_xl.domain.scrub._context import (
    PATIENTS,
    Hit,
    PatientFacts,
    PatientVisits,
    SheetContext,
    VisitContext,
    bounds,
    finding,
    hit,
    rule,
)

E, W = Severity.ERROR, Severity.WARNING


@rule("auth.missing", E, "payer", "Payer requires prior authorization but the patient has no AuthNumber.",
      "sheet")
def auth_missing(s: SheetContext) -> Iterator[Finding]:
    """Payers with RequiresAuth = Y deny services without a prior authorization (CARC 197). Reported
    once per patient with charge lines, on the Patients sheet."""
    for pf in s.charged.values():
        if pf.patient is None or pf.payer is None or not pf.payer.requires_auth:
            continue
        if not pf.patient.auth_number:
            yield finding("auth.missing", PATIENTS, pf.patient.row, "AuthNumber",
                          f"Payer {pf.payer.payer_key} requires prior authorization but "
                          "AuthNumber is blank.",
                          "Obtain the authorization and enter AuthNumber, AuthStart, AuthEnd and AuthVisits.")


def _auth_applies(pf) -> bool:
    p = pf.patient
    return p is not None and (bool(p.auth_number) or (pf.payer is not None and pf.payer.requires_auth))


@bounds
def auth_bounds(pf: PatientFacts, as_of: date) -> tuple[date, date]:
    """DOS range in which ``auth.outside-window`` cannot fire: inside AuthStart-AuthEnd."""
    p = pf.patient
    if p is None or not _auth_applies(pf):
        return date.min, date.max
    return p.auth_start or date.min, p.auth_end or date.max


@rule("auth.outside-window", E, "payer", "Date of service outside the authorization's AuthStart-AuthEnd.",
      "dated")
def auth_outside_window(v: VisitContext) -> Iterator[tuple[int, Hit]]:
    """An authorization covers services from AuthStart to AuthEnd; others deny CARC 197/198."""
    p = v.pf.patient
    if v.dos is None or p is None or not _auth_applies(v.pf) or (p.auth_start is None and p.auth_end is None):
        return
    if p.auth_start is not None and v.dos < p.auth_start:
        what = f"before the authorization starts ({p.auth_start.isoformat()})"
    elif p.auth_end is not None and v.dos > p.auth_end:
        what = f"after the authorization ends ({p.auth_end.isoformat()})"
    else:
        return
    h = hit("auth.outside-window", "DOS", f"The date of service is {what}.",
            "Ask the payer to extend the authorization (or a new one) and update AuthStart/AuthEnd.")
    for i in range(len(v.entries)):
        yield i, h


@rule("auth.visits-exceeded", E, "payer", "Visit beyond the number of visits authorized (AuthVisits).",
      "patient")
def auth_visits_exceeded(pv: PatientVisits) -> Iterator[tuple[int, int, Hit]]:
    """AuthVisits visits are authorized: counting distinct DOS within the authorization window in date
    order, the lines of every later visit are flagged (CARC 198)."""
    p = pv.pf.patient
    if p is None or p.auth_visits is None:
        return
    n = 0
    for k, (dos, entries) in enumerate(pv.visits):
        if (p.auth_start is not None and dos < p.auth_start) or (p.auth_end is not None and dos > p.auth_end):
            continue
        n += 1
        if n > p.auth_visits:
            h = hit("auth.visits-exceeded", "DOS",
                    f"Visit {n} under the authorization, which allows {p.auth_visits}.",
                    "Ask the payer for more authorized visits and update AuthVisits, or do not bill this "
                    "visit to the payer.")
            for j in range(len(entries)):
                yield k, j, h


@rule("payer.visit-limit", W, "payer", "Visit beyond the payer's yearly visit limit.", "patient")
def payer_visit_limit(pv: PatientVisits) -> Iterator[tuple[int, int, Hit]]:
    """Plans with a yearly visit limit (Payers VisitLimitPerYear) stop paying after it (benefit
    maximum, CARC 119). Distinct DOS per calendar year are counted; visits at other providers
    count too, so this is a lower bound (warning)."""
    payer = pv.pf.payer
    if payer is None or payer.visit_limit_per_year is None:
        return
    limit = payer.visit_limit_per_year
    counts: dict[int, int] = {}
    for k, (dos, entries) in enumerate(pv.visits):
        n = counts[dos.year] = counts.get(dos.year, 0) + 1
        if n > limit:
            h = hit("payer.visit-limit", "DOS",
                    f"Visit {n} in {dos.year}; payer {payer.payer_key} covers {limit} a year.",
                    "Check the patient's remaining benefit; bill the patient only if they were told in "
                    "advance, or ask the payer for an exception.")
            for j in range(len(entries)):
                yield k, j, h
