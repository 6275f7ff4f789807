"""Issue #16 §2–3 benchmark: `otbill batch` on a 2-worker Dask LocalCluster vs the 2-process pool.

40 sample-sized workbooks (distinct practices: :func:`benchmarks.bench_claims.batch_inputs`), check → price
→ claims, each runner in a fresh process, :data:`ROUNDS` rounds alternating pool and Dask. Prints both wall
times and the ratio (target ≤ 1.10: the Dask overhead at most 10%) with the cluster's start and close
counted (as `--scheduler local:2` pays them; the pool's start and shutdown are inside its batch) and
without (the batch alone, as on a running cluster, `tcp://`): the fastest round of each and the median
of the rounds' ratios (each Dask round against the pool round just before it, minutes apart on a shared
machine). Also the CPU seconds of each run (its process and every worker), which a busy neighbour
disturbs less than the wall time, and the pool's workbooks and lines per hour on this machine (the
README's "where it stops" figures). Then the same as a biller times it: the whole ``otbill batch`` command
(interpreter start, imports, the batch, the reports, the exit) with ``--workers 2`` and with
``--scheduler local:2``, :data:`COMMAND_ROUNDS` rounds alternating.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._util import BENCH_DIR, line, ratio
from benchmarks.bench_claims import batch_inputs

COUNT = 40
ROUNDS = 5  # alternating pool and Dask: single rounds vary by ±10-20% on this shared 2-core machine
COMMAND_ROUNDS = 3
LINES_PER_WORKBOOK = 1740  # the sample workbook's charge lines (bench_claims says the same)

_CHILD = """
import json, sys, time, shutil
from datetime import date, datetime
from pathlib import Path
from otbill_xl.actions.batch import run_batch
if __name__ == '__main__':
    inputs, out, runner, count = sys.argv[1:5]
    files = [str(f) for f in sorted(Path(inputs).glob('practice-*.xlsx'))[: int(count)]]
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    scheduler, client, cluster = None, None, None
    if runner == 'dask':
        import distributed
        from otbill_xl.actions.batch_dask import local_cluster
        cluster = local_cluster(2)
        client = scheduler = distributed.Client(cluster)
    started = time.perf_counter()
    result = run_batch(files, Path(out), ledger_path=Path(out) / 'ledger.sqlite', workers=2, scheduler=scheduler,
                       as_of=date(2026, 11, 27), created=datetime(2026, 11, 27, 12, 0))
    done = time.perf_counter()
    if client is not None:
        client.close()
        cluster.close()
    closed = time.perf_counter()
    lines = sum(r.charge_lines for r in result.results)
    print(json.dumps({'total': closed - start, 'batch': done - started, 'counts': result.counts, 'lines': lines}))
"""


def _cpu() -> float:
    """CPU seconds of this process's waited-for descendants (a run's process, and its workers, which it waits for)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run(inputs, runner: str) -> dict:
    out = BENCH_DIR / f"dask-out-{runner}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    before = _cpu()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(inputs), str(out), runner, str(COUNT)],
                          capture_output=True, text=True, check=True, env=env)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "cpu": _cpu() - before}


def _command(inputs, runner: str) -> float:
    """Wall seconds of the whole ``otbill batch`` command over the inputs, into a fresh folder and ledger."""
    out = BENCH_DIR / f"dask-cmd-{runner}"
    shutil.rmtree(out, ignore_errors=True)
    how = ["--workers", "2"] if runner == "pool" else ["--scheduler", "local:2"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    books = [str(f) for f in sorted(Path(inputs).glob("practice-*.xlsx"))[:COUNT]]
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "otbill"), "batch", *books, "--out", str(out), "--ledger",
                    str(out / "ledger.sqlite"), "--as-of", "2026-11-27", *how],
                   capture_output=True, check=True, env=env)
    return time.perf_counter() - start


def run() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        print('Dask benchmark skipped: Dask is not installed (pip install -e ".[dask]")')
        return
    inputs = batch_inputs(COUNT)
    print(f"Dask benchmark: {COUNT} sample-sized workbooks ({LINES_PER_WORKBOOK:,} lines each), check → price → "
          f"claims; 2-process pool vs 2-worker LocalCluster (1 thread each), {ROUNDS} rounds alternating")
    rounds: dict[str, list[dict]] = {"pool": [], "dask": []}
    for _ in range(ROUNDS):
        for runner in ("pool", "dask"):
            rounds[runner].append(_run(inputs, runner))
    pool = min(rounds["pool"], key=lambda r: r["total"])
    dask = min(rounds["dask"], key=lambda r: r["total"])
    alone = min(rounds["dask"], key=lambda r: r["batch"])
    assert pool["counts"] == dask["counts"], (pool["counts"], dask["counts"])
    line("pool, 2 processes (fastest round)", pool["total"])
    line("Dask LocalCluster, 2 workers, start and close included", dask["total"])
    line("Dask LocalCluster, 2 workers, the batch alone", alone["batch"])
    print("  rounds (s): pool " + ", ".join(f"{r['total']:.1f}" for r in rounds["pool"])
          + "; Dask " + ", ".join(f"{r['total']:.1f} ({r['batch']:.1f} alone)" for r in rounds["dask"]))
    print("  CPU seconds (process and workers): pool " + ", ".join(f"{r['cpu']:.1f}" for r in rounds["pool"])
          + "; Dask " + ", ".join(f"{r['cpu']:.1f}" for r in rounds["dask"]))
    paired = [(d["total"] / p["total"], d["batch"] / p["total"])
              for p, d in zip(rounds["pool"], rounds["dask"], strict=True)]
    ratio("Dask / pool, start and close included (fastest rounds)", dask["total"] / pool["total"], "(target ≤ 1.10)")
    ratio("Dask / pool, start and close included (median round)", statistics.median(t for t, _ in paired))
    ratio("Dask / pool, the batch alone (fastest rounds)", alone["batch"] / pool["total"], "(target ≤ 1.10)")
    ratio("Dask / pool, the batch alone (median round)", statistics.median(b for _, b in paired))
    ratio("Dask / pool, CPU seconds (median)", statistics.median(r["cpu"] for r in rounds["dask"])
          / statistics.median(r["cpu"] for r in rounds["pool"]))
    commands: dict[str, list[float]] = {"pool": [], "dask": []}
    for _ in range(COMMAND_ROUNDS):
        for runner in ("pool", "dask"):
            commands[runner].append(_command(inputs, runner))
    print("  the whole `otbill batch` command (s): --workers 2: " + ", ".join(f"{t:.1f}" for t in commands["pool"])
          + "; --scheduler local:2: " + ", ".join(f"{t:.1f}" for t in commands["dask"]))
    ratio("whole command, local:2 / --workers 2 (fastest)", min(commands["dask"]) / min(commands["pool"]),
          "(target ≤ 1.10)")
    ratio("whole command, local:2 / --workers 2 (median round)",
          statistics.median(d / p for p, d in zip(commands["pool"], commands["dask"], strict=True)))
    per_hour = COUNT / pool["total"] * 3600
    print(f"  one machine ({os.cpu_count()} cores, pool): {per_hour:,.0f} workbooks/hour of {LINES_PER_WORKBOOK:,} "
          f"lines = {per_hour * LINES_PER_WORKBOOK:,.0f} lines/hour ({pool['lines']:,} lines checked in "
          f"{pool['total']:.1f} s; outcomes {pool['counts']})")
