"""The ledger's two SQL dialects: SQLite (embedded, the default) and PostgreSQL (a ledger shared by a
team, issue #16 §1), behind the DB-API calls :mod:`otbill_xl.ledger.store` already makes.

**Why a small dialect layer and not SQLAlchemy Core.** The ledger is ~45 raw DB-API statements over
eight tables; measured against the two dialects, they differ in exactly these places, all handled
here or in one branch of the store:

* paramstyle ``?`` (sqlite3) vs ``%s`` (psycopg) — translated in :meth:`PgConnection.execute`;
* ``cursor.lastrowid`` — PostgreSQL has none: ``RETURNING id`` is appended to the three inserts that
  need the new id (files, claims, runs);
* ``group_concat(x, sep)`` vs ``string_agg(x, sep)`` — translated;
* ``INTEGER PRIMARY KEY`` (SQLite's rowid alias) vs an identity column, and SQLite's implicit
  ``rowid`` (used to keep insertion order) vs an explicit ``rowid`` identity column on the two tables
  ordered by it — translated in the DDL (:func:`postgres_ddl`), so one list of migrations
  (:data:`otbill_xl.ledger.schema.MIGRATIONS`) defines both schemas;
* upserts use ``INSERT ... ON CONFLICT (...) DO UPDATE``, which both accept (SQLite >= 3.24);
  ``max(a, b)`` vs ``GREATEST`` appears only in the legacy-ledger merge, which is SQLite to SQLite;
* locking: SQLite's ``BEGIN IMMEDIATE`` vs a transaction-scoped advisory lock (see
  :data:`WRITE_LOCK`); SQLite's ``PRAGMA integrity_check`` has no PostgreSQL counterpart to call.

Converting the store to SQLAlchemy Core would rewrite every statement (~600 lines) and add a
dependency of its own (plus its psycopg dialect) to every install, including the Excel add-in's,
to abstract the six differences above; the dialect layer is ~150 lines, needs nothing for SQLite
users, and keeps the SQL that the existing tests pin down unchanged. ``tests/test_ledger_pg.py``
checks that both dialects end with the same tables and columns.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from otbill_xl.errors import OtbillError

SQLITE, POSTGRES = "sqlite", "postgresql"
URL_SCHEMES = ("postgresql://", "postgres://")

#: The key of the transaction-scoped advisory lock every write transaction takes first
#: (``pg_advisory_xact_lock``), so writers queue exactly as SQLite's ``BEGIN IMMEDIATE`` makes them
#: queue: control numbers, billed-line checks and postings are serialised, and the migrations run
#: under it on first use (before any table exists, so there is no row to ``SELECT ... FOR UPDATE``
#: yet). Measured against ``SELECT ... FROM counters ... FOR UPDATE`` by ``benchmarks/bench_pg_lock.py``
#: (8 processes recording claim files: median 229 files/s with the advisory lock, 152/s with FOR UPDATE,
#: 253/s with no lock — which billed 14 to 35 of 60 shared lines twice; details in that file). ASCII "otbill".
WRITE_LOCK = 0x6F7462696C6C
#: The class key of the session-level advisory lock a writer holds on a pending file's id
#: (``pg_advisory_lock(FILE_LOCK, id)``) from its recording until it is marked written or released:
#: the database-side twin of the ``.part`` file's lock, so a run on *another machine* can tell a file
#: being written from one whose writer stopped (its connection, and so its lock, is gone).
FILE_LOCK = 0x0837
#: SQLite waits this long for a busy ledger (``sqlite3.connect(timeout=...)``); PostgreSQL's
#: ``lock_timeout`` is set to the same.
LOCK_TIMEOUT_S = 60


class LedgerUnavailable(OtbillError):
    message = "The shared claim ledger cannot be used."


def is_url(value: object) -> bool:
    """Whether a ``--ledger`` / ``LedgerPath`` / ``$OTBILL_LEDGER`` value names a PostgreSQL ledger.
    Also true for the form a ``pathlib.Path`` makes of such a URL (``postgresql:/...``), so it is
    never taken for a local file name."""
    text = str(value).strip().lower()
    return text.startswith(("postgresql:", "postgres:"))


def ledger_target(value: str | Any) -> Any:
    """A PostgreSQL URL as text, anything else as a :class:`~pathlib.Path` (user-expanded)."""
    from pathlib import Path

    if is_url(value):
        return str(value).strip()
    return Path(value).expanduser()


def masked(url: str) -> str:
    """``url`` with its password (in the authority or as ``?password=``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        if ":" in user:
            user = user.split(":", 1)[0] + ":***"
        netloc = f"{user}@{host}"
    query = parts.query
    if "password" in query.lower():
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(query, True)],
                          safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def psycopg_module(url: str = "") -> Any:
    """psycopg 3, or a clear error naming the extra that installs it."""
    try:
        import psycopg
    except ImportError:
        which = f"the ledger {masked(url)} is on a PostgreSQL server, which" if url else "a PostgreSQL ledger"
        raise LedgerUnavailable(
            f'{which} needs the psycopg driver, which is not installed; install it with '
            'pip install "otbill-xl[postgres]" (or give --ledger a file path for a local SQLite ledger)') from None
    return psycopg


