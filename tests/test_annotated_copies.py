"""The streamed annotated copy (issue #11) gives the workbook openpyxl gave: ``check``, ``price`` and
``claims`` run on the sample practice and on bad-input workbooks through a port that sends every write
both to the file adapter (streamed copy) and to the openpyxl reference (tests/openpyxl_copy.py); the two
outputs must agree on every cell value, fill, note, link, number format, width, frozen header, table
and validation, and every part the actions do not change passes through byte for byte."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl_copy import OpenpyxlCopy
from test_xlsx_patch import assert_same, assert_untouched_identical

from otbill_xl.actions.check import check_charges
from otbill_xl.actions.claims import create_claims
from otbill_xl.actions.price import price_charges
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import FileWorkbook

SAMPLE = Path(__file__).resolve().parent.parent / "workbook_templates" / "examples" / "sample-practice.xlsx"
AS_OF = date(2026, 11, 27)
CREATED = datetime(2026, 11, 27, 10, 0)


class TwoWayPort(FileWorkbook):
    """Reads through the file adapter; every write goes to the streamed copy and to openpyxl."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reference = OpenpyxlCopy(path)

    def write_values(self, *args, **kwargs) -> None:
        super().write_values(*args, **kwargs)
        self.reference.write_values(*args, **kwargs)

    def fill(self, *args, **kwargs) -> None:
        super().fill(*args, **kwargs)
        self.reference.fill(*args, **kwargs)

    def note(self, *args, **kwargs) -> None:
        super().note(*args, **kwargs)
        self.reference.note(*args, **kwargs)

    def hyperlink(self, *args, **kwargs) -> None:
        super().hyperlink(*args, **kwargs)
        self.reference.hyperlink(*args, **kwargs)

    def replace_sheet(self, *args, **kwargs) -> None:
        super().replace_sheet(*args, **kwargs)
        self.reference.replace_sheet(*args, **kwargs)

    def save_both(self, folder: Path) -> tuple[Path, Path]:
        streamed, reference = folder / "streamed.xlsx", folder / "openpyxl.xlsx"
        self.save(str(streamed))
        self.reference.save(str(reference))
        return streamed, reference


def _bad_inputs(folder: Path) -> list[Path]:
    """Workbooks a biller sends with problems in them: text in number and date columns, a formula-looking
    note, blank and far-away rows, a biller's own comment on a flagged cell, an extra sheet."""
    from openpyxl.comments import Comment

    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb["Charges"]
    header = [c.value for c in ws[1]]
    units = header.index("Units") + 1
    dos = header.index("DOS") + 1
    ws.cell(row=2, column=units).value = "two"
    ws.cell(row=3, column=dos).value = "31/02/2026"
    ws.cell(row=4, column=units).value = None
    ws.cell(row=5, column=1).comment = Comment("the biller's own note", "Biller")
    ws.cell(row=ws.max_row + 40, column=1).value = "L-FAR"
    wb.create_sheet("Notes").append(["=SUM(1,2)", "kept as it is"])
    first = folder / "bad-values.xlsx"
    wb.save(first)
    return [first]


def _run(action: str, port: TwoWayPort, tmp: Path) -> None:
    if action == "check":
        check_charges(port, as_of=AS_OF)
    elif action == "price":
        price_charges(port, as_of=AS_OF)
    else:
        with Ledger(tmp / "ledger.sqlite") as lg:
            create_claims(port, out_dir=tmp / "claims", ledger=lg, as_of=AS_OF, created=CREATED)


@pytest.mark.parametrize("action", ["check", "price", "claims"])
@pytest.mark.parametrize("book", ["sample", "bad-values"])
def test_streamed_copy_equals_openpyxl(tmp_path, action, book):
    if book == "sample":
        source = tmp_path / "sample.xlsx"
        shutil.copy(SAMPLE, source)
    else:
        source = _bad_inputs(tmp_path)[0]
    before = source.read_bytes()
    port = TwoWayPort(source)
    _run(action, port, tmp_path)
    streamed, reference = port.save_both(tmp_path)
    assert_same(reference, streamed)
    paths = port._sheet_xml_paths()
    written = set(port._edits.sheets) | set(port._edits.new_sheets)
    touched = {paths[name] for name in written if name in paths}
    touched |= {p.replace("worksheets/", "worksheets/_rels/") + ".rels" for p in touched}
    assert paths["Patients"] not in touched and paths["Payers"] not in touched  # these pass through byte for byte
    assert_untouched_identical(source, streamed, touched | _notes_parts(streamed))
    assert source.read_bytes() == before  # the input is never modified


def _notes_parts(path: Path) -> set[str]:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return {n for n in zf.namelist() if "comments" in n or "vmlDrawing" in n}


def test_libreoffice_opens_every_action_output(tmp_path):
    """check, price and claims copies of the sample (streamed) convert to PDF in headless LibreOffice."""
    from test_xlsx_patch import _soffice, assert_libreoffice_converts

    _soffice()  # skip (or, on CI, fail) before running the actions
    outputs = []
    for action in ("check", "price", "claims"):
        folder = tmp_path / action
        folder.mkdir()
        source = folder / "sample.xlsx"
        shutil.copy(SAMPLE, source)
        port = FileWorkbook(source)
        _run(action, port, folder)
        out = tmp_path / f"{action}-annotated.xlsx"
        port.save(str(out))
        openpyxl.load_workbook(out).close()  # openpyxl opens it too
        outputs.append(out)
    assert_libreoffice_converts(outputs, tmp_path)
