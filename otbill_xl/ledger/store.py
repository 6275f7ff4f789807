"""Ledger operations. Every write runs in a ``BEGIN IMMEDIATE`` transaction (SQLite) or a transaction
that first takes the ledger's advisory write lock (PostgreSQL, :data:`~otbill_xl.ledger.dialect.WRITE_LOCK`),
so two processes sharing one ledger — on one machine or, with PostgreSQL, on several — never hand out
the same control number nor record the same line twice.

A claim file is recorded in two phases (issue #8), so the file and the ledger agree whatever fails:

1. :meth:`Ledger.reserve_file` records the file as **pending** — name, hash, claims, lines — after
   re-checking, in the same transaction, that none of its services was billed meanwhile; it commits.
2. The caller writes the file under a ``.part`` name it holds an advisory lock on, renames it into
   place and syncs the folder.
3. :meth:`Ledger.mark_written` marks it **written**.

:meth:`Ledger.resolve_pending` runs on every start: a pending file whose ``.part`` is still locked
(or, on PostgreSQL, whose writer's connection still holds the file's advisory lock) belongs to a run
in progress and is left alone; otherwise, the file present with the recorded hash
→ written; absent → **released** (its services may be billed again); present with another hash →
**mismatch** (its services stay billed, and ``otbill ledger check`` reports it).
"""

from __future__ import annotations

import functools
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from otbill_xl._locks import in_use
from otbill_xl.domain.identity import BilledService, BillingHistory
from otbill_xl.errors import OtbillError
from otbill_xl.ledger import dialect as sql
from otbill_xl.ledger.schema import SCHEMA_VERSION, migrate, version

F = TypeVar("F", bound=Callable[..., Any])