def connect_postgres(url: str, *, readonly: bool) -> PgConnection:
    psycopg = psycopg_module(url)
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=15, application_name="otbill")
    except psycopg.Error as exc:
        raise LedgerUnavailable(f"the shared ledger {masked(url)} cannot be reached ({_reason(exc, url)}); check "
                                "the URL, that the server is up and that this user may connect") from None
    raw.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
    if readonly:
        raw.execute("SET default_transaction_read_only = on")
    return PgConnection(raw, url)


def _reason(exc: BaseException, url: str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    password = urlsplit(url).password if "://" in url else None
    return text.replace(password, "***") if password else text


@lru_cache(maxsize=512)
def to_postgres(sql: str, params: bool = True) -> str:
    """A statement of the store's (SQLite) SQL in PostgreSQL's (``params``: it is sent with parameters,
    so a literal ``%`` is doubled)."""
    out = (sql.replace("%", "%%").replace("?", "%s") if params else sql).replace("group_concat(", "string_agg(")
    if re.match(r"\s*INSERT INTO (files|claims|runs)\b", out) and "RETURNING" not in out:
        out += " RETURNING id"
    return out


def postgres_ddl(sql: str) -> str:
    """A migration statement (written for SQLite) for PostgreSQL: identity columns for SQLite's
    ``INTEGER PRIMARY KEY``, and an explicit ``rowid`` on the tables the store orders by rowid."""
    out = sql.replace("INTEGER PRIMARY KEY", "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    return re.sub(r"(CREATE TABLE (billed_lines|posted_remits) \()",
                  r"\1\n        rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,", out)


class PgCursor:
    """The part of a sqlite3 cursor the store uses, over a psycopg cursor."""

    def __init__(self, cur: Any, returning_id: bool) -> None:
        self._cur = cur
        self.lastrowid: int | None = None
        if returning_id:
            self.lastrowid = cur.fetchone()[0]

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())

    def __iter__(self) -> Any:
        return iter(self._cur.fetchall())


class PgConnection:
    """The part of a sqlite3 connection the store uses (``execute``, ``executemany``), over psycopg
    in autocommit mode: the store opens and ends its transactions itself, as with SQLite."""

    dialect = POSTGRES

    def __init__(self, raw: Any, url: str) -> None:
        self.raw = raw
        self.url = url

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        params = tuple(params)
        stmt = to_postgres(sql, bool(params))
        cur = self.raw.execute(stmt, params or None)
        return PgCursor(cur, stmt.endswith("RETURNING id"))

    def executemany(self, sql: str, rows: Any) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self.raw.cursor() as cur:
                cur.executemany(to_postgres(sql), rows)

    def close(self) -> None:
        self.raw.close()


def dialect_of(conn: Any) -> str:
    return getattr(conn, "dialect", SQLITE)
