"""Batch conversion: many practice workbooks → checked, priced, annotated copies and 837P files.

Each workbook runs check → price → claims in a worker process (one bad workbook never stops the
others); the parent only collects small result records, so its memory stays flat however many inputs
there are. Every output is written under a temporary name and renamed, so an interrupted batch leaves
no half-written file; an input whose content (SHA-256) was already converted is skipped on the next run.

Where the inputs run is a *runner*: by default :class:`_PoolRunner` (a process pool on this machine); with
``scheduler`` the Dask runner (:mod:`otbill_xl.actions.batch_dask`: tasks on a Dask cluster). Both give one
loop, :func:`_run_tasks`, an executor's ``submit`` → :class:`~concurrent.futures.Future`; the faults below
are the pool's, and that module says what each becomes on Dask.

Faults (issue #9 §3):

* **A worker dies** (out of memory, killed): Python's pool then fails every input in flight and stops
  the other workers. Only as many inputs as there are workers are ever in flight, so the parent knows
  which they were: a lone one is the culprit and is reported failed; several are retried one at a time
  in a new pool, and the one that kills a worker again when run alone is reported failed. The ledger
  never bills a line twice, so a retry reports what the first attempt billed as already billed. What a
  failed or interrupted input really billed is read from its ledger (:meth:`Ledger.billed_by_input`).
* **Ctrl-C** (SIGINT): workers ignore it; the parent stops starting inputs at once, gives running ones
  :data:`STOP_GRACE` seconds to finish, then asks them to roll back (the two-phase recording in
  :mod:`otbill_xl.actions.claims` makes a stopped file safe), writes the report marked
  ``interrupted`` with the inputs not started, and the command exits 130. A second Ctrl-C skips the grace.
* **The parent is killed** (kill -9): each worker runs a daemon thread that polls ``os.getppid()``
  every :data:`WATCH_INTERVAL` seconds and ends the worker (``os._exit``) when the parent is gone. Not
  ``prctl(PR_SET_PDEATHSIG)``: that is Linux-only and fires when the *thread* that started the worker
  ends, not the process; polling works on Linux and macOS alike and costs nothing measurable. A worker
  stopped this way mid-file is safe for the same reason as above; the next run settles it. (Windows:
  no watch and no roll-back on Ctrl-C — running inputs finish.)
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import json
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from otbill_xl.actions.sheets import COUNT, MONEY, NUMBER, TEXT, Column, SheetSpec
from otbill_xl.errors import OtbillError
from otbill_xl.ledger import Ledger
from otbill_xl.ledger.store import batch_command
from otbill_xl.workbook.files import atomic_save, run_stamp, unused_name

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
REPORT_STEM = "batch-report"  # batch-report-YYYYmmdd-HHMMSS.json / .xlsx
#: Seconds an interrupted batch lets running inputs finish before it asks them to roll back.
STOP_GRACE = 2.0
#: How often a worker looks whether its parent is gone or asks it to stop (seconds).
WATCH_INTERVAL = 0.2
#: ``module:function`` replacing :func:`_step` in the workers (fault-injection tests only).
HOOK_ENV = "OTBILL_BATCH_HOOK"
#: Exit status of a worker that stops because its parent is gone.
ORPHAN_EXIT = 75


@dataclass
class InputResult:
    """What happened to one input workbook."""

    path: str
    sha256: str = ""
    # converted | held-back | skipped | duplicate | unusable | failed | interrupted | not-started
    outcome: str = "pending"
    message: str = ""
    charge_lines: int = 0
    errors: int = 0
    warnings: int = 0
    claims: int = 0
    lines_billed: int = 0
    lines_held_back: int = 0
    already_billed: int = 0     # lines held back because the ledger has them billed (by any run)
    expected_payment: str = "0.00"
    files: list[str] = field(default_factory=list)
    annotated: str = ""
    ledger: str = ""
    attempts: int = 0
    seconds: float = 0.0


def _field(name: str) -> Callable[[InputResult], Any]:
    return lambda r: getattr(r, name)


def _amount(text: str) -> Decimal | str:
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


#: The batch report's Batch sheet: one row per input, a column per :class:`InputResult` field (in
#: field order; ``tests/test_sheets.py`` checks they match). Widths are Excel's default.
BATCH: SheetSpec[InputResult] = SheetSpec("Batch", (
    *(Column(name, None, TEXT, _field(name)) for name in ("path", "sha256", "outcome")),
    Column("message", 60, TEXT, _field("message")),
    *(Column(name, None, COUNT, _field(name), total="sum")
      for name in ("charge_lines", "errors", "warnings", "claims", "lines_billed", "lines_held_back", "already_billed")),
    # text ("12.50") in the JSON report, money in the sheet
    Column("expected_payment", None, MONEY, lambda r: _amount(r.expected_payment), total="sum"),
    Column("files", None, TEXT, lambda r: ", ".join(r.files)),
    Column("annotated", None, TEXT, _field("annotated")),
    Column("ledger", None, TEXT, _field("ledger")),
    Column("attempts", None, COUNT, _field("attempts")),
    Column("seconds", None, NUMBER, _field("seconds")),
))


INTERRUPTED = "stopped by Ctrl-C before it finished; run the batch again to finish it"


class BatchStopped(BaseException):
    """Raised in a worker's main thread when the parent asks it to stop (Ctrl-C): the input rolls back."""


