"""`otbill batch` under faults (issue #9 §3): a dead worker fails only its input, Ctrl-C stops cleanly
with a report, and workers end when their parent is killed. Deterministic: the workers stop or hold at
named points through $OTBILL_BATCH_HOOK (tests/batch_hooks.py), never at a guessed time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from batch_hooks import MARKS_ENV
from conftest import CHARGE_HEADER, charge_row, contract_sheets, make_workbook

from otbill_xl.actions.batch import HOOK_ENV, run_batch
from otbill_xl.formats.x12 import read_837p
from otbill_xl.ledger import Ledger
from otbill_xl.workbook.files import run_stamp

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and /proc")

TESTS = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 27)
CREATED = datetime(2026, 11, 27, 10, 0)


def inputs(folder: Path, *names: str) -> Path:
    """One small workbook per name, each with its own service line (so none is another's duplicate)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        make_workbook(folder / f"{name}.xlsx",
                      contract_sheets(Charges=[CHARGE_HEADER, charge_row(f"L{i}", dos=f"8/{3 + i}/2026")]))
    return folder


def billed_lines(out: Path) -> list[tuple]:
    return [(c.claim_id, ln.code, ln.dos) for f in sorted(out.glob("*.837"))
            for c in read_837p(f.read_text()).claims for ln in c.lines]


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie may wait for a reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


@pytest.fixture
def hooked(tmp_path, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv(HOOK_ENV, "batch_hooks:step")
    monkeypatch.setenv(MARKS_ENV, str(marks))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    return marks


def test_dead_worker_fails_only_its_input_and_the_others_are_retried(tmp_path, hooked, monkeypatch):
    monkeypatch.setenv("OTBILL_TEST_VICTIM", "1")
    folder = inputs(tmp_path / "in", "a-ok", "crash", "victim", "z-ok")
    out = tmp_path / "out"
    ledger = tmp_path / "ledger.sqlite"
    seen: list[tuple[int, int]] = []
    batch = run_batch([str(folder)], out, ledger_path=ledger, workers=2, as_of=AS_OF, created=CREATED,
                      on_result=lambda r, done, total: seen.append((done, total)))
    got = {Path(r.path).stem: r for r in batch.results}
    # "crash" killed its worker with "victim" in flight; both were retried alone; "crash" did it again.
    assert got["crash"].outcome == "failed" and got["crash"].attempts == 2
    assert "stopped" in got["crash"].message and "run alone" in got["crash"].message
    # What it billed before dying comes from the ledger, not from the (lost) worker result.
    assert got["crash"].lines_billed == 1 and len(got["crash"].files) == 1 and got["crash"].claims == 1
    assert got["victim"].outcome == "converted" and got["victim"].attempts == 2
    assert got["victim"].lines_billed == 1 and got["victim"].already_billed == 1
    assert "already billed" in got["victim"].message
    assert got["a-ok"].outcome == got["z-ok"].outcome == "converted"
    assert got["a-ok"].lines_billed == got["z-ok"].lines_billed == 1
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]  # each input reported once
    report = json.loads(Path(batch.report_json).read_text())
    assert report["interrupted"] is False
    assert {Path(r["path"]).stem: r["lines_billed"] for r in report["inputs"]} == {
        "a-ok": 1, "crash": 1, "victim": 1, "z-ok": 1}
    lines = billed_lines(out)
    assert len(lines) == 4 == len(set(lines))  # billed exactly once, retries included
    assert not [p for p in out.rglob("*.part")]
    with Ledger(ledger) as led:
        assert led.billed_by_input(got["crash"].sha256, batch=batch.batch_id)["lines"] == 1
        # another batch (started in the same second, as the report's runs would say) billed nothing for it
        assert led.billed_by_input(got["crash"].sha256, batch=batch.batch_id[:-8] + "0" * 8)["lines"] == 0
    assert report["batch"] == batch.batch_id and batch.batch_id.startswith(run_stamp(CREATED))


