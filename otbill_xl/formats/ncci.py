"""Readers for CMS's quarterly NCCI files for practitioners: the procedure-to-procedure (PTP) edit
files and the Medically Unlikely Edits (MUE) table.

What the files look like (from the sources below; no CMS file is copied into this project)
--------------------------------------------------------------------------------------------

**PTP, practitioner** (CMS "Medicare NCCI Procedure to Procedure (PTP) Edits" page → Practitioner PTP
Edits; one zip per part, e.g. ``ccipra-v321r0-f1.zip`` … ``-f4``, each holding a text file and an Excel
copy). The text file is **tab-delimited**: a copyright/disclaimer preamble (AMA CPT notice, blank
lines), then one header line and one edit per line::

    Column 1 <TAB> Column 2 <TAB> *=in existence prior to 1996 <TAB> Effective Date <TAB>
    Deletion Date *=no data <TAB> Modifier 0=not allowed 1=allowed 9=not applicable <TAB> PTP Edit Rationale
    97530 <TAB> 97116 <TAB> <TAB> 20201001 <TAB> * <TAB> 1 <TAB> Misuse of column two code with column one code

Dates are ``YYYYMMDD``; a Deletion Date of ``*`` means none (the edit is in effect). The modifier
indicator is 0 (not allowed), 1 (allowed) or 9 (not applicable). The Excel copy puts the header
legends on lines of their own below the column names (``0=not allowed``, ``*=no data`` ...): lines
between the header and the first edit without a code in Column 1 are read as part of the header.

**MUE, practitioner** (CMS "Medicare NCCI Medically Unlikely Edits (MUEs)" page → Practitioner
Services MUE Table; a zip with a CSV and an Excel copy). A CSV whose first cell is a quoted,
multi-line AMA copyright notice, then the header ``HCPCS/CPT Code`` (itself sometimes broken over two
lines inside its quotes), ``Practitioner Services MUE Values``, ``MUE Adjudication Indicator``,
``MUE Rationale``, then one code per line, e.g. ``97110,6,"3 Date of Service Edit: Clinical",
"Clinical: Data"``. The adjudication indicator cell starts with the MAI digit (1 line edit, 2 date of
service edit: policy, 3 date of service edit: clinical). The table has no dates of its own: it is the
quarter's table, effective from the quarter's first day (named in the zip/file name, e.g.
``...Eff_01-01-2026``, ``2026-q1``, or given with ``--effective``).

Sources: ot-billing-facts.md §3 "MUE" (column names; MAI meanings, denialstop.com [S]) and §6 (PTP
columns and indicator meanings; APTA [P-copy]); CMS's NCCI PTP page (column 1 / column 2 semantics);
and public parsers and their test fixtures of the same files, read for the layout only: a practitioner
MUE parser documenting the quoted multi-line copyright cell and the ``HCPCS/\\nCPT Code`` header
(``countercharge_engine.refdata``), loaders documenting the seven tab-delimited PTP columns with
``*`` for "no deletion date" and a preamble before the header, and an xlsx fixture with the header
legends on rows of their own. Columns are found by their names, never by position.

Rows
----
Every line after the header is an edit (or a code's MUE) or reported: a bad code, date, indicator or
value is an error finding naming the file and line, and the other lines are still read. A line of
plain text after the table (a single filled cell) is a warning and skipped. A file that is not one of
these layouts (no header) raises :class:`NcciFileError`.

CMS's practitioner PTP edits fill several large files, almost none of them therapy codes:
:func:`read_ptp` keeps only the edits for which ``keep(column1, column2)`` is true (the caller keeps
pairs of OT catalogue codes) and counts the others; text files are streamed line by line.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from otbill_xl._cells import normalize_header, text_of
from otbill_xl.domain.findings import Finding, Location, Severity
from otbill_xl.domain.scrub.ncci import MueEdit, PtpEdit
from otbill_xl.formats.fee_schedule_import import TabularFileError, read_rows


class NcciFileError(TabularFileError):
    """A CMS NCCI file that cannot be used at all (missing, unreadable, not the PTP/MUE layout)."""

    message = "The CMS NCCI file cannot be used."


#: How far into a file the header must start (CMS's preambles are a few lines).
HEADER_SEARCH_LINES = 60
#: Largest member of a zip that is read (the largest practitioner PTP text file is well below).
MAX_MEMBER_BYTES = 600 * 1024 * 1024

_CODE = re.compile(r"^[A-Z0-9]{5}$")
_YYYYMMDD = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
#: The MUE Adjudication Indicator cell: the digit, then its text ("3 Date of Service Edit: Clinical").
_MAI = re.compile(r"^([123])(?!\d)")
_SPREADSHEET_MEMBERS = ("xl/workbook.xml", "[Content_Types].xml")

PTP_LAYOUT = ("Column 1, Column 2, *=in existence prior to 1996, Effective Date, Deletion Date, Modifier, "
              "PTP Edit Rationale")
MUE_LAYOUT = "HCPCS/CPT Code, Practitioner Services MUE Values, MUE Adjudication Indicator, MUE Rationale"


# ------------------------------------------------------------------------------------------------
# Lines of a file: text (streamed), a zip of text files, or a spreadsheet
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Source:
    """One table to read: its name in messages and its numbered rows."""

    name: str
    rows: Iterable[tuple[int, list[Any]]]


def _text_rows(handle: io.TextIOBase) -> Iterator[tuple[int, list[Any]]]:
    """Numbered rows of delimited text: tabs when the first lines hold tabs, else commas."""
    head: list[str] = []
    for line in handle:
        head.append(line)
        if len(head) >= HEADER_SEARCH_LINES:
            break
    sample = "".join(head)
    delimiter = "\t" if sample.count("\t") > sample.count(",") // 4 and "\t" in sample else ","

    def lines() -> Iterator[str]:
        yield from head
        yield from handle

    reader = csv.reader(lines(), delimiter=delimiter)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield start, ["\x00"]
            continue
        yield start, row


def _file_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    with path.open("rb") as raw:
        yield from _binary_rows(raw)


def _member_rows(path: Path, member: str) -> Iterator[tuple[int, list[Any]]]:
    with zipfile.ZipFile(path) as archive, archive.open(member) as raw:
        yield from _binary_rows(raw)


def _binary_rows(raw: Any) -> Iterator[tuple[int, list[Any]]]:
    """Rows of a binary stream read as UTF-8. CMS's files are ASCII in their codes, dates and
    indicators; a cp1252 byte elsewhere (the copyright sign of the preamble) becomes U+FFFD."""
    with io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as text:
        yield from _text_rows(text)


def _open_sources(path: Path, error: type[TabularFileError]) -> list[_Source]:
    name = path.name
    if not path.exists():
        raise error(f"{name}: the file does not exist. Check the path.")
    if path.is_dir():
        raise error(f"{name}: this is a folder, not a file.")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise error(f"{name}: cannot read the file ({exc.strerror}).") from None
    if path.stat().st_size == 0:
        raise error(f"{name}: the file is empty. Download it again from CMS's NCCI page.")
    if magic == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise error(f"{name}: the zip file is damaged. Download it again from CMS's NCCI page.") from None
        with archive:
            members = set(archive.namelist())
        if any(m in members for m in _SPREADSHEET_MEMBERS[:1]):
            table = read_rows(path, error=error)
            return [_Source(name, table.rows)]
        return _zip_sources(path, error)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        table = read_rows(path, error=error)
        return [_Source(name, table.rows)]
    return [_Source(name, _file_rows(path))]


def _zip_sources(path: Path, error: type[TabularFileError]) -> list[_Source]:
    """The text tables (``.txt``/``.csv``) inside a CMS zip; the Excel copies beside them are skipped."""
    name = path.name
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()
                 and i.filename.lower().endswith((".txt", ".csv"))
                 and not Path(i.filename).name.lower().startswith(("readme", "read me", "__macosx"))
                 and "__MACOSX" not in i.filename]
    if not infos:
        raise error(f"{name}: the zip holds no .txt or .csv table. Unzip it and give the table file.")
    for info in infos:
        if info.file_size > MAX_MEMBER_BYTES:
            raise error(f"{name}: {info.filename} is {info.file_size // (1024 * 1024)} MB, more than a CMS NCCI "
                        "table; unzip it and check it is the right file.")

    return [_Source(f"{name}/{i.filename}", _member_rows(path, i.filename))
            for i in sorted(infos, key=lambda i: i.filename)]


# ------------------------------------------------------------------------------------------------
# Cells
# ------------------------------------------------------------------------------------------------

def _code(value: object) -> str:
    """A HCPCS/CPT code cell: upper case; a number a spreadsheet stored (100) gets its zeros back."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(5)
    return text_of(value).upper()


