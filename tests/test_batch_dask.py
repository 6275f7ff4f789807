"""`otbill batch --scheduler` (issue #16 §2): what only the Dask runner does — a remote cluster needs a
server ledger and workers that reach the inputs and --out, checked before anything is submitted; a clear
error without Dask installed. (The behaviour shared with the pool is tested on both in test_batch*.py.)"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import CHARGE_HEADER, PRACTICE_ROWS, charge_row, contract_sheets, make_workbook

from otbill_xl.actions import batch_dask
from otbill_xl.actions.batch import run_batch
from otbill_xl.actions.batch_dask import DaskRunner, parse_scheduler, server_ledger
from otbill_xl.errors import OtbillError

AS_OF = date(2026, 11, 27)
CREATED = datetime(2026, 11, 27, 10, 0)


def workbook(path: Path, day: int, ledger_setting: str | None = None) -> Path:
    """One service line on 8/<day>/2026 (a distinct line per workbook), with a Practice LedgerPath if given."""
    practice = [*PRACTICE_ROWS, *([["LedgerPath", ledger_setting]] if ledger_setting else [])]
    return make_workbook(path, contract_sheets(Practice=practice,
                                               Charges=[CHARGE_HEADER, charge_row(f"L{day}", dos=f"8/{day}/2026")]))


def _outcomes(batch) -> list[tuple]:
    """Each input's name, outcome, lines billed and held back, attempts and message: what a failed
    assertion on a batch shows."""
    return [(Path(r.path).name, r.outcome, r.lines_billed, r.lines_held_back, r.already_billed, r.attempts, r.message)
            for r in batch.results]


def test_server_ledger_and_scheduler_spellings():
    assert server_ledger("postgresql://biller@db.example/otbill") and server_ledger("postgres://h/db")
    assert server_ledger(Path("postgresql://biller@db/otbill"))  # as a Path option leaves it: postgresql:/...
    assert not server_ledger("ledger.sqlite") and not server_ledger(Path("/srv/share/ledger.sqlite"))
    assert not server_ledger(None) and not server_ledger("")
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://10.0.0.5:8786") == ("remote", "tcp://10.0.0.5:8786")
    for bad in ("local:0", "local:x", "10.0.0.5:8786", "tcp://host"):
        with pytest.raises(OtbillError, match="--scheduler"):
            parse_scheduler(bad)


def test_a_remote_scheduler_refuses_a_sqlite_ledger_before_connecting(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    workbook(folder / "a.xlsx", 3, "postgresql://biller@db/otbill")
    workbook(folder / "b.xlsx", 4)  # no LedgerPath, no $OTBILL_LEDGER: the default SQLite ledger
    out = tmp_path / "out"
    connected: list[str] = []
    real_connect = batch_dask._connect
    monkeypatch.setattr(batch_dask, "_connect", lambda *a: connected.append("yes"))
    kw = dict(as_of=AS_OF, created=CREATED, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(OtbillError, match=r"--ledger .*ledger.sqlite is a SQLite file: .*must be PostgreSQL"):
        run_batch([str(folder)], out, ledger_path=tmp_path / "ledger.sqlite", **kw)
    with pytest.raises(OtbillError, match=r"b.xlsx: no ledger is set .*must be PostgreSQL.*Nothing was submitted"):
        run_batch([str(folder)], out, **kw)
    monkeypatch.setenv("OTBILL_LEDGER", str(tmp_path / "env.sqlite"))
    with pytest.raises(OtbillError, match=r"b.xlsx: \$OTBILL_LEDGER is .*env.sqlite, a SQLite file"):
        run_batch([str(folder)], out, **kw)
    monkeypatch.setenv("OTBILL_LEDGER", "postgresql://biller@db/otbill")
    workbook(folder / "c.xlsx", 5, str(tmp_path / "c.sqlite"))  # its LedgerPath wins over $OTBILL_LEDGER
    with pytest.raises(OtbillError, match=r"c.xlsx: its Practice setting LedgerPath is .*c.sqlite, a SQLite file"):
        run_batch([str(folder)], out, **kw)
    (folder / "c.xlsx").unlink()
    assert connected == []
    monkeypatch.setattr(batch_dask, "_connect", real_connect)
    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(OtbillError, match="cannot reach the Dask scheduler"):  # all server ledgers: it connects
        run_batch([str(folder)], out, **kw)
    assert sorted(p.name for p in out.iterdir()) == []  # nothing submitted, no report, no ledger


def test_workers_that_cannot_reach_out_or_an_input_are_named(tmp_path, dask_client):
    dask_client.wait_for_workers(2, timeout=60)  # both, even after a test that killed one
    runner = DaskRunner(dask_client, None, False, ())
    missing = tmp_path / "gone" / "a.xlsx"
    with pytest.raises(OtbillError) as info:
        runner.check_workers(tmp_path / "not-shared", [str(missing)])
    text = str(info.value)
    workers = sorted(dask_client.scheduler_info()["workers"])
    assert len(workers) == 2 and all(f"worker {w}: cannot write in --out {tmp_path / 'not-shared'}" in text
                                     for w in workers)
    assert f"cannot read the input {missing} (No such file or directory)" in text
    assert "nothing was submitted" in text
    runner.check_workers(tmp_path, [])  # reachable: no error
    assert list(tmp_path.iterdir()) == []  # the probe file is removed


def test_a_batch_on_a_running_scheduler_by_address(tmp_path, dask_client, monkeypatch):
    """`--scheduler tcp://...` connects to a running scheduler (here the session's LocalCluster) and closes
    only its own client: the cluster goes on. (The server-ledger check is tested above; this ledger is a
    local file, which one machine's workers share.)"""
    monkeypatch.setattr(batch_dask, "require_server_ledgers", lambda *a: None)
    dask_client.wait_for_workers(2, timeout=60)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        workbook(folder / f"w{i}.xlsx", 3 + i)
    batch = run_batch([str(folder)], tmp_path / "out", ledger_path=tmp_path / "ledger.sqlite", as_of=AS_OF,
                      created=CREATED, scheduler=dask_client.scheduler.address)
    assert [(r.outcome, r.lines_billed) for r in batch.results] == [("converted", 1)] * 3, _outcomes(batch)
    assert dask_client.status == "running" and len(dask_client.scheduler_info()["workers"]) == 2


def test_a_remote_batch_bills_into_a_postgresql_ledger_once(tmp_path, dask_client, pg_url):
    """Issue #16 §2 as a billing service runs it: `--scheduler tcp://...` with `--ledger postgresql://...`
    (no check switched off): every workbook converted on the cluster, each line billed once in the shared
    ledger, and a second batch of the same folder bills nothing (skipped: the ledger knows the inputs)."""
    from otbill_xl.ledger import Ledger

    dask_client.wait_for_workers(2, timeout=60)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        workbook(folder / f"w{i}.xlsx", 3 + i)
    kw = dict(ledger_path=pg_url, as_of=AS_OF, created=CREATED, scheduler=dask_client.scheduler.address)
    first = run_batch([str(folder)], tmp_path / "out", **kw)
    assert [(r.outcome, r.lines_billed) for r in first.results] == [("converted", 1)] * 4, _outcomes(first)
    with Ledger(pg_url) as ledger:
        billed = ledger.conn.execute("SELECT line_key, count(*) FROM billed_lines GROUP BY line_key").fetchall()
    assert len(billed) == 4 and all(n == 1 for _, n in billed)   # four distinct lines (8/3..8/6), once each
    again = run_batch([str(folder)], tmp_path / "out", **kw)
    assert [r.outcome for r in again.results] == ["skipped"] * 4, again.results
    assert len(list((tmp_path / "out").glob("*.837"))) == 4


def test_scheduler_without_dask_installed_names_the_extra(tmp_path, monkeypatch):
    workbook(tmp_path / "a.xlsx", 3)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    with pytest.raises(OtbillError, match=r'needs Dask: pip install "otbill-xl\[dask\]"'):
        run_batch([str(tmp_path / "a.xlsx")], tmp_path / "out", as_of=AS_OF, created=CREATED, scheduler="local:2")


def test_a_cluster_that_cancels_or_refuses_work_fails_those_inputs_and_the_batch_reports(tmp_path):
    """The loop with a runner whose cluster lost its scheduler: a cancelled task (no Ctrl-C) and a refused
    submit are each reported failed, the others run, and the report is written (a re-run resumes)."""
    from collections import deque
    from concurrent.futures import Future

    from otbill_xl.actions.batch import InputResult, _CtrlC, _run_tasks

    class Runner:
        loses_all, retries_itself, abandoned = False, False, False

        def slots(self):
            return 2

        def submit(self, path, sha):
            fut: Future = Future()
            if path == "refused":
                raise RuntimeError("cannot schedule new futures after shutdown")
            if path == "cancelled":  # as distributed's executor passes on a cancelled task
                fut.cancel()
                fut.set_running_or_notify_cancel()
            else:
                fut.set_result(InputResult(path, sha, "converted", attempts=1))
            return fut

        def lost(self, exc):
            return 0

    reported: list[InputResult] = []
    with _CtrlC() as ctrl_c:
        interrupted = _run_tasks(deque([("ok", "1"), ("cancelled", "2"), ("refused", "3"), ("ok2", "4")]),
                                 reported.append, ctrl_c, Runner(), out_dir=tmp_path, ledger_path=tmp_path / "l.sqlite",
                                 batch_id="b", stop_grace=0)
    got = {r.path: r for r in reported}
    assert not interrupted and len(reported) == 4
    assert got["ok"].outcome == got["ok2"].outcome == "converted"
    assert got["cancelled"].outcome == "failed" and "the cluster cancelled it" in got["cancelled"].message
    assert got["refused"].outcome == "failed" and "could not be started (RuntimeError)" in got["refused"].message


def test_an_input_run_twice_reports_what_this_batch_billed(tmp_path):
    """Dask may run a task twice (it runs again a task whose worker was lost, even one that had finished,
    and rarely twice at once): the ledger bills its lines once, and the report says what this batch billed
    for the input, from the ledger, whichever run's result comes back."""
    from collections import deque
    from concurrent.futures import Future

    from otbill_xl.actions.batch import InputResult, _CtrlC, _run_tasks

    folder = tmp_path / "in"
    folder.mkdir()
    workbook(folder / "a.xlsx", 3)
    ledger = tmp_path / "ledger.sqlite"
    done = run_batch([str(folder)], tmp_path / "out", ledger_path=ledger, workers=1, as_of=AS_OF, created=CREATED)
    [first] = done.results
    assert first.outcome == "converted" and first.lines_billed == 1

    class Runner:
        loses_all, retries_itself, abandoned = False, True, False

        def __init__(self, result):
            self.result = result

        def slots(self):
            return 1

        def submit(self, path, sha):
            fut: Future = Future()
            fut.set_result(self.result(path, sha))
            return fut

        def lost(self, exc):
            return 0

    def skipped(path, sha):
        return InputResult(path, sha, "skipped", "already converted (same content)", attempts=1)

    def lost_the_race(path, sha):  # the same task run twice at once: the other run billed its line
        return InputResult(path, sha, "converted", "TESTPAYER: a line is already billed", charge_lines=1, attempts=1)

    def run(result, batch):
        reported: list[InputResult] = []
        with _CtrlC() as ctrl_c:
            _run_tasks(deque([(first.path, first.sha256)]), reported.append, ctrl_c, Runner(result),
                       out_dir=tmp_path / "out", ledger_path=ledger, batch_id=batch, stop_grace=0)
        [r] = reported
        return r

    r = run(skipped, "20261128-090000-0a1b2c3d")  # a later batch: a skip stays a skip
    assert (r.outcome, r.lines_billed, r.message) == ("skipped", 0, "already converted (same content)")
    r = run(lost_the_race, done.batch_id)
    assert (r.outcome, r.lines_billed, r.files, r.attempts) == ("converted", 1, first.files, 2), r
    assert r.message.startswith("run again by the cluster") and "1 lines billed by the other attempt" in r.message


def test_a_finished_input_the_cluster_runs_again_is_reported_converted_not_skipped(tmp_path):
    """Dask runs a *finished* task again when the worker holding its result is lost before the result
    came back. The second run finds the input converted by this same batch (its runs in the ledger carry
    the batch's id), so it converts it again instead of skipping it: the ledger bills nothing twice, and the
    report says what this batch billed for the input. Converted by another batch — even one started in the
    same second — it is skipped."""
    from collections import deque
    from concurrent.futures import Future

    from otbill_xl.actions.batch import InputResult, _CtrlC, _run_tasks, convert_one, file_sha256

    folder = tmp_path / "in"
    folder.mkdir()
    path = workbook(folder / "a.xlsx", 3)
    out, ledger = tmp_path / "out", tmp_path / "ledger.sqlite"
    sha = file_sha256(path)
    args = (str(out), str(ledger), AS_OF, CREATED, "visit", False, "20261127-100000-aaaaaaaa")
    first = convert_one(str(path), sha, *args)  # the run whose result the lost worker held
    assert (first.outcome, first.lines_billed, len(first.files)) == ("converted", 1, 1)

    class Runner:  # the cluster: runs the finished task again, and that result is the one that comes back
        loses_all, retries_itself, abandoned = False, True, False

        def slots(self):
            return 1

        def submit(self, p, s):
            fut: Future = Future()
            fut.set_result(convert_one(p, s, *args))
            return fut

        def lost(self, exc):
            return 0

    reported: list[InputResult] = []
    with _CtrlC() as ctrl_c:
        _run_tasks(deque([(str(path), sha)]), reported.append, ctrl_c, Runner(), out_dir=out, ledger_path=ledger,
                   batch_id=args[-1], stop_grace=0)
    [r] = reported
    assert (r.outcome, r.lines_billed, r.lines_held_back, r.files) == ("converted", 1, 0, first.files), r
    assert r.message.startswith("run again by the cluster") and "1 lines billed by the other attempt" in r.message
    assert len(list(out.glob("*.837"))) == 1  # billed once
    other = convert_one(str(path), sha, *args[:-1], "20261127-100000-bbbbbbbb")  # another batch, same second
    assert (other.outcome, other.message) == ("skipped", "already converted (same content)")