def _step(name: str, path: str) -> None:
    """A named point in a worker's conversion of ``path`` (``located``, ``billed``, ``saved``). Does
    nothing; fault-injection tests replace it through :data:`HOOK_ENV` to kill or hold a worker there."""


#: In a worker: how many tasks it started, the one running (0: idle), the last one asked to stop.
_task = {"count": 0, "running": 0, "signalled": 0}


def _worker_init(parent_pid: int, stop_flag: Any) -> None:
    """Each worker: ignore Ctrl-C (the parent decides), stop when asked, end when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGUSR1"):  # POSIX; on Windows running inputs always finish
        signal.signal(signal.SIGUSR1, _on_stop)
        signal.siginterrupt(signal.SIGUSR1, False)  # C libraries (SQLite) never see EINTR; sleeps still wake
    hook = os.environ.get(HOOK_ENV, "")
    if hook:
        module, _, name = hook.partition(":")
        globals()["_step"] = getattr(importlib.import_module(module), name)
    if os.name != "posix":  # pragma: no cover - Windows: getppid() does not change when the parent dies
        return
    watched = os.getppid()  # the parent, or a forkserver that ends with it
    if watched != parent_pid and not _alive(parent_pid):
        os._exit(ORPHAN_EXIT)  # the parent died before this worker started
    threading.Thread(target=_watch, args=(watched, stop_flag), name="otbill-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _watch(parent: int, stop_flag: Any) -> None:
    main = cast(int, threading.main_thread().ident)  # (a started thread has an ident; the main thread is running)
    while True:
        if os.getppid() != parent:  # re-parented: the parent is gone
            os._exit(ORPHAN_EXIT)
        task = _task["running"]
        if stop_flag.value and task and _task["signalled"] != task and hasattr(signal, "pthread_kill"):
            _task["signalled"] = task
            signal.pthread_kill(main, signal.SIGUSR1)  # wakes a blocking call, unlike _thread.interrupt_main
        time.sleep(WATCH_INTERVAL)


def _on_stop(signum: int, frame: object) -> None:
    if _task["running"]:
        raise BatchStopped


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Workbooks named directly, found in folders (recursively) or matched by globs, in a stable order;
    Excel's lock files (``~$...``) and otbill's own outputs are left out."""
    seen: dict[str, Path] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            candidates = sorted(q for q in p.rglob("*") if q.suffix.lower() in WORKBOOK_SUFFIXES)
        elif any(ch in item for ch in "*?["):
            candidates = sorted(Path(x) for x in glob.glob(item, recursive=True))
        else:
            candidates = [p]
        for q in candidates:
            if q.name.startswith(("~$", ".", REPORT_STEM)) or ".otbill" in q.name or ".claims-" in q.name:
                continue
            seen.setdefault(str(q.resolve()), q)
    return list(seen.values())


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_one(path: str, sha: str, out_dir: str, ledger_path: str | None, as_of: date, created: datetime,
                group: str, strict: bool, batch: str = "") -> InputResult:
    """Worker: check → price → claims for one workbook, billed into its submitter's ledger (or
    ``ledger_path``) under the batch's id (:func:`~otbill_xl.ledger.store.batch_command`). Never raises for
    bad input."""
    _task["count"] += 1
    _task["running"] = _task["count"]
    try:
        return _convert(path, sha, out_dir, ledger_path, as_of, created, group, strict, batch)
    except BatchStopped:  # asked to stop outside _convert's own handler
        return InputResult(path, sha, "interrupted", INTERRUPTED, attempts=1)
    finally:
        _task["running"] = 0