def test_a_lone_worker_that_dies_fails_its_input_at_once(tmp_path, hooked):
    folder = inputs(tmp_path / "in", "crash", "ok")
    batch = run_batch([str(folder)], tmp_path / "out", workers=1, as_of=AS_OF, created=CREATED)
    got = {Path(r.path).stem: r for r in batch.results}
    assert got["crash"].outcome == "failed" and got["crash"].attempts == 1 and got["crash"].lines_billed == 1
    assert got["crash"].ledger.endswith("HHOT01.sqlite")  # found from the Practice sheet, by the parent
    assert got["ok"].outcome == "converted" and got["ok"].attempts == 1


def test_dask_a_task_whose_worker_dies_each_time_fails_and_the_rest_go_on(tmp_path, hooked, dask_client):
    """The Dask equivalent of a broken pool: Dask runs a dead worker's task again by itself, on another
    worker; the session cluster allows one such retry (LOCAL_CONFIG), so "crash", which kills every worker
    that runs it, ends in KilledWorker after two attempts: reported failed, and the others convert."""
    folder = inputs(tmp_path / "in", "a-ok", "crash", "z-ok")
    out = tmp_path / "out"
    seen: list[tuple[int, int]] = []
    batch = run_batch([str(folder)], out, as_of=AS_OF, created=CREATED, scheduler=dask_client,
                      on_result=lambda r, done, total: seen.append((done, total)))
    got = {Path(r.path).stem: r for r in batch.results}
    # The submitter's default ledger, in this test's user data folder (the cluster's workers were started
    # in another test's: the batch's environment decides), located by the workers and by the parent alike.
    ledger = Path(os.environ["XDG_DATA_HOME"]) / "otbill" / "ledgers" / "HHOT01.sqlite"
    assert {r.ledger for r in batch.results} == {str(ledger)}
    assert got["crash"].outcome == "failed" and got["crash"].attempts == 2
    assert "stopped a worker each of the 2 times" in got["crash"].message
    # billed by its first attempt before its worker died: from the ledger, billed once
    assert got["crash"].lines_billed == 1 and len(got["crash"].files) == 1 and got["crash"].claims == 1
    assert got["a-ok"].outcome == got["z-ok"].outcome == "converted"
    assert got["a-ok"].lines_billed == got["z-ok"].lines_billed == 1, batch.results
    assert seen == [(1, 3), (2, 3), (3, 3)]  # each input reported once
    lines = billed_lines(out)
    assert len(lines) == 3 == len(set(lines))
    assert not [p for p in out.rglob("*.part")]
    dask_client.wait_for_workers(2, timeout=60)  # the cluster replaced its dead workers for the next test


def test_dask_a_retried_input_reports_the_lines_its_dead_attempt_billed(tmp_path, hooked, dask_client):
    """An input whose first worker died after billing, converted by Dask's retry: reported converted on
    attempt 2, its lines billed once (by the dead attempt), as the pool's retry reports it."""
    folder = inputs(tmp_path / "in", "crash-once")
    (hooked / "crash-once.armed").write_text("")  # batch_hooks: kill the first attempt only
    batch = run_batch([str(folder)], tmp_path / "out", ledger_path=tmp_path / "ledger.sqlite", as_of=AS_OF,
                      created=CREATED, scheduler=dask_client)
    [r] = batch.results
    assert r.outcome == "converted" and r.attempts == 2, r.message
    assert r.lines_billed == 1 and r.lines_held_back == 0 and "run again by the cluster" in r.message
    assert "1 lines billed by the other attempt are reported as already billed" in r.message
    assert len(billed_lines(tmp_path / "out")) == 1
    dask_client.wait_for_workers(2, timeout=60)


