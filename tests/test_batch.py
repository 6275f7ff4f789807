"""`otbill batch`: many workbooks, one bad one never stops the others, reports, resumable, and an
interrupted run leaves no half-written file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import openpyxl
from conftest import CHARGE_HEADER, ROOT, contract_sheets, make_workbook
from x12util import pyx12_validate

from otbill_xl.actions.batch import run_batch
from otbill_xl.formats.x12 import read_837p

SAMPLE = ROOT / "workbook_templates" / "examples" / "sample-practice.xlsx"


def small_workbook(path: Path) -> Path:
    row = ["L1", "P001", "8/3/2026", "1234567893", "97110", "GO", "", "", "", 38, 3, "M62.81", "", "", "", "11",
           195.0, "", "", ""]
    return make_workbook(path, contract_sheets(Charges=[CHARGE_HEADER, row]))


def test_batch_outcomes_reports_and_resume(tmp_path, ledger_at, scheduler):
    """On SQLite and on a PostgreSQL ledger (issue #16 §1), in the process pool and on a Dask cluster (§2):
    the same outcomes, reports and resume."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SAMPLE, inputs / "sample.xlsx")
    small_workbook(inputs / "small.xlsx")
    (inputs / "broken.xlsx").write_text("PatientID,DOS\nP1,1/5/2026\n")
    (inputs / "~$small.xlsx").write_bytes(b"lock file")  # Excel's lock file: ignored
    out = tmp_path / "out"
    pg = ledger_at.startswith("postgresql:")
    kw = dict(ledger_path=ledger_at if pg else out / ".otbill" / "ledger.sqlite", workers=2, as_of=date(2026, 11, 27),
              created=datetime(2026, 11, 27, 10, 0), scheduler=scheduler)
    first = run_batch([str(inputs)], out, **kw)
    outcome = {Path(r.path).name: r for r in first.results}
    assert set(outcome) == {"sample.xlsx", "small.xlsx", "broken.xlsx"}
    assert outcome["broken.xlsx"].outcome == "unusable" and "CSV" in outcome["broken.xlsx"].message
    assert outcome["sample.xlsx"].outcome == "held-back" and outcome["sample.xlsx"].claims > 100
    assert outcome["small.xlsx"].outcome == "converted" and outcome["small.xlsx"].lines_billed == 1
    assert outcome["small.xlsx"].ledger == str(kw["ledger_path"])
    for r in (outcome["sample.xlsx"], outcome["small.xlsx"]):
        for f in r.files:
            ok, errors = pyx12_validate(Path(f).read_text())
            assert ok, errors[:5]
        assert openpyxl.load_workbook(r.annotated, read_only=True)
    assert Path(first.report_json).name == "batch-report-20261127-100000.json"
    report = json.loads(Path(first.report_json).read_text())
    assert report["counts"] == {"held-back": 1, "converted": 1, "unusable": 1}
    ws = openpyxl.load_workbook(first.report_xlsx)["Batch"]
    assert ws.max_row == 5 and ws["A1"].value == "path" and ws["A5"].value == "Total"  # 3 inputs, the totals row

    again = run_batch([str(inputs / "*.xlsx")], out, **kw)
    assert {Path(r.path).name: r.outcome for r in again.results} == {
        "sample.xlsx": "skipped", "small.xlsx": "skipped", "broken.xlsx": "unusable"}
    files = sorted(out.glob("*.837"))
    assert len(files) == len(outcome["sample.xlsx"].files) + len(outcome["small.xlsx"].files)
    # The re-run's report has its own name: the first run's report is still there, unchanged.
    assert again.report_json != first.report_json and json.loads(Path(first.report_json).read_text()) == report


def test_interrupted_batch_leaves_no_partial_files_and_resumes(tmp_path, batch_runner_args):
    inputs = tmp_path / "in"
    inputs.mkdir()
    template = openpyxl.load_workbook(SAMPLE)
    for i in range(10):  # the same practice and lines, in ten files of different content (saved apart)
        template["Practice"].cell(row=template["Practice"].max_row + 1, column=1, value=f"Copy{i}")
        template.save(inputs / f"practice-{i}.xlsx")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "otbill_xl", "batch", str(inputs), "--out", str(out), *batch_runner_args,
           "--as-of", "2026-11-27"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    # Interrupt right after the first input is reported (a deterministic point, not a sleep): with two
    # workers, eight of the ten inputs are still to come.
    while (first := proc.stderr.readline()) and not first.startswith("["):
        pass
    assert first.startswith("[1/10]"), first
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, workers included
    proc.communicate(timeout=120)
    assert proc.returncode == 130  # it really was interrupted
    assert len(list(out.glob("*.otbill-*.xlsx"))) < 10
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".part") or p.name.startswith(".") and p.is_file()
                 and p.suffix != ".sqlite" and "ledger" not in p.name]
    assert leftovers == []
    for f in out.glob("*.837"):
        read_837p(f.read_text())  # complete, parseable files only
        ok, errors = pyx12_validate(f.read_text())
        assert ok, errors[:5]
    for f in out.glob("*.otbill-*.xlsx"):
        openpyxl.load_workbook(f, read_only=True).close()

    done = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    outcomes = [r["outcome"] for r in report["inputs"]]
    assert len(outcomes) == 10 and set(outcomes) <= {"skipped", "held-back", "converted"}
    # The ten inputs are the same practice's same lines: however the interruption fell, each line is
    # billed exactly once across both runs (the ledger never bills twice).
    billed = [line_id for f in out.glob("*.837") for c in read_837p(f.read_text()).claims for line_id in
              [(c.claim_id, ln.code, ln.dos) for ln in c.lines]]
    assert len(billed) == len(set(billed))
