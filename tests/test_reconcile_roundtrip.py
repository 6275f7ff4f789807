"""Round trip (issue #13 §5): the sample practice billed by ``otbill claims``, paid by the simulated
payer with every kind of planted outcome, reconciled by ``otbill reconcile``. Every planted outcome
must come back with its status, the totals must tie to the cent, and nothing is posted twice."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from test_simulate import OUTCOMES

from otbill_xl.actions.claims import create_claims
from otbill_xl.actions.reconcile import RemitFile, reconcile_payments
from otbill_xl.actions.simulate import simulate_remittances
from otbill_xl.formats.x12.read835 import read_835
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook
from otbill_xl.workbook.reader import read_book

SAMPLE = Path(__file__).resolve().parent.parent / "workbook_templates" / "examples" / "sample-practice.xlsx"
AS_OF = date(2026, 11, 27)
OUTPUT_SHEETS = ("Reconciliation", "Exceptions", "Denials", "Denials by Category", "Denials by Code", "AR Aging",
                 "AR by Payer")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("roundtrip")
    src = d / "sample.xlsx"
    shutil.copy(SAMPLE, src)
    port = FileWorkbook(src)
    ledger_path = d / "ledger.sqlite"
    with Ledger(ledger_path) as ledger:
        create_claims(port, out_dir=d / "claims", ledger=ledger, as_of=AS_OF, created=datetime(2026, 11, 27, 9, 30))
    billed = d / "billed.xlsx"
    port.save(str(billed))
    sim = simulate_remittances(billed, d / "claims", OUTCOMES, as_of=AS_OF)
    era = d / "era.835"
    era.write_text(sim.text)
    out = d / "reconciled.xlsx"
    with Ledger(ledger_path) as ledger:
        outcome = reconcile_payments(FileWorkbook(billed), [RemitFile(era.name, era.read_bytes())], as_of=AS_OF,
                                     posted_at=datetime(2026, 11, 28, 10, 0), ledger=ledger, output=out)
    return {"dir": d, "billed": billed, "era": era, "sim": sim, "out": out, "outcome": outcome,
            "ledger": ledger_path}


def statuses(outcome) -> dict[tuple[str, str], list[str]]:
    got: dict[tuple[str, str], list[str]] = {}
    for r in outcome.result.lines:
        got.setdefault((r.claim_id, r.line_id), []).append(r.status)
    return got


def test_every_planted_outcome_is_classified(world):
    got = statuses(world["outcome"])
    sim = world["sim"]
    kinds = {p.outcome for p in sim.planted}
    assert {"deny", "underpay", "overpay", "reverse", "takeback", "duplicate", "skip", "unmatched",
            "drop_modifiers", "change_code"} <= kinds
    for p in sim.planted:
        if p.outcome == "takeback":  # a PLB: the claim's lines are paid, the PLB is reported
            assert ("WO", p.amount, p.claim_id) in {(a.reason, a.amount, a.claim_id) for a in world["outcome"].result.plb}
            continue
        if p.outcome == "unmatched":
            assert any(r.status == "unmatched_remittance" and r.claim_id == p.claim_id
                       for r in world["outcome"].result.lines), p
            continue
        assert p.status in got.get((p.claim_id, p.line_id), []), (p, got.get((p.claim_id, p.line_id)))


def test_lines_without_an_outcome_are_paid_as_priced(world):
    planted = {(p.claim_id, p.line_id) for p in world["sim"].planted}
    planted |= {(p.claim_id, line) for p in world["sim"].planted for (c, line) in statuses(world["outcome"])
                if c == p.claim_id}
    plain = [r for r in world["outcome"].result.lines if (r.claim_id, r.line_id) not in planted]
    assert len(plain) > 1000
    assert {r.status for r in plain} <= {"paid", "patient_responsibility", "denied"}
    # 'denied' only for the unpriced lines the simulator denies CO-97 (Medicare 97010 without an RVU)
    assert all(r.carc == "CO-97" for r in plain if r.status == "denied")
    assert all(r.variance.unexplained == 0 for r in plain)


def test_totals_tie_to_the_cent(world):
    remits = read_835(world["era"].read_bytes())
    lines = [r for r in world["outcome"].result.lines if r.status != "open"]
    clp04 = sum((c.paid for r in remits for c in r.claims), D(0))
    assert sum((r.paid for r in lines), D(0)) == clp04
    plb = sum((a.amount for r in remits for a in r.provider_adjustments), D(0))
    assert sum((r.amount for r in remits), D(0)) == clp04 - plb      # BPR02 = Σ CLP04 − Σ PLB
    posted = [r for r in lines if r.status not in ("duplicate_payment", "unmatched_remittance")]
    payments = world["outcome"].result.payments
    assert sum((p.paid for p in payments), D(0)) == sum((r.paid for r in posted), D(0))
    # every posted line balances: billed = paid + adjustments
    for r in posted:
        assert r.billed == r.paid + sum((a for _g, _c, a in r.adjustments), D(0)), r


def test_the_copy_has_the_payments_and_the_sheets_and_the_input_is_untouched(world):
    before = read_book(FileWorkbook(world["billed"]), skip=frozenset()).book.payments   # the sample's own rows
    book = read_book(FileWorkbook(world["out"]), skip=frozenset()).book
    assert world["outcome"].posted_rows == len(world["outcome"].result.payments) > 1000
    assert len(book.payments) == len(before) + world["outcome"].posted_rows
    assert book.payments[:len(before)] == before    # appended below, nothing earlier changed
    assert read_book(FileWorkbook(world["billed"]), skip=frozenset()).book.payments == before   # input untouched
    names = FileWorkbook(world["out"]).sheet_names()
    for sheet in OUTPUT_SHEETS:
        assert sheet in names
    from openpyxl import load_workbook

    wb = load_workbook(world["out"], read_only=False)
    assert len(wb["Denials by Category"]._charts) == 1
    assert len(wb["AR by Payer"]._charts) == 1


def test_reconciling_again_posts_nothing_twice(world, tmp_path):
    era = RemitFile("renamed copy.835", world["era"].read_bytes())
    # the reconciled copy again, same ledger: everything already posted
    with Ledger(world["ledger"]) as ledger:
        again = reconcile_payments(FileWorkbook(world["out"]), [era], as_of=AS_OF, posted_at=datetime(2026, 11, 29),
                                   ledger=ledger, output=tmp_path / "again.xlsx")
    remitted = [r for r in again.result.lines if r.status != "open"]
    assert {r.status for r in remitted} <= {"already_posted", "unmatched_remittance", "duplicate_payment"}
    assert again.posted_rows == 0
    # the billed workbook (no Payments rows), same ledger: the ledger remembers
    with Ledger(world["ledger"]) as ledger:
        ledger_only = reconcile_payments(FileWorkbook(world["billed"]), [era], as_of=AS_OF,
                                         posted_at=datetime(2026, 11, 29), ledger=ledger,
                                         output=tmp_path / "ledger-only.xlsx")
    assert ledger_only.posted_rows == 0
    # the reconciled copy with a brand-new ledger: the PaymentIDs on the Payments sheet remember
    with Ledger(tmp_path / "new-ledger.sqlite") as ledger:
        sheet_only = reconcile_payments(FileWorkbook(world["out"]), [era], as_of=AS_OF,
                                        posted_at=datetime(2026, 11, 29), ledger=ledger,
                                        output=tmp_path / "sheet-only.xlsx")
    assert sheet_only.posted_rows == 0


def test_a_dry_run_writes_nothing(world, tmp_path):
    ledger_path = tmp_path / "ledger.sqlite"
    shutil.copy(world["ledger"], ledger_path)
    before = sqlite3.connect(ledger_path).execute("SELECT count(*) FROM posted_remits").fetchone()[0]
    with Ledger(ledger_path, readonly=True) as ledger:
        dry = reconcile_payments(FileWorkbook(world["billed"]), [RemitFile("era.835", world["era"].read_bytes())],
                                 as_of=AS_OF, posted_at=datetime(2026, 11, 29), ledger=ledger, dry_run=True,
                                 output=tmp_path / "dry.xlsx")
    assert not (tmp_path / "dry.xlsx").exists()
    assert dry.posted_rows == 0
    assert sqlite3.connect(ledger_path).execute("SELECT count(*) FROM posted_remits").fetchone()[0] == before


def test_posted_primary_payments_feed_secondary_claims(world, tmp_path):
    with Ledger(world["ledger"]) as ledger:
        outcome = create_claims(FileWorkbook(world["out"]), out_dir=tmp_path / "secondary", ledger=ledger,
                                as_of=AS_OF, created=datetime(2026, 11, 29, 9, 0), secondary=True, dry_run=True)
    assert outcome.assembly.claims, [h.reasons for h in outcome.assembly.held_back[:5]]
    assert all(c.sequence == "S" and c.other_payers for c in outcome.assembly.claims)


def test_denials_rows_have_a_category_an_action_and_a_deadline_for_medicare(world):
    denials = world["outcome"].receivables.denials
    assert denials
    for d in denials:
        assert d.denial.category and d.denial.next_action
    medicare = [d for d in denials if d.line.payer_key == "MEDICARE" and d.denial.route == "appeal"]
    for d in medicare:  # 120 days from the remittance date (42 CFR 405.942(a))
        assert (d.denial.deadline - d.line.payment_date).days == 120


def test_ar_aging_holds_the_skipped_claim(world):
    skipped = [p for p in world["sim"].planted if p.outcome == "skip"]
    assert skipped
    aging = {r.claim_id: r for r in world["outcome"].receivables.aging.rows}
    for p in skipped:
        assert p.claim_id in aging and aging[p.claim_id].open_balance > 0
        # DOS in October/November 2026, as of 2026-11-27: within 0-60 days
        assert aging[p.claim_id].bucket in ("0-30", "31-60")


def test_libreoffice_opens_the_reconciled_copy(world, tmp_path):
    from openpyxl import load_workbook
    from test_xlsx_patch import libreoffice_resave

    resaved = load_workbook(libreoffice_resave(world["out"], tmp_path), read_only=True)
    assert set(OUTPUT_SHEETS) <= set(resaved.sheetnames)


# -- the command ---------------------------------------------------------------------------------------

def _cli(args):
    from typer.testing import CliRunner

    from otbill_xl.cli import app

    return CliRunner().invoke(app, args)


def test_cli_json_shape_exit_codes_and_refusals(world, tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    shutil.copy(world["ledger"], ledger)
    sqlite3.connect(ledger).execute("DELETE FROM posted_remits").connection.commit()
    target = tmp_path / "out.xlsx"
    result = _cli(["reconcile", str(world["billed"]), "--remit", str(world["era"]), "--json", "--ledger", str(ledger),
                   "--out", str(target), "--as-of", "2026-11-27"])
    assert result.exit_code == 1, result.output   # exceptions (the duplicate, the unmatched line) remain
    data = json.loads(result.stdout)
    line = next(x for x in data["lines"] if x["status"] == "paid")
    assert set(line) >= {"claim_id", "line_id", "payer", "dos", "code", "modifiers", "status", "billed",
                         "expected_allowed", "allowed", "paid", "patient_responsibility", "adjustments", "variance",
                         "carc", "category", "next_action", "match"}
    assert set(line["variance"]) >= {"sequestration", "mppr", "assistant", "patient", "contractual", "unexplained"}
    assert isinstance(line["paid"], str) and set(line["match"]) == {"by", "confidence"}
    assert set(data["totals"]) >= {"billed", "paid", "patient_responsibility", "adjustments_by_group", "plb",
                                   "unexplained"}
    assert set(data["counts"]) == {"paid", "underpaid", "overpaid", "denied", "partially_denied",
                                   "patient_responsibility", "reversed", "readjudicated", "unmatched_remittance",
                                   "open", "duplicate_payment", "already_posted"}
    assert data["posted_rows"] > 0 and target.exists()
    # never replaces a file (an earlier run's postings would be lost)
    again = _cli(["reconcile", str(world["billed"]), "--remit", str(world["era"]), "--ledger", str(ledger),
                  "--out", str(target)])
    assert again.exit_code == 2 and "never replaces" in again.output
    # an unreadable remittance file: exit 2, the message names the file
    bad = tmp_path / "bad.835"
    bad.write_text("ISA*garbage")
    broken = _cli(["reconcile", str(world["billed"]), "--remit", str(bad), "--ledger", str(ledger), "--dry-run"])
    assert broken.exit_code == 2 and "bad.835" in broken.output
    assert "Traceback" not in broken.output


# -- the same payment as a clearinghouse CSV export -------------------------------------------------------

def hdi_csv(remits) -> str:
    """The remittances as Healthcare Data Insight's 835 CSV (docs/remittance-csv.md, preset hdi): one row
    per service line with its claim's columns, up to five line adjustments in numbered columns."""
    import csv
    import io

    head = ["CheckOrEftTraceNumber", "PaymentDate", "TotalPaymentAmount", "PayerName", "PayerIdentifier",
            "PatientControlNumber", "PayerControlNumber", "ClaimStatus", "ChargeAmount", "PaymentAmount",
            "LineControlNumber", "LineServiceDateFrom", "LineProcedureCode", "LineProcedureModifier1Code",
            "LineProcedureModifier2Code", "LineProcedureModifier3Code", "LineUnitCount", "LineChargeAmount",
            "LineAllowedAmount", "LinePaidAmount"]
    for n in range(1, 6):
        head += [f"LineAdj{n}Group", f"LineAdj{n}ReasonCode", f"LineAdj{n}Amount"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    for r in remits:
        for c in r.claims:
            for s in c.services:
                mods = list(s.modifiers) + ["", "", ""]
                adj = [x for a in s.adjustments for x in (a.group, a.reason, str(a.amount))]
                w.writerow([r.trace_number, r.payment_date.strftime("%Y%m%d"), str(r.amount), r.payer_name, r.payer_id,
                            c.patient_control_number, c.payer_claim_number, c.status, str(c.charge), str(c.paid),
                            s.line_control_number, s.service_date.strftime("%Y%m%d") if s.service_date else "",
                            s.code, *mods[:3], str(s.units), str(s.charge),
                            "" if s.allowed is None else str(s.allowed), str(s.paid), *adj,
                            *[""] * (15 - len(adj))])
    return buf.getvalue()


def test_a_csv_export_reconciles_like_the_835_and_is_the_same_remittance(world, tmp_path):
    remits = read_835(world["era"].read_bytes())
    csv_text = hdi_csv(r for r in remits if not r.provider_adjustments)   # (a CSV export carries no PLB)
    csv_file = RemitFile("export.csv", csv_text.encode())
    fresh = tmp_path / "fresh-ledger.sqlite"
    with Ledger(fresh) as ledger:
        by_csv = reconcile_payments(FileWorkbook(world["billed"]), [csv_file], as_of=AS_OF,
                                    posted_at=datetime(2026, 11, 29), ledger=ledger, output=tmp_path / "csv.xlsx")
    from_835 = {(r.claim_id, r.line_id, r.trace): r.status for r in world["outcome"].result.lines if r.trace}
    from_csv = {(r.claim_id, r.line_id, r.trace): r.status for r in by_csv.result.lines if r.trace}
    assert from_csv and all(from_835[k] == v for k, v in from_csv.items()), \
        [(k, v, from_835.get(k)) for k, v in from_csv.items() if from_835.get(k) != v][:5]
    # posted from the 835 before: the CSV of the same payment is the same remittance, never posted again
    with Ledger(world["ledger"]) as ledger:
        again = reconcile_payments(FileWorkbook(world["billed"]), [csv_file], as_of=AS_OF,
                                   posted_at=datetime(2026, 11, 29), ledger=ledger, output=tmp_path / "again.xlsx")
    assert again.posted_rows == 0
    assert {r.status for r in again.result.lines if r.trace} <= {"already_posted", "duplicate_payment",
                                                                 "unmatched_remittance"}


# -- the ribbon's Reconcile payments, headless ------------------------------------------------------------

def test_ribbon_action_reads_the_remittance_folder_setting_and_posts_once(world, tmp_path):
    from otbill_xl.excel.macros import reconcile_payments_action, remittance_files

    folder = tmp_path / "remits"
    folder.mkdir()
    shutil.copy(world["era"], folder / "week1.835")
    (folder / "notes.docx").write_text("not a remittance")
    assert remittance_files("remits", tmp_path) == [folder / "week1.835"]      # relative to the workbook
    assert remittance_files(str(folder / "week1.835"), tmp_path) == [folder / "week1.835"]
    ledger = tmp_path / "ledger.sqlite"
    port = FileWorkbook(world["billed"])
    outcome = reconcile_payments_action(port, remittance_files("remits", tmp_path), ledger, AS_OF,
                                        datetime(2026, 11, 29, 8, 0))
    assert outcome.posted_rows == len(world["outcome"].result.payments)
    port.save(str(tmp_path / "live.xlsx"))
    again = reconcile_payments_action(FileWorkbook(tmp_path / "live.xlsx"), [folder / "week1.835"], ledger, AS_OF,
                                      datetime(2026, 11, 29, 9, 0))
    assert again.posted_rows == 0


def test_ar_keeps_denied_amounts_open_and_drops_claims_paid_as_priced(world):
    outcome = world["outcome"]
    aging = {r.claim_id: r for r in outcome.receivables.aging.rows}
    denied = [r for r in outcome.result.lines if r.status == "denied" and r.carc == "CO-97"
              and r.line_id == "L000005"]
    assert denied
    claim = denied[0].claim_id
    # the denial is worked from AR: the claim's open balance holds at least the denied charge
    assert claim in aging and aging[claim].open_balance >= denied[0].variance.denied
    assert aging[claim].filing_flag == "ok"   # adjudicated: the payer received it in time
    paid_claims = {r.claim_id for r in outcome.result.lines if r.status == "paid"}
    fully_paid = paid_claims - {r.claim_id for r in outcome.result.lines if r.status != "paid"}
    assert fully_paid and not (fully_paid & set(aging))


def test_posted_rows_join_the_practices_payments_table(world):
    from openpyxl import load_workbook

    ws = load_workbook(world["out"])["Payments"]
    (table,) = ws.tables.values()
    assert table.ref.endswith(f"{ws.max_row}") and table.autoFilter.ref.endswith(f"{ws.max_row}")
    before = load_workbook(world["billed"])["Payments"]
    assert ws.max_row == before.max_row + world["outcome"].posted_rows


def test_reconciling_on_a_postgresql_ledger_posts_once(world, tmp_path, pg_url):
    """Issue #16 §1: the ledger migrated to PostgreSQL with its postings released posts the remittance
    again exactly as on SQLite (the same rows), and a second reconciliation posts nothing."""
    import psycopg

    from otbill_xl.ledger.migrate import migrate_ledger

    moved = migrate_ledger(world["ledger"], pg_url)
    assert moved.counts["posted_remits"] > 0
    with psycopg.connect(pg_url) as conn:
        conn.execute("DELETE FROM posted_remits")
    era = RemitFile("era.835", world["era"].read_bytes())
    with Ledger(pg_url) as ledger:
        first = reconcile_payments(FileWorkbook(world["billed"]), [era], as_of=AS_OF,
                                   posted_at=datetime(2026, 11, 28, 10, 0), ledger=ledger, output=tmp_path / "pg.xlsx")
    assert first.posted_rows == world["outcome"].posted_rows > 0
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM posted_remits").fetchone()[0] == moved.counts["posted_remits"]
    with Ledger(pg_url) as ledger:
        again = reconcile_payments(FileWorkbook(world["billed"]), [era], as_of=AS_OF,
                                   posted_at=datetime(2026, 11, 29), ledger=ledger, output=tmp_path / "pg2.xlsx")
    assert again.posted_rows == 0
