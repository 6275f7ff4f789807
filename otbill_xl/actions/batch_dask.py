"""`otbill batch --scheduler`: the batch's inputs run as tasks on a Dask distributed cluster (issue #16 §2).

The batch loop (:func:`otbill_xl.actions.batch._run_tasks`) is the same for the process pool and for Dask:
it submits one input at a time to an executor (``distributed.Client.get_executor()``, whose ``submit``
returns a :class:`concurrent.futures.Future`) and keeps at most as many inputs in flight as the cluster has
worker threads. Nothing here schedules anything: Dask does. What differs is said by :class:`DaskRunner`:

* **A worker dies** (out of memory, killed): Dask itself runs the worker's task again on another worker,
  up to the scheduler's ``distributed.scheduler.allowed-failures`` times (a LocalCluster started here: 1,
  so an input is run twice at most, as the pool's lone retry), then fails it with ``KilledWorker``. That
  input is reported ``failed`` (what it billed read from its ledger, as with the pool) and the rest go on.
  A retried input that then converts finds its first attempt's lines billed: the ledger says so, and it is
  reported as retried (:func:`otbill_xl.actions.batch._retried`). Dask does not promise to run a task
  once (it also runs again a *finished* task whose result was lost with its worker, and rarely runs one
  twice at once): the ledger bills every line once, and a result that found its lines billed is reported
  with what this batch billed for it, from the ledger. A finished input run again after its result was
  lost comes back ``skipped`` (already converted): its lines are in the ledger but not in that report row.
* **Ctrl-C**: nothing more is submitted; after the grace the running inputs are asked to stop: a small
  function run on every worker (``Client.run``) raises ``BatchStopped`` in the threads running this
  batch's inputs, which roll back as in a pool worker. Inputs still not back after
  :data:`~otbill_xl.actions.batch.STOP_PATIENCE` seconds are cancelled and reported interrupted. The client,
  and the LocalCluster when this batch started it, are closed.
* **Before anything is submitted**: with a remote scheduler every input's ledger must be a server ledger
  (:func:`server_ledger`), and every worker must be able to write in ``--out`` and read the inputs
  (:func:`probe`); either failing is an :class:`OtbillError` naming the worker and the path.

Workers need otbill-xl installed (the same version) and the inputs and ``--out`` at the same paths as the
machine running ``otbill batch``: a shared folder. The ``OTBILL_*`` environment variables of that machine
(``$OTBILL_LEDGER`` above all) are applied in the worker for each input, so a worker's own settings never
decide which ledger an input bills into (``XDG_DATA_HOME`` too when set: a LocalCluster's workers then see
the user data folder of the process that started them, whatever it was when the cluster started). Reference
data imported into the user data folder (``otbill refdata import-ncci``) must be imported on each worker
machine of a remote cluster too.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from otbill_xl.actions import batch as _batch
from otbill_xl.errors import OtbillError

EXTRA = 'pip install "otbill-xl[dask]"'
ENV_PREFIX = "OTBILL_"
DATA_ENV = "XDG_DATA_HOME"
#: Scheduler settings of a LocalCluster started here: a task whose worker dies runs once more (as the pool's
#: lone retry), and a one-thread worker holds one task at a time, so a dying worker takes no bystander along.
# profile.enabled: a Dask worker samples its task thread's stack every 10 ms for the dashboard's profile,
# which otbill never shows; off, the 40-workbook benchmark went from 1.21x to 1.04x the pool (batch alone,
# the same quiet machine, 3 rounds each; `make bench BENCH=dask`). Remote workers: README "Batch on a Dask cluster".
LOCAL_CONFIG = {"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0,
                "distributed.worker.profile.enabled": False}
#: How long to keep trying to reach a remote scheduler; how long to wait for its first worker (seconds).
CONNECT_TIMEOUT = "20s"
WORKER_WAIT = 60.0
#: Seconds a count of the cluster's worker threads is used before the scheduler is asked again.
SLOTS_FRESH = 1.0


def server_ledger(ledger: str | os.PathLike[str] | None) -> bool:
    """Whether ``ledger`` (``--ledger``, ``$OTBILL_LEDGER`` or a Practice ``LedgerPath``) names a ledger on a
    database server, which workers on other machines can share: a ``postgresql://`` or ``postgres://`` URL
    (also as :class:`Path` leaves it, ``postgresql:/...``). Anything else is a SQLite file, which can only be
    shared by processes on one machine. The ledger package's own test (:func:`otbill_xl.ledger.dialect.is_url`)."""
    from otbill_xl.ledger.dialect import is_url

    return ledger is not None and is_url(ledger)


