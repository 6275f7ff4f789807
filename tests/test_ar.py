"""AR aging (issue 13 §3): buckets from the DOS (every edge by hand), open balances, totals per
payer and overall, and timely-filing risk flags (facts §7). Every expected number is a hand
calculation written beside it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from otbill_xl.domain.ar import (
    AT_RISK,
    BUCKET_LABELS,
    OK,
    PAST,
    UNKNOWN,
    OpenItem,
    age,
    bucket_for,
    filing_limit,
    filing_risk,
)
from otbill_xl.domain.models import Payer, PayerType

AS_OF = date(2026, 6, 30)
MEDICARE = Payer(payer_key="MCR", payer_type=PayerType.MEDICARE)  # TimelyFilingDays blank
MEDICAID = Payer(payer_key="MCD", payer_type=PayerType.MEDICAID)  # blank
ACME = Payer(payer_key="ACME", payer_type=PayerType.COMMERCIAL, timely_filing_days=90)
BLANK = Payer(payer_key="BLANK", payer_type=PayerType.COMMERCIAL)  # blank
PAYERS = {p.payer_key: p for p in (MEDICARE, MEDICAID, ACME, BLANK)}


def item(claim_id="C1", payer="ACME", dos=date(2026, 6, 1), billed="100.00", paid="0", adjusted="0", pr="0",
         status="billed", first_billed=None) -> OpenItem:
    return OpenItem(claim_id, payer, dos, D(billed), D(paid), D(adjusted), D(pr), status, first_billed)


@pytest.mark.parametrize(("dos", "days", "bucket"), [
    (date(2026, 6, 30), 0, "0-30"),     # same day
    (date(2026, 5, 31), 30, "0-30"),    # 30 June − 31 May = 30 days: still 0-30
    (date(2026, 5, 30), 31, "31-60"),   # 31 days
    (date(2026, 5, 1), 60, "31-60"),    # 1 May → 1 June 31 days, → 30 June 29: 60
    (date(2026, 4, 30), 61, "61-90"),
    (date(2026, 4, 1), 90, "61-90"),    # 1 April → 1 May 30 days, + 60 (above): 90
    (date(2026, 3, 31), 91, "91-120"),
    (date(2026, 3, 2), 120, "91-120"),  # 2 March → 1 April 30 days, + 90 (1 April, above): 120
    (date(2026, 3, 1), 121, "120+"),
    (date(2025, 6, 30), 365, "120+"),   # one year, 2026 not a leap year
    (date(2026, 7, 3), -3, "0-30"),     # DOS after as_of (entered ahead): counted as 0 days old
])
def test_bucket_edges(dos, days, bucket):
    result = age([item(dos=dos)], AS_OF, PAYERS)
    (row,) = result.rows
    assert row.age_days == days and row.bucket == bucket
    assert bucket_for(days) == bucket


def test_bucket_labels_in_order():
    assert BUCKET_LABELS == ("0-30", "31-60", "61-90", "91-120", "120+")


def test_open_balance_and_zero_balances_drop_out():
    items = [
        item("PAID", billed="100.00", paid="60.00", adjusted="25.00", pr="15.00", status="paid"),  # 100−60−25−15 = 0
        item("PART", billed="130.00", paid="50.00", adjusted="20.00", status="partially paid"),   # 130−50−20 = 60
        item("OPEN", billed="95.00"),                                                              # nothing back: 95
        item("OVER", billed="50.00", paid="55.00", status="paid"),                                 # overpaid: −5 stays
    ]
    result = age(items, AS_OF, PAYERS)
    assert {r.claim_id: r.open_balance for r in result.rows} == {"PART": D("60.00"), "OPEN": D("95.00"),
                                                                 "OVER": D("-5.00")}


def test_totals_per_payer_and_overall():
    items = [
        item("A1", "ACME", date(2026, 6, 20), "100.00"),                  # 10 days → 0-30
        item("A2", "ACME", date(2026, 5, 1), "80.00", paid="30.00"),      # 60 days → 31-60, open 50
        item("A3", "ACME", date(2026, 2, 1), "40.00"),                    # 149 days → 120+
        item("M1", "MCR", date(2026, 4, 15), "120.00", adjusted="20.00"),  # 76 days → 61-90, open 100
        item("M2", "MCR", date(2026, 3, 15), "60.00"),                    # 107 days → 91-120
    ]
    result = age(items, AS_OF, PAYERS)
    acme, mcr = result.by_payer["ACME"], result.by_payer["MCR"]
    assert acme.buckets == {"0-30": D("100.00"), "31-60": D("50.00"), "61-90": D("0"), "91-120": D("0"),
                            "120+": D("40.00")}
    assert acme.total == D("190.00") and acme.claims == 3          # 100 + 50 + 40
    assert mcr.buckets["61-90"] == D("100.00") and mcr.buckets["91-120"] == D("60.00")
    assert mcr.total == D("160.00") and mcr.claims == 2             # 100 + 60
    assert result.total.total == D("350.00") and result.total.claims == 5  # 190 + 160
    assert result.total.buckets == {"0-30": D("100.00"), "31-60": D("50.00"), "61-90": D("100.00"),
                                    "91-120": D("60.00"), "120+": D("40.00")}
    assert list(result.by_payer) == ["ACME", "MCR"]
    assert [r.claim_id for r in result.rows] == ["A3", "A2", "A1", "M2", "M1"]  # per payer, oldest DOS first
    assert all(isinstance(v, D) for v in result.total.buckets.values())


# -- timely filing -----------------------------------------------------------------------------

def test_filing_limits_by_payer_type():
    assert filing_limit(MEDICARE) == "year"   # facts §7: 12 months after the DOS
    assert filing_limit(MEDICAID) == 365      # facts §7 [U]: 12 months (42 CFR 447.45(d)), blank only
    assert filing_limit(Payer(payer_key="X", payer_type=PayerType.MEDICAID, timely_filing_days=180)) == 180
    assert filing_limit(ACME) == 90
    assert filing_limit(BLANK) is None and filing_limit(None) is None


def test_medicare_29_february_deadline_and_flags():
    leap = item(payer="MCR", dos=date(2024, 2, 29))
    # Facts §7: a 29 February DOS must be filed by 28 February of the next year.
    assert filing_risk(leap, MEDICARE, date(2025, 3, 1))[:2] == (date(2025, 2, 28), PAST)
    assert filing_risk(leap, MEDICARE, date(2025, 2, 28))[1] == AT_RISK     # 0 days left
    assert filing_risk(leap, MEDICARE, date(2025, 1, 29))[1] == AT_RISK     # 30 days left (Jan 29 → Feb 28)
    assert filing_risk(leap, MEDICARE, date(2025, 1, 28))[1] == OK          # 31 days left
    assert "CO-29" in filing_risk(leap, MEDICARE, date(2025, 3, 1))[2]


def test_accepted_claims_are_never_past():
    paid = item(payer="MCR", dos=date(2024, 2, 29), paid="10.00", status="paid")
    assert filing_risk(paid, MEDICARE, date(2025, 6, 1))[1] == OK
    denied = item(payer="MCR", dos=date(2024, 2, 29), status="denied")
    assert filing_risk(denied, MEDICARE, date(2025, 6, 1))[1] == OK
    # "submitted" is not acceptance: a rejected claim does not stop the clock (facts §7).
    submitted = item(payer="MCR", dos=date(2024, 2, 29), status="submitted", first_billed=date(2024, 3, 5))
    deadline, flag, note = filing_risk(submitted, MEDICARE, date(2025, 6, 1))
    assert flag == PAST and "billed 2024-03-05" in note and "277CA" in note


def test_medicaid_default_and_commercial_days():
    # Medicaid blank: 2026-01-10 + 365 days = 2027-01-10 (2026 has no 29 February).
    assert filing_risk(item(payer="MCD", dos=date(2026, 1, 10)), MEDICAID, AS_OF)[:2] == (date(2027, 1, 10), OK)
    # ACME 90 days: 2026-03-01 + 90 = 30 (March 1→31) + 30 (April) + 30 (May 30) → 2026-05-30.
    assert filing_risk(item(dos=date(2026, 3, 1)), ACME, AS_OF)[:2] == (date(2026, 5, 30), PAST)
    # 2026-04-15 + 90 → 16 (April) + 31 (May) + 30 (June) + 13 → 2026-07-14; 14 days after AS_OF → at risk.
    assert filing_risk(item(dos=date(2026, 4, 15)), ACME, AS_OF)[:2] == (date(2026, 7, 14), AT_RISK)


def test_commercial_blank_is_unknown():
    deadline, flag, note = filing_risk(item(payer="BLANK"), BLANK, AS_OF)
    assert (deadline, flag) == (None, UNKNOWN) and note == "unknown: set TimelyFilingDays on the Payers sheet"
    assert filing_risk(item(payer="NOPE"), None, AS_OF)[1] == UNKNOWN


def test_at_risk_window_is_configurable():
    claim = item(dos=date(2026, 4, 15))  # deadline 2026-07-14, 14 days after AS_OF (see above)
    assert filing_risk(claim, ACME, AS_OF, at_risk_days=13)[1] == OK
    assert filing_risk(claim, ACME, AS_OF, at_risk_days=14)[1] == AT_RISK
    assert age([claim], AS_OF, PAYERS, at_risk_days=13).rows[0].filing_flag == OK


def test_aging_rows_carry_the_flags():
    result = age([item("OLD", dos=date(2026, 3, 1)), item("NEW", dos=AS_OF - timedelta(days=5))], AS_OF, PAYERS)
    flags = {r.claim_id: (r.filing_deadline, r.filing_flag) for r in result.rows}
    # NEW: DOS 2026-06-25 + 90 = 5 (June) + 31 (July) + 31 (August) + 23 → 2026-09-23.
    assert flags == {"OLD": (date(2026, 5, 30), PAST), "NEW": (date(2026, 9, 23), OK)}