def _one_snapshot(method: F) -> F:
    """Run a read of several queries on one snapshot of a PostgreSQL ledger (see :meth:`Ledger._snapshot`)."""
    @functools.wraps(method)
    def run(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        with self._snapshot():
            return method(self, *args, **kwargs)
    return cast(F, run)


LEDGER_ENV = "OTBILL_LEDGER"
#: States of a recorded file whose services count as billed.
BILLED_STATES = ("pending", "written", "mismatch")


class LedgerError(OtbillError):
    message = "The claim ledger cannot be used."


class LedgerDamaged(LedgerError):
    message = "The claim ledger is empty or damaged."


class AlreadyBilled(LedgerError):
    """Some lines were billed by another run between the check and the recording of this file."""

    message = "Some lines were billed by another run at the same time."


def damaged(path: Path | str) -> LedgerDamaged:
    return LedgerDamaged(f"the ledger at {path} is empty or damaged; restore it from backup or run "
                         f"`otbill ledger check --ledger {path}`")


@dataclass(frozen=True)
class BilledLine:
    line_id: str
    claim_id: str
    frequency: str
    billed_at: str
    file: str


class LineRecord(NamedTuple):
    """One service line of a claim being recorded."""

    line_id: str
    line_key: str           # identity.line_identity
    service_key: str        # identity.service_identity
    sending_key: str        # identity.sending_identity ('' for originals)
    code: str
    modifiers: str
    units: str
    legacy_key: str = ""    # LineID|patient|DOS|code, the schema-1 key (kept for older otbill versions)


class ClaimRecord(NamedTuple):
    claim_id: str
    patient_id: str
    frequency: str
    original_claim_number: str
    total: Decimal
    lines: list[LineRecord]
    sequence: str = "P"     # SBR01: P billed to the primary payer, S to the secondary


@dataclass(frozen=True)
class Resolution:
    """What :meth:`Ledger.resolve_pending` decided for one pending file."""

    path: str
    outcome: str    # written | released | mismatch | in-progress | elsewhere (PostgreSQL: folder not seen here)
    lines: int


class PostingHistory(NamedTuple):
    """What the ledger knows of earlier postings (see :class:`otbill_xl.domain.reconcile.PriorPostings`)."""

    keys: frozenset[str]
    payer_claims: dict[str, str]
    paid: dict[tuple[str, str], list[tuple[str, Decimal]]]
    reversed: frozenset[tuple[str, str]]


@dataclass
class Integrity:
    ok: bool
    problems: list[str] = field(default_factory=list)


class Ledger:
    """A claim ledger (created and migrated on first use): a SQLite file, or a PostgreSQL database
    when ``path`` is a ``postgresql://`` URL (``self.path`` is then the URL with its password masked).

    A ledger file that exists but is empty (0 bytes) or is not a SQLite database is an error —
    never silently replaced by a new ledger, which would forget what was billed. ``readonly``
    opens without writing anything (dry runs); a ledger that does not exist yet then reads as empty.
    """

    path: Path | str

    def __init__(self, path: str | Path, *, timeout: float = 60.0, readonly: bool = False) -> None:
        self.readonly = readonly
        self._conn: Any = None
        self.dialect = sql.POSTGRES if sql.is_url(path) else sql.SQLITE
        if self.dialect == sql.POSTGRES:
            self._open_postgres(str(path).strip(), readonly)
            return
        self.path = Path(path)
        exists = self.path.exists()
        if exists and self.path.is_dir():
            raise LedgerError(f"the ledger path {self.path} is a folder; give the path of a ledger file")
        if exists and self.path.stat().st_size == 0:
            raise damaged(self.path)
        if readonly and not exists:
            return  # nothing billed yet; nothing is created
        try:
            if readonly:
                self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout,
                                             isolation_level=None)
                self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return
            if not exists:
                _create(self.path)
                exists = True
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # "file is not a database"
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self.transaction() as conn:
                if exists and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                    raise damaged(self.path)  # a database with no tables where a ledger should be
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            if "not a database" in str(exc) or "malformed" in str(exc) or "disk image" in str(exc):
                raise damaged(self.path) from None
            raise LedgerError(f"the ledger at {self.path} cannot be opened ({exc}).") from None
        except OSError as exc:
            self.close()
            raise LedgerError(f"the ledger at {self.path} cannot be opened ({exc.strerror}).") from None
        except BaseException:
            self.close()
            raise

    def _open_postgres(self, url: str, readonly: bool) -> None:
        self.path = sql.masked(url)
        self._conn = sql.connect_postgres(url, readonly=readonly)
        try:
            if readonly:
                if version(self._conn) == 0:
                    self.close()  # nothing billed yet; nothing is created
                return
            if version(self._conn) != SCHEMA_VERSION:  # (the usual case, up to date, takes no lock)
                with self.transaction() as conn:  # under the write lock: one process migrates, the others wait
                    migrate(conn)
        except BaseException:
            self.close()
            raise

    @property
    def where(self) -> str:
        """The ledger's file, or its URL with the password masked (for messages)."""
        return str(self.path)

    def exists(self) -> bool:
        return self._conn is not None if self.dialect == sql.POSTGRES else Path(self.path).exists()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> Any:
        if self._conn is None:
            raise LedgerError(f"the ledger at {self.where} is not open for writing")
        return self._conn

    def _rows(self, sql_text: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Read rows; a read-only ledger that does not exist yet has none."""
        if self._conn is None:
            return []
        if self.dialect == sql.SQLITE:
            return self._conn.execute(sql_text, tuple(params)).fetchall()
        with self._pg_errors():
            return self._conn.execute(sql_text, tuple(params)).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        conn = self.conn
        if self.dialect == sql.POSTGRES:
            with self._pg_errors():
                yield from self._pg_transaction(conn)
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _pg_transaction(self, conn: Any) -> Iterator[Any]:
        conn.execute("BEGIN")
        try:
            # Every writer queues here first, as SQLite's BEGIN IMMEDIATE makes it (see dialect.WRITE_LOCK).
            conn.execute("SELECT pg_advisory_xact_lock(?)", (sql.WRITE_LOCK,))
            yield conn
        except BaseException:
            if not conn.raw.closed:
                conn.raw.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """PostgreSQL: the queries inside see one snapshot (a REPEATABLE READ read transaction), so a
        read of several queries — e.g. :meth:`history` by line, then by service identity — never sees
        a file another run recorded between two of them (measured: without it, 8 concurrent runs held
        an already-billed line back as a "probable duplicate" of itself). SQLite: a deferred read
        transaction, which in WAL mode reads one snapshot too (the same race was reproduced there)."""
        if self._conn is None:
            yield
            return
        if self.dialect != sql.POSTGRES:
            if self._conn.in_transaction:  # already inside a transaction: it is the snapshot
                yield
                return
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                self._conn.execute("COMMIT")  # a read: nothing to keep or undo
            return
        with self._pg_errors():
            self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                yield
            except BaseException:
                if not self._conn.raw.closed:
                    self._conn.raw.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _pg_errors(self) -> Iterator[None]:
        """A PostgreSQL error as a LedgerError that says what happened and what to do (nothing was
        recorded: the transaction rolled back). Deadlocks and serialization failures cannot arise
        between otbill's own writers (one advisory lock, taken first); another program's locks on
        the ledger's tables could cause one, and it is reported, never left as a traceback."""
        psycopg = sql.psycopg_module()
        try:
            yield
        except psycopg.errors.LockNotAvailable:
            raise LedgerError(f"the shared ledger {self.where} stayed busy for {sql.LOCK_TIMEOUT_S} s (another run "
                              "holds its lock); nothing was recorded — run again") from None
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
            raise LedgerError(f"the shared ledger {self.where} reported a conflict with another program "
                              f"({type(exc).__name__}); nothing was recorded — run again") from None
        except psycopg.OperationalError as exc:
            raise LedgerError(f"the connection to the shared ledger {self.where} failed "
                              f"({sql._reason(exc, getattr(self._conn, 'url', ''))}); nothing more was "
                              "recorded — run `otbill ledger check` when it is back") from None
        except psycopg.Error as exc:
            raise LedgerError(f"the shared ledger {self.where} refused an operation "
                              f"({sql._reason(exc, getattr(self._conn, 'url', ''))})") from None

    # -- control numbers --------------------------------------------------------------------
    def next_numbers(self) -> tuple[int, int, int]:
        """Reserve the next interchange, group and transaction control numbers (never reused, even
        when the file they were meant for is never written)."""
        with self.transaction() as conn:
            out = []
            for name in ("interchange", "group", "transaction"):
                (value,) = conn.execute("UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value",
                                        (name,)).fetchone()
                if value > 999_999_999:
                    raise LedgerError("control numbers are exhausted (9 digits); start a new ledger")
                out.append(value)
            return out[0], out[1], out[2]

    def peek_numbers(self) -> tuple[int, int, int]:
        """The numbers :meth:`next_numbers` would hand out, without reserving them (dry runs)."""
        values = self.counters()
        return values["interchange"] + 1, values["group"] + 1, values["transaction"] + 1

    def counters(self) -> dict[str, int]:
        """Control-number high-water marks."""
        values = {"interchange": 0, "group": 0, "transaction": 0}
        values.update(dict(self._rows("SELECT name, value FROM counters")))
        return values

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, *, command: str, workbook: str, workbook_sha256: str, started: datetime) -> int:
        with self.transaction() as conn:
            # (an INSERT's cursor always has the new row's id: lastrowid is only None before one)
            return cast(int, conn.execute(
                "INSERT INTO runs (started, command, workbook, workbook_sha256) VALUES (?,?,?,?)",
                (started.isoformat(timespec="seconds"), command, workbook, workbook_sha256)).lastrowid)

    # -- what was billed ------------------------------------------------------------------------
    @_one_snapshot
    def history(self, practice: str, *, line_keys: Iterable[str], service_keys: Iterable[str],
                sending_keys: Iterable[str], sequence: str = "P") -> BillingHistory:
        """What was billed (in files pending or written) under any of these identities, to the payer of
        this sequence (P: the primary, S: the secondary)."""
        if self._conn is None:  # a read-only ledger that does not exist yet: nothing billed
            return BillingHistory({}, {}, {})
        cols = ("b.line_id, c.claim_id, b.frequency, c.original_claim_number, b.billed_at, b.code, b.modifiers, "
                "b.units, b.line_identity, b.service_identity, b.sending_identity")
        by_line: dict[str, list[BilledService]] = defaultdict(list)
        by_service: dict[str, BilledService] = {}
        by_sending: dict[str, BilledService] = {}
        for column, keys, sink in (("line_identity", line_keys, "line"), ("service_identity", service_keys, "service"),
                                   ("sending_identity", sending_keys, "sending")):
            for chunk, marks in _chunked(_wanted(keys)):
                rows = self._rows(
                    f"SELECT {cols} FROM billed_lines b JOIN claims c ON c.id = b.claim_row "
                    f"JOIN files f ON f.id = c.file_id WHERE b.practice = ? AND b.{column} IN "
                    f"({marks}) AND f.state IN {BILLED_STATES} AND c.sequence = ? ORDER BY b.billed_at, b.rowid",
                    (practice, *chunk, sequence))
                for r in rows:
                    rec = BilledService(*r)
                    if sink == "line":
                        by_line[rec.line_key].append(rec)
                    elif sink == "service":
                        by_service.setdefault(rec.service_key, rec)
                    else:
                        by_sending.setdefault(rec.sending_key, rec)
        return BillingHistory(dict(by_line), by_service, by_sending)

    @_one_snapshot
    def billed(self, practice: str, keys: Iterable[str]) -> dict[str, BilledLine]:
        """Which of these schema-1 line keys (LineID|patient|DOS|code) were billed, with their claim."""
        found: dict[str, BilledLine] = {}
        for chunk, marks in _chunked(list(dict.fromkeys(keys))):
            rows = self._rows(
                f"SELECT b.line_key, b.line_id, c.claim_id, b.frequency, b.billed_at, f.path FROM billed_lines b "
                f"JOIN claims c ON c.id = b.claim_row JOIN files f ON f.id = c.file_id "
                f"WHERE b.practice = ? AND b.line_key IN ({marks}) AND f.state IN "
                f"{BILLED_STATES} ORDER BY b.billed_at", (practice, *chunk))
            for key, line_id, claim_id, freq, at, path in rows:
                found[key] = BilledLine(line_id, claim_id, freq, at, path)
        return found

    @_one_snapshot
    def claims_for(self, practice: str, line_keys: Iterable[str], service_keys: Iterable[str]) -> list[dict]:
        """Every claim (in a file pending or written) holding any of these services, oldest first, with
        the run and file it came from."""
        ids: set[int] = set()
        for column, keys in (("line_identity", line_keys), ("service_identity", service_keys)):
            for chunk, marks in _chunked(_wanted(keys)):
                ids.update(r[0] for r in self._rows(
                    f"SELECT DISTINCT claim_row FROM billed_lines WHERE practice = ? AND {column} IN ({marks})",
                    (practice, *chunk)))
        out: list[dict] = []
        for id_chunk, id_marks in _chunked(sorted(ids)):
            rows = self._rows(
                f"SELECT c.claim_id, c.payer_key, c.patient_id, c.frequency, c.original_claim_number, c.lines, c.total, "
                f"c.created, f.path, f.state, f.interchange, COALESCE(r.started, c.created), "
                f"(SELECT group_concat(line_id, ', ') FROM billed_lines WHERE claim_row = c.id), c.sequence "
                f"FROM claims c JOIN files f ON f.id = c.file_id LEFT JOIN runs r ON r.id = f.run_id "
                f"WHERE c.id IN ({id_marks}) AND f.state IN {BILLED_STATES}", id_chunk)
            keys = ("claim_id", "payer_key", "patient_id", "frequency", "original_claim_number", "lines", "total",
                    "created", "file", "state", "interchange", "run", "line_ids", "sequence")
            out += [dict(zip(keys, r, strict=True)) for r in rows]
        out.sort(key=lambda c: (c["created"], c["claim_id"]))
        return out

    # -- recording a file, in two phases ----------------------------------------------------------
    def reserve_file(self, *, path: str, part_path: str, sha256: str, practice: str, payer_key: str,
                     numbers: tuple[int, int, int], claims: list[ClaimRecord], total: Decimal, created: datetime,
                     run_id: int | None = None, may_rebill: frozenset[str] = frozenset()) -> int:
        """Phase 1: record the file as pending with its claims and lines; returns the file's id.

        Inside the same transaction it re-checks that none of the services is billed already — another
        process may have billed it since the caller looked — and raises :class:`AlreadyBilled` if so:
        an original line by its line or service identity (unless its line identity is in
        ``may_rebill``), a corrected/void line by its sending identity — each to the same payer sequence
        (a line billed to the primary may be billed once to the secondary).
        """
        stamp = created.isoformat(timespec="seconds")
        with self.transaction() as conn:
            checks: dict[tuple[str, str], list[str]] = defaultdict(list)
            for c in claims:
                for ln in c.lines:
                    if c.frequency == "1":
                        if ln.line_key and ln.line_key in may_rebill:
                            continue
                        checks[("line_identity", c.sequence)].append(ln.line_key)
                        checks[("service_identity", c.sequence)].append(ln.service_key)
                    else:
                        checks[("sending_identity", c.sequence)].append(ln.sending_key)
            for (column, sequence), keys in checks.items():
                for chunk, marks in _chunked(_wanted(keys)):
                    hit = conn.execute(
                        f"SELECT b.line_id FROM billed_lines b JOIN claims c ON c.id = b.claim_row JOIN files f ON "
                        f"f.id = c.file_id WHERE b.practice = ? AND b.{column} IN ({marks}) "
                        f"AND f.state IN {BILLED_STATES} AND c.sequence = ? LIMIT 1",
                        (practice, *chunk, sequence)).fetchone()
                    if hit:
                        raise AlreadyBilled(f"line {hit[0] or '(no LineID)'} was billed by another run while this "
                                            "file was being prepared; nothing was recorded for this file — run again "
                                            "to bill the rest.")
            cur = conn.execute(
                "INSERT INTO files (path, sha256, practice, payer_key, interchange, group_number, transaction_number, "
                "claims, lines, total, created, state, part_path, run_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (path, sha256, practice, payer_key, *numbers, len(claims), sum(len(c.lines) for c in claims),
                 str(total), stamp, "pending", part_path, run_id))
            file_id = cast(int, cur.lastrowid)  # (set by the INSERT)
            for c in claims:
                row = conn.execute(
                    "INSERT INTO claims (claim_id, practice, payer_key, patient_id, frequency, original_claim_number, "
                    "lines, total, file_id, created, sequence) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (c.claim_id, practice, payer_key, c.patient_id, c.frequency, c.original_claim_number, len(c.lines),
                     str(c.total), file_id, stamp, c.sequence)).lastrowid
                conn.executemany(
                    "INSERT INTO billed_lines (practice, line_key, line_id, claim_row, frequency, billed_at, "
                    "line_identity, service_identity, sending_identity, code, modifiers, units) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(practice, ln.legacy_key or ln.line_key, ln.line_id, row, c.frequency, stamp, ln.line_key,
                      ln.service_key, ln.sending_key, ln.code, ln.modifiers, ln.units) for ln in c.lines])
            if self.dialect == sql.POSTGRES:
                # a session lock, held past the COMMIT until mark_written / release (or until this
                # connection ends): other machines see the file as in progress (resolve_pending)
                conn.execute("SELECT pg_advisory_lock(?, ?)", (sql.FILE_LOCK, file_id))
            return file_id

    def mark_written(self, file_id: int) -> bool:
        """Phase 3: the file is in place. False if the record was released meanwhile (it cannot be,
        while the writer holds its lock — checked all the same)."""
        with self.transaction() as conn:
            cur = conn.execute("UPDATE files SET state = 'written' WHERE id = ? AND state IN ('pending', 'written')",
                               (file_id,))
            done = cur.rowcount == 1
        self._unlock_file(file_id)
        return done

    def _unlock_file(self, file_id: int) -> None:
        if self.dialect == sql.POSTGRES:
            self._rows("SELECT pg_advisory_unlock(?, ?)", (sql.FILE_LOCK, file_id))

    def release(self, file_id: int, why: str) -> None:
        """The file was never put in place: its services may be billed again."""
        with self.transaction() as conn:
            conn.execute("UPDATE files SET state = 'released', resolution = ? WHERE id = ? AND state = 'pending'",
                         (why, file_id))
        self._unlock_file(file_id)

    def resolve_pending(self) -> list[Resolution]:
        """Settle files left pending by a run that stopped between the phases (see the module doc)."""
        if self._conn is None or self.readonly:
            return []
        out: list[Resolution] = []
        for file_id, path, part, sha, lines in self._rows(
                "SELECT id, path, part_path, sha256, lines FROM files WHERE state = 'pending' ORDER BY id"):
            if part and in_use(Path(part)):
                out.append(Resolution(path, "in-progress", lines))
                continue
            if self.dialect == sql.POSTGRES:
                if not Path(path).parent.is_dir():
                    # written from another machine into a folder this one does not see: whether the file
                    # is there cannot be told from here, so it stays pending (its lines stay billed)
                    out.append(Resolution(path, "elsewhere", lines))
                    continue
                # its writer (on any machine) still holds the file's lock: in progress
                if not self._rows("SELECT pg_try_advisory_lock(?, ?)", (sql.FILE_LOCK, file_id))[0][0]:
                    out.append(Resolution(path, "in-progress", lines))
                    continue
                try:
                    outcome = self._settle(file_id, Path(path), Path(part) if part else None, sha)
                finally:
                    self._unlock_file(file_id)
            else:
                outcome = self._settle(file_id, Path(path), Path(part) if part else None, sha)
            out.append(Resolution(path, outcome, lines))
        return out

    def _settle(self, file_id: int, target: Path, part: Path | None, sha: str) -> str:
        if _sha256(target) is None and part is not None:
            # a crashed writer's partial file (it holds PHI); if it was renamed meanwhile, the target
            # is looked at again below
            part.unlink(missing_ok=True)
        found = _sha256(target)
        with self.transaction() as conn:
            if found is None:
                state, why = "released", "file not found: released for billing"
            elif found == sha:
                state, why = "written", "file found with the recorded hash"
            else:
                state, why = "mismatch", "a file with other content is at this path"
            conn.execute("UPDATE files SET state = ?, resolution = ? WHERE id = ? AND state = 'pending'",
                         (state, why, file_id))
        return state

    # -- compatibility: record in one call (tests and tools that write the file themselves) -------------
    def record_file(self, *, path: str, sha256: str, practice: str, payer_key: str, numbers: tuple[int, int, int],
                    claims: list[ClaimRecord], total: Decimal, created: datetime,
                    may_rebill: frozenset[str] = frozenset(), then=None) -> int:
        """Reserve, run ``then`` (the caller puts the file in place), mark written."""
        file_id = self.reserve_file(path=path, part_path="", sha256=sha256, practice=practice, payer_key=payer_key,
                                    numbers=numbers, claims=claims, total=total, created=created,
                                    may_rebill=may_rebill)
        try:
            if then is not None:
                then()
        except BaseException:
            self.release(file_id, "the caller failed to write the file")
            raise
        self.mark_written(file_id)
        return file_id

    # -- reports ------------------------------------------------------------------------------------
    def files(self, states: tuple[str, ...] = ("written", "pending", "mismatch")) -> list[dict]:
        cols = ("path", "sha256", "payer_key", "interchange", "group_number", "transaction_number", "claims", "lines",
                "total", "created", "state")
        marks = ",".join("?" * len(states))
        rows = self._rows(f"SELECT {', '.join(cols)} FROM files WHERE state IN ({marks}) ORDER BY id", states)
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def summary(self) -> dict[str, Any]:
        """Practices, payers, claims and lines billed, control-number high-water marks, files."""
        billed = f"f.state IN {BILLED_STATES}"
        practices = [r[0] for r in self._rows(f"SELECT DISTINCT f.practice FROM files f WHERE {billed} ORDER BY 1")]
        payers = [{"payer": p, "files": n, "claims": c, "lines": ln} for p, n, c, ln in self._rows(
            f"SELECT f.payer_key, count(*), sum(f.claims), sum(f.lines) FROM files f WHERE {billed} GROUP BY 1 "
            "ORDER BY 1")]
        states = dict(self._rows("SELECT state, count(*) FROM files GROUP BY state"))
        runs = self._rows("SELECT count(*) FROM runs") if self._conn is not None else [(0,)]
        return {
            "path": str(self.path),
            "exists": self.exists(),
            "schema_version": SCHEMA_VERSION,
            "practices": practices,
            "payers": payers,
            "claims": sum(p["claims"] for p in payers),
            "lines_billed": sum(p["lines"] for p in payers),
            "files_by_state": states,
            "runs": runs[0][0],
            "control_numbers": self.counters(),
        }

    def integrity(self, *, check_files: bool = True) -> Integrity:
        """SQLite's own integrity check, then every written file against its recorded SHA-256."""
        problems: list[str] = []
        if self._conn is not None and self.dialect == sql.SQLITE:  # (PostgreSQL enforces its constraints itself)
            result = [r[0] for r in self._rows("PRAGMA integrity_check")]
            if result != ["ok"]:
                problems += [f"database: {r}" for r in result[:20]]
            if self._rows("PRAGMA foreign_key_check"):
                problems.append("database: claims or lines point at records that do not exist")
        if check_files:
            for f in self.files(("written", "mismatch", "pending")):
                found = _sha256(Path(f["path"]))
                if f["state"] == "pending":
                    problems.append(f"{f['path']}: pending (a run is writing it, or stopped; the next run settles it)")
                elif found is None:
                    problems.append(f"{f['path']}: recorded as written but not found (moved or deleted? its lines "
                                    "stay billed)")
                elif found != f["sha256"]:
                    problems.append(f"{f['path']}: content differs from what was recorded (edited after billing?)")
        return Integrity(not problems, problems)

    @_one_snapshot
    def billed_by_input(self, workbook_sha256: str, *, batch: str) -> dict[str, Any]:
        """Claims, lines and files written by batch ``batch``'s claims runs of the workbook with this content
        (SHA-256), and how many such runs there were — what one batch really billed for one input, however
        its worker ended (``batch``: the batch's id, recorded as the runs' command, :func:`batch_command`).
        Files in state written only (settle pending ones first with :meth:`resolve_pending`)."""
        command = batch_command(batch)
        runs = self._rows("SELECT COUNT(*) FROM runs WHERE workbook_sha256 = ? AND command = ?",
                          (workbook_sha256, command))[0][0]
        rows = self._rows(
            "SELECT f.path, f.claims, f.lines FROM files f JOIN runs r ON r.id = f.run_id "
            "WHERE r.workbook_sha256 = ? AND r.command = ? AND f.state = 'written' ORDER BY f.id",
            (workbook_sha256, command))
        return {"claims": sum(r[1] for r in rows), "lines": sum(r[2] for r in rows), "files": [r[0] for r in rows],
                "runs": runs}

    # -- posted remittances (reconciliation) -------------------------------------------------------
    @_one_snapshot
    def postings(self, practice: str, *, keys: Iterable[str], claim_ids: Iterable[str],
                 payer_claim_numbers: Iterable[str]) -> PostingHistory:
        """What was posted before (pending or written) for these remittance keys, claims and payer
        claim numbers."""
        found_keys: set[str] = set()
        for chunk, marks in _chunked(_wanted(keys)):
            found_keys.update(r[0] for r in self._rows(
                f"SELECT key FROM posted_remits WHERE key IN ({marks})", chunk))
        lines: list[tuple] = []
        for chunk, marks in _chunked(_wanted(claim_ids)):
            lines += self._rows(
                "SELECT claim_id, line_id, trace, paid, status, payer_claim_number, key FROM posted_remits "
                f"WHERE practice = ? AND claim_id IN ({marks}) ORDER BY posted_at, rowid", (practice, *chunk))
        found_keys.update(r[6] for r in lines)   # (keys of lines a claim-level adjudication posted too)
        payer_claims: dict[str, str] = {}
        for chunk, marks in _chunked(_wanted(payer_claim_numbers)):
            for number, claim_id in self._rows(
                    "SELECT payer_claim_number, claim_id FROM posted_remits WHERE practice = ? AND "
                    f"payer_claim_number IN ({marks}) ORDER BY posted_at, rowid", (practice, *chunk)):
                payer_claims.setdefault(number, claim_id)
        paid: dict[tuple[str, str], list[tuple[str, Decimal]]] = defaultdict(list)
        reversed_lines: set[tuple[str, str]] = set()
        for claim_id, line_id, trace, amount, status, number, _key in lines:
            paid[(claim_id, line_id)].append((trace, Decimal(amount)))
            if status == "reversed":
                reversed_lines.add((claim_id, line_id))
            if number:
                payer_claims.setdefault(number, claim_id)
        return PostingHistory(frozenset(found_keys), payer_claims, dict(paid), frozenset(reversed_lines))

    def reserve_postings(self, practice: str, records: Iterable[Any], *, output: str, posted_at: datetime) -> list[str]:
        """Record remittance lines as posted (state pending) in one transaction; returns the keys that
        another run recorded meanwhile (those must not be posted again)."""
        records = list(records)
        with self.transaction() as conn:
            taken: list[str] = []
            for chunk, marks in _chunked([r.key for r in records]):
                taken += [r[0] for r in conn.execute(f"SELECT key FROM posted_remits WHERE key IN ({marks})", chunk)]
            if taken:
                return taken
            stamp = posted_at.isoformat(timespec="seconds")
            conn.executemany(
                "INSERT INTO posted_remits (key, practice, payer_key, trace, claim_id, line_id, payer_claim_number, "
                "status, paid, file, output, state, posted_at) VALUES (?,?,?,?,?,?,?,?,?,?,?, 'pending', ?)",
                [(r.key, practice, r.payer_key, r.trace, r.claim_id, r.line_id, r.payer_claim_number, r.status,
                  str(r.paid), r.file, output, stamp) for r in records])
        return []

    def settle_postings(self, output: str, *, written: bool) -> None:
        """The annotated copy ``output`` was written (the postings stand) or not (they are released)."""
        with self.transaction() as conn:
            if written:
                conn.execute("UPDATE posted_remits SET state = 'written' WHERE output = ? AND state = 'pending'",
                             (output,))
            else:
                conn.execute("DELETE FROM posted_remits WHERE output = ? AND state = 'pending'", (output,))

    def resolve_pending_postings(self) -> int:
        """Postings left pending by a run that stopped: written if their copy exists, else released.
        Returns how many were released."""
        if self._conn is None or self.readonly:
            return 0
        released = 0
        for (output,) in self._rows("SELECT DISTINCT output FROM posted_remits WHERE state = 'pending'"):
            exists = Path(output).is_file()
            if not exists:
                released += self._rows("SELECT count(*) FROM posted_remits WHERE output = ? AND state = 'pending'",
                                       (output,))[0][0]
            self.settle_postings(output, written=exists)
        return released

    # -- batch resume -------------------------------------------------------------------------
    def input_done(self, sha256: str) -> str | None:
        rows = self._rows("SELECT outcome FROM batch_inputs WHERE sha256 = ?", (sha256,))
        return rows[0][0] if rows else None

    def mark_input(self, sha256: str, path: str, outcome: str, finished: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO batch_inputs (sha256, path, outcome, finished) VALUES (?,?,?,?) ON CONFLICT "
                         "(sha256) DO UPDATE SET path = excluded.path, outcome = excluded.outcome, "
                         "finished = excluded.finished",
                         (sha256, path, outcome, finished.isoformat(timespec="seconds")))


