"""Ledger operations. Every write runs in a ``BEGIN IMMEDIATE`` transaction, so two processes sharing
one ledger never hand out the same control number nor record the same line twice."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from otbill_xl.errors import OtbillError
from otbill_xl.ledger.schema import migrate

LEDGER_ENV = "OTBILL_LEDGER"


class LedgerError(OtbillError):
    message = "The claim ledger cannot be used."


class AlreadyBilled(LedgerError):
    """Some lines were billed by another run between the check and the recording of this file."""

    message = "Some lines were billed by another run at the same time."


def default_ledger_path(out_dir: Path) -> Path:
    """``$OTBILL_LEDGER`` if set, else ``OUT/.otbill/ledger.sqlite``."""
    env = os.environ.get(LEDGER_ENV)
    return Path(env) if env else out_dir / ".otbill" / "ledger.sqlite"


def line_key(line_id: str, patient_id: str, dos: date | None, code: str) -> str:
    """A service's identity in the ledger: LineID with patient, date of service and code, so a LineID
    reused in next month's workbook for another service is not mistaken for an already-billed one."""
    return f"{line_id}|{patient_id}|{dos.isoformat() if dos else ''}|{code}"


@dataclass(frozen=True)
class BilledLine:
    line_id: str
    claim_id: str
    frequency: str
    billed_at: str
    file: str


class Ledger:
    """A SQLite claim ledger (created and migrated on first use)."""

    def __init__(self, path: str | Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self.transaction() as conn:
                migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"{self.path.name}: cannot open the claim ledger ({exc}).") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
        values = dict(self._conn.execute("SELECT name, value FROM counters").fetchall())
        return values["interchange"] + 1, values["group"] + 1, values["transaction"] + 1

    # -- billed lines -------------------------------------------------------------------------
    def billed(self, practice: str, keys: Iterable[str]) -> dict[str, BilledLine]:
        """Which of these line keys were already billed (by this practice), with their claim."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, BilledLine] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT b.line_key, b.line_id, c.claim_id, b.frequency, b.billed_at, f.path FROM billed_lines b "
                f"JOIN claims c ON c.id = b.claim_row JOIN files f ON f.id = c.file_id "
                f"WHERE b.practice = ? AND b.line_key IN ({marks}) ORDER BY b.billed_at",
                (practice, *chunk)).fetchall()
            for key, line_id, claim_id, freq, at, path in rows:
                found[key] = BilledLine(line_id, claim_id, freq, at, path)
        return found

    def record_file(self, *, path: str, sha256: str, practice: str, payer_key: str, numbers: tuple[int, int, int],
                    claims: list[tuple[str, str, str, str, Decimal, list[tuple[str, str]]]],
                    total: Decimal, created: datetime, may_rebill: frozenset[str] = frozenset(),
                    then=None) -> None:
        """Record a written file and its claims and lines in one transaction.

        ``claims`` items: (claim_id, patient_id, frequency, original_claim_number, total, [(line_key, line_id)]).
        Inside the same transaction it re-checks that no original (frequency 1) line is already billed
        — another process may have billed it since the caller looked — except keys in ``may_rebill``,
        and raises :class:`AlreadyBilled` if so. ``then`` runs before the commit (the caller renames
        the file into place there), so the file and its record appear together.
        """
        stamp = created.isoformat(timespec="seconds")
        with self.transaction() as conn:
            originals = [key for c in claims if c[2] == "1" for key, _ in c[5] if key not in may_rebill]
            for i in range(0, len(originals), 500):
                chunk = originals[i:i + 500]
                hit = conn.execute(f"SELECT line_id FROM billed_lines WHERE practice = ? AND line_key IN "
                                   f"({','.join('?' * len(chunk))}) LIMIT 1", (practice, *chunk)).fetchone()
                if hit:
                    raise AlreadyBilled(f"line {hit[0]} was billed by another run while this file was being "
                                        "written; nothing was recorded for this file — run again to bill the rest.")
            cur = conn.execute(
                "INSERT INTO files (path, sha256, practice, payer_key, interchange, group_number, transaction_number, "
                "claims, lines, total, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (path, sha256, practice, payer_key, *numbers, len(claims), sum(len(c[5]) for c in claims), str(total),
                 stamp))
            file_id = cur.lastrowid
            for claim_id, patient_id, frequency, original, claim_total, lines in claims:
                row = conn.execute(
                    "INSERT INTO claims (claim_id, practice, payer_key, patient_id, frequency, original_claim_number, "
                    "lines, total, file_id, created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (claim_id, practice, payer_key, patient_id, frequency, original, len(lines), str(claim_total),
                     file_id, stamp)).lastrowid
                conn.executemany(
                    "INSERT INTO billed_lines (practice, line_key, line_id, claim_row, frequency, billed_at) "
                    "VALUES (?,?,?,?,?,?)", [(practice, key, line_id, row, frequency, stamp) for key, line_id in lines])
            if then is not None:
                then()

    def files(self) -> list[dict]:
        cols = ("path", "sha256", "payer_key", "interchange", "group_number", "transaction_number", "claims", "lines",
                "total", "created")
        rows = self._conn.execute(f"SELECT {', '.join(cols)} FROM files ORDER BY id").fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    # -- batch resume -------------------------------------------------------------------------
    def input_done(self, sha256: str) -> str | None:
        row = self._conn.execute("SELECT outcome FROM batch_inputs WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def mark_input(self, sha256: str, path: str, outcome: str, finished: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO batch_inputs (sha256, path, outcome, finished) VALUES (?,?,?,?)",
                         (sha256, path, outcome, finished.isoformat(timespec="seconds")))
