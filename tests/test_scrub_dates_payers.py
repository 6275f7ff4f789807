"""Date rules (DOS, plan of care, certification, progress reports, timely filing; facts §7) and
payer rules (authorization, visit limits)."""

from __future__ import annotations

from datetime import date, timedelta

from test_scrub_support import COM, MCR, line, one, only, patient, run, where

from otbill_xl.domain.findings import Severity
from otbill_xl.domain.models import Payer, PayerType
from otbill_xl.domain.scrub.dates import filing_deadline


def test_dos_missing():
    f = one(run([line(row=3, dos=None)]), "date.dos-missing")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "DOS")


def test_dos_future():
    f = one(run([line(row=3, dos=date(2026, 3, 3))], as_of=date(2026, 3, 2)), "date.dos-future")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "DOS")
    assert not only(run([line(row=3, dos=date(2026, 3, 2))], as_of=date(2026, 3, 2)), "date.dos-future")


def test_dos_before_birth_without_showing_birth_date():
    pats = (patient("P1", dob=date(2026, 2, 10)),)
    f = one(run([line(row=3)], patients=pats), "date.dos-before-birth")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "DOS")
    assert "2026-02-10" not in f.message + f.fix
    assert not only(run([line(row=3)]), "date.dos-before-birth")


def test_outside_poc():
    # POC 2026-01-05 .. 2026-03-31
    r = run([line(row=3, dos=date(2026, 1, 4)), line(row=4, dos=date(2026, 4, 1))], as_of=date(2026, 4, 10))
    found = only(r, "date.outside-poc")
    assert [where(f) for f in found] == [("Charges", 3, "DOS"), ("Charges", 4, "DOS")]
    assert found[0].severity is Severity.ERROR
    ok = run([line(row=3, dos=date(2026, 1, 5)), line(row=4, dos=date(2026, 3, 31))], as_of=date(2026, 4, 10))
    assert not only(ok, "date.outside-poc")


def test_recert_overdue_on_line():
    # POCStart 2026-01-05: day 90 is 2026-04-04 (Jan 5 + 89 days); 2026-04-05 is past it.
    pats = (patient("P1", poc_end=None),)
    r = run([line(row=3, dos=date(2026, 4, 4)), line(row=4, dos=date(2026, 4, 5))],
            patients=pats, as_of=date(2026, 4, 10))
    f = one(r, "date.recert-overdue")
    assert f.severity is Severity.WARNING
    assert where(f) == ("Charges", 4, "DOS")


def test_recert_overdue_poc_longer_than_90_days():
    r = run([line(row=3)], patients=(patient("P1", poc_end=date(2026, 4, 5)),))
    f = one(r, "date.recert-overdue")
    assert where(f) == ("Patients", None, "POCEnd")
    assert not only(run([line(row=3)], patients=(patient("P1", poc_end=date(2026, 4, 4)),)),
                    "date.recert-overdue")


def test_recert_not_applied_to_commercial_payer():
    r = run([line(row=3, pid="P2")], patients=(patient("P2", payer_key="COM", poc_end=date(2026, 12, 31)),))
    assert not only(r, "date.recert-overdue")


def test_progress_report_due_every_10th_treatment_day():
    days = [date(2026, 1, 6) + timedelta(days=k) for k in range(20)]
    lines = [line(row=10 + k, dos=d) for k, d in enumerate(days)]
    found = only(run(lines), "date.progress-report-due")
    assert [where(f) for f in found] == [("Charges", 19, "DOS"), ("Charges", 29, "DOS")]
    assert found[0].severity is Severity.WARNING
    assert not only(run(lines[:9]), "date.progress-report-due")


def test_progress_report_counts_days_not_lines():
    days = [date(2026, 1, 6) + timedelta(days=k) for k in range(9)]
    lines = [line(row=10 + k, dos=d) for k, d in enumerate(days)]
    lines.append(line("97535", row=40, dos=days[-1], minutes=15, units=1))  # 2nd line, same day
    assert not only(run(lines), "date.progress-report-due")


def test_filing_deadline():
    assert filing_deadline(date(2025, 3, 15), "year") == date(2026, 3, 15)
    assert filing_deadline(date(2024, 2, 29), "year") == date(2025, 2, 28)  # facts §7
    assert filing_deadline(date(2025, 9, 10), 180) == date(2026, 3, 9)