def _convert(path: str, sha: str, out_dir: str, ledger_path: str | None, as_of: date, created: datetime,
             group: str, strict: bool, batch: str = "") -> InputResult:
    from otbill_xl.actions.check import check_charges
    from otbill_xl.actions.claims import create_claims
    from otbill_xl.actions.pipeline import Pipeline
    from otbill_xl.actions.price import price_charges
    from otbill_xl.ledger import LedgerChoice, open_ledger
    from otbill_xl.workbook.files import FileWorkbook

    start = time.perf_counter()
    result = InputResult(path=path, sha256=sha, attempts=1)
    src = Path(path)
    try:
        port = FileWorkbook(src)
        pipeline = Pipeline(port, as_of=as_of, prices=True)  # one read, one scrub for check, price and claims
        choice = LedgerChoice(ledger_path or None, Path(out_dir))
        location = choice.locate(pipeline.book.practice)
        result.ledger = location.shown  # (a URL's password masked: the report is kept)
        _step("located", path)
        ledger, notes = open_ledger(location)
        try:
            # Converted by an earlier batch: skipped. By this one: a cluster running a finished task again (its
            # result lost with a worker) — converted again, billing nothing twice, so that the batch reports
            # what it billed for the input (the loop reads it from the ledger, as after any retry).
            if ledger.input_done(sha) and not (batch and ledger.billed_by_input(sha, batch=batch)["runs"]):
                result.outcome, result.message = "skipped", "already converted (same content)"
                result.seconds = round(time.perf_counter() - start, 3)
                return result
        finally:
            ledger.close()
        checked = check_charges(port, pipeline=pipeline)
        summary = checked.summary
        result.charge_lines = summary["lines_checked"]
        result.errors, result.warnings = summary["errors"], summary["warnings"]
        priced = price_charges(port, pipeline=pipeline)
        result.expected_payment = f"{sum((t.expected_payer_payment for t in priced.result.totals), start=0):.2f}"
        with Ledger(location.path) as ledger:
            claims = create_claims(port, out_dir=Path(out_dir), ledger=ledger, as_of=as_of, created=created,
                                   group=group, strict=strict, command=batch_command(batch), workbook_sha256=sha,
                                   pipeline=pipeline)
            result.claims = len(claims.billed_claims)
            result.lines_billed = claims.lines_billed
            result.files = [f.path for f in claims.files if f.state == "written"]
            result.already_billed = sum(1 for p in claims.prior.values() if p.kind == "billed")
            _step("billed", path)
            suffix = ".xlsm" if src.suffix.lower() == ".xlsm" else ".xlsx"  # keep macros loadable
            annotated = unused_name(Path(out_dir) / f"{src.stem}-{sha[:8]}.otbill-{run_stamp(created)}{suffix}")
            # What was billed is in the ledger: record the input before anything else can fail.
            ledger.mark_input(sha, path, "converted", created)
            port.save(str(annotated))
            _step("saved", path)
        result.lines_held_back = len(claims.assembly.held_back)
        result.annotated = str(annotated)
        result.outcome = "held-back" if result.lines_held_back else "converted"
        if claims.problems or notes or claims.notes:
            result.message = "; ".join([*claims.problems, *notes, *claims.notes])
    except BatchStopped:
        result.outcome, result.message = "interrupted", INTERRUPTED
    except OtbillError as exc:
        result.outcome, result.message = "unusable", str(exc)
    except Exception as exc:  # a bug must not stop the batch; no data in the message
        result.outcome, result.message = "failed", f"internal error ({type(exc).__name__}); rerun alone with OTBILL_DEBUG=1"
    if result.lines_billed and result.outcome in ("unusable", "failed"):
        result.message += f" — {result.lines_billed} lines were billed before this (they are in the ledger)"
    result.seconds = round(time.perf_counter() - start, 3)
    return result


