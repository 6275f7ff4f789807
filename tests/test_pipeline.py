"""One read, one scrub (issue #10 §1): batch and demo read each sheet of a workbook once through the
port, and the shared pipeline gives the same results as separate runs."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from datetime import date, datetime

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from otbill_xl.cli import app
from otbill_xl.workbook.files import FileWorkbook

SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"


@pytest.fixture
def reads(monkeypatch):
    """Counts every sheet read through the file port: (file name, sheet) -> calls of ``values``."""
    counter: Counter = Counter()
    original = FileWorkbook.values

    def counting(self, sheet):
        if not sys._getframe(1).f_code.co_filename.endswith("files.py"):  # the adapter's own look-ups
            counter[(self.name, sheet)] += 1                              # of its cached values
        return original(self, sheet)

    monkeypatch.setattr(FileWorkbook, "values", counting)
    return counter


def test_batch_worker_reads_each_sheet_once(tmp_path, reads):
    from otbill_xl.actions.batch import _convert

    src = tmp_path / "practice.xlsx"
    shutil.copy(SAMPLE, src)
    from otbill_xl.actions.batch import file_sha256

    result = _convert(str(src), file_sha256(src), str(tmp_path / "out"), None, date(2026, 11, 27),
                      datetime(2026, 11, 27, 10, 0), "visit", False)
    assert result.outcome == "held-back" and result.lines_billed > 1000  # it really checked, priced, billed
    per_sheet = {sheet: n for (name, sheet), n in reads.items() if name == "practice.xlsx"}
    assert {"Charges", "Patients", "Payers", "Practice"} <= set(per_sheet)
    assert set(per_sheet.values()) == {1}, per_sheet


def test_demo_reads_each_sheet_once(tmp_path, reads):
    result = CliRunner().invoke(app, ["demo", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    per_sheet = {sheet: n for (name, sheet), n in reads.items() if name == "sample-practice.xlsx"}
    assert "Charges" in per_sheet and set(per_sheet.values()) == {1}, per_sheet


def test_one_pipeline_gives_what_separate_runs_give(tmp_path):
    from otbill_xl.actions.check import check_charges
    from otbill_xl.actions.claims import create_claims
    from otbill_xl.actions.pipeline import Pipeline
    from otbill_xl.actions.price import price_charges
    from otbill_xl.ledger import Ledger

    day, created = date(2026, 11, 27), datetime(2026, 11, 27, 10, 0)
    apart = FileWorkbook(SAMPLE)
    checked, priced = check_charges(apart, as_of=day), price_charges(apart, as_of=day)
    with Ledger(tmp_path / "a.sqlite") as lg:
        billed = create_claims(apart, out_dir=tmp_path / "a", ledger=lg, as_of=day, created=created)
    together = FileWorkbook(SAMPLE)
    pipe = Pipeline(together, as_of=day, prices=True)
    checked2, priced2 = check_charges(together, pipeline=pipe), price_charges(together, pipeline=pipe)
    with Ledger(tmp_path / "b.sqlite") as lg:
        billed2 = create_claims(together, out_dir=tmp_path / "b", ledger=lg, as_of=day, created=created,
                                pipeline=pipe)
    assert checked2.findings == checked.findings and checked2.summary == checked.summary
    assert priced2.result == priced.result
    assert billed2.assembly == billed.assembly
    assert [f.sha256 for f in billed2.files] == [f.sha256 for f in billed.files]  # byte-identical 837P files


def test_check_price_claims_do_not_read_the_payments_sheet(tmp_path, reads):
    """A sheet the command does not need is not read (issue #11): check, price and claims never use the
    Payments sheet, so a bad or huge one costs them nothing; ``info`` (the whole book) still reads it."""
    from otbill_xl.actions.check import check_charges
    from otbill_xl.workbook.reader import read_practice

    outcome = check_charges(FileWorkbook(SAMPLE), as_of=date(2026, 11, 27))
    read_sheets = {sheet for (name, sheet) in reads if name == SAMPLE.name}
    assert "Charges" in read_sheets and "Payments" not in read_sheets
    payments = outcome.report.sheet("Payments")
    assert payments is not None and payments.found_as == "not read" and payments.missing_required == ()
    assert not [f for f in outcome.findings if f.location.sheet == "Payments"]
    book, report = read_practice(SAMPLE)
    assert ("sample-practice.xlsx", "Payments") in reads and len(book.payments) > 0
    assert report.sheet("Payments").found_as in ("table", "range")