def parse_scheduler(spec: str) -> tuple[str, int | str]:
    """``local:N`` → ("local", N); ``tcp://HOST:PORT`` (or ``tls://``) → ("remote", spec)."""
    text = spec.strip()
    if text.lower().startswith("local:"):
        n = text.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise OtbillError(f"--scheduler {spec}: local:N needs a number of worker processes of 1 or more, "
                              "e.g. --scheduler local:4.")
        return "local", int(n)
    if re.match(r"^(tcp|tls)://[^/:]+:\d+/?$", text, re.IGNORECASE):
        return "remote", text.rstrip("/")
    raise OtbillError(f"--scheduler {spec}: give a Dask scheduler's address, e.g. --scheduler tcp://HOST:8786, or "
                      "local:N to start N worker processes on this machine.")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise OtbillError(f"--scheduler runs the batch on a Dask cluster, which needs Dask: {EXTRA} "
                          "(or leave out --scheduler to use worker processes on this machine).") from None
    return distributed


def require_server_ledgers(paths: list[str], ledger_path: str | os.PathLike[str] | None, scheduler: str) -> None:
    """With a remote scheduler, every input must bill into a server ledger. ``--ledger`` decides for all
    when given; otherwise each workbook's Practice ``LedgerPath``, else ``$OTBILL_LEDGER``, as the workers
    will locate it (every input's Practice sheet is read here, before anything is submitted). A workbook
    whose Practice sheet cannot be read is left to its worker, which reports it unusable."""
    how = (f"workers on other machines cannot share a SQLite ledger file (it corrupts and cannot lock over a "
           f"network share), so with --scheduler {scheduler} the ledger must be PostgreSQL. Fix: give --ledger "
           "postgresql://USER@HOST/DB (or set $OTBILL_LEDGER, or the Practice setting LedgerPath, to one), or use "
           "--scheduler local:N on this machine")
    if ledger_path is not None:
        if not server_ledger(ledger_path):
            raise OtbillError(f"--ledger {ledger_path} is a SQLite file: {how}.")
        return
    from otbill_xl.ledger.store import LEDGER_ENV

    env = os.environ.get(LEDGER_ENV, "").strip()
    for path in paths:
        try:
            setting = (_batch._practice_of(path).extra.get("LedgerPath") or "").strip()
        except Exception:  # noqa: BLE001 - unreadable: its worker reports it, billing nothing
            continue
        chosen, where = (setting, "its Practice setting LedgerPath") if setting else (env, "$OTBILL_LEDGER")
        if not server_ledger(chosen):
            what = f"{where} is {chosen}, a SQLite file" if chosen else "no ledger is set (the default is a SQLite file)"
            raise OtbillError(f"{Path(path).name}: {what}: {how}. Nothing was submitted.")


