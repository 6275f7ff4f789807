"""Bounded reading of a workbook's zip parts, before python-calamine or openpyxl sees them.

An .xlsx file is a zip archive of XML parts. Three kinds of crafted file would otherwise exhaust
memory or attack an XML reader, so every file is checked before it is opened:

* **Zip bombs.** Each part's declared size (``ZipInfo.file_size``) must stay under
  :data:`MAX_PART_BYTES` and, for parts above :data:`RATIO_MIN_BYTES`, its compression ratio under
  :data:`MAX_RATIO` (:data:`MAX_RATIO_NOTES` for comments and VML drawings). The sheets otbill reads
  are inflated here once more, streaming, counting the *actual* inflated size: reading stops as soon
  as it passes the declared size or a limit. (python-calamine's zip reader also stops with an error
  at a part's declared size, so a part cannot inflate past what was checked here.)
* **DTDs and entity declarations** (``<!DOCTYPE``, ``<!ENTITY``) in any XML part: Excel never writes
  them, and entity expansion is the classic XML memory attack. The prolog of every XML part (the
  text before its root element, where a DTD must stand) is read and checked.
* **Panics** of python-calamine (Rust) are caught as what they are (``pyo3_runtime.PanicException``
  derives from ``BaseException``) and reported on the file; see :func:`calamine_call`.

The limits, with the figures behind them:

* A Charges sheet of 1,048,576 rows (Excel's maximum) with all 22 contract columns filled is
  1,221,201,975 bytes (1.14 GiB) of sheet XML, 14x compressed (measured: written by openpyxl with
  inline strings, the wordiest encoding, 1,165 bytes per row; Excel's shared strings are smaller),
  so :data:`MAX_PART_BYTES` is 2 GiB, room for a few more columns of the biller's own.
* Real sheet XML compresses 6-22 times (measured: the 100,000-row benchmark sheet 10.7x, a million
  formatted empty rows 21.5x); a run of whitespace compresses about 1,000 times. Comments and VML
  drawings repeat the same note and shape: otbill's own annotated copy with 20,000 notes reaches
  54x (comments) and 83x (VML).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from otbill_xl.errors import NotAWorkbook, UnsafeWorkbook, WorkbookError

#: Largest inflated size of one part (a full 1,048,576-row Charges sheet is 1.14 GiB of XML).
MAX_PART_BYTES = 2 << 30
#: Largest inflated size of all parts together.
MAX_TOTAL_BYTES = 4 << 30
#: Most parts in one file (a workbook of 1,000 sheets has about 3,000).
MAX_PARTS = 10_000
#: Largest compression ratio of a part above :data:`RATIO_MIN_BYTES` (sheets, shared strings, ...).
MAX_RATIO = 50
#: Largest compression ratio of comments and VML drawings (notes repeat the same text and shape).
MAX_RATIO_NOTES = 250
#: Parts smaller than this are never refused for their ratio (they cannot hurt).
RATIO_MIN_BYTES = 1 << 20
#: How much of an XML part is read to find its root element (the prolog, where a DTD stands).
PROLOG_BYTES = 64 << 10

_XML_SUFFIXES = (".xml", ".rels", ".vml")
_NOTES_PART = re.compile(r"(^|/)(comments?[^/]*\.xml|[^/]*\.vml)$", re.IGNORECASE)
_LOCAL_HEADER = b"PK\x03\x04"
_CHUNK = 1 << 18  # inflate in 256 KiB pieces: big enough to be fast, small enough to stay in cache

T = TypeVar("T")


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MB" if n >= 1 << 20 else f"{n:,} bytes"


def _fix_resave() -> str:
    return "Open the file in Excel and save it again as .xlsx (File > Save As > Excel Workbook)."


def check_parts(zf: zipfile.ZipFile, name: str) -> None:
    """Refuse a workbook whose parts are too many, too large, compressed too well, or carry a DTD.

    Only the central directory and the first bytes of each XML part are read."""
    infos = zf.infolist()
    if len(infos) > MAX_PARTS:
        raise UnsafeWorkbook(
            f"{name}: the file holds {len(infos):,} parts, more than the {MAX_PARTS:,} otbill reads "
            f"(a workbook of 1,000 sheets has about 3,000). {_fix_resave()}")
    total = 0
    for info in infos:
        check_declared(info, name)
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise UnsafeWorkbook(
            f"{name}: the parts of the file would inflate to {_mb(total)} together, more than the "
            f"{_mb(MAX_TOTAL_BYTES)} otbill reads. Split the workbook into smaller ones (e.g. one per month).")
    for info in infos:
        if not info.is_dir() and info.file_size:
            _check_prolog(zf, info, name)


def check_declared(info: zipfile.ZipInfo, name: str) -> None:
    """Check one part's declared size and compression ratio against the limits."""
    part = info.filename
    if info.flag_bits & 0x1:
        raise NotAWorkbook(f"{name}: part {part} is encrypted with a zip password, which Excel never does. "
                           f"{_fix_resave()}")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise NotAWorkbook(f"{name}: part {part} uses a compression method ({info.compress_type}) Excel never "
                           f"writes. {_fix_resave()}")
    size = info.file_size
    if size > MAX_PART_BYTES:
        raise UnsafeWorkbook(
            f"{name}: part {part} would inflate to {_mb(size)}, more than the {_mb(MAX_PART_BYTES)} limit per "
            "part (a full 1,048,576-row Charges sheet is about 1,165 MB). Split the workbook into smaller "
            "ones (e.g. one per month), or save it again from Excel if it should be small.")
    limit = max_ratio(part)
    if size > RATIO_MIN_BYTES and size > limit * max(info.compress_size, 1):
        ratio = size / max(info.compress_size, 1)
        raise UnsafeWorkbook(
            f"{name}: part {part} would inflate from {_mb(info.compress_size)} to {_mb(size)} ({ratio:,.0f} times), "
            f"more than the {limit} times real workbooks reach: it looks like a zip bomb, so otbill does "
            f"not read it. If the file is genuine, {_fix_resave()[0].lower()}{_fix_resave()[1:]}")