def test_ctrl_c_stops_at_once_and_writes_an_interrupted_report(tmp_path, hooked, batch_runner_args):
    folder = inputs(tmp_path / "in", "a1", "a2-hold", "b1-hold", "b2", "b3")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "otbill_xl", "batch", str(folder), "--out", str(out), *batch_runner_args,
           "--as-of", "2026-11-27", "--ledger", str(tmp_path / "ledger.sqlite")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        before = []
        while not (first := proc.stderr.readline()).startswith("[") and first:
            before.append(first)  # anything a library printed first
        # a1's result line: a2-hold (and maybe b1-hold) is running now, b2 and b3 are waiting
        assert first.startswith("[1/5] converted  a1.xlsx"), (first, before)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        sent = time.monotonic()
        proc.wait(timeout=30)  # the rest of stderr is a few lines: the pipe never fills
        elapsed = time.monotonic() - sent
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, rest
    assert elapsed < 10
    counts = [line.split("]")[0] for line in [first, *rest.splitlines()] if line.startswith("[")]
    assert sorted(counts) == sorted(set(counts)) and len(counts) == 5, rest
    assert "interrupted" in rest
    [report_json] = out.glob("batch-report-*.json")
    report = json.loads(report_json.read_text())
    assert report["interrupted"] is True
    got = {Path(r["path"]).stem: r for r in report["inputs"]}
    assert got["a1"]["outcome"] == "converted"
    assert got["a2-hold"]["outcome"] == "interrupted" and got["a2-hold"]["lines_billed"] == 1  # from the ledger
    assert got["b1-hold"]["outcome"] in ("interrupted", "not-started")
    assert got["b2"]["outcome"] == got["b3"]["outcome"] == "not-started"
    ws = openpyxl.load_workbook(report_json.with_suffix(".xlsx"))["Batch"]
    assert ws.cell(ws.max_row, 1).value == "interrupted"
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]

    # Run again without the hook: everything finishes, nothing is billed twice.
    env = {k: v for k, v in os.environ.items() if k != HOOK_ENV}
    again = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0, again.stderr
    outcomes = {Path(r["path"]).stem: r for r in json.loads(again.stdout)["inputs"]}
    assert outcomes["a1"]["outcome"] == "skipped" and outcomes["a2-hold"]["already_billed"] == 1
    lines = billed_lines(out)
    assert len(lines) == 5 == len(set(lines))


def test_workers_end_when_the_parent_is_killed(tmp_path, hooked, batch_runner_args):
    folder = inputs(tmp_path / "in", "hold-1", "hold-2")
    cmd = [sys.executable, "-m", "otbill_xl", "batch", str(folder), "--out", str(tmp_path / "out"),
           *batch_runner_args, "--as-of", "2026-11-27", "--ledger", str(tmp_path / "ledger.sqlite")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    pids: list[int] = []
    try:
        end = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < end and proc.poll() is None:
            pids = [int(p.read_text()) for p in hooked.glob("hold-*.pid") if p.read_text()]
            time.sleep(0.05)
        assert len(pids) == 2, "the workers never reached the hook"
        assert all(alive(pid) for pid in pids)
        proc.kill()  # kill -9 of the parent
        proc.wait(timeout=10)
        end = time.monotonic() + 5
        while any(alive(pid) for pid in pids) and time.monotonic() < end:
            time.sleep(0.05)
        assert not [pid for pid in pids if alive(pid)], "workers outlived their parent"
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


def test_workers_creating_the_same_new_ledger_at_once_never_see_it_damaged(tmp_path):
    """Batch workers on a new submitter's ledger all open it at once: none may see another's brand-new,
    still-empty file (which reads as damaged)."""
    import threading

    for n in range(5):
        path = tmp_path / f"ledger-{n}.sqlite"
        barrier = threading.Barrier(6)
        errors: list[BaseException] = []

        def open_it(path=path, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                Ledger(path).close()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".new")]
        with Ledger(path) as ledger:
            assert ledger.summary()["runs"] == 0
