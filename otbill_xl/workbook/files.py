"""File adapter of the workbook port: python-calamine for reading, a streamed copy for writing.

python-calamine (Rust) reads a 100,000-row sheet about ten times faster than openpyxl's read-only
mode (measured in ``benchmarks/``), so every value read goes through it. Writes (values, fills,
notes, hyperlinks, result sheets, charts) are recorded and applied by :meth:`FileWorkbook.save`, which copies
the package part by part and rewrites only what changed (:mod:`otbill_xl.workbook.xlsx_patch`); the
result is always saved under a new name, atomically (temporary file, then rename): the input file is
never modified.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import python_calamine

from otbill_xl._locks import lock_new
from otbill_xl.domain.findings import column_letter
from otbill_xl.errors import (
    EmptyWorkbook,
    EncryptedWorkbook,
    NotAWorkbook,
    OutputError,
    WorkbookError,
    WorkbookNotFound,
)
from otbill_xl.workbook.charts import ChartSpec
from otbill_xl.workbook.parts import (
    SheetScan,
    calamine_call,
    check_parts,
    finditer_part,
    huge_numbers,
    rows_one_by_one,
    scan_sheet,
)
from otbill_xl.workbook.port import OutputTable, TableInfo
from otbill_xl.workbook.xlsx_patch import Edits, write_patched

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")

# A formula cell whose result was never saved: <c r="B2" ...><f>...</f></c> with no <v>.
_FORMULA_NO_VALUE = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]+)"[^>]*>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)(?:<v\s*/>|<v></v>)?</c>'
)
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]+)")
# Formulas almost always run down a whole column, so the first part of a sheet tells whether
# there are any; only then is the whole sheet scanned (the full scan costs ~0.2 s per 100k rows).
_FORMULA_SAMPLE_BYTES = 1 << 20


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def check_workbook_file(path: Path) -> None:
    """Raise a clear :class:`WorkbookError` for files that are not usable .xlsx workbooks."""
    if not path.exists():
        raise WorkbookNotFound(f"{path.name}: the file does not exist. Check the path.")
    if path.is_dir():
        raise NotAWorkbook(f"{path.name}: this is a folder, not a workbook.")
    size = path.stat().st_size
    if size == 0:
        raise EmptyWorkbook(f"{path.name}: the file is empty (0 bytes). Save the workbook again from Excel.")
    with path.open("rb") as fh:
        head = fh.read(8)
        if head.startswith(_OLE_MAGIC):
            fh.seek(0)
            body = fh.read(min(size, 1 << 20))
            if _ENCRYPTION_STREAM in body:
                raise EncryptedWorkbook(
                    f"{path.name}: the workbook is password-protected, so otbill cannot read it. "
                    "In Excel use File > Info > Protect Workbook > Encrypt with Password, clear the "
                    "password, and save a copy."
                )
            raise NotAWorkbook(
                f"{path.name}: this is an old-format Excel file (.xls), not .xlsx. "
                "Open it in Excel and use File > Save As > Excel Workbook (*.xlsx)."
            )
    if not head.startswith(_ZIP_MAGIC):
        kind = "text (perhaps a CSV export)" if _looks_like_text(head) else "not a workbook"
        raise NotAWorkbook(
            f"{path.name}: the file is {kind}, not an Excel .xlsx workbook, despite its name. "
            "Open it in Excel and save it as .xlsx."
        )
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            _check_kind(zf, names, path.name)
            check_parts(zf, path.name)
    except zipfile.BadZipFile:
        raise NotAWorkbook(f"{path.name}: the file is damaged (not a complete .xlsx). Save it again from Excel.") from None


_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _check_kind(zf: zipfile.ZipFile, names: set[str], name: str) -> None:
    if "xl/workbook.xml" in names:
        return
    if "xl/workbook.bin" in names:
        raise NotAWorkbook(f"{name}: this is a binary workbook (.xlsb). Save it as .xlsx in Excel.")
    if "content.xml" in names and "mimetype" in names:
        with zf.open("mimetype") as fh:
            mimetype = fh.read(len(_ODS_MIMETYPE) + 16)
        if mimetype.startswith(_ODS_MIMETYPE):
            raise NotAWorkbook(
                f"{name}: OpenDocument spreadsheets are not supported; save as .xlsx "
                "(LibreOffice: File > Save As > Excel 2007-365 (.xlsx)).")
        raise NotAWorkbook(f"{name}: this is an OpenDocument file, not an Excel workbook. Save it as .xlsx.")
    raise NotAWorkbook(f"{name}: the file is a zip archive but not an Excel workbook (a Word or other document?).")


def _looks_like_text(head: bytes) -> bool:
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head.lstrip(b"\xef\xbb\xbf"))


def _umask() -> int:
    """The process umask (read from /proc on Linux; elsewhere set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def run_stamp(when: datetime | None = None) -> str:
    """``20261129-194501``: a run's local date and time, in the names of outputs it must not share with
    another run (annotated copies, reports, fee-schedule copies, claim previews)."""
    return (when or datetime.now()).strftime("%Y%m%d-%H%M%S")


def unused_name(path: Path) -> Path:
    """``path``, or ``NAME-2.EXT``, ``NAME-3.EXT``... when a file of that name exists: an output never
    replaces another (two runs in the same second)."""
    n, candidate = 1, path
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def atomic_save(write, target: Path, *, replace: bool = True) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``target`` (same folder).

    The file gets the mode a newly created file would get (``0666`` less the umask; the temporary file
    is created ``0600``). With ``replace=False`` an existing ``target`` is never replaced: the
    temporary file is linked to the name, which fails if the name exists (:class:`FileExistsError`).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file is locked while it is written, so a later run's clean-up of stray ``.part``
    # files (they hold patient data) leaves a file another run is writing alone.
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix + ".part", dir=target.parent)
        if os.name == "nt":  # pragma: no cover - Windows renames no open file
            os.close(fd)
            fd = -1
            break
        if lock_new(fd, Path(tmp)):
            break
        os.close(fd)  # a clean-up took the new file in the instant before the lock: another name
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        if replace:
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise
        except (OSError, AttributeError):  # a file system without hard links: check, then rename
            if target.exists() or target.is_symlink():
                raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
            os.replace(tmp, target)
            return
        Path(tmp).unlink(missing_ok=True)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        if fd >= 0:
            os.close(fd)