def dask_setup(worker: Any) -> None:
    """Preloaded into a LocalCluster's worker processes: Ctrl-C in the terminal reaches the whole process
    group, workers included, and would end them mid-input; as in the pool, the process running the batch
    alone decides (it asks the running inputs to stop)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- in the workers -----------------------------------------------------------------------------------------

_lock = threading.RLock()
_running: dict[int, str] = {}  # thread ident → batch token, for the inputs running in this worker process


def probe(out_dir: str, paths: list[str]) -> list[str]:
    """Run on each worker before the batch starts: writes and removes a file in ``out_dir`` and opens
    every input. Returns what is wrong (empty: all reachable)."""
    problems: list[str] = []
    probe_file = Path(out_dir) / f".otbill-probe-{uuid.uuid4().hex}"
    try:
        probe_file.write_bytes(b"otbill")
        probe_file.unlink()
    except OSError as exc:
        problems.append(f"cannot write in --out {out_dir} ({exc.strerror or type(exc).__name__})")
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            problems.append(f"cannot read the input {path} ({exc.strerror or type(exc).__name__})")
            if len(problems) >= 4:
                problems.append("... (further inputs not checked)")
                break
    return problems


def _task_env() -> dict[str, str]:
    """What :func:`_environment` applies in the workers: this machine's ``OTBILL_*`` variables, and its
    ``XDG_DATA_HOME`` when set (where the default ledgers and imported reference data are)."""
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    if os.environ.get(DATA_ENV):
        env[DATA_ENV] = os.environ[DATA_ENV]
    return env


_env_state: dict[str, Any] = {"users": 0, "saved": {}, "step": None}


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """The submitting machine's variables (:func:`_task_env`) while inputs run in this worker process; the
    fault-injection hook (``$OTBILL_BATCH_HOOK``, tests only) too. Applied by the first input to start and
    put back by the last to end, so a worker running several inputs at once (threads) keeps them throughout."""
    with _lock:
        if not _env_state["users"]:
            _env_state["saved"] = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX) or k == DATA_ENV}
            _env_state["step"] = _batch._step
            for k in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
                del os.environ[k]
            os.environ.update(env)
            hook = env.get(_batch.HOOK_ENV, "")
            if hook:
                module, _, name = hook.partition(":")
                _batch._step = getattr(importlib.import_module(module), name)
        _env_state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _env_state["users"] -= 1
            if not _env_state["users"]:
                _batch._step = _env_state["step"]
                for k in [k for k in os.environ if k.startswith(ENV_PREFIX) or k == DATA_ENV]:
                    del os.environ[k]
                os.environ.update(_env_state["saved"])


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    # CPython's way to raise in another thread (the task's): delivered at its next Python instruction, so a
    # running SQLite call finishes first. None clears one not yet delivered.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc) if exc else None)


def convert_task(token: str, env: dict[str, str], path: str, sha: str, *args: Any) -> _batch.InputResult:
    """One input on a Dask worker: :func:`otbill_xl.actions.batch.convert_one`, stoppable by :func:`stop`."""
    ident = threading.get_ident()
    try:
        with _environment(env):
            with _lock:
                _running[ident] = token
            try:
                return _batch.convert_one(path, sha, *args)
            finally:
                with _lock:
                    _running.pop(ident, None)
                    _set_async_exc(ident, None)
    except _batch.BatchStopped:  # asked to stop just outside convert_one's own handler
        return _batch.InputResult(path, sha, "interrupted", _batch.INTERRUPTED, attempts=1)


def stop(token: str) -> int:
    """Run on each worker on Ctrl-C: the batch ``token``'s running inputs roll back. Returns how many."""
    with _lock:
        idents = [ident for ident, t in _running.items() if t == token]
        for ident in idents:
            _set_async_exc(ident, _batch.BatchStopped)
    return len(idents)


# --- in the process running the batch ---------------------------------------------------------------------