def test_timely_filing_passed_commercial_180_days():
    # DOS 2025-08-01 + 180 days = 2026-01-28 < as_of 2026-03-02.
    r = run([line(row=3, pid="P2", dos=date(2025, 8, 1))])
    f = one(r, "date.timely-filing-passed")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Charges", 3, "DOS")
    assert "2026-01-28" in f.message


def test_timely_filing_near():
    # DOS 2025-09-10 + 180 days = 2026-03-09, 7 days after as_of.
    f = one(run([line(row=3, pid="P2", dos=date(2025, 9, 10))]), "date.timely-filing-near")
    assert f.severity is Severity.WARNING
    assert "2026-03-09" in f.fix


def test_timely_filing_medicare_one_year_default():
    r = run([line(row=3, dos=date(2025, 2, 28))], as_of=date(2026, 3, 2))
    assert "2026-02-28" in one(r, "date.timely-filing-passed").message
    assert not [f for f in run([line(row=3, dos=date(2025, 3, 20))], as_of=date(2026, 3, 2)).findings
                if f.rule.startswith("date.timely")]


def test_timely_filing_skips_billed_lines():
    lines = [line(row=3, pid="P2", dos=date(2025, 8, 1), status="Billed"),
             line("97535", row=4, pid="P2", dos=date(2025, 8, 1), minutes=15, units=1, claim_id="C1"),
             line("97110", row=5, pid="P2", dos=date(2025, 8, 1), minutes=15, units=1, status="rejected")]
    found = only(run(lines), "date.timely-filing-passed")
    assert [f.location.row for f in found] == [5]


AUTH = Payer(payer_key="AUT", payer_type=PayerType.MEDICAID, requires_auth=True, timely_filing_days=365)


def _auth_run(lines, **kw):
    base = dict(payer_key="AUT", auth_number="A-1", auth_start=date(2026, 1, 10), auth_end=date(2026, 2, 28))
    base.update(kw)
    return run(lines, payers=(MCR, COM, AUTH), patients=(patient("P1", **base), patient("P3", payer_key="AUT")))


def test_auth_missing():
    f = one(_auth_run([line(row=3)], auth_number=""), "auth.missing")
    assert f.severity is Severity.ERROR
    assert where(f) == ("Patients", None, "AuthNumber")
    assert "P1" not in f.message and len(only(_auth_run([line(row=3)], auth_number=""), "auth.missing")) == 1  # P3 has no charge lines: not reported; no PatientID echoed
    assert not only(_auth_run([line(row=3)]), "auth.missing")


def test_auth_outside_window():
    r = _auth_run([line(row=3, dos=date(2026, 1, 9)), line(row=4, dos=date(2026, 1, 10)),
                   line(row=5, dos=date(2026, 3, 1))])
    found = only(r, "auth.outside-window")
    assert [where(f) for f in found] == [("Charges", 3, "DOS"), ("Charges", 5, "DOS")]
    assert found[0].severity is Severity.ERROR


def test_auth_visits_exceeded():
    lines = [line(row=3, dos=date(2026, 1, 12)), line(row=4, dos=date(2026, 1, 14)),
             line(row=5, dos=date(2026, 1, 16)), line("97535", row=6, dos=date(2026, 1, 16), minutes=15, units=1),
             line(row=7, dos=date(2026, 1, 5))]  # outside the window: not counted
    found = only(_auth_run(lines, auth_visits=2), "auth.visits-exceeded")
    assert [where(f) for f in found] == [("Charges", 5, "DOS"), ("Charges", 6, "DOS")]
    assert found[0].severity is Severity.ERROR
    assert not only(_auth_run(lines, auth_visits=3), "auth.visits-exceeded")


def test_payer_visit_limit_per_calendar_year():
    lim = COM.model_copy(update={"visit_limit_per_year": 2, "timely_filing_days": 9999})
    pats = (patient("P2", payer_key="COM", poc_start=None, poc_end=None),)
    lines = [line(row=3, pid="P2", dos=date(2025, 12, 30)), line(row=4, pid="P2", dos=date(2026, 1, 6)),
             line(row=5, pid="P2", dos=date(2026, 1, 8)), line(row=6, pid="P2", dos=date(2026, 1, 9))]
    found = only(run(lines, payers=(MCR, lim), patients=pats), "payer.visit-limit")
    assert [where(f) for f in found] == [("Charges", 6, "DOS")]
    assert found[0].severity is Severity.WARNING
    assert not only(run(lines[:3], payers=(MCR, lim), patients=pats), "payer.visit-limit")
