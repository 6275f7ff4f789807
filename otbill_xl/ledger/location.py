"""Where the claim ledger lives: one ledger per **submitter** (ISA06), found the same way whatever
folder the claim files go to — so ``--out oct`` then ``--out nov`` never bill the same services
twice nor restart the interchange control numbers.

In order: ``--ledger``; the Practice setting ``LedgerPath``; ``$OTBILL_LEDGER``; else
``<user data dir>/otbill/ledgers/<ISA06>.sqlite`` (platformdirs: ``~/.local/share`` on Linux,
``%LOCALAPPDATA%`` on Windows, ``~/Library/Application Support`` on macOS). A ledger left at the old
default, ``OUT/.otbill/ledger.sqlite``, is still honoured: its history is merged into the submitter's
ledger (once; the old file is left as it was) and a message says where the ledger now lives.

Each of the three settings may name a file or a ``postgresql://user@host/db`` URL (``postgres://``
too): a PostgreSQL ledger shared by several billers and machines (issue #16 §1; needs
``pip install "otbill-xl[postgres]"``). A URL is never taken for a file name.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from otbill_xl.domain.models import Practice
from otbill_xl.ledger.dialect import is_url, ledger_target, masked
from otbill_xl.ledger.store import LEDGER_ENV, Ledger, LedgerError, damaged

LEGACY_NAME = Path(".otbill") / "ledger.sqlite"


def data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("otbill", appauthor=False))


def submitter_of(practice: Practice) -> str:
    """ISA06: the interchange sender id (the submitter id when no separate sender id is set)."""
    return (practice.interchange_sender_id or practice.submitter_id or "").strip()


def submitter_ledger_path(submitter: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", submitter)
    return data_dir() / "ledgers" / f"{safe}.sqlite"


@dataclass(frozen=True)
class LedgerLocation:
    path: Path | str              # a file, or a postgresql:// URL (keep it out of messages: see ``shown``)
    how: str                      # option | practice | environment | submitter
    notes: tuple[str, ...] = ()
    legacy: Path | None = None    # an old-location ledger to merge

    @property
    def shown(self) -> str:
        """The location for messages: a URL's password masked."""
        return masked(str(self.path)) if is_url(self.path) else str(self.path)

    def exists(self) -> bool:
        """Whether the ledger file exists (a server's ledger is looked at when opened)."""
        return True if is_url(self.path) else Path(self.path).exists()


@dataclass(frozen=True)
class LedgerChoice:
    """How the caller asked for a ledger: an explicit path (``--ledger``) or the default, with the
    output folder where an old-location ledger may be."""

    explicit: Path | str | None = None
    out_dir: Path | None = None
    extra_notes: tuple[str, ...] = field(default=())

    def locate(self, practice: Practice) -> LedgerLocation:
        if self.explicit is not None:
            explicit = str(self.explicit).strip() if is_url(self.explicit) else Path(self.explicit)
            return LedgerLocation(explicit, "option")
        setting = (practice.extra.get("LedgerPath") or "").strip()
        if setting:
            return LedgerLocation(ledger_target(setting), "practice")
        env = os.environ.get(LEDGER_ENV, "").strip()
        if env:
            return LedgerLocation(ledger_target(env), "environment")
        submitter = submitter_of(practice)
        if not submitter:
            raise LedgerError("the Practice sheet has no InterchangeSenderID or SubmitterID (ISA06), which names "
                              "the practice's claim ledger; fill it in, or choose a ledger with --ledger FILE")
        path = submitter_ledger_path(submitter)
        legacy = self.out_dir / LEGACY_NAME if self.out_dir is not None else None
        if legacy is not None and legacy.is_file() and legacy.resolve() != path.resolve():
            return LedgerLocation(path, "submitter", legacy=legacy)
        return LedgerLocation(path, "submitter")


