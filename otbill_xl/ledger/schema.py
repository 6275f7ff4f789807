"""Ledger schema and its migrations, in one place. ``MIGRATIONS[n]`` takes version n to n+1."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
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
]

SCHEMA_VERSION = len(MIGRATIONS)


def version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if row is None:
        return 0
    found = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(found[0]) if found else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to :data:`SCHEMA_VERSION` (inside the caller's write transaction)."""
    current = version(conn)
    if current > SCHEMA_VERSION:
        raise RuntimeError(f"ledger schema {current} is newer than this otbill ({SCHEMA_VERSION}); upgrade otbill")
    for n in range(current, SCHEMA_VERSION):
        for statement in filter(None, (s.strip() for s in MIGRATIONS[n].split(";"))):
            conn.execute(statement)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(n + 1),))
    return SCHEMA_VERSION