def max_ratio(part: str) -> int:
    return MAX_RATIO_NOTES if _NOTES_PART.search(part) else MAX_RATIO


def _check_prolog(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    if not info.filename.lower().endswith(_XML_SUFFIXES):
        try:
            with zf.open(info) as fh:
                if not _looks_like_xml(fh.read(64)):
                    return
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError):
            raise NotAWorkbook(f"{name}: part {info.filename} is damaged (it cannot be unpacked). "
                               f"{_fix_resave()}") from None
    head = b""
    pieces = inflate(zf.filename, info, name)  # the raw stream: the actual size is counted
    for piece in pieces:
        head += piece
        if len(head) >= PROLOG_BYTES:
            break
    pieces.close()
    problem = prolog_problem(head, complete=len(head) < PROLOG_BYTES)
    if problem:
        raise UnsafeWorkbook(
            f"{name}: part {info.filename} {problem}. Excel never writes one, and entity declarations can make "
            f"an XML reader exhaust memory, so otbill does not read the file. {_fix_resave()}")


def _looks_like_xml(head: bytes) -> bool:
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            return True
    return head.lstrip().startswith(b"<")


_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY", b"<!ELEMENT", b"<!ATTLIST")


def prolog_problem(head: bytes, *, complete: bool) -> str:
    """Why the XML text ``head`` (the start of a part) is refused, or ``""``.

    A DTD may only stand in the prolog, before the root element: the prolog is walked (XML
    declaration, processing instructions, comments, white space) up to the root element."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", "ignore").encode("utf-8", "ignore")
    elif head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    upper = head.upper()
    if any(d in upper for d in _DECLARATIONS):
        return "holds a DTD or entity declaration (<!DOCTYPE or <!ENTITY)"
    i, n = 0, len(head)
    while True:
        while i < n and head[i] in b" \t\r\n":
            i += 1
        if i >= n:
            return "" if complete else "has no root element in its first 64 KB (an unusually long prolog)"
        if head.startswith(b"<?", i):
            end = head.find(b"?>", i + 2)
        elif head.startswith(b"<!--", i):
            end = head.find(b"-->", i + 4)
        elif head.startswith(b"<!", i):
            return "holds a DTD or declaration (<!...) before its root element"
        else:
            return ""  # the root element (or text, which the XML reader rejects itself)
        if end < 0:
            return "" if complete else "has no root element in its first 64 KB (an unusually long prolog)"
        i = end + 2


# -- streaming a part -------------------------------------------------------------------------------

def inflate(path: str | os.PathLike[str], info: zipfile.ZipInfo, name: str) -> Iterator[bytes]:
    """The inflated bytes of one part, in pieces, reading the raw deflate stream itself so the
    *actual* size is counted (not the declared one). Stops with :class:`UnsafeWorkbook` as soon as
    the part passes its declared size, :data:`MAX_PART_BYTES` or the compression ratio limit."""
    part = info.filename
    declared = info.file_size
    ratio_cap = max(RATIO_MIN_BYTES, max_ratio(part) * max(info.compress_size, 1))
    cap = min(MAX_PART_BYTES, ratio_cap)
    damaged = NotAWorkbook(f"{name}: part {part} is damaged (it cannot be unpacked). {_fix_resave()}")
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        if len(header) < 30 or not header.startswith(_LOCAL_HEADER):
            raise damaged
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        left = info.compress_size
        stored = info.compress_type == zipfile.ZIP_STORED
        inflater = None if stored else zlib.decompressobj(-15)
        total = 0
        pending = b""
        while True:
            if inflater is not None and inflater.unconsumed_tail:
                pending = inflater.unconsumed_tail
            elif left > 0:
                pending = fh.read(min(left, _CHUNK))
                if not pending:
                    raise damaged
                left -= len(pending)
            else:
                break
            if inflater is None:
                out = pending
            else:
                try:
                    out = inflater.decompress(pending, _CHUNK)
                except zlib.error:
                    raise damaged from None
            total += len(out)
            if total > cap:
                raise _too_big(name, part, total, cap)
            if total > declared:
                raise NotAWorkbook(f"{name}: part {part} is larger than the file says it is (damaged or "
                                   f"crafted). {_fix_resave()}")
            if out:
                yield out
            if inflater is not None and inflater.eof:
                break


def _too_big(name: str, part: str, total: int, cap: int) -> UnsafeWorkbook:
    return UnsafeWorkbook(f"{name}: part {part} inflates to more than {_mb(cap)}, past otbill's limit; reading "
                          f"stopped at {_mb(total)}. It looks like a zip bomb. {_fix_resave()}")


class SheetScan(NamedTuple):
    """What the XML of one sheet holds that python-calamine does not hand over."""

    error_cells: tuple[tuple[int, int, str], ...]   # (row, column, error text such as "#N/A"), 1-based
    unlocated_errors: int                          # error cells without a cell reference
    hidden_rows: tuple[int, ...]                   # 1-based rows marked hidden


_ERROR_TAG = re.compile(rb'<(?:[\w.-]+:)?c\s([^>]*?\bt\s*=\s*["\']e["\'][^>]*)>')
_REF = re.compile(rb'\br\s*=\s*["\']([A-Z]{1,3})([0-9]{1,7})["\']')
_VALUE = re.compile(rb'<(?:[\w.-]+:)?v>([^<]{0,64})</(?:[\w.-]+:)?v>|</(?:[\w.-]+:)?c>')
_HIDDEN_ROW = re.compile(rb'<(?:[\w.-]+:)?row\s[^>]*?\bhidden\s*=\s*["\'](?:1|true)["\'][^>]*>')
_ROW_NUMBER = re.compile(rb'\br\s*=\s*["\']([0-9]{1,7})["\']')
_CARRY = 1 << 16  # an error cell with its formula (at most 8,192 characters) fits in 64 KiB
_NEVER = re.compile(rb"(?!)")


def _column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def finditer_part(path: str | os.PathLike[str], info: zipfile.ZipInfo, name: str,
                  patterns: tuple[re.Pattern[bytes], ...]) -> Iterator[tuple[int, re.Match[bytes]]]:
    """``(pattern number, match)`` for every match of ``patterns`` in one part, streaming: only a
    piece of the part and a 64 KiB carry-over (a match is shorter) are held at a time."""
    buf = b""
    pieces = inflate(path, info, name)
    done = False
    while not done:
        chunk = next(pieces, None)
        if chunk is None:
            done = True
        else:
            buf += chunk
        cut = len(buf) if done else len(buf) - _CARRY
        if cut <= 0:
            continue
        for number, pattern in enumerate(patterns):
            for m in pattern.finditer(buf):
                if m.start() >= cut:
                    break
                yield number, m
        buf = buf[cut:]


def scan_sheet(path: str | os.PathLike[str], info: zipfile.ZipInfo, name: str) -> SheetScan:
    """Error cells and hidden rows of one sheet part. One streaming pass looks for the markers
    (``t="e"``, ``hidden=``) at C speed; only a sheet that has them is parsed for their places."""
    error_marks = (b't="e"', b"t='e'")
    has_errors = has_hidden = False
    tail = b""
    for chunk in inflate(path, info, name):
        if not has_errors or not has_hidden:
            joined = tail + chunk[:8]
            if not has_errors:
                has_errors = any(m in chunk or m in joined for m in error_marks)
            if not has_hidden:
                has_hidden = b"hidden=" in chunk or b"hidden=" in joined
            tail = chunk[-8:]
    if not has_errors and not has_hidden:
        return SheetScan((), 0, ())
    errors: list[tuple[int, int, str]] = []
    unlocated = 0
    hidden: list[int] = []
    patterns = ((_ERROR_TAG,) if has_errors else (_NEVER,)) + ((_HIDDEN_ROW,) if has_hidden else ())
    for number, m in finditer_part(path, info, name, patterns):
        if number == 1:
            row = _ROW_NUMBER.search(m[0])
            if row is not None:
                hidden.append(int(row[1]))
            continue
        attrs = m[1]
        code = ""
        if not attrs.rstrip().endswith(b"/"):
            v = _VALUE.search(m.string, m.end())
            if v is not None and v[1] is not None:
                code = v[1].decode("ascii", "replace").strip()
        ref = _REF.search(attrs)
        if ref is None:
            unlocated += 1
        else:
            errors.append((int(ref[2]), _column_index(ref[1]), code))
    return SheetScan(tuple(errors), unlocated, tuple(hidden))


#: Excel's last date serial (9999-12-31): a number beyond it under a date or duration format is
#: what python-calamine cannot convert (timedelta overflow) or panics on.
_LAST_SERIAL = 2_958_465
_NUMBER_CELL = re.compile(rb'<(?:[\w.-]+:)?c\s([^>]*)>(?:<(?:[\w.-]+:)?f[^>]*/>|<(?:[\w.-]+:)?f[^>]*>[^<]*'
                          rb'</(?:[\w.-]+:)?f>)?<(?:[\w.-]+:)?v>([^<]{1,40})</(?:[\w.-]+:)?v>')
_TYPED_NOT_NUMBER = re.compile(rb'\bt\s*=\s*["\'](?!n["\'])')


def huge_numbers(path: str | os.PathLike[str], info: zipfile.ZipInfo, name: str,
                 rows: set[int]) -> dict[int, list[int]]:
    """For rows python-calamine could not convert: the columns (1-based) of their numeric cells
    beyond Excel's last date (|value| > 2,958,465), the cells a date or duration format makes
    unconvertible. Only called after such a failure (one regex pass over the sheet)."""
    found: dict[int, list[int]] = {row: [] for row in rows}
    for _, m in finditer_part(path, info, name, (_NUMBER_CELL,)):
        attrs = m[1]
        ref = _REF.search(attrs)
        if ref is None or int(ref[2]) not in found or _TYPED_NOT_NUMBER.search(attrs):
            continue
        try:
            value = float(m[2])
        except ValueError:
            continue
        if abs(value) > _LAST_SERIAL:
            found[int(ref[2])].append(_column_index(ref[1]))
    return found


# -- calling python-calamine ------------------------------------------------------------------------

def is_panic(exc: BaseException) -> bool:
    """A Rust panic surfaced by pyo3 (``pyo3_runtime.PanicException``, a ``BaseException``)."""
    return type(exc).__name__ == "PanicException"


@contextlib.contextmanager
def _stderr_held() -> Iterator[list[bool]]:
    """Hold what is written to file descriptor 2 while python-calamine runs: a Rust panic prints
    its own message (and a backtrace with RUST_BACKTRACE) there. Anything else written meanwhile is
    passed on afterwards; the panic's text is dropped (otbill reports the panic in words)."""
    panicked = [False]
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield panicked
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield panicked
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not panicked[0]:
                held.seek(0)
                data = held.read()
                if data:
                    os.write(2, data)