def _yyyymmdd(value: object) -> date:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, date):
        return value
    text = text_of(value)
    m = _YYYYMMDD.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a date in YYYYMMDD form")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ValueError(f"{text!r} is not a calendar date") from None


def _whole(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, int):
        return value
    text = text_of(value)
    if not text.isdigit():
        raise ValueError
    return int(text)


def _cell(cells: list[Any], index: int | None) -> Any:
    if index is None or index >= len(cells):
        return None
    return cells[index]


def _filled(cells: list[Any]) -> list[str]:
    return [t for t in (text_of(c) for c in cells) if t]


# ------------------------------------------------------------------------------------------------
# Findings
# ------------------------------------------------------------------------------------------------

class _Report:
    def __init__(self, rule_prefix: str) -> None:
        self.prefix = rule_prefix
        self.findings: list[Finding] = []
        self.errors = 0

    def add(self, rule: str, severity: Severity, source: str, line: int, message: str, fix: str,
            column: str = "") -> None:
        if severity is Severity.ERROR:
            self.errors += 1
        self.findings.append(Finding(rule=f"{self.prefix}.{rule}", severity=severity,
                                     location=Location(file=source, row=line, column=column),
                                     message=f"{source} line {line}: {message}", fix=fix))


def _header_index(source: _Source, rows: Iterator[tuple[int, list[Any]]], is_header: Callable[[list[str]], bool],
                  layout: str, what: str) -> tuple[int, list[str]]:
    for line, cells in rows:
        names = [normalize_header(text_of(c)) for c in cells]
        if is_header(names):
            return line, names
        if line > HEADER_SEARCH_LINES:
            break
    raise NcciFileError(f"{source.name}: no {what} header in the first {HEADER_SEARCH_LINES} lines, so this is not "
                        f"CMS's {what} file (its columns are: {layout}). Give the table from CMS's zip (or the zip).")