@dataclass
class BatchResult:
    results: list[InputResult]
    report_json: str
    report_xlsx: str
    seconds: float
    interrupted: bool = False
    #: the batch's id, also in its report: the ledger records this batch's claims runs with command "batch ID"
    batch_id: str = ""

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out


class _CtrlC:
    """While running in the main thread, SIGINT sets a flag instead of raising KeyboardInterrupt."""

    def __init__(self) -> None:
        self.count = 0
        self.at = 0.0
        self._previous: Any = None

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.count += 1
        self.at = self.at or time.monotonic()

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _practice_of(path: str):
    """Only the Practice sheet of a workbook (to find its ledger without reading its charges)."""
    from otbill_xl.workbook.files import FileWorkbook
    from otbill_xl.workbook.mapping import merge_overrides, overrides_from_rows
    from otbill_xl.workbook.reader import COLUMNS_SHEET, SHEETS, _practice, _Reader

    port = FileWorkbook(Path(path))
    sheet_overrides = overrides_from_rows(port.values(COLUMNS_SHEET)) if COLUMNS_SHEET in port.sheet_names() else {}
    reader = _Reader(port, merge_overrides(sheet_overrides, {}))
    spec = next(s for s in SHEETS if s.name == "Practice")
    return _practice(reader, reader.read_sheet(spec))


def _ledger_of(r: InputResult, out_dir: Path, ledger_path: Path | str | None) -> Path | str:
    from otbill_xl.ledger import LedgerChoice
    from otbill_xl.ledger.dialect import is_url

    if ledger_path is not None:
        return ledger_path
    if r.ledger and not is_url(r.ledger):  # (a URL in the report is masked: found again below)
        return Path(r.ledger)
    return LedgerChoice(None, out_dir).locate(_practice_of(r.path)).path


def _billed(r: InputResult, out_dir: Path, ledger_path: Path | str | None, batch: str) -> dict[str, Any] | None:
    """What this batch billed for ``r``'s input, from its ledger (pending files of stopped workers settled
    first); None when the ledger cannot be found or read."""
    try:
        from otbill_xl.ledger import LedgerLocation

        path = _ledger_of(r, out_dir, ledger_path)
        r.ledger = LedgerLocation(path, "").shown
        if not LedgerLocation(path, "").exists():
            return {"claims": 0, "lines": 0, "files": []}
        with Ledger(path) as ledger:
            ledger.resolve_pending()
            return ledger.billed_by_input(r.sha256, batch=batch)
    except Exception:  # the report must still be written; say the figure is unknown
        return None


def _from_ledger(r: InputResult, out_dir: Path, ledger_path: Path | str | None, batch: str) -> None:
    """A failed or interrupted input: its claims, lines and files as its ledger has them."""
    got = _billed(r, out_dir, ledger_path, batch)
    if got is None:
        r.message += " — what it billed could not be read from the ledger; run `otbill ledger check`"
        return
    before = r.lines_billed
    r.claims, r.lines_billed, r.files = got["claims"], got["lines"], got["files"]
    if r.lines_billed and not before:
        r.message += (f" — {r.lines_billed} lines were billed before it stopped (they are in the ledger and will "
                      "not be billed again)")