PANIC_TEXT = ("the reader stopped on a value it cannot handle (for example a date cell holding a number far "
              "outside Excel's dates, such as -10,000,000,000,000). Look for date-formatted cells with huge or "
              "negative numbers, clear them or format them as numbers, and save again.")


def rows_one_by_one(sheet: Any, name: str, what: str) -> tuple[list[list[Any]], list[int]]:
    """A sheet's values row by row (as ``to_python(skip_empty_area=False)`` gives them), for a sheet
    whose whole conversion failed on a value Python cannot hold (a duration of a billion days):
    python-calamine's row iterator goes on after a row that fails. Returns the rows, the failing
    ones blank, and the 1-based numbers of the failing rows."""
    start = sheet.start or (0, 0)
    end = sheet.end or (0, 0)
    width = end[1] + 1
    pad = [""] * start[1]
    out: list[list[Any]] = []
    failed: list[int] = []
    rows = sheet.iter_rows()
    with _stderr_held() as panicked:
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except (OverflowError, ValueError):
                failed.append(len(out))
                out.append([""] * width)
                continue
            except BaseException as exc:
                if is_panic(exc):  # after a panic the reader's state is not trusted: the file is refused
                    panicked[0] = True
                    raise WorkbookError(f"{name}: {what} failed: {PANIC_TEXT}") from None
                raise
            out.append(pad + list(row))
    if len(out) == end[0] - start[0] + 1 and start[0]:  # rows from the first used row: put the others back
        shift = start[0]
        out = [[""] * width for _ in range(shift)] + out
        failed = [i + shift for i in failed]
    return out, [i + 1 for i in failed]


def calamine_call(fn: Callable[[], T], name: str, what: str) -> T:
    """Run one python-calamine call; its errors and panics become a :class:`WorkbookError` that
    names the file and says how to fix it."""
    import python_calamine

    with _stderr_held() as panicked:
        try:
            return fn()
        except python_calamine.PasswordError:
            raise
        except BaseException as exc:
            if is_panic(exc):
                panicked[0] = True
                raise WorkbookError(f"{name}: {what} failed: {PANIC_TEXT}") from None
            if isinstance(exc, python_calamine.CalamineError):
                raise WorkbookError(f"{name}: {what} failed: {_calamine_reason(exc)} {_fix_resave()}") from None
            raise


def _calamine_reason(exc: Any) -> str:
    import python_calamine

    text = str(exc)
    if isinstance(exc, python_calamine.XmlError):
        return "its XML is malformed (damaged, or written by a program that does not follow the .xlsx format)."
    if isinstance(exc, python_calamine.ZipError):
        return "the zip archive is damaged."
    if text.startswith("Unsupported cell error value"):
        return "a cell holds an error value Excel does not write (" + text.rsplit(" ", 1)[-1][:20] + ")."
    return f"the file is damaged or not a workbook ({type(exc).__name__})."
