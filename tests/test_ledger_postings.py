"""The ledger's record of posted remittance lines (schema 5): pending → written, released when the
copy never appeared, never recorded twice (issue #13 §2: the same remittance is never posted twice).
Each test runs on SQLite and on PostgreSQL (the ``ledger_at`` fixture, issue #16 §1)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

from otbill_xl.domain.reconcile import PostedRecord
from otbill_xl.ledger import Ledger

AT = datetime(2026, 11, 28, 10, 0)


def rec(key: str, line: str = "L1", status: str = "paid", paid: str = "45.47") -> PostedRecord:
    return PostedRecord(key, "MCR", "EFT1", "OTCLAIM1", line, "PCN-1", status, D(paid), "era.835")


def test_reserve_then_written_then_seen(tmp_path, ledger_at):
    out = tmp_path / "copy.xlsx"
    with Ledger(ledger_at) as ledger:
        assert ledger.reserve_postings("NPI", [rec("K1"), rec("K2", "L2")], output=str(out), posted_at=AT) == []
        out.write_bytes(b"the copy")
        ledger.settle_postings(str(out), written=True)
        seen = ledger.postings("NPI", keys=["K1", "K3"], claim_ids=["OTCLAIM1"], payer_claim_numbers=["PCN-1"])
    assert seen.keys == {"K1", "K2"}            # K1 asked for; K2 posted for the same claim
    assert seen.payer_claims == {"PCN-1": "OTCLAIM1"}
    assert seen.paid[("OTCLAIM1", "L1")] == [("EFT1", D("45.47"))]


def test_a_key_taken_by_another_run_is_refused(tmp_path, ledger_at):
    with Ledger(ledger_at) as ledger:
        ledger.reserve_postings("NPI", [rec("K1")], output=str(tmp_path / "a.xlsx"), posted_at=AT)
        assert ledger.reserve_postings("NPI", [rec("K1"), rec("K2")], output=str(tmp_path / "b.xlsx"),
                                       posted_at=AT) == ["K1"]
        # nothing of the refused batch was recorded
        assert ledger.postings("NPI", keys=["K2"], claim_ids=[], payer_claim_numbers=[]).keys == frozenset()


def test_a_run_that_stopped_before_its_copy_is_released_on_the_next_start(tmp_path, ledger_at):
    written, lost = tmp_path / "written.xlsx", tmp_path / "lost.xlsx"
    with Ledger(ledger_at) as ledger:
        ledger.reserve_postings("NPI", [rec("K1")], output=str(written), posted_at=AT)
        ledger.reserve_postings("NPI", [rec("K2", "L2"), rec("K3", "L3")], output=str(lost), posted_at=AT)
        written.write_bytes(b"copy")   # the first run wrote its copy, then stopped before settling
        assert ledger.resolve_pending_postings() == 2
        seen = ledger.postings("NPI", keys=["K1", "K2", "K3"], claim_ids=[], payer_claim_numbers=[])
    assert seen.keys == {"K1"}       # kept: its copy exists; K2, K3 released: may be posted again


def test_a_reversal_is_remembered(tmp_path, ledger_at):
    with Ledger(ledger_at) as ledger:
        ledger.reserve_postings("NPI", [rec("K1"), rec("K9", status="reversed", paid="-45.47")],
                                output=str(tmp_path / "c.xlsx"), posted_at=AT)
        seen = ledger.postings("NPI", keys=[], claim_ids=["OTCLAIM1"], payer_claim_numbers=[])
    assert seen.reversed == {("OTCLAIM1", "L1")}
    assert sum(p for _t, p in seen.paid[("OTCLAIM1", "L1")]) == 0