def _is_read_only(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not mode & stat.S_IWUSR or not os.access(path, os.W_OK)


def check_output_file(target: Path, *, replace: bool = True) -> None:
    """Raise :class:`OutputError` (in words, with a fix) when ``target`` cannot be written."""
    name = target.name or str(target)
    if target.is_dir():
        raise OutputError(f"{name}: this is a folder, so otbill cannot write the workbook copy under that name. "
                          "Fix: give a file name (e.g. --out FOLDER/copy.xlsx).")
    if target.exists():
        if not replace:
            raise OutputError(f"{name}: the file already exists and otbill does not replace it. "
                              "Fix: run again (a new name is chosen) or give --out.")
        if _is_read_only(target):
            raise OutputError(f"{name}: the file already exists and is read-only, so otbill will not replace it. "
                              "Fix: choose another --out name, or make the file writable and run again.")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{name}: {parent.name} in the output path is a file, not a folder. "
                                  "Fix: choose another --out path.")
            break


def _output_error(target: Path, exc: OSError) -> OutputError:
    name = target.name or str(target)
    if isinstance(exc, FileExistsError):
        return OutputError(f"{name}: a file of that name appeared while otbill was writing; nothing was replaced. "
                           "Fix: run again, or give --out.")
    if isinstance(exc, PermissionError):
        return OutputError(f"{name}: permission denied, so the file cannot be written there (the folder is not "
                           "writable, or the file is open in another program such as Excel). Fix: close the file, "
                           "or choose another --out in a folder you can write to.")
    if isinstance(exc, IsADirectoryError):
        return OutputError(f"{name}: this is a folder, not a file name. Fix: give a file name with --out.")
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"{name}: the file cannot be written ({reason}). Fix: check that the folder exists, that "
                       "you can write to it and that the disk has free space, or choose another --out.")