def _find(names: list[str], test: Callable[[str], bool]) -> int | None:
    return next((i for i, n in enumerate(names) if n and test(n)), None)


# ------------------------------------------------------------------------------------------------
# PTP
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PtpRead:
    """What the PTP files held."""

    files: tuple[str, ...]
    #: Edits kept (``keep`` said yes), in file order.
    edits: tuple[PtpEdit, ...]
    findings: tuple[Finding, ...]
    #: Edit lines read (kept or not, errors excluded).
    rows: int
    #: Edits left out because ``keep`` said no (codes outside the OT catalogue).
    other_edits: int
    #: The latest Effective Date among all edits read (the release's quarter, at the latest).
    latest_effective: date | None
    #: Column-1 codes of the lines in error (a --partial import keeps their stored edits).
    rejected: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    def summary(self) -> dict[str, Any]:
        return {"files": list(self.files), "edits_kept": len(self.edits), "edits_read": self.rows,
                "other_edits": self.other_edits, "errors": len(self.errors),
                "latest_effective": self.latest_effective.isoformat() if self.latest_effective else None}


def _is_ptp_header(names: list[str]) -> bool:
    return "column1" in names and "column2" in names


def read_ptp(paths: Iterable[str | Path], *, keep: Callable[[str, str], bool] | None = None) -> PtpRead:
    """Read CMS practitioner PTP edit files (text, a CMS zip, or the Excel copy); see the module doc."""
    report = _Report("ptp")
    edits: list[PtpEdit] = []
    files: list[str] = []
    rows = other = 0
    latest: date | None = None
    rejected: set[str] = set()
    for path in paths:
        for source in _open_sources(Path(path), NcciFileError):
            files.append(source.name)
            it = iter(source.rows)
            header_line, names = _header_index(source, it, _is_ptp_header, PTP_LAYOUT, "PTP edit")
            col = {
                "c1": names.index("column1"), "c2": names.index("column2"),
                "prior": _find(names, lambda n: "existence" in n or "1996" in n),
                "eff": _find(names, lambda n: n.startswith("effective")),
                "del": _find(names, lambda n: n.startswith("deletion")),
                "mod": _find(names, lambda n: n.startswith("modifier")),
                "why": _find(names, lambda n: "rationale" in n),
            }
            missing = [label for key, label in (("eff", "Effective Date"), ("del", "Deletion Date"),
                                                ("mod", "Modifier")) if col[key] is None]
            if missing:
                raise NcciFileError(f"{source.name} line {header_line}: the PTP header has no {', '.join(missing)} "
                                    f"column (CMS's columns are: {PTP_LAYOUT}).")
            started = False
            for line, cells in it:
                filled = _filled(cells)
                if not filled:
                    continue
                c1 = _code(_cell(cells, col["c1"]))
                if not started and not _CODE.match(c1):
                    continue  # header legends on lines of their own (the Excel copy)
                started = True
                if len(filled) == 1 and not _CODE.match(c1):
                    report.add("note-line", Severity.WARNING, source.name, line,
                               f"not an edit line ({filled[0][:60]!r}); skipped.", "")
                    continue
                edit = _ptp_edit(report, source.name, line, cells, col, c1)
                if edit is None:
                    if _CODE.match(c1):
                        rejected.add(c1)
                    continue
                rows += 1
                if edit.effective_from is not None and (latest is None or edit.effective_from > latest):
                    latest = edit.effective_from
                if keep is None or keep(edit.column1, edit.column2):
                    edits.append(edit)
                else:
                    other += 1
            if not started:
                report.add("no-edits", Severity.WARNING, source.name, header_line,
                           "the file has a header but no edit lines.", "Check it is the complete CMS file.")
    return PtpRead(tuple(files), tuple(edits), tuple(report.findings), rows, other, latest, tuple(sorted(rejected)))


