"""Issue #13 benchmark: reconcile 100,000 remittance lines against 100,000 charges.

The 100,920-line benchmark book (``bench_scrub.million_line_book`` with 58 cohorts of the sample) is
scrubbed, priced and assembled into claims as ``otbill claims`` would; the simulated payer
(``domain.simulate``) pays every claim as priced, in one remittance per payer, written as an 835
(``write_835``). Measured in the same run, on those bytes and records:

* the 835 read (``read_835``) — the baseline;
* reconciliation proper (``domain.reconcile.reconcile``: claim and line matching, statuses, variance,
  Payments rows, ledger records) — target ≤ 2× the read;
* for information, building the reconciliation view of the Charges lines from the priced book
  (``actions.reconcile.charges_from``) and the Denials/AR summaries (``actions.receivables.build``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from benchmarks._util import line, ratio, timed

AS_OF = date(2026, 11, 27)


def run() -> None:
    import benchmarks.bench_scrub as bs
    from otbill_xl.actions import receivables
    from otbill_xl.actions.reconcile import charges_from
    from otbill_xl.actions.simulate import to_remittances
    from otbill_xl.domain import denials
    from otbill_xl.domain.claims import FILING_INDICATOR, assemble_claims
    from otbill_xl.domain.pricing import price_book
    from otbill_xl.domain.reconcile import RemitSource, reconcile
    from otbill_xl.domain.scrub import scrub
    from otbill_xl.domain.simulate import BilledClaim, BilledLine, Outcomes, PatientRef, simulate
    from otbill_xl.formats.x12.envelope import ControlNumbers
    from otbill_xl.formats.x12.read835 import read_835
    from otbill_xl.formats.x12.write835 import write_835

    book = bs.million_line_book(58)  # 58 × 1,740 = 100,920 lines
    scrubbed = scrub(book, as_of=AS_OF)
    pricing = price_book(book, units=scrubbed.computed_units)
    assembly = assemble_claims(book, scrubbed.findings, computed_units=scrubbed.computed_units)
    price_of = {p.row: p for p in pricing.lines}
    billed = [BilledClaim(c.claim_id, c.payer.payer_id, c.payer.payer_name, FILING_INDICATOR[c.payer.payer_type],
                          PatientRef("", "", c.member_id),
                          tuple(BilledLine(s.line_id, s.code, s.modifiers, s.charge, Decimal(s.units), s.dos,
                                           price_of.get(s.row)) for s in c.lines))
              for c in assembly.claims]
    simulation = simulate(billed, Outcomes(), AS_OF)
    text = write_835(to_remittances(simulation, book), sender_id="PAYER", receiver_id="CLINIC",
                     control=ControlNumbers(1, 1, 1), created=datetime(2026, 11, 27, 12, 0))
    data = text.encode()
    claim_of = assembly.claim_of_row
    charges = charges_from(book, claim_of, set(claim_of), pricing.lines, scrubbed.computed_units)
    payer_keys = {p.payer_id: p.payer_key for p in book.payers if p.payer_id}

    def category(_group: str, reason: str) -> str:
        return denials.carc_category(reason)

    def read():
        return read_835(data, "bench.835")

    remits = read()

    def match():
        return reconcile([RemitSource(r, "bench.835") for r in remits], charges, payer_keys=payer_keys,
                         categorize=category)

    result = match()
    n_lines = sum(len(c.services) for r in remits for c in r.claims)
    counts = {k: v for k, v in result.counts().items() if v}
    print(f"Reconcile benchmark: {len(charges):,} charge lines, {n_lines:,} remittance lines in "
          f"{sum(len(r.claims) for r in remits):,} claims, {len(data) / 1e6:.1f} MB of X12; statuses {counts}")
    t_read = timed(read, repeat=5)
    t_match = timed(match, repeat=5)
    t_view = timed(lambda: charges_from(book, claim_of, set(claim_of), pricing.lines, scrubbed.computed_units),
                   repeat=3)
    payers = book.payers_by_key
    t_owed = timed(lambda: receivables.build(result.lines, charges, (), result.payments, payers, AS_OF), repeat=3)
    line("835 read (read_835)", t_read)
    line("reconcile (match, classify, explain, Payments rows)", t_match)
    line("  (info) Charges view for reconciliation (charges_from)", t_view)
    line("  (info) Denials + AR aging (receivables.build)", t_owed)
    ratio("reconcile / 835 read", t_match / t_read, "(target ≤ 2.00)")
    ratio("(reconcile + Charges view + Denials/AR) / 835 read", (t_match + t_view + t_owed) / t_read)