def open_ledger(location: LedgerLocation, *, readonly: bool = False) -> tuple[Ledger, list[str]]:
    """Open the ledger at ``location`` (merging an old-location ledger's history first); returns the
    ledger and messages for the user."""
    notes = list(location.notes)
    if location.legacy is not None and not readonly:
        ledger = Ledger(location.path)
        try:
            merged = merge_legacy(ledger, location.legacy)
        except BaseException:
            ledger.close()
            raise
        if merged is not None:
            notes.append(f"the ledger at {location.legacy} (the old location) was merged into {location.path}: "
                         f"{merged} billed lines; the ledger for this submitter now lives at {location.path} "
                         "(the old file is left as it was and no longer written)")
        return ledger, notes
    ledger = Ledger(location.path, readonly=readonly)
    if location.legacy is not None and readonly:
        notes.append(f"a ledger at the old location {location.legacy} will be merged into {location.path} on the "
                     "next real run; this dry run reads only the submitter's ledger")
    return ledger, notes


def merge_legacy(ledger: Ledger, legacy: Path) -> int | None:
    """Copy the files, claims and billed lines of an old-location ledger into ``ledger`` (once per
    legacy file content) and raise the control numbers past the legacy ones. Returns the number of
    lines merged, or None when this legacy ledger was merged before."""
    if legacy.stat().st_size == 0:
        raise damaged(legacy)
    old = Ledger(legacy)  # migrates the old file to the current schema
    try:
        marker = f"merged:{legacy.resolve()}"
        files = old.conn.execute("SELECT id, path, sha256, practice, payer_key, interchange, group_number, "
                                 "transaction_number, claims, lines, total, created, state FROM files").fetchall()
        signature = f"{len(files)}:{old.counters()}"
        with ledger.transaction() as conn:
            done = conn.execute("SELECT value FROM meta WHERE key = ?", (marker,)).fetchone()
            if done and done[0] == signature:
                return None
            lines = 0
            for (fid, path, sha, practice, payer, _isa, _gs, _st, nclaims, nlines, total, created, state) in files:
                if conn.execute("SELECT 1 FROM files WHERE path = ? AND sha256 = ?", (path, sha)).fetchone():
                    continue
                # The control numbers of a merged file were handed out by the old ledger and may repeat
                # this ledger's: the unique columns get fresh negative placeholders (the file's own
                # ISA13 is in the file; the counters below keep every new number past the old ones).
                low = conn.execute("SELECT min(0, min(interchange), min(group_number), min(transaction_number)) "
                                   "FROM files").fetchone()[0] or 0
                new_fid = conn.execute(
                    "INSERT INTO files (path, sha256, practice, payer_key, interchange, group_number, "
                    "transaction_number, claims, lines, total, created, state, resolution) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (path, sha, practice, payer, low - 1, low - 1, low - 1, nclaims, nlines, total, created, state,
                     f"merged from {legacy}")).lastrowid
                for cid, *claim in old.conn.execute(
                        "SELECT id, claim_id, practice, payer_key, patient_id, frequency, original_claim_number, lines, "
                        "total, created FROM claims WHERE file_id = ?", (fid,)).fetchall():
                    new_cid = conn.execute(
                        "INSERT INTO claims (claim_id, practice, payer_key, patient_id, frequency, "
                        "original_claim_number, lines, total, file_id, created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (*claim[:8], new_fid, claim[8])).lastrowid
                    rows = old.conn.execute(
                        "SELECT practice, line_key, line_id, frequency, billed_at, line_identity, service_identity, "
                        "sending_identity, code, modifiers, units FROM billed_lines WHERE claim_row = ?",
                        (cid,)).fetchall()
                    conn.executemany(
                        "INSERT INTO billed_lines (practice, line_key, line_id, claim_row, frequency, billed_at, "
                        "line_identity, service_identity, sending_identity, code, modifiers, units) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        [(r[0], r[1], r[2], new_cid, *r[3:]) for r in rows])
                    lines += len(rows)
            for name, value in old.counters().items():
                conn.execute("UPDATE counters SET value = max(value, ?) WHERE name = ?", (value, name))
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (marker, signature))
            return lines
    except sqlite3.DatabaseError:
        raise damaged(legacy) from None
    finally:
        old.close()
