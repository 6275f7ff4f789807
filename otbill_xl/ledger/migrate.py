"""Move a ledger to another database: ``otbill ledger migrate --from sqlite:PATH --to postgresql://...``
(issue #16 §1) — typically a practice's SQLite ledger onto the team's PostgreSQL server.

Everything is copied with its ids (files, claims, billed lines, postings, runs, batch inputs, the
control-number counters and the meta records), in one transaction of the target under its write
lock, then checked: the row count of every table and the control-number high-water marks (the
counters, and the largest ISA13/GS06/ST02 recorded) must be equal in both. The source is opened
read-only and never changed.

A target that already holds a ledger is refused — unless it holds exactly the source's content
(a migration that ran before): then nothing is done, so running the command again is safe and
never doubles anything. Stop every otbill run on the source ledger before migrating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otbill_xl.ledger import dialect as sql
from otbill_xl.ledger.schema import SCHEMA_VERSION, version
from otbill_xl.ledger.store import Ledger, LedgerError

#: Every table, in an order that satisfies the foreign keys, with the column that orders its rows.
TABLES = (("runs", "id"), ("files", "id"), ("claims", "id"), ("billed_lines", "rowid"),
          ("posted_remits", "rowid"), ("batch_inputs", "sha256"))
#: Tables with SQLite's implicit rowid that PostgreSQL has as a column (see dialect.postgres_ddl).
ROWID_TABLES = ("billed_lines", "posted_remits")
HIGH_WATER = "SELECT max(interchange), max(group_number), max(transaction_number) FROM files"


@dataclass
class Migration:
    source: str
    target: str
    outcome: str                                   # copied | already-migrated
    counts: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    high_water: tuple[Any, ...] = ()
    notes: list[str] = field(default_factory=list)


def parse_target(value: str) -> str | Path:
    """``sqlite:PATH`` (or a bare path) → the file; a ``postgresql://`` URL as it is."""
    text = value.strip()
    if sql.is_url(text):
        return text
    for prefix in ("sqlite://", "sqlite:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
            break
    return Path(text).expanduser()


def _shown(target: str | Path) -> str:
    return sql.masked(str(target)) if sql.is_url(target) else str(target)


def _columns(ledger: Ledger, table: str) -> list[str]:
    cur = ledger.conn.execute(f"SELECT * FROM {table} LIMIT 0")
    names = [d[0] for d in cur.description if d[0] != "rowid"]
    return ["rowid", *names] if table in ROWID_TABLES else names


def _content(ledger: Ledger) -> dict[str, Any]:
    """Every row of every table (ids included), the counters and the meta records but the schema version."""
    out: dict[str, Any] = {}
    for table, order in TABLES:
        cols = _columns(ledger, table)
        out[table] = (cols, [tuple(r) for r in ledger.conn.execute(
            f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}").fetchall()])
    out["counters"] = ledger.counters()
    out["meta"] = sorted(tuple(r) for r in ledger.conn.execute("SELECT key, value FROM meta WHERE key <> "
                                                               "'schema_version'").fetchall())
    return out


def _empty(content: dict[str, Any]) -> bool:
    return (all(not content[t][1] for t, _ in TABLES) and not any(content["counters"].values())
            and not content["meta"])


def migrate_ledger(source: str | Path, target: str | Path) -> Migration:
    src_shown, dst_shown = _shown(source), _shown(target)
    if not sql.is_url(source) and not Path(source).is_file():
        raise LedgerError(f"--from {src_shown}: no ledger file there")
    if str(source) == str(target):
        raise LedgerError("--from and --to name the same ledger")
    with Ledger(source, readonly=True) as src:
        if src._conn is None:
            raise LedgerError(f"--from {src_shown}: the ledger is empty (nothing was ever recorded in it)")
        found = version(src.conn)
        if found != SCHEMA_VERSION:
            raise LedgerError(f"--from {src_shown} has ledger schema {found}, this otbill's is {SCHEMA_VERSION}: "
                              f"run `otbill ledger check --ledger {src_shown}` once (it upgrades the ledger), then "
                              "migrate")
        data = _content(src)
        result = Migration(src_shown, dst_shown, "copied", {t: len(data[t][1]) for t, _ in TABLES},
                           dict(data["counters"]), tuple(src.conn.execute(HIGH_WATER).fetchone()))
        pending = sum(1 for row in data["files"][1] if row[data["files"][0].index("state")] == "pending")
        if pending:
            result.notes.append(f"{pending} file(s) were pending in the source (a run in progress or stopped); "
                                "the next run on the new ledger settles them")
    with Ledger(target) as dst:
        with dst.transaction() as conn:
            there = _content(dst)
            if not _empty(there):
                if there == data:
                    result.outcome = "already-migrated"
                    return result
                differ = [t for t, _ in TABLES if len(there[t][1]) != len(data[t][1])]
                raise LedgerError(
                    f"--to {dst_shown} already holds a different ledger ("
                    + ", ".join(f"{t}: {len(there[t][1])} rows there, {len(data[t][1])} in the source"
                                for t in differ or [t for t, _ in TABLES][:2])
                    + f"; control numbers there up to {there['counters']['interchange']}); nothing was copied. "
                    "Migrate into an empty database, or keep using the ledger that is there")
            for table, _order in TABLES:
                cols, rows = data[table]
                if [c for c in there[table][0]] != cols:
                    raise LedgerError(f"--to {dst_shown}: table {table} has other columns than the source's")
                if rows:
                    conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                     f"({', '.join('?' * len(cols))})", rows)
                if dst.dialect == sql.POSTGRES and cols[0] in ("id", "rowid"):  # new ids continue past the copied
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{cols[0]}'), "
                                 f"GREATEST((SELECT max({cols[0]}) FROM {table}), 1), "
                                 f"(SELECT max({cols[0]}) FROM {table}) IS NOT NULL)")
            for name, value in data["counters"].items():
                conn.execute("UPDATE counters SET value = ? WHERE name = ?", (value, name))
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                             "value = excluded.value", data["meta"])
        # verify what was committed, read back
        after = _content(dst)
        counts = {t: len(after[t][1]) for t, _ in TABLES}
        high = tuple(dst.conn.execute(HIGH_WATER).fetchone())
        if counts != result.counts or after["counters"] != result.counters or high != result.high_water:
            raise LedgerError(f"--to {dst_shown}: the copy does not match the source after migrating (rows "
                              f"{counts} vs {result.counts}; control numbers {after['counters']} vs "
                              f"{result.counters}); do not use it — report this")
    return result