def _after_retry(r: InputResult, out_dir: Path, ledger_path: Path | str | None, batch: str,
                 cluster: bool = False) -> None:
    """A retried input: lines billed by the attempt a dead worker cut short count as billed by it (the
    retry held them back as already billed). ``cluster``: run again by a cluster (Dask), which does so
    after a lost worker and, rarely, runs a task twice: the ledger billed it once either way."""
    if r.outcome not in ("converted", "held-back"):
        return
    got = _billed(r, out_dir, ledger_path, batch)
    earlier = (got["lines"] - r.lines_billed) if got else 0
    note = ("run again by the cluster (a worker was lost, or the task ran twice)" if cluster
            else f"retried after a worker stopped (attempt {r.attempts})")
    if got and earlier > 0:
        r.claims, r.lines_billed, r.files = got["claims"], got["lines"], got["files"]
        r.lines_held_back = max(0, r.lines_held_back - earlier)
        r.outcome = "held-back" if r.lines_held_back else "converted"
        note += (f"; {earlier} lines billed by the {'other' if cluster else 'stopped'} attempt are reported as "
                 "already billed (billed once; they are in lines_billed)")
    r.message = "; ".join(x for x in (note, r.message) if x)


def _retried(r: InputResult, out_dir: Path, ledger_path: Path | str | None, batch: str) -> bool:
    """Whether an input that found lines already billed was a retry: a cluster (Dask) runs again, unseen, an
    input whose worker died, and the ledger then has more lines billed by this input in this batch than
    the attempt that returned billed."""
    got = _billed(r, out_dir, ledger_path, batch)
    if got is not None and got["lines"] > r.lines_billed:
        r.attempts = max(r.attempts, 2)
        return True
    return False


