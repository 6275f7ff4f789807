"""Fault-injection hooks for the batch workers, named by ``$OTBILL_BATCH_HOOK=batch_hooks:step``
(tests/test_batch_faults.py). Each acts on inputs by name, at the ``billed`` point (the input's claim
files are written and in the ledger; its annotated copy is not saved yet):

* ``crash*``: the worker kills itself (SIGKILL, as the out-of-memory killer would) — after any
  ``victim*`` input has billed, so the victim is in flight when the pool breaks;
* ``victim*``: on its first attempt, leaves a mark and waits to be killed with the pool;
* ``crash-once*``: kills its worker while ``<stem>.armed`` is in ``$OTBILL_TEST_MARKS``, disarming it first
  (so a retry goes on);
* ``*hold*``: leaves ``<stem>.pid`` in ``$OTBILL_TEST_MARKS`` and waits until the worker is stopped.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

MARKS_ENV = "OTBILL_TEST_MARKS"
PATIENCE = 30.0  # seconds: a hook never holds a worker forever, whatever goes wrong in a test


def _wait_for(path: Path) -> None:
    end = time.monotonic() + PATIENCE
    while not path.exists() and time.monotonic() < end:
        time.sleep(0.02)


def step(name: str, path: str) -> None:
    if name != "billed":
        return
    marks = Path(os.environ[MARKS_ENV])
    stem = Path(path).stem
    if stem.startswith("crash-once"):
        armed = marks / f"{stem}.armed"
        if armed.exists():
            armed.unlink()
            os.kill(os.getpid(), signal.SIGKILL)
        return
    if stem.startswith("crash"):
        if os.environ.get("OTBILL_TEST_VICTIM"):  # the victim is in flight: let it bill first
            _wait_for(marks / "victim.billed")
        os.kill(os.getpid(), signal.SIGKILL)
    if stem.startswith("victim"):
        mark = marks / "victim.billed"
        if mark.exists():
            return  # the retry: go on
        mark.write_text(str(os.getpid()))
        _wait_for(marks / "never")  # killed with the broken pool meanwhile
    if "hold" in stem:
        (marks / f"{stem}.pid").write_text(str(os.getpid()))
        _wait_for(marks / "never")  # stopped (BatchStopped) or ended (parent gone) meanwhile