def batch_command(batch: str) -> str:
    """The ``runs.command`` of the claims runs of batch ``batch`` (an id made per batch by
    :func:`otbill_xl.actions.batch.run_batch`): what a batch billed for an input is read back by this, never
    by the time a run started (two batches can start in the same second)."""
    return f"batch {batch}" if batch else "batch"


def _create(path: Path) -> None:
    """Create a ledger that appears complete or not at all: built under a temporary name and linked into
    place. Two processes starting on a missing ledger at once (batch workers) would otherwise see each
    other's brand-new 0-byte file, which reads as damaged."""
    import os
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.new")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the user's umask applies
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            migrate(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use that one
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _wanted(keys: Iterable[str]) -> list[str]:
    """The keys to look up: each once, blanks (no identity) left out."""
    return [k for k in dict.fromkeys(keys) if k]


def _chunked(values: list, size: int = 500) -> Iterator[tuple[list, str]]:
    """``values`` in chunks for ``IN (...)`` (SQLite caps the number of parameters), each with its
    ``?,?,...`` placeholders."""
    for i in range(0, len(values), size):
        chunk = values[i:i + size]
        yield chunk, ",".join("?" * len(chunk))


def _sha256(path: Path) -> str | None:
    import hashlib

    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    return h.hexdigest()


def legacy_line_key(line_id: str, patient_id: str, dos, code: str) -> str:
    """The schema-1 key (LineID|patient|DOS|code)."""
    return f"{line_id}|{patient_id}|{dos.isoformat() if dos else ''}|{code}"


__all__ = ["AlreadyBilled", "BilledLine", "ClaimRecord", "Ledger", "LedgerDamaged", "LedgerError", "LineRecord",
           "PostingHistory", "Resolution", "batch_command", "damaged", "legacy_line_key"]