class FileWorkbook:
    """A workbook file. Reads never change it; writes go to a copy saved with :meth:`save`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = self.path.name
        check_workbook_file(self.path)
        try:
            self._book = calamine_call(
                lambda: python_calamine.CalamineWorkbook.from_path(str(self.path), load_tables=True),
                self.name, "opening the workbook")
        except python_calamine.PasswordError:
            raise EncryptedWorkbook(f"{self.name}: the workbook is password-protected.") from None
        except WorkbookError:
            raise
        except Exception as exc:  # calamine raises several types for damaged files
            raise NotAWorkbook(
                f"{self.name}: the workbook could not be opened ({type(exc).__name__}). "
                "Open it in Excel and save it again as .xlsx."
            ) from None
        self._sheet_names = list(self._book.sheet_names)
        self._states = {m.name: _STATES.get(str(m.visible).rsplit(".", 1)[-1], "visible")
                        for m in self._book.sheets_metadata}
        self._values: dict[str, list[list[Any]]] = {}
        self._merged: dict[str, list[tuple[int, int, int, int]]] = {}
        self._scans: dict[str, SheetScan] = {}
        self._unreadable: dict[str, dict[int, list[int]]] = {}
        self._xml_paths: dict[str, str] | None = None
        self._edits = Edits()  # what the copy changes, applied by save()

    # -- reading -------------------------------------------------------------------------
    def sheet_names(self) -> list[str]:
        return list(self._sheet_names)

    def _sheet(self, sheet: str):
        what = f"reading sheet {sheet!r}"
        try:
            return calamine_call(lambda: self._book.get_sheet_by_name(sheet), self.name, what)
        except WorkbookError:
            raise
        except Exception as exc:
            raise WorkbookError(f"{self.name}: sheet {sheet!r} could not be read ({type(exc).__name__}). "
                                "Open the workbook in Excel and save it again as .xlsx.") from None

    def values(self, sheet: str) -> list[list[Any]]:
        if sheet not in self._values:
            # The sheet's XML is scanned (error cells, hidden rows; bounded) in a second thread while
            # python-calamine parses it: calamine releases the GIL while it parses, so on a machine
            # with a free core the scan costs no time. calamine itself never inflates a part past
            # its declared size, which check_workbook_file has checked before the file was opened.
            scanning = _Background(lambda: self.scan(sheet))
            try:
                ws = self._sheet(sheet)
            except WorkbookError:
                _refuse_unreadable_errors(self.name, sheet, scanning.result())
                raise
            scan = scanning.result()
            _refuse_unreadable_errors(self.name, sheet, scan)
            what = f"reading sheet {sheet!r}"
            try:
                self._values[sheet] = calamine_call(lambda: ws.to_python(skip_empty_area=False), self.name, what)
            except (OverflowError, ValueError):  # a value Python cannot hold: find the rows it is in
                self._values[sheet], failed = rows_one_by_one(ws, self.name, what)
                self._unreadable[sheet] = self._locate_huge_numbers(sheet, failed)
            ranges = ws.merged_cell_ranges or []
            self._merged[sheet] = [(r1 + 1, c1 + 1, r2 + 1, c2 + 1) for (r1, c1), (r2, c2) in ranges]
        return self._values[sheet]

    def scan(self, sheet: str) -> SheetScan:
        """Error cells and hidden rows of a sheet, from its XML (python-calamine hands error cells
        over as blanks and does not report hidden rows)."""
        if sheet not in self._scans:
            member = self._sheet_xml_paths().get(sheet)
            scan = SheetScan((), 0, ())
            if member is not None:
                with zipfile.ZipFile(self.path) as zf:
                    try:
                        info = zf.getinfo(member)
                    except KeyError:
                        info = None
                if info is not None:
                    scan = scan_sheet(self.path, info, self.name)
            self._scans[sheet] = scan
        return self._scans[sheet]

    def _locate_huge_numbers(self, sheet: str, rows: list[int]) -> dict[int, list[int]]:
        member = self._sheet_xml_paths().get(sheet)
        if not rows or member is None:
            return {row: [] for row in rows}
        with zipfile.ZipFile(self.path) as zf:
            info = zf.getinfo(member)
        return huge_numbers(self.path, info, self.name, set(rows))

    def unreadable_cells(self, sheet: str) -> dict[int, list[int]]:
        """Rows python-calamine could not convert (their values read as blank), each with the columns
        of the cells that caused it where they could be found (numbers beyond Excel's dates under a
        date or duration format)."""
        self.values(sheet)
        return dict(self._unreadable.get(sheet, {}))

    def sheet_state(self, sheet: str) -> str:
        """``visible``, ``hidden`` or ``veryHidden`` (hidden so that only VBA can show it)."""
        return self._states.get(sheet, "visible")

    def error_cells(self, sheet: str) -> list[tuple[int, int, str]]:
        """Cells holding an Excel error (``#N/A``, ``#REF!`` ...) as (row, column, error), 1-based."""
        return list(self.scan(sheet).error_cells)

    def hidden_rows(self, sheet: str) -> list[int]:
        """Rows (1-based) hidden in Excel; otbill reads them like any other row."""
        return list(self.scan(sheet).hidden_rows)

    def tables(self) -> list[TableInfo]:
        out = []
        for name in self._book.table_names or []:
            try:
                table = self._book.get_table_by_name(name)
            except Exception:
                continue
            start = table.start or (1, 0)
            # calamine's table start is the first data row; the header is the row above.
            out.append(TableInfo(name, table.sheet, start[0], start[1] + 1, tuple(table.columns)))
        return out

    def merged_ranges(self, sheet: str) -> list[tuple[int, int, int, int]]:
        if sheet not in self._merged:
            self.values(sheet)
        return self._merged[sheet]

    def _sheet_xml_paths(self) -> dict[str, str]:
        if self._xml_paths is None:
            self._xml_paths = {}
            try:
                with zipfile.ZipFile(self.path) as zf:
                    wb_xml = _read_small(zf, "xl/workbook.xml", self.name).decode("utf-8", "replace")
                    rels = _read_small(zf, "xl/_rels/workbook.xml.rels", self.name).decode("utf-8", "replace")
            except (KeyError, zipfile.BadZipFile, OSError):
                return self._xml_paths
            targets = dict(re.findall(r'<Relationship [^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels))
            targets.update({k: v for v, k in re.findall(r'<Relationship [^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)})
            for name, rid in re.findall(r'<sheet [^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', wb_xml):
                target = targets.get(rid, "")
                target = target.lstrip("/") if target.startswith("/") else "xl/" + target
                self._xml_paths[_xml_unescape(name)] = target
        return self._xml_paths

    def formulas_without_values(self, sheet: str) -> list[tuple[int, int]]:
        try:
            with zipfile.ZipFile(self.path) as zf:
                if "xl/calcChain.xml" in zf.namelist():
                    return []  # saved by a program that calculates (Excel): results are cached
                member = self._sheet_xml_paths().get(sheet)
                if member is None:
                    return []
                info = zf.getinfo(member)
                with zf.open(member) as fh:
                    if b"<f" not in fh.read(_FORMULA_SAMPLE_BYTES):
                        return []
        except (KeyError, zipfile.BadZipFile, OSError):
            return []
        # streaming: a sheet of a million rows is never held in memory at once
        return [(int(m[2]), column_index(m[1].decode())) for _, m in
                finditer_part(self.path, info, self.name, (_FORMULA_NO_VALUE,))]

    # -- writing -------------------------------------------------------------------------
    # Writes are recorded (an :class:`Edits`) and applied by :meth:`save`, which copies the package
    # part by part and streams only the changed sheets (issue #11: openpyxl's load + save of a
    # 100,000-line workbook took ~40 s and ~1 GB; the streamed copy ~1.5 s and ~150 MB). The openpyxl
    # way stays in the tests as the reference (tests/openpyxl_copy.py; tests/test_xlsx_patch.py).
    def write_values(self, sheet: str, row: int, column: int, rows: Sequence[Sequence[Any]]) -> None:
        self._edits.write_values(sheet, row, column, rows)

    def fill(self, sheet: str, row: int, column: int, rgb: str) -> None:
        self._edits.fill(sheet, row, column, rgb)

    def note(self, sheet: str, row: int, column: int, text: str) -> None:
        self._edits.note(sheet, row, column, text)

    def hyperlink(self, sheet: str, row: int, column: int, target: str) -> None:
        self._edits.hyperlink(sheet, row, column, target)

    def replace_sheet(self, sheet: str, rows: Sequence[Sequence[Any]], *, widths: Sequence[float | None] = (),
                      formats: Sequence[str | None] | None = None, table: OutputTable | None = None) -> None:
        self._edits.replace_sheet(sheet, rows, widths=widths, formats=formats, table=table)

    def add_chart(self, sheet: str, chart: ChartSpec) -> None:
        self._edits.add_chart(sheet, chart)

    def extend_table(self, table: str, last_row: int) -> None:
        self._edits.extend_table(table, last_row)

    def save(self, path: str | None = None, *, replace: bool = True) -> None:
        """Write the copy to ``path`` atomically; ``replace=False`` never replaces an existing file."""
        if path is None:
            raise OutputError(f"{self.name}: otbill never overwrites its input; give a new file name.")
        target = Path(path)
        if target.resolve() == self.path.resolve():
            raise OutputError(f"{self.name}: refusing to overwrite the input workbook; choose another name.")
        check_output_file(target, replace=replace)
        try:
            atomic_save(lambda tmp: write_patched(self.path, self._edits, tmp), target, replace=replace)
        except OSError as exc:
            raise _output_error(target, exc) from None


def _xml_unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


class _Background:
    """Run ``fn`` in a thread; :meth:`result` waits for it and returns (or raises) what it did."""

    def __init__(self, fn) -> None:
        self._fn = fn
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="otbill-sheet-scan", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


_STATES = {"Visible": "visible", "Hidden": "hidden", "VeryHidden": "veryHidden"}
#: Excel error values python-calamine reads (as blanks); others (#SPILL!, #CALC! ...) stop it.
CALAMINE_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"})


def _refuse_unreadable_errors(name: str, sheet: str, scan: SheetScan) -> None:
    for row, column, code in scan.error_cells:
        if code and code not in CALAMINE_ERRORS:
            raise WorkbookError(
                f"{name}: cell {sheet}!{column_letter(column)}{row} holds the Excel error {code[:20]}, which "
                "otbill's reader cannot read (it stops the whole sheet). Fix the formula in Excel (or replace "
                "the cell with its value) and save again.")


def _read_small(zf: zipfile.ZipFile, member: str, name: str, limit: int = 64 << 20) -> bytes:
    with zf.open(member) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise WorkbookError(f"{name}: part {member} is larger than {limit >> 20} MB, far more than a workbook "
                            "needs. Open it in Excel and save it again as .xlsx.")
    return data
