"""The user's reference data: CMS's NCCI tables, imported once a quarter and used by every scrub.

``otbill refdata import-ncci`` reads CMS's files (:mod:`otbill_xl.formats.ncci`) and
:func:`store_ncci` writes them here, per user, beside the claim ledgers::

    <user data dir>/otbill/refdata/ncci/      ($XDG_DATA_HOME/otbill/refdata/ncci on Linux)
        mue-2026-01-01.csv   one quarter's practitioner MUE table, in effect from that date
        ptp-2026-01-01.csv   one PTP release (the edits of OT catalogue code pairs, with their dates)
        sources.json         which CMS files each table was imported from

Every import is dated: a newer quarter is a new file, older quarters stay (a DOS in an older quarter
is checked against that quarter's MUEs); importing the same quarter again replaces that quarter's file
only. Files are written whole to a temporary name and renamed, so an interrupted import leaves the
previous data as it was. :func:`load_ncci` reads them back as the immutable
:class:`~otbill_xl.domain.scrub.ncci.NcciTables` the scrub takes (the domain never reads a file).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from otbill_xl.domain.scrub.ncci import MueEdit, MueTable, NcciTables, PtpEdit, tables
from otbill_xl.errors import OtbillError

_MUE_COLUMNS = ("code", "mue", "mai", "rationale")
_PTP_COLUMNS = ("column1", "column2", "modifier_indicator", "effective_from", "deleted_on", "rationale")
_NAME = re.compile(r"^(mue|ptp)-(\d{4}-\d{2}-\d{2})\.csv$")
SOURCES = "sources.json"


class RefdataStoreError(OtbillError):
    """The stored reference data cannot be read or written."""

    message = "The imported reference data cannot be used."


def store_dir() -> Path:
    """The folder of the imported NCCI tables (platformdirs' user data dir, as the ledgers)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("otbill", appauthor=False)) / "refdata" / "ncci"


@dataclass(frozen=True)
class StoredTable:
    """One stored table: kind (mue / ptp), its date, file, rows and where it came from."""

    kind: str
    effective: date
    path: Path
    rows: int
    sources: tuple[str, ...] = ()
    #: True when the import replaced a table of the same date.
    replaced: bool = False
    #: Rows kept from the replaced table for codes whose lines had errors (``--partial``).
    kept: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "effective": self.effective.isoformat(), "file": str(self.path),
                "rows": self.rows, "sources": list(self.sources), "replaced": self.replaced, "kept": self.kept}


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------

def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with part.open("w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise RefdataStoreError(f"{path}: cannot write the imported table ({exc.strerror}). Check the folder's "
                                "permissions and free space; nothing was changed.") from None