def _ptp_edit(report: _Report, source: str, line: int, cells: list[Any], col: dict[str, int | None],
              c1: str) -> PtpEdit | None:
    problems: list[tuple[str, str]] = []
    c2 = _code(_cell(cells, col["c2"]))
    if not _CODE.match(c1):
        problems.append(("Column 1", f"{c1[:20]!r} is not a 5-character HCPCS/CPT code"))
    if not _CODE.match(c2):
        problems.append(("Column 2", f"{c2[:20]!r} is not a 5-character HCPCS/CPT code"))
    prior = text_of(_cell(cells, col["prior"])) == "*"
    eff_raw = _cell(cells, col["eff"])
    effective: date | None = None
    if text_of(eff_raw) in ("", "*"):
        if not prior:
            problems.append(("Effective Date", "is blank (only edits marked * = in existence prior to 1996 may "
                                               "have no effective date)"))
    else:
        try:
            effective = _yyyymmdd(eff_raw)
        except ValueError as exc:
            problems.append(("Effective Date", str(exc)))
    del_raw = _cell(cells, col["del"])
    deleted: date | None = None
    if text_of(del_raw) not in ("", "*"):
        try:
            deleted = _yyyymmdd(del_raw)
        except ValueError as exc:
            problems.append(("Deletion Date", f"{exc} (or * for none)"))
    mod_raw = _cell(cells, col["mod"])
    try:
        indicator = str(_whole(mod_raw))
    except ValueError:
        indicator = text_of(mod_raw)
    if indicator not in ("0", "1", "9"):
        problems.append(("Modifier", f"{indicator[:20]!r} is not a modifier indicator (0, 1 or 9)"))
    if effective is not None and deleted is not None and deleted < effective:
        problems.append(("Deletion Date", f"{deleted:%Y%m%d} is before the Effective Date {effective:%Y%m%d}"))
    if problems:
        for column, what in problems:
            report.add("bad-line", Severity.ERROR, source, line, f"{column} {what}.",
                       "Download the file again from CMS (a changed line is not CMS's), or fix the line.",
                       column=column)
        return None
    return PtpEdit(c1, c2, indicator, effective, deleted, text_of(_cell(cells, col["why"])))


# ------------------------------------------------------------------------------------------------
# MUE
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MueRead:
    """What the MUE table held."""

    file: str
    header_line: int
    edits: tuple[MueEdit, ...]
    findings: tuple[Finding, ...]
    #: The quarter's first day, when the file (or zip) name says it.
    effective_hint: date | None
    #: Codes of the lines in error (a --partial import keeps their stored MUE).
    rejected: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    def summary(self) -> dict[str, Any]:
        return {"file": self.file, "header_line": self.header_line, "codes": len(self.edits),
                "errors": len(self.errors),
                "effective_hint": self.effective_hint.isoformat() if self.effective_hint else None}


def _is_mue_header(names: list[str]) -> bool:
    return any(n.startswith(("hcpcs", "cpt")) for n in names) and any("muevalue" in n for n in names)


