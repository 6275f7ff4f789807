"""The PostgreSQL ledger (issue #16 §1) against a real server (tests/pgserver.py): one schema from one
list of migrations, applied once under a lock; the ``otbill ledger`` commands; ``otbill ledger
migrate`` from SQLite. The billing and posting tests run on both backends in test_never_twice.py,
test_claims.py and test_ledger_postings.py (the ``ledger_at`` fixture); the concurrent load test is
in test_ledger_pg_load.py."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from test_never_twice import acme_patients, book, claims_cli, line, two_payer_rows
from typer.testing import CliRunner

from otbill_xl.cli import app
from otbill_xl.domain.reconcile import PostedRecord
from otbill_xl.ledger import Ledger
from otbill_xl.ledger.schema import SCHEMA_VERSION

runner = CliRunner()


def _sqlite_schema(path: Path) -> tuple[dict[str, list[str]], set[str]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    cols = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND name NOT LIKE "
                                          "'sqlite_autoindex%'")}
    conn.close()
    return cols, indexes


def _pg_schema(url: str) -> tuple[dict[str, list[str]], set[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                            "current_schema() ORDER BY table_name, ordinal_position").fetchall()
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                              "AND indexname NOT LIKE '%%_pkey' AND indexname NOT LIKE '%%_key'")}
    cols: dict[str, list[str]] = {}
    for table, column in rows:
        if column != "rowid":  # SQLite's implicit rowid, explicit on PostgreSQL
            cols.setdefault(table, []).append(column)
    return cols, indexes


def test_both_dialects_get_the_same_schema_from_one_migration_list(tmp_path, pg_url):
    Ledger(tmp_path / "l.sqlite").close()
    Ledger(pg_url).close()
    lite, pg = _sqlite_schema(tmp_path / "l.sqlite"), _pg_schema(pg_url)
    assert pg == lite
    assert sorted(lite[0]) == ["batch_inputs", "billed_lines", "claims", "counters", "files", "meta", "posted_remits",
                               "runs"]
    assert "billed_by_claim" in lite[1] and len(lite[1]) == 10  # the CREATE INDEX statements in MIGRATIONS


def _first_use(url: str, queue) -> None:
    with Ledger(url) as lg:
        queue.put(lg.next_numbers()[0])


def test_migrations_run_once_under_the_lock_when_several_processes_open_a_new_ledger(pg_url):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_first_use, args=(pg_url, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    got = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert got == [1, 2, 3, 4] and [p.exitcode for p in procs] == [0, 0, 0, 0]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [(str(SCHEMA_VERSION),)]
        assert conn.execute("SELECT count(*) FROM counters").fetchone() == (3,)


def test_a_read_only_look_at_an_empty_database_creates_nothing(pg_url):
    with Ledger(pg_url, readonly=True) as lg:
        assert lg.summary()["claims"] == 0 and lg.counters() == {"interchange": 0, "group": 0, "transaction": 0}
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('meta')").fetchone() == (None,)


def test_an_unreachable_server_is_a_clear_error_without_the_password(tmp_path):
    src = book(tmp_path / "p.xlsx", [line("L1")])
    url = "postgresql://biller:pw-9f3@127.0.0.1:9/otbill"  # port 9 (discard): nothing listens
    result = claims_cli(str(src), "--out", str(tmp_path / "o"), "--ledger", url)
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "cannot be reached" in message and "biller:***@127.0.0.1:9/otbill" in message
    assert "pw-9f3" not in message and not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("*.837"))


def test_ledger_where_show_check_on_postgresql(tmp_path, pg_url):
    src = book(tmp_path / "p.xlsx", two_payer_rows(), Patients=acme_patients())
    assert claims_cli(str(src), "--out", str(tmp_path / "o"), "--ledger", pg_url).exit_code == 0
    where = json.loads(runner.invoke(app, ["ledger", "where", "--ledger", pg_url, "--json"]).stdout)
    assert where == {"path": pg_url, "how": "option", "exists": True, "legacy": None}
    show = json.loads(runner.invoke(app, ["ledger", "show", "--ledger", pg_url, "--json"]).stdout)
    # the same figures as test_never_twice.py::test_ledger_where_show_check on SQLite
    assert show["practices"] == ["1234567893"] and show["claims"] == 3 and show["lines_billed"] == 3
    assert {p["payer"]: p["lines"] for p in show["payers"]} == {"ACME": 1, "MCR": 2}
    assert show["control_numbers"] == {"interchange": 2, "group": 2, "transaction": 2}
    for f in show["files"]:
        assert hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest() == f["sha256"] and f["state"] == "written"
    ok = runner.invoke(app, ["ledger", "check", "--ledger", pg_url, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    Path(show["files"][0]["path"]).write_text("edited\n")
    bad = runner.invoke(app, ["ledger", "check", "--ledger", pg_url, "--json"])
    assert bad.exit_code == 1 and "content differs" in json.loads(bad.stdout)["problems"][0]
    text = runner.invoke(app, ["ledger", "show", "--ledger", pg_url])
    assert text.exit_code == 0 and "3 claims, 3 lines billed" in " ".join(text.output.split())


def _sqlite_ledger_with_history(tmp_path: Path) -> tuple[Path, Path]:
    """A SQLite ledger with two files (ACME, MCR: 3 lines), a posting, a batch input, runs."""
    src = book(tmp_path / "p.xlsx", two_payer_rows(), Patients=acme_patients())
    lite = tmp_path / "l.sqlite"
    assert claims_cli(str(src), "--out", str(tmp_path / "o"), "--ledger", str(lite)).exit_code == 0
    with Ledger(lite) as lg:
        lg.reserve_postings("1234567893", [PostedRecord("K1", "MCR", "EFT1", "OTC1", "L1", "PCN-1", "paid",
                                                        Decimal("45.47"), "era.835")],
                            output=str(tmp_path / "copy.xlsx"), posted_at=datetime(2026, 8, 30, 9, 0))
        lg.settle_postings(str(tmp_path / "copy.xlsx"), written=True)
        lg.mark_input("ab" * 32, str(src), "converted", datetime(2026, 8, 20, 9, 0))
    return src, lite


def test_migrate_sqlite_to_postgresql_then_bill_on_it(tmp_path, pg_url):
    src, lite = _sqlite_ledger_with_history(tmp_path)
    result = runner.invoke(app, ["ledger", "migrate", "--from", f"sqlite:{lite}", "--to", pg_url, "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    # 2 files (ACME, MCR), 3 claims, 3 lines (two_payer_rows), 1 posting, 1 batch input, 1 run
    assert done["outcome"] == "copied" and done["rows"] == {"runs": 1, "files": 2, "claims": 3, "billed_lines": 3,
                                                            "posted_remits": 1, "batch_inputs": 1}
    assert done["control_numbers"] == {"interchange": 2, "group": 2, "transaction": 2}
    with Ledger(lite, readonly=True) as a, Ledger(pg_url, readonly=True) as b:
        assert a.summary() | {"path": ""} == b.summary() | {"path": "", "exists": True}
        assert a.files() == b.files()
        assert b.postings("1234567893", keys=["K1"], claim_ids=[], payer_claim_numbers=[]).keys == {"K1"}
        assert b.input_done("ab" * 32) == "converted"
    # Again: the same content is there — nothing done, nothing doubled.
    again = json.loads(runner.invoke(app, ["ledger", "migrate", "--from", str(lite), "--to", pg_url,
                                           "--json"]).stdout)
    assert again["outcome"] == "already-migrated" and again["rows"] == done["rows"]
    with Ledger(pg_url, readonly=True) as b:
        assert b.summary()["lines_billed"] == 3
    # Billing on the migrated ledger: the three lines are held back; a new line gets ISA13 3 (past 2).
    grown = book(tmp_path / "p.xlsx", [*two_payer_rows(), line("L9", dos="8/11/2026")], Patients=acme_patients())
    billed = json.loads(claims_cli(str(grown), "--out", str(tmp_path / "o"), "--ledger", pg_url).stdout)
    assert billed["lines_billed"] == 1 and [f["interchange"] for f in billed["files"]] == [3]
    # Now the target holds more than the source: refused, nothing copied.
    refused = runner.invoke(app, ["ledger", "migrate", "--from", f"sqlite:{lite}", "--to", pg_url])
    message = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "already holds a different ledger" in message and "nothing was copied" in message
    with Ledger(pg_url, readonly=True) as b:
        assert b.summary()["lines_billed"] == 4


def test_migrate_refuses_a_missing_source_and_names_the_form(tmp_path, pg_url):
    result = runner.invoke(app, ["ledger", "migrate", "--from", f"sqlite:{tmp_path / 'none.sqlite'}", "--to", pg_url])
    assert result.exit_code == 2 and "no ledger file there" in " ".join(result.output.split())


def test_migrate_back_from_postgresql_to_sqlite(tmp_path, pg_url):
    _src, lite = _sqlite_ledger_with_history(tmp_path)
    assert runner.invoke(app, ["ledger", "migrate", "--from", str(lite), "--to", pg_url]).exit_code == 0
    back = tmp_path / "back.sqlite"
    result = runner.invoke(app, ["ledger", "migrate", "--from", pg_url, "--to", f"sqlite:{back}", "--json"])
    assert result.exit_code == 0, result.output
    with Ledger(lite, readonly=True) as a, Ledger(back, readonly=True) as b:
        assert a.files() == b.files() and a.counters() == b.counters()
        assert a.summary() | {"path": ""} == b.summary() | {"path": ""}


def _reserve(lg: Ledger, path: Path, key: str = "k") -> int:
    from otbill_xl.ledger import ClaimRecord, LineRecord

    rec = [ClaimRecord("OTA", "P001", "1", "", Decimal("65.00"), [LineRecord("L1", key, "s" + key, "", "97110", "GO",
                                                                             "1")])]
    return lg.reserve_file(path=str(path), part_path="", sha256="0", practice="P", payer_key="MCR",
                           numbers=lg.next_numbers(), claims=rec, total=Decimal("65.00"), created=datetime(2026, 8, 20))


def test_a_file_being_written_from_another_machine_is_left_alone_until_its_writer_is_gone(tmp_path, pg_url):
    """No .part file to look at from here: the writer's connection holds the file's advisory lock."""
    writer = Ledger(pg_url)
    _reserve(writer, tmp_path / "x.837")          # pending, no .part path: as seen from another machine
    with Ledger(pg_url) as other:
        assert [r.outcome for r in other.resolve_pending()] == ["in-progress"]
        assert other.history("P", line_keys=["k"], service_keys=[], sending_keys=[]).by_line  # still billed
    writer.close()                                 # the writer dies: its connection and lock are gone
    with Ledger(pg_url) as other:
        assert [r.outcome for r in other.resolve_pending()] == ["released"]
        assert not other.history("P", line_keys=["k"], service_keys=[], sending_keys=[]).by_line


def test_a_pending_file_in_a_folder_this_machine_does_not_see_stays_billed(tmp_path, pg_url):
    with Ledger(pg_url) as writer:
        _reserve(writer, tmp_path / "not-here" / "x.837")
    with Ledger(pg_url) as other:
        assert [r.outcome for r in other.resolve_pending()] == ["elsewhere"]
        assert other.history("P", line_keys=["k"], service_keys=[], sending_keys=[]).by_line
        assert [f["state"] for f in other.files()] == ["pending"]
    src = book(tmp_path / "p.xlsx", [line("L1")])
    notes = json.loads(claims_cli(str(src), "--out", str(tmp_path / "o"), "--ledger", pg_url).stdout)["notes"]
    assert any(n.startswith("x.837: pending, in a folder this machine does not see") for n in notes)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_history_reads_one_snapshot_while_another_run_records(tmp_path, backend, request, monkeypatch):
    """history() asks by line identity, then by service identity: a file another run records between
    the two queries must not be half-seen (by service only: an already-billed line would be held back
    as a "probable duplicate" of itself). Seen by both queries or by neither."""
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else str(tmp_path / "ledger.sqlite")
    reader, writer = Ledger(url), Ledger(url)
    real_rows = Ledger._rows
    calls = []

    def rows_then_record(self, sql_text, params=()):
        out = real_rows(self, sql_text, params)
        if self is reader and "b.line_identity IN" in sql_text and not calls:
            calls.append(1)
            _reserve(writer, tmp_path / "x.837", key="k")   # committed between the two queries
        return out

    monkeypatch.setattr(Ledger, "_rows", rows_then_record)
    seen = reader.history("P", line_keys=["k"], service_keys=["sk"], sending_keys=[])
    assert calls == [1] and not seen.by_line and not seen.by_service   # neither: the snapshot before it
    after = reader.history("P", line_keys=["k"], service_keys=["sk"], sending_keys=[])
    assert after.by_line and after.by_service                            # both, on the next read
    reader.close()
    writer.close()


def test_a_busy_ledger_or_a_deadlock_is_reported_in_words_and_records_nothing(tmp_path, pg_url, monkeypatch):
    import pytest

    from otbill_xl.ledger import LedgerError, dialect

    Ledger(pg_url).close()
    monkeypatch.setattr(dialect, "LOCK_TIMEOUT_S", 1)
    with psycopg.connect(pg_url) as holder:   # another program holds the write lock and does not let go
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (dialect.WRITE_LOCK,))
        with Ledger(pg_url) as lg, pytest.raises(LedgerError, match="stayed busy for 1 s .* nothing was recorded"):
            lg.next_numbers()
        src = book(tmp_path / "p.xlsx", [line("L1")])
        result = claims_cli(str(src), "--out", str(tmp_path / "o"), "--ledger", pg_url)
        assert result.exit_code == 2 and "stayed busy" in " ".join(result.output.split())
        holder.rollback()
    with Ledger(pg_url) as lg:
        conflict = "conflict with another program .*DeadlockDetected.* run again"
        with pytest.raises(LedgerError, match=conflict), lg.transaction() as conn:
            conn.execute("UPDATE counters SET value = 7")
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        assert lg.counters() == {"interchange": 0, "group": 0, "transaction": 0}   # rolled back
        assert lg.next_numbers() == (1, 1, 1)                                       # and usable