def _csv_text(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _iso(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def store_ncci(*, mue: Collection[MueEdit] | None = None, mue_effective: date | None = None,
               ptp: Collection[PtpEdit] | None = None, ptp_release: date | None = None,
               keep_mue_codes: Collection[str] = (), keep_ptp_codes: Collection[str] = (),
               sources: dict[str, tuple[str, ...]] | None = None,
               directory: Path | None = None) -> list[StoredTable]:
    """Store a quarter's MUE table and/or a PTP release (each replaces only the stored table of the
    same date). ``keep_*_codes``: codes whose lines had errors (``--partial``): their rows of the
    replaced same-date table are kept instead of dropped."""
    folder = directory or store_dir()
    done: list[StoredTable] = []
    src = sources or {}
    if mue is not None:
        if mue_effective is None:
            raise ValueError("an MUE table needs its effective date")
        path = folder / f"mue-{mue_effective.isoformat()}.csv"
        rows = {e.code: e for e in mue}
        kept = 0
        replaced = path.exists()
        if replaced and keep_mue_codes:
            for old in _read_mue(path):
                if old.code in keep_mue_codes and old.code not in rows:
                    rows[old.code] = old
                    kept += 1
        text = _csv_text(_MUE_COLUMNS, ((e.code, e.value, e.mai, e.rationale) for e in sorted(rows.values())))
        _write_atomic(path, text)
        done.append(StoredTable("mue", mue_effective, path, len(rows), src.get("mue", ()), replaced, kept))
    if ptp is not None:
        if ptp_release is None:
            raise ValueError("a PTP release needs its date")
        path = folder / f"ptp-{ptp_release.isoformat()}.csv"
        edits = list(ptp)
        kept = 0
        replaced = path.exists()
        if replaced and keep_ptp_codes:
            for edit in _read_ptp(path):
                if edit.column1 in keep_ptp_codes:
                    edits.append(edit)
                    kept += 1
        edits = sorted(set(edits), key=lambda e: (e.column1, e.column2, e.effective_from or date.min))
        text = _csv_text(_PTP_COLUMNS, ((e.column1, e.column2, e.modifier_indicator, _iso(e.effective_from),
                                         _iso(e.deleted_on), e.source) for e in edits))
        _write_atomic(path, text)
        done.append(StoredTable("ptp", ptp_release, path, len(edits), src.get("ptp", ()), replaced, kept))
    if done:
        _record_sources(folder, done)
    return done


def _record_sources(folder: Path, done: list[StoredTable]) -> None:
    known = _sources(folder)
    for t in done:
        known[t.path.name] = list(t.sources)
    _write_atomic(folder / SOURCES, json.dumps(known, indent=1, sort_keys=True) + "\n")


def _sources(folder: Path) -> dict[str, list[str]]:
    try:
        data = json.loads((folder / SOURCES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------

def _damaged(path: Path, line: int, what: str) -> RefdataStoreError:
    return RefdataStoreError(f"{path} line {line}: {what}; the imported table is damaged. Import the CMS file "
                             f"again (otbill refdata import-ncci), or delete {path.name}.")


def _rows(path: Path, columns: tuple[str, ...]) -> Iterable[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RefdataStoreError(f"{path}: cannot read the imported table ({exc}). Import the CMS file again "
                                "(otbill refdata import-ncci).") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != columns:
        raise _damaged(path, 1, f"the header is not {','.join(columns)}")
    yield from enumerate(reader, start=2)


def _read_mue(path: Path) -> list[MueEdit]:
    out = []
    for n, row in _rows(path, _MUE_COLUMNS):
        try:
            out.append(MueEdit(row["code"], int(row["mue"]), int(row["mai"]), row["rationale"] or ""))
        except (TypeError, ValueError):
            raise _damaged(path, n, "the MUE or MAI is not a number") from None
    return out


def _read_ptp(path: Path) -> list[PtpEdit]:
    out = []
    for n, row in _rows(path, _PTP_COLUMNS):
        try:
            out.append(PtpEdit(row["column1"], row["column2"], row["modifier_indicator"],
                               date.fromisoformat(row["effective_from"]) if row["effective_from"] else None,
                               date.fromisoformat(row["deleted_on"]) if row["deleted_on"] else None,
                               row["rationale"] or ""))
        except (TypeError, ValueError):
            raise _damaged(path, n, "a date is not YYYY-MM-DD") from None
    return out


def stored_tables(directory: Path | None = None) -> list[StoredTable]:
    """The stored tables, oldest first (MUE quarters, then PTP releases)."""
    folder = directory or store_dir()
    if not folder.is_dir():
        return []
    sources = _sources(folder)
    found = []
    for path in folder.iterdir():
        m = _NAME.match(path.name)
        if not m or not path.is_file():
            continue
        try:
            effective = date.fromisoformat(m[2])
        except ValueError:
            continue
        with path.open("rb") as f:
            rows = max(0, sum(1 for _ in f) - 1)
        found.append(StoredTable(m[1], effective, path, rows, tuple(sources.get(path.name, ()))))
    return sorted(found, key=lambda t: (t.kind, t.effective))


_CACHE: dict[tuple, NcciTables | None] = {}


def load_ncci(directory: Path | None = None) -> NcciTables | None:
    """The imported NCCI tables (None when nothing was imported), for :func:`~otbill_xl.domain.scrub.scrub`.

    MUE: each quarter's table applies from its date until the next stored quarter. PTP: each release
    is CMS's complete edit file with every edit's own dates; a pair's edits come from the newest
    release that has the pair (older releases fill in pairs a newer one does not list)."""
    folder = directory or store_dir()
    stored = stored_tables(folder)
    if not stored:
        return None
    key = (str(folder), *((t.path.name, t.path.stat().st_mtime_ns, t.path.stat().st_size) for t in stored))
    if key in _CACHE:
        return _CACHE[key]
    mue = tuple(MueTable(t.effective, {e.code: e for e in _read_mue(t.path)}) for t in stored if t.kind == "mue")
    releases = [t for t in stored if t.kind == "ptp"]
    by_pair: dict[tuple[str, str], list[PtpEdit]] = {}
    for t in reversed(releases):  # newest first: the first release to list a pair wins
        seen: dict[tuple[str, str], list[PtpEdit]] = {}
        for e in _read_ptp(t.path):
            seen.setdefault((e.column1, e.column2), []).append(e)
        for pair, edits in seen.items():
            by_pair.setdefault(pair, edits)
    ptp: dict[str, list[PtpEdit]] = {}
    for (c1, _c2), edits in sorted(by_pair.items()):
        ptp.setdefault(c1, []).extend(edits)
    label = f"CMS PTP edits of {releases[-1].effective.isoformat()}" if releases else ""
    result = tables({c: tuple(v) for c, v in ptp.items()}, mue, label)
    _CACHE.clear()
    _CACHE[key] = result
    return result