class DaskRunner:
    """The batch's runner on a Dask cluster (see :class:`otbill_xl.actions.batch._PoolRunner` for the protocol)."""

    loses_all = False      # a dead worker fails only its own task
    retries_itself = True  # Dask runs a dead worker's task again by itself

    def __init__(self, client: Any, cluster: Any, own_client: bool, args: tuple[Any, ...]) -> None:
        self.client = client
        self.cluster = cluster
        self.own_client = own_client
        self.args = args
        self.token = uuid.uuid4().hex
        self.env = _task_env()
        self.executor = client.get_executor(pure=False)
        self.futures: set[Future] = set()
        self.abandoned = False
        self.killed = _distributed().KilledWorker
        self._slots, self._slots_at = 0, 0.0

    @classmethod
    def start(cls, scheduler: Any, paths: list[str], out_dir: Path, ledger_path: Path | str | None,
              args: tuple[Any, ...]) -> DaskRunner:
        distributed = _distributed()
        if isinstance(scheduler, str):
            kind, where = parse_scheduler(scheduler)
            if kind == "remote":
                require_server_ledgers(paths, ledger_path, scheduler)
            client, cluster = _connect(distributed, kind, where)
            own = True
        else:  # a distributed.Client made by the caller (tests, scripts): neither it nor its cluster is closed
            client, cluster, own = scheduler, None, False
        runner = cls(client, cluster, own, args)
        try:
            runner.check_workers(out_dir, paths)
        except BaseException:
            runner.close()
            raise
        return runner

    def check_workers(self, out_dir: Path, paths: list[str]) -> None:
        """Every worker can write in ``out_dir`` and read the inputs, or an :class:`OtbillError` names which not."""
        if not self.client.scheduler_info().get("workers"):
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT)
            except TimeoutError:
                raise OtbillError(f"no Dask worker joined the scheduler within {WORKER_WAIT:.0f} s; nothing was "
                                  "submitted. Fix: start workers (dask worker tcp://HOST:8786 --nthreads 1).") from None
        found = self.client.run(probe, str(out_dir), paths, on_error="return")
        bad: list[str] = []
        for worker, problems in sorted(found.items()):
            if isinstance(problems, BaseException):  # the probe itself failed there
                problems = [f"the check could not run ({type(problems).__name__})"]
            bad += [f"worker {worker}: {problem}" for problem in problems]
        if bad:
            raise OtbillError("the Dask workers must reach the inputs and --out at the same paths as this machine "
                              "(a shared folder); nothing was submitted: " + "; ".join(bad[:6]))

    def slots(self) -> int:
        """Worker threads in the cluster. The batch loop asks after every result; each answer is a round trip
        to the scheduler with every worker's record, so a count is kept for :data:`SLOTS_FRESH` seconds (a
        worker joining or leaving is seen that much later; none yet is asked again each time)."""
        now = time.monotonic()
        if self._slots and now - self._slots_at < SLOTS_FRESH:
            return self._slots
        workers = self.client.scheduler_info().get("workers", {})
        self._slots, self._slots_at = sum(int(w.get("nthreads", 1)) for w in workers.values()), now
        return self._slots

    def submit(self, path: str, sha: str) -> Future:
        fut = self.executor.submit(convert_task, self.token, self.env, path, sha, *self.args)
        self.futures.add(fut)
        fut.add_done_callback(self.futures.discard)
        return fut

    def lost(self, exc: BaseException) -> int:
        """How many workers died running the input that raised ``exc`` (0: not a lost worker)."""
        return int(exc.allowed_failures) + 1 if isinstance(exc, self.killed) else 0

    def reset(self) -> None:
        """Nothing to make anew: the cluster replaces a dead worker by itself."""

    def stop_running(self) -> None:
        with suppress(Exception):  # a worker gone meanwhile: its inputs are lost workers anyway
            self.client.run(stop, self.token)

    def give_up(self, futures: Iterable[Future]) -> None:
        """Inputs still running long after they were asked to stop: cancelled (reported interrupted); on a
        cluster this batch did not start they may still finish on their worker (the ledger bills them once)."""
        for fut in futures:
            fut.cancel()
        self.abandoned = True

    def close(self) -> None:
        pending = [f for f in self.futures if not f.done()]
        if pending:
            self.stop_running()
            for fut in pending:
                fut.cancel()
        if self.own_client:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def local_cluster(workers: int) -> Any:
    """A LocalCluster of ``workers`` one-thread worker processes, no dashboard, with :data:`LOCAL_CONFIG`."""
    import dask

    distributed = _distributed()
    with dask.config.set(LOCAL_CONFIG):
        # preload: dask_setup below runs in each worker process, a replaced one too
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, preload=[__name__])


def _connect(distributed: Any, kind: str, where: int | str) -> tuple[Any, Any]:
    if kind == "local":
        cluster = local_cluster(int(where))
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(str(where), timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError) as exc:
        raise OtbillError(f"--scheduler {where}: cannot reach the Dask scheduler ({type(exc).__name__}). Fix: "
                          f"start it (`dask scheduler`) and its workers (`dask worker {where} --nthreads 1`), "
                          "and check the address and port.") from None