def read_mue(path: str | Path) -> MueRead:
    """Read CMS's practitioner MUE table (CSV, its zip, or the Excel copy); see the module doc."""
    p = Path(path)
    sources = _open_sources(p, NcciFileError)
    if len(sources) != 1:
        raise NcciFileError(f"{p.name}: the zip holds {len(sources)} tables ({', '.join(s.name for s in sources)}); "
                            "give the practitioner MUE table itself.")
    source = sources[0]
    report = _Report("mue")
    it = iter(source.rows)
    header_line, names = _header_index(source, it, _is_mue_header, MUE_LAYOUT, "MUE")
    code_col = _find(names, lambda n: n.startswith(("hcpcs", "cpt")))
    value_col = _find(names, lambda n: "muevalue" in n)
    mai_col = _find(names, lambda n: "adjudication" in n or n == "mai")
    why_col = _find(names, lambda n: "rationale" in n)
    if mai_col is None:
        raise NcciFileError(f"{source.name} line {header_line}: the MUE header has no MUE Adjudication Indicator "
                            f"column (CMS's columns are: {MUE_LAYOUT}).")
    value_name = names[value_col] if value_col is not None else ""
    if any(w in value_name for w in ("hospital", "dme", "facility")):
        raise NcciFileError(f"{source.name} line {header_line}: this is not the practitioner MUE table (its value "
                            "column is for another setting); a private practice is held to CMS's Practitioner "
                            "Services MUE Table.")
    edits: dict[str, MueEdit] = {}
    first_line: dict[str, int] = {}
    rejected: set[str] = set()
    started = False
    for line, cells in it:
        filled = _filled(cells)
        if not filled:
            continue
        code = _code(_cell(cells, code_col))
        if not started and not _CODE.match(code):
            continue
        started = True
        if len(filled) == 1 and not _CODE.match(code):
            report.add("note-line", Severity.WARNING, source.name, line,
                       f"not a code line ({filled[0][:60]!r}); skipped.", "")
            continue
        problems: list[tuple[str, str]] = []
        if not _CODE.match(code):
            problems.append(("HCPCS/CPT Code", f"{code[:20]!r} is not a 5-character HCPCS/CPT code"))
        value_raw = _cell(cells, value_col)
        try:
            value = _whole(value_raw)
        except ValueError:
            value = -1
            problems.append(("MUE Values", f"{text_of(value_raw)[:20]!r} is not a whole number of units"))
        mai_text = text_of(_cell(cells, mai_col))
        m = _MAI.match(mai_text)
        mai = int(m[1]) if m else 0
        if not mai:
            problems.append(("MUE Adjudication Indicator",
                             f"{mai_text[:30]!r} does not start with the indicator 1, 2 or 3"))
        if not problems and code in edits:
            problems.append(("HCPCS/CPT Code", f"{code} is listed twice (also on line {first_line[code]})"))
        if problems:
            for column, what in problems:
                report.add("bad-line", Severity.ERROR, source.name, line, f"{column} {what}.",
                           "Download the table again from CMS (a changed line is not CMS's), or fix the line.",
                           column=column)
            if _CODE.match(code):
                rejected.add(code)
            continue
        edits[code] = MueEdit(code, value, mai, text_of(_cell(cells, why_col)))
        first_line[code] = line
    if not started:
        report.add("no-edits", Severity.WARNING, source.name, header_line,
                   "the table has a header but no code lines.", "Check it is the complete CMS file.")
    hint = quarter_from_name(source.name)
    return MueRead(source.name, header_line, tuple(edits.values()), tuple(report.findings), hint,
                   tuple(sorted(rejected - set(edits))))


# ------------------------------------------------------------------------------------------------
# The quarter in a file name
# ------------------------------------------------------------------------------------------------

_QUARTER_MONTH = {"january": 1, "jan": 1, "april": 4, "apr": 4, "july": 7, "jul": 7, "october": 10, "oct": 10}


def quarter_from_name(name: str) -> date | None:
    """The effective date a CMS file or zip name states: ``..._Eff_01-01-2026.csv`` (MM-DD-YYYY),
    ``2026-01-01``, ``2026-q1`` / ``q1-2026`` / ``2026Q1``, ``january-2026``; None when it states none."""
    text = name.lower()
    try:
        m = re.search(r"(?<!\d)(\d{4})[-_](\d{2})[-_](\d{2})(?!\d)", text)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = re.search(r"(?<!\d)(\d{1,2})[-_](\d{1,2})[-_](\d{4})(?!\d)", text)
        if m:
            return date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:
        return None
    m = re.search(r"(?<!\d)(\d{4})[-_ ]?q([1-4])(?!\d)", text) or None
    if m:
        return date(int(m[1]), 3 * int(m[2]) - 2, 1)
    m = re.search(r"(?<![a-z])q([1-4])[-_ ]?(\d{4})(?!\d)", text)
    if m:
        return date(int(m[2]), 3 * int(m[1]) - 2, 1)
    m = re.search(r"(january|april|july|october|jan|apr|jul|oct)[-_ ]?(\d{4})(?!\d)", text)
    if m:
        return date(int(m[2]), _QUARTER_MONTH[m[1]], 1)
    return None
