"""Ledger schema and its migrations, in one place, for both dialects. ``MIGRATIONS[n]`` takes version n
to n+1: a SQL script, or a function of the connection where rows must be rewritten. The scripts are
written in SQLite's SQL and run as they are on SQLite; on PostgreSQL each statement goes through
:func:`otbill_xl.ledger.dialect.postgres_ddl` (identity columns; see that module for why there is no
SQLAlchemy). A new migration uses SQL both accept (``ALTER TABLE ... ADD COLUMN``, ``CREATE INDEX``,
``TEXT``/``INTEGER`` columns), or a function that branches on :func:`~otbill_xl.ledger.dialect.dialect_of`.

Migrations run on first use inside the caller's write transaction, which holds the ledger's write lock
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``pg_advisory_xact_lock``), so two processes opening a new
ledger at once migrate it once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otbill_xl.errors import OtbillError
from otbill_xl.ledger.dialect import POSTGRES, dialect_of, postgres_ddl


class LedgerSchemaError(OtbillError):
    message = "The claim ledger was written by a newer otbill; upgrade otbill to use it."


def _v2_keys(conn: Any) -> None:
    """Lines recorded by schema 1 get their line identity (LineID|patient|DOS) from their old key
    (LineID|patient|DOS|code) and their code; their service identity stays unknown ('')."""
    rows = conn.execute("SELECT rowid, line_key FROM billed_lines").fetchall()
    conn.executemany("UPDATE billed_lines SET line_identity = ?, code = ? WHERE rowid = ?",
                     [(key.rsplit("|", 1)[0] if key.split("|", 1)[0] else "", key.rsplit("|", 1)[-1], rowid)
                      for rowid, key in rows])


MIGRATIONS: list[str | Callable[[Any], None]] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters (name, value) VALUES ('interchange', 0), ('group', 0), ('transaction', 0);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        practice TEXT NOT NULL,
        payer_key TEXT NOT NULL,
        interchange INTEGER NOT NULL UNIQUE,
        group_number INTEGER NOT NULL UNIQUE,
        transaction_number INTEGER NOT NULL UNIQUE,
        claims INTEGER NOT NULL,
        lines INTEGER NOT NULL,
        total TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE claims (
        id INTEGER PRIMARY KEY,
        claim_id TEXT NOT NULL,
        practice TEXT NOT NULL,
        payer_key TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        frequency TEXT NOT NULL,
        original_claim_number TEXT NOT NULL DEFAULT '',
        lines INTEGER NOT NULL,
        total TEXT NOT NULL,
        file_id INTEGER NOT NULL REFERENCES files(id),
        created TEXT NOT NULL
    );
    CREATE INDEX claims_by_id ON claims (claim_id);
    CREATE TABLE billed_lines (
        practice TEXT NOT NULL,
        line_key TEXT NOT NULL,
        line_id TEXT NOT NULL,
        claim_row INTEGER NOT NULL REFERENCES claims(id),
        frequency TEXT NOT NULL,
        billed_at TEXT NOT NULL
    );
    CREATE INDEX billed_by_line ON billed_lines (practice, line_key);
    CREATE TABLE batch_inputs (
        sha256 TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        outcome TEXT NOT NULL,
        finished TEXT NOT NULL
    );
    """,
    # 1 -> 2: two-phase files (pending -> written | released), runs, service identities (issue #8).
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        command TEXT NOT NULL,
        workbook TEXT NOT NULL,
        workbook_sha256 TEXT NOT NULL
    );
    ALTER TABLE files ADD COLUMN state TEXT NOT NULL DEFAULT 'written';
    ALTER TABLE files ADD COLUMN part_path TEXT NOT NULL DEFAULT '';
    ALTER TABLE files ADD COLUMN run_id INTEGER REFERENCES runs(id);
    ALTER TABLE files ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
    ALTER TABLE billed_lines ADD COLUMN line_identity TEXT NOT NULL DEFAULT '';
    ALTER TABLE billed_lines ADD COLUMN service_identity TEXT NOT NULL DEFAULT '';
    ALTER TABLE billed_lines ADD COLUMN sending_identity TEXT NOT NULL DEFAULT '';
    ALTER TABLE billed_lines ADD COLUMN code TEXT NOT NULL DEFAULT '';
    ALTER TABLE billed_lines ADD COLUMN modifiers TEXT NOT NULL DEFAULT '';
    ALTER TABLE billed_lines ADD COLUMN units TEXT NOT NULL DEFAULT '';
    CREATE INDEX files_by_state ON files (state);
    CREATE INDEX billed_by_identity ON billed_lines (practice, line_identity);
    CREATE INDEX billed_by_service ON billed_lines (practice, service_identity);
    CREATE INDEX billed_by_sending ON billed_lines (practice, sending_identity);
    CREATE INDEX claims_by_file ON claims (file_id)
    """,
    _v2_keys,
    # 2 -> 3: the lines of a claim are looked up by claim (the Claims sheet, reconciliation); without
    # this index each look-up scans every billed line (measured: a 40-workbook batch into one ledger
    # took 4.1 s per workbook instead of 1.8 s).
    "CREATE INDEX billed_by_claim ON billed_lines (claim_row)",
    # 3 -> 4: secondary claims (issue #12 §2). A claim records its payer sequence (SBR01): a line is
    # billed once to the primary (P) and once to the secondary (S), never twice to the same sequence.
    # Claims recorded before are primaries.
    "ALTER TABLE claims ADD COLUMN sequence TEXT NOT NULL DEFAULT 'P'",
    # 4 -> 5: posted remittances (issue #13 §2). One row per remittance line posted to a workbook's
    # Payments sheet, keyed by domain.reconcile.remit_line_key (payer, trace, CLP, SVC), so the same
    # remittance is never posted twice whatever its file is called. ``state``: pending while the
    # annotated copy is being written, then written; a pending row whose copy never appeared is
    # released (deleted) by the next run.
    """
    CREATE TABLE posted_remits (
        key TEXT PRIMARY KEY,
        practice TEXT NOT NULL,
        payer_key TEXT NOT NULL,
        trace TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        line_id TEXT NOT NULL,
        payer_claim_number TEXT NOT NULL,
        status TEXT NOT NULL,
        paid TEXT NOT NULL,
        file TEXT NOT NULL,
        output TEXT NOT NULL,
        state TEXT NOT NULL,
        posted_at TEXT NOT NULL
    );
    CREATE INDEX posted_by_claim ON posted_remits (practice, claim_id);
    CREATE INDEX posted_by_payer_claim ON posted_remits (practice, payer_claim_number)
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def version(conn: Any) -> int:
    if dialect_of(conn) == POSTGRES:
        # (a scan of pg_class, not to_regclass(): that answers from the session's catalog cache, which
        # can still say "no such table" just after another process created it and released the lock)
        row = conn.execute("SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON "
                           "n.oid = c.relnamespace WHERE c.relname = 'meta' AND n.nspname = current_schema()"
                           ).fetchone()
    else:
        row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if row is None:
        return 0
    found = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(found[0]) if found else 0


def migrate(conn: Any) -> int:
    """Bring the database to :data:`SCHEMA_VERSION` (inside the caller's write transaction)."""
    current = version(conn)
    if current > SCHEMA_VERSION:
        raise LedgerSchemaError(f"the claim ledger has schema {current}, newer than this otbill's "
                                f"({SCHEMA_VERSION}); upgrade otbill (pip install -U otbill-xl) to use it")
    postgres = dialect_of(conn) == POSTGRES
    for n in range(current, SCHEMA_VERSION):
        step = MIGRATIONS[n]
        if callable(step):
            step(conn)
        else:
            for statement in filter(None, (s.strip() for s in step.split(";"))):
                conn.execute(postgres_ddl(statement) if postgres else statement)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(n + 1),))
    return SCHEMA_VERSION