def run_batch(inputs: Iterable[str], out_dir: Path, *, ledger_path: Path | str | None = None, workers: int | None = None,
              as_of: date, created: datetime, group: str = "visit", strict: bool = False,
              on_result: Callable[[InputResult, int, int], None] | None = None,
              stop_grace: float = STOP_GRACE, scheduler: Any = None) -> BatchResult:
    """Convert every input workbook; returns per-input results and writes the batch reports.

    Each workbook bills into its submitter's ledger (or ``ledger_path`` for all). Inputs with the same
    content (SHA-256) are converted once; the others are reported as duplicates of the first. A dead
    worker fails only its input; Ctrl-C stops the batch cleanly (``BatchResult.interrupted``).

    ``scheduler``: None runs the inputs in a process pool of ``workers`` processes on this machine;
    ``"local:N"`` on a Dask LocalCluster of N one-thread worker processes; ``"tcp://HOST:PORT"`` on a Dask
    cluster (the ledger must then be a server ledger, and ``out_dir`` reachable by every worker); or a
    ``distributed.Client`` (not closed here). See :mod:`otbill_xl.actions.batch_dask`.
    """
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = expand_inputs(inputs)
    total = len(paths)
    results: list[InputResult] = []

    def report(r: InputResult) -> None:  # each input once: the progress count never repeats
        results.append(r)
        if on_result:
            on_result(r, len(results), total)

    todo: deque[tuple[str, str]] = deque()
    early: list[InputResult] = []  # reported once the workers are known to be ready
    first_of: dict[str, Path] = {}
    for p in paths:
        if not p.exists():
            early.append(InputResult(str(p), outcome="unusable", message=f"{p.name}: the file does not exist."))
            continue
        sha = file_sha256(p)
        if sha in first_of:
            early.append(InputResult(str(p), sha, "duplicate",
                                     f"same content as {first_of[sha].name}; converted once, as that input"))
            continue
        first_of[sha] = p
        todo.append((str(p), sha))
    # The batch's id: its claims runs are recorded under it in the ledger, where the batch reads back what
    # it billed for an input after a retry, a lost worker or a stop (two batches may start in one second).
    batch_id = f"{run_stamp(created)}-{uuid.uuid4().hex[:8]}"
    args = (str(out_dir), str(ledger_path) if ledger_path else None, as_of, created, group, strict, batch_id)
    with _CtrlC() as ctrl_c:
        runner: Any
        if scheduler is None or not todo:
            workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
            runner = _PoolRunner(workers, args)
        else:
            from otbill_xl.actions.batch_dask import DaskRunner

            # Refuses a local ledger for a remote cluster, connects (or starts a LocalCluster) and checks
            # from every worker that --out and the inputs are reachable: all before any input is submitted.
            runner = DaskRunner.start(scheduler, [p for p, _ in todo], out_dir, ledger_path, args)
        try:
            for r in early:
                report(r)
            interrupted = _run_tasks(todo, report, ctrl_c, runner, out_dir=out_dir, ledger_path=ledger_path,
                                     batch_id=batch_id, stop_grace=stop_grace)
        finally:
            runner.close()
        if (interrupted or any(r.outcome in ("failed", "interrupted") for r in results)) and not runner.abandoned:
            from otbill_xl.actions.claims import remove_stray_parts

            remove_stray_parts(out_dir)  # no worker is left: a .part here is a stopped worker's
        order = {str(p): i for i, p in enumerate(paths)}
        results.sort(key=lambda r: order.get(r.path, len(order)))
        stamp = run_stamp(created)  # a re-run never replaces an earlier run's report
        batch = BatchResult(results, str(unused_name(out_dir / f"{REPORT_STEM}-{stamp}.json")),
                            str(unused_name(out_dir / f"{REPORT_STEM}-{stamp}.xlsx")),
                            round(time.perf_counter() - start, 3), interrupted, batch_id)
        write_reports(batch, as_of=as_of, created=created)
    return batch


class _Lost(OtbillError):
    """Raised by :meth:`_PoolRunner.submit` when the pool broke since the last look (the input never started)."""


