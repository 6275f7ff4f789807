"""Bounded reads (issue #9 §1): crafted files are refused with a clear message naming the file and
the part, before anything is inflated or parsed; python-calamine's panics and errors never surface
as a traceback; .ods files and openpyxl's warnings are handled.

The zip bombs here are small: whitespace compresses about 1,000 times, so a few MB of it is a
file of a few KB; sizes past the limits are *declared* (patched into the zip headers), never
allocated.
"""

from __future__ import annotations

import codecs
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import CHARGE_HEADER, charge_row, contract_sheets, fingerprint, make_workbook

import otbill_xl
from otbill_xl.errors import NotAWorkbook, OtbillError, UnsafeWorkbook, WorkbookError
from otbill_xl.workbook import parts
from otbill_xl.workbook.files import FileWorkbook


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otbill_xl", *args], capture_output=True, text=True, timeout=180)


def assert_unusable(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "internal error" not in text and "panicked" not in text
    for phrase in phrases:
        assert phrase in " ".join(result.stderr.split()), result.stderr


@pytest.fixture
def base(tmp_path) -> Path:
    sheets = contract_sheets(Extra=[["Anything"], ["not read by otbill"]])
    return make_workbook(tmp_path / "base.xlsx", sheets)


def part_of(path: Path, sheet: str) -> str:
    return FileWorkbook(path)._sheet_xml_paths()[sheet]


def rewrite(src: Path, dst: Path, part: str, change) -> Path:
    """Copy a workbook, passing one part's bytes through ``change``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, change(data) if info.filename == part else data)
    return dst


def declare_size(path: Path, part: str, size: int) -> None:
    """Patch a part's declared (uncompressed) size in its local header and the central directory."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(part)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    name = part.encode()
    pos = 0
    while True:
        pos = data.index(b"PK\x01\x02", pos)
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == name:
            struct.pack_into("<I", data, pos + 24, size)
            break
        pos += 4
    path.write_bytes(data)


def whitespace_bomb(data: bytes, megabytes: int = 4) -> bytes:
    return data.replace(b"<sheetData>", b"<sheetData>" + b" " * (megabytes << 20), 1)


# -- zip bombs ---------------------------------------------------------------------------------------

def test_whitespace_bomb_is_refused_before_it_is_inflated(base, tmp_path):
    part = part_of(base, "Charges")
    bomb = rewrite(base, tmp_path / "bomb.xlsx", part, whitespace_bomb)
    assert bomb.stat().st_size < 100_000  # 4 MB of whitespace packs into a few KB
    with zipfile.ZipFile(bomb) as zf:
        info = zf.getinfo(part)
    assert info.file_size / info.compress_size > parts.MAX_RATIO
    before = fingerprint(bomb)
    with pytest.raises(UnsafeWorkbook) as exc:
        otbill_xl.read_practice(bomb)
    message = str(exc.value)
    assert message.startswith("bomb.xlsx: part " + part)
    assert f"more than the {parts.MAX_RATIO} times" in message and "zip bomb" in message
    assert "save it again" in message.lower()
    assert fingerprint(bomb) == before
    assert_unusable(run_cli("check", str(bomb), "--out", str(tmp_path / "c.xlsx")), "bomb.xlsx", part, "zip bomb")
    assert not (tmp_path / "c.xlsx").exists()


def test_bomb_in_a_part_otbill_does_not_read_is_refused_too(base, tmp_path):
    bomb = rewrite(base, tmp_path / "styles-bomb.xlsx", "xl/styles.xml",
                   lambda d: d.replace(b"<numFmts", b" " * (3 << 20) + b"<numFmts", 1) if b"<numFmts" in d
                   else d + b" " * (3 << 20))
    with pytest.raises(UnsafeWorkbook, match=re.escape("part xl/styles.xml would inflate")):
        otbill_xl.read_practice(bomb)


def test_declared_size_over_the_per_part_cap(base, tmp_path):
    path = tmp_path / "huge.xlsx"
    path.write_bytes(base.read_bytes())
    part = part_of(path, "Charges")
    declare_size(path, part, 3 << 30)  # 3 GiB declared; nothing that large exists
    with pytest.raises(UnsafeWorkbook) as exc:
        otbill_xl.read_practice(path)
    message = str(exc.value)
    assert f"part {part} would inflate to 3,072 MB" in message
    assert "2,048 MB limit per part" in message and "1,048,576-row" in message
    assert_unusable(run_cli("info", str(path)), "huge.xlsx", "limit per part")


def test_part_larger_than_declared_stops_reading(base, tmp_path):
    path = tmp_path / "liar.xlsx"
    path.write_bytes(base.read_bytes())
    part = part_of(path, "Charges")
    declare_size(path, part, 100)  # the real sheet is several KB
    with pytest.raises(NotAWorkbook, match=re.escape(f"liar.xlsx: part {part} is larger than the file says")):
        otbill_xl.read_practice(path)
    assert_unusable(run_cli("info", str(path)), "liar.xlsx", "larger than the file says")


def test_inflate_counts_the_actual_size_and_stops_at_the_limit(base, tmp_path, monkeypatch):
    # Called directly (check_parts would refuse the declared size first): the raw stream is counted,
    # and reading stops once the part passes 50x its compressed size (at least 1 MiB).
    part = part_of(base, "Charges")
    bomb = rewrite(base, tmp_path / "bomb.xlsx", part, lambda d: whitespace_bomb(d, 8))
    with zipfile.ZipFile(bomb) as zf:
        info = zf.getinfo(part)
    assert info.file_size > 8 << 20 and parts.MAX_RATIO * info.compress_size < parts.RATIO_MIN_BYTES
    read = 0
    with pytest.raises(UnsafeWorkbook, match=re.escape(f"part {part} inflates to more than 1 MB")):
        for piece in parts.inflate(bomb, info, "bomb.xlsx"):
            read += len(piece)
    assert 0 < read <= parts.RATIO_MIN_BYTES  # stopped at the limit, not at the 8 MB declared
    monkeypatch.setattr(parts, "MAX_PART_BYTES", 300_000)  # the per-part cap counts the same way
    read = 0
    with pytest.raises(UnsafeWorkbook, match="reading stopped at 524,288 bytes"):
        for piece in parts.inflate(bomb, info, "bomb.xlsx"):
            read += len(piece)
    assert read == 262_144  # one 256 KiB piece passed on, the second one stopped


def test_too_many_parts(base, tmp_path, monkeypatch):
    monkeypatch.setattr(parts, "MAX_PARTS", 5)
    with pytest.raises(UnsafeWorkbook, match=r"base\.xlsx: the file holds \d+ parts, more than the 5"):
        otbill_xl.read_practice(base)


def test_notes_may_compress_better_than_sheets():
    assert parts.max_ratio("xl/comments/comment1.xml") == parts.MAX_RATIO_NOTES
    assert parts.max_ratio("xl/drawings/commentsDrawing1.vml") == parts.MAX_RATIO_NOTES
    assert parts.max_ratio("xl/worksheets/sheet1.xml") == parts.MAX_RATIO == 50


def test_annotated_copy_with_many_notes_is_still_readable(tmp_path):
    # otbill's own annotated copies carry one note per flagged cell: comments and VML repeat the
    # same text and shape and compress 50-80x, above the limit for sheets.
    sheets = contract_sheets()
    sheets["Charges"] = [CHARGE_HEADER] + [charge_row(f"L{i}", units=None) for i in range(1, 6001)]
    path = make_workbook(tmp_path / "p.xlsx", sheets)
    wb = openpyxl.load_workbook(path)
    from openpyxl.comments import Comment
    for row in range(2, 6002):
        wb["Charges"].cell(row=row, column=11).comment = Comment("otbill computed 3 unit(s) from the minutes.", "otbill")
    wb.save(path)
    with zipfile.ZipFile(path) as zf:
        vml = next(i for i in zf.infolist() if i.filename.endswith(".vml"))
    assert vml.file_size > parts.RATIO_MIN_BYTES and vml.file_size / vml.compress_size > parts.MAX_RATIO
    book, _ = otbill_xl.read_practice(path)
    assert len(book.charges) == 6000


# -- DTDs and entity declarations --------------------------------------------------------------------

DTD = b'<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'


def with_dtd(data: bytes) -> bytes:
    end = data.index(b"?>") + 2 if data.startswith(b"<?xml") else 0
    return data[:end] + DTD + data[end:]


@pytest.mark.parametrize("where", ["Charges", "Extra", "xl/styles.xml", "docProps/core.xml", "[Content_Types].xml",
                                   "xl/workbook.xml"])
def test_dtd_in_any_part_is_refused(base, tmp_path, where):
    part = part_of(base, where) if "/" not in where and "." not in where else where
    path = rewrite(base, tmp_path / "dtd.xlsx", part, with_dtd)
    before = fingerprint(path)
    with pytest.raises(UnsafeWorkbook) as exc:
        otbill_xl.read_practice(path)
    assert str(exc.value).startswith(f"dtd.xlsx: part {part} holds a DTD or entity declaration")
    assert "save it again" in str(exc.value)
    assert fingerprint(path) == before
    result = run_cli("check", str(path), "--out", str(tmp_path / "c.xlsx"))
    assert_unusable(result, "dtd.xlsx", part, "DTD")
    assert not (tmp_path / "c.xlsx").exists()


def test_dtd_after_a_comment_and_in_utf16_is_found(base, tmp_path):
    commented = rewrite(base, tmp_path / "c.xlsx", "docProps/app.xml",
                        lambda d: b'<?xml version="1.0"?>\n<!-- made by a tool -->\n' + DTD + d)
    with pytest.raises(UnsafeWorkbook, match="docProps/app.xml holds a DTD"):
        otbill_xl.read_practice(commented)
    utf16 = rewrite(base, tmp_path / "u.xlsx", "docProps/app.xml",
                    lambda d: codecs.BOM_UTF16_LE + with_dtd(d).decode().encode("utf-16-le"))
    with pytest.raises(UnsafeWorkbook, match="docProps/app.xml holds a DTD"):
        otbill_xl.read_practice(utf16)


@pytest.mark.parametrize(("head", "problem"), [
    (b'<?xml version="1.0"?>\n<!-- note --><worksheet/>', ""),
    (b'\xef\xbb\xbf<?xml version="1.0"?><root><!-- <!doctype in text is escaped in real XML --></root>', "DTD"),
    (b'<?xml version="1.0"?><!ELEMENT x ANY><x/>', "DTD"),
    (b'<?xml version="1.0"?><!-- ' + b"x" * 100 + b" -->", ""),
])
def test_prolog_walk(head, problem):
    found = parts.prolog_problem(head, complete=True)
    assert (problem in found) if problem else found == ""


def test_unfinished_long_prolog_is_refused():
    assert "unusually long prolog" in parts.prolog_problem(b"<?xml?><!--" + b"x" * 70_000, complete=False)


# -- python-calamine panics and errors ---------------------------------------------------------------

def panic_workbook(path: Path) -> Path:
    """A DOS cell holding -1e13 formatted as a date: python-calamine panics converting it."""
    make_workbook(path, contract_sheets())
    wb = openpyxl.load_workbook(path)
    ws = wb["Charges"]
    ws["C2"] = -1e13
    ws["C2"].number_format = "m/d/yyyy"
    wb.save(path)
    return path


def test_rust_panic_is_reported_on_the_file(tmp_path, capfd):
    path = panic_workbook(tmp_path / "panic.xlsx")
    with pytest.raises(WorkbookError) as exc:
        otbill_xl.read_practice(path)
    assert isinstance(exc.value, OtbillError)
    message = str(exc.value)
    assert message.startswith("panic.xlsx: reading sheet 'Charges' failed")
    assert "date-formatted cells with huge or negative numbers" in message
    assert "panicked" not in capfd.readouterr().err  # the Rust panic text is held back
    assert_unusable(run_cli("info", str(path)), "panic.xlsx", "reading sheet 'Charges' failed")


def test_panic_is_recognised_by_type_name():
    class PanicException(BaseException):
        pass

    assert parts.is_panic(PanicException("x")) and not parts.is_panic(KeyboardInterrupt())

    def boom():
        raise PanicException("TimeDelta::milliseconds out of bounds")

    with pytest.raises(WorkbookError, match="book.xlsx: opening the workbook failed"):
        parts.calamine_call(boom, "book.xlsx", "opening the workbook")
    with pytest.raises(KeyboardInterrupt):  # anything else that is not an Exception goes on
        parts.calamine_call(lambda: (_ for _ in ()).throw(KeyboardInterrupt()), "book.xlsx", "x")


def test_malformed_sheet_xml_gets_a_fix(base, tmp_path):
    part = part_of(base, "Charges")
    path = rewrite(base, tmp_path / "broken.xlsx", part,
                   lambda d: d.replace(b"</sheetData>", b"<row r=\"9\"><c r=\"A9\" t=\"n\"><v>1</row></sheetData>"))
    with pytest.raises(WorkbookError) as exc:
        otbill_xl.read_practice(path)
    message = str(exc.value)
    assert message.startswith("broken.xlsx: reading sheet 'Charges' failed: its XML is malformed")
    assert "save it again as .xlsx" in message
    assert_unusable(run_cli("info", str(path)), "broken.xlsx", "malformed")


def test_error_value_calamine_cannot_read_names_the_cell(base, tmp_path):
    part = part_of(base, "Charges")
    path = rewrite(base, tmp_path / "spill.xlsx", part,
                   lambda d: re.sub(rb'<c r="Q2"[^>]*>.*?</c>', b'<c r="Q2" t="e"><f>SEQUENCE(3)</f><v>#SPILL!</v></c>',
                                    d, count=1))
    with pytest.raises(WorkbookError) as exc:
        otbill_xl.read_practice(path)
    assert str(exc.value).startswith("spill.xlsx: cell Charges!Q2 holds the Excel error #SPILL!")
    assert_unusable(run_cli("info", str(path)), "Charges!Q2", "#SPILL!")


# -- other formats, openpyxl warnings ----------------------------------------------------------------

def test_ods_is_not_supported(tmp_path):
    path = tmp_path / "practice.ods"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<office:document-content/>")
        zf.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
    with pytest.raises(NotAWorkbook) as exc:
        otbill_xl.read_practice(path)
    assert str(exc.value).startswith("practice.ods: OpenDocument spreadsheets are not supported; save as .xlsx")
    assert_unusable(run_cli("info", str(path)), "OpenDocument spreadsheets are not supported; save as .xlsx")


def test_openpyxl_warnings_do_not_leak(base, tmp_path):
    part = part_of(base, "Charges")
    ext = (b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
           b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
           b'<x14:dataValidations count="0"/></ext></extLst></worksheet>')
    path = rewrite(base, tmp_path / "ext.xlsx", part, lambda d: d.replace(b"</worksheet>", ext))
    with pytest.warns(UserWarning, match="Data Validation extension"):  # what openpyxl says on its own
        openpyxl.load_workbook(path)
    result = run_cli("check", str(path), "--out", str(tmp_path / "checked.xlsx"), "--as-of", "2026-11-27")
    assert result.returncode in (0, 1), result.stderr
    assert "Warning" not in result.stderr and "Data Validation" not in result.stderr
    assert (tmp_path / "checked.xlsx").exists()


def test_panic_in_batch_fails_that_input_only(tmp_path):
    import json

    inputs = tmp_path / "in"
    inputs.mkdir()
    panic_workbook(inputs / "panic.xlsx")
    good = make_workbook(inputs / "good.xlsx", contract_sheets())
    result = run_cli("batch", str(inputs), "--out", str(tmp_path / "out"), "--workers", "1", "--json",
                     "--as-of", "2026-11-27")
    assert "Traceback" not in result.stdout + result.stderr and "panicked" not in result.stderr
    by_name = {Path(r["path"]).name: r for r in json.loads(result.stdout)["inputs"]}
    assert by_name["panic.xlsx"]["outcome"] == "unusable"
    assert "reading sheet 'Charges' failed" in json.dumps(by_name["panic.xlsx"])
    assert by_name[good.name]["outcome"] not in ("unusable", "failed")