class _PoolRunner:
    """The default runner: a :class:`ProcessPoolExecutor` on this machine, made anew after a worker dies.

    A runner gives the batch loop (:func:`_run_tasks`) an executor's ``submit`` → :class:`Future` and says
    what a lost worker looks like; the Dask runner (:mod:`otbill_xl.actions.batch_dask`) is the other one."""

    #: Whether a worker's death fails every input in flight (True: the pool breaks) or only its own.
    loses_all = True
    #: Whether the runner retries an input whose worker died by itself (Dask does; the loop does for the pool).
    retries_itself = False
    #: Whether inputs were left running when the batch ended (never with the pool: its workers always stop).
    abandoned = False

    def __init__(self, workers: int, args: tuple[Any, ...]) -> None:
        self.workers = workers
        self.args = args
        self.ctx = multiprocessing.get_context()
        self.stop_flag = self.ctx.RawValue("b", 0)  # no lock: a killed parent can never leave one held
        self.pool: ProcessPoolExecutor | None = None

    def slots(self) -> int:
        return self.workers

    def submit(self, path: str, sha: str) -> Future:
        if self.pool is None:
            # No max_tasks_per_child: on Python 3.11 the pool hangs once a worker retires after its
            # quota; a worker frees each workbook when its task returns anyway.
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self.ctx, initializer=_worker_init,
                                            initargs=(os.getpid(), self.stop_flag))
        try:
            return self.pool.submit(convert_one, path, sha, *self.args)
        except BrokenProcessPool:
            raise _Lost from None

    def lost(self, exc: BaseException) -> int:
        """How many attempts a lost worker's input has had (0: ``exc`` is not a lost worker)."""
        return 1 if isinstance(exc, BrokenProcessPool) else 0

    def reset(self) -> None:
        """The pool broke and nothing is in flight: the next submit starts a new pool."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None

    def stop_running(self) -> None:
        self.stop_flag.value = 1  # the running inputs roll back

    def give_up(self, futures: Iterable[Future]) -> None:
        """Inputs still running long after they were asked to stop (the pool's workers always stop)."""

    def close(self) -> None:
        if self.pool is not None:
            self.stop_flag.value = 1
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


#: Seconds the loop waits for inputs asked to stop before it gives up on them (see ``_Runner.give_up``).
STOP_PATIENCE = 15.0


def _run_tasks(todo: deque[tuple[str, str]], report: Callable[[InputResult], None], ctrl_c: _CtrlC, runner: Any, *,
               out_dir: Path, ledger_path: Path | str | None, batch_id: str, stop_grace: float) -> bool:
    """Run ``todo`` through ``runner`` (:class:`_PoolRunner`, or the Dask runner), at most ``runner.slots()``
    inputs in flight (so no input waits in a queue that a Ctrl-C could not take back, and a dead worker's
    suspects are known). Returns whether the batch was interrupted."""
    if not todo:
        return bool(ctrl_c.count)
    solo: deque[tuple[str, str]] = deque()    # in flight when the pool broke: retried one at a time
    attempts: dict[str, int] = {}
    inflight: dict[Future, tuple[str, str]] = {}
    alone_inflight: set[Future] = set()  # a suspect's retry: nothing else starts beside it
    broken_pool = False
    stopped_at = 0.0

    def finish(r: InputResult) -> None:
        r.attempts = max(r.attempts, attempts.get(r.sha256, 1))
        if r.outcome in ("failed", "interrupted"):
            _from_ledger(r, out_dir, ledger_path, batch_id)
        elif r.attempts > 1 or (runner.retries_itself and (r.already_billed or r.message)
                                and _retried(r, out_dir, ledger_path, batch_id)):
            _after_retry(r, out_dir, ledger_path, batch_id, cluster=runner.retries_itself)
        report(r)

    def lost_worker(p: str, sha: str, tries: int) -> InputResult:
        again = "; it stops a worker again when run alone" if tries > 1 else ""
        if runner.retries_itself and tries > 1:
            again = f"; it stopped a worker each of the {tries} times it ran"
        r = InputResult(p, sha, "failed", "the worker converting it stopped (out of memory or killed)" + again)
        r.attempts = tries
        return r

    while todo or solo or inflight:
        if ctrl_c.count:
            for p, sha in (*solo, *todo):
                report(InputResult(p, sha, "not-started", "the batch was interrupted (Ctrl-C) before this "
                                                          "input started; run the batch again"))
            solo.clear()
            todo.clear()
            if not stopped_at and (ctrl_c.count > 1 or time.monotonic() - ctrl_c.at >= stop_grace):
                runner.stop_running()
                stopped_at = time.monotonic()
            elif stopped_at and inflight and time.monotonic() - stopped_at >= STOP_PATIENCE:
                runner.give_up(list(inflight))  # cancels them: they end as interrupted below
        elif not broken_pool:
            alone = bool(solo)  # a suspect runs alone, so a worker it kills names it
            if alone_inflight:
                batch = []
            elif alone:
                batch = [solo.popleft()] if not inflight else []
            else:
                batch = [todo.popleft() for _ in range(min(len(todo), max(0, runner.slots() - len(inflight))))]
            for i, (p, sha) in enumerate(batch):
                try:
                    fut = runner.submit(p, sha)
                except _Lost:  # broke since the last look: these never started
                    (solo if alone else todo).extendleft(reversed(batch[i:]))
                    broken_pool = True
                    break
                except Exception as exc:  # e.g. a cluster's scheduler gone: reported, the batch goes on
                    finish(InputResult(p, sha, "failed", f"could not be started ({type(exc).__name__}); run the "
                                                         "batch again"))
                    continue
                attempts[sha] = attempts.get(sha, 0) + 1
                inflight[fut] = (p, sha)
                if alone:
                    alone_inflight.add(fut)
        broken: list[tuple[str, str]] = []
        if inflight:
            done, _ = wait(inflight, timeout=WATCH_INTERVAL, return_when=FIRST_COMPLETED)
            for fut in done:
                p, sha = inflight.pop(fut)
                alone_inflight.discard(fut)
                try:
                    finish(fut.result())
                except BatchStopped:
                    finish(InputResult(p, sha, "interrupted", INTERRUPTED))
                except CancelledError:  # by the batch on Ctrl-C, or by a cluster that lost its scheduler
                    finish(InputResult(p, sha, "interrupted", INTERRUPTED) if ctrl_c.count else
                           InputResult(p, sha, "failed", "the cluster cancelled it (its scheduler stopped?); run the "
                                                         "batch again"))
                except Exception as exc:  # a lost worker, or the result could not come back
                    tries = runner.lost(exc)
                    if tries and runner.loses_all:
                        broken.append((p, sha))
                    elif tries:
                        finish(lost_worker(p, sha, tries))
                    else:
                        finish(InputResult(p, sha, "failed",
                                           f"the worker could not return ({type(exc).__name__})"))
        else:
            time.sleep(WATCH_INTERVAL)  # nothing in flight: no worker free yet (a cluster still starting)
        if broken:
            # The pool fails every input in flight at once: collect them all before deciding.
            rest, _ = wait(inflight, timeout=60)
            for fut in rest:
                p, sha = inflight.pop(fut)
                alone_inflight.discard(fut)
                try:
                    finish(fut.result())
                except (BatchStopped, CancelledError):
                    finish(InputResult(p, sha, "interrupted", INTERRUPTED))
                except Exception:
                    broken.append((p, sha))
            broken_pool = True
        if broken_pool and not inflight:
            runner.reset()
            broken_pool = False
        for p, sha in broken:
            if ctrl_c.count:
                finish(InputResult(p, sha, "interrupted", INTERRUPTED))
            elif len(broken) == 1:
                finish(lost_worker(p, sha, attempts[sha]))
            else:
                solo.append((p, sha))  # one of these stopped the worker: retry each alone
    return bool(ctrl_c.count)


def write_reports(batch: BatchResult, *, as_of: date, created: datetime) -> None:
    payload: dict[str, Any] = {"batch": batch.batch_id, "as_of": as_of.isoformat(),
                               "created": created.isoformat(timespec="seconds"), "seconds": batch.seconds,
                               "interrupted": batch.interrupted, "counts": batch.counts,
                               "inputs": [asdict(r) for r in batch.results]}
    text = json.dumps(payload, indent=2)
    atomic_save(lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), Path(batch.report_json))

    import tempfile

    import openpyxl

    from otbill_xl.workbook.files import FileWorkbook

    # Written as every output sheet is (the streamed copy of a blank workbook): the same table, widths and
    # formats, and the totals row's sums saved as results, which openpyxl cannot save.
    with tempfile.TemporaryDirectory(prefix="otbill-report-") as tmp:
        blank = Path(tmp) / "blank.xlsx"
        wb = openpyxl.Workbook()
        wb.active.title = BATCH.name
        wb.save(blank)
        port = FileWorkbook(blank)
        rows = BATCH.write(port, batch.results)
        if batch.interrupted:  # below the table and its totals row, after a blank row
            last = len(rows) + 1 if len(rows) > 1 else 2
            not_started = sum(1 for r in batch.results if r.outcome == "not-started")
            port.write_values(BATCH.name, last + 2, 1, [[
                "interrupted", f"The batch was interrupted (Ctrl-C): {not_started} inputs not started; run the "
                               "same batch again to finish (converted inputs are skipped, nothing is billed twice)."]])
        port.save(batch.report_xlsx)
