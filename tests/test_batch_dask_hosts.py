"""`otbill batch --scheduler tcp://...` with its workers on another network host (issue #16 §2).

The machine running ``otbill batch`` (with the Dask scheduler and the PostgreSQL ledger) and a worker
machine are two hosts on their own network: the workers run in a Linux network namespace joined to this
one by a veth pair (10.231.N.1 here, 10.231.N.2 there), so nothing reaches them over loopback — the
scheduler, the client and the ledger are all reached at the other host's address, as across an office
network. The worker host also has its own environment: started with an empty one (no ``OTBILL_*``, no
home folder of the user's), so that the ledger each input bills into can only come from the machine
running the batch. The files are shared as a network share would share them (one file system here).

Needs root and iproute2 (``ip netns``); skipped with the reason elsewhere. PostgreSQL: as tests/pgserver.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_batch_dask import workbook

pytest.importorskip("distributed")

AS_OF = "2026-11-27"
BIN = Path(sys.executable).parent


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def hosts():
    """(this host's address, the worker host's address, the worker host's network namespace)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("a second network host needs root and iproute2 (ip netns)")
    n = os.getpid() % 200 + 20
    ns, here_if, there_if = f"otbill-w{os.getpid()}", f"otbh{os.getpid() % 100000}", f"otbw{os.getpid() % 100000}"
    here, there = f"10.231.{n}.1", f"10.231.{n}.2"
    try:
        _ip("netns", "add", ns)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.strip()}")
    try:
        _ip("link", "add", here_if, "type", "veth", "peer", "name", there_if)
        _ip("link", "set", there_if, "netns", ns)
        _ip("addr", "add", f"{here}/24", "dev", here_if)
        _ip("link", "set", here_if, "up")
        _ip("-n", ns, "addr", "add", f"{there}/24", "dev", there_if)
        _ip("-n", ns, "link", "set", there_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield here, there, ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)  # (takes the veth pair along)
        subprocess.run(["ip", "link", "del", here_if], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def ledger_server(hosts):
    """A PostgreSQL server on this host, reachable from the worker host (and from this one at that address)."""
    from pgserver import PgServer, find_bin_dir

    pytest.importorskip("psycopg")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL's pg_ctl/initdb not found (apt-get install postgresql)")
    here, there, _ns = hosts
    network = f"{here.rsplit('.', 1)[0]}.0/24"  # both hosts' addresses on it
    server = PgServer(bin_dir, listen=("127.0.0.1", here), trust=(network,)).start()
    yield server
    server.stop()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


@pytest.fixture(scope="module")
def cluster(hosts, tmp_path_factory):
    """A Dask scheduler on this host and 2 one-thread worker processes on the worker host; its address."""
    import distributed

    here, there, ns = hosts
    logs = tmp_path_factory.mktemp("dask-logs")
    address = f"tcp://{here}:{_free_port(here)}"
    scheduler = _start([str(BIN / "dask"), "scheduler", "--host", here, "--port", address.rsplit(":", 1)[1],
                        "--no-dashboard"], logs / "scheduler.log")
    home = tmp_path_factory.mktemp("worker-home")
    worker = _start(["ip", "netns", "exec", ns, "env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}",
                     "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False", str(BIN / "dask"), "worker", address,
                     "--nthreads", "1", "--nworkers", "2", "--host", there, "--no-dashboard"], logs / "worker.log")
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with distributed.Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                    workers = sorted(client.scheduler_info()["workers"])
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the cluster did not start: {(logs / 'scheduler.log').read_text()[-2000:]}"
                                         f"{(logs / 'worker.log').read_text()[-2000:]}") from None
                time.sleep(0.5)
        assert len(workers) == 2 and all(w.startswith(f"tcp://{there}:") for w in workers), workers
        yield address
    finally:
        _stop(worker)
        _stop(scheduler)


def _batch(folder: Path, out: Path, address: str, env: dict[str, str]) -> dict:
    done = subprocess.run([str(BIN / "otbill"), "batch", str(folder), "--out", str(out), "--scheduler", address,
                           "--as-of", AS_OF, "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_batch_bills_once_through_workers_on_another_host(tmp_path, hosts, ledger_server, cluster):
    """The ledger is given only as ``$OTBILL_LEDGER`` on the machine running the batch (the worker host's
    environment has none): every input is converted on the other host's workers, into that ledger, each
    line billed once; the same folder again is skipped input by input, billing nothing."""
    import psycopg

    here, _there, _ns = hosts
    url = ledger_server.new_database().replace("@127.0.0.1:", f"@{here}:")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        workbook(folder / f"w{i}.xlsx", 3 + i)
    out = tmp_path / "out"
    env = {**os.environ, "OTBILL_LEDGER": url, "PYTHONWARNINGS": "ignore"}
    first = _batch(folder, out, cluster, env)
    assert first["batch"] and [(Path(r["path"]).name, r["outcome"], r["lines_billed"]) for r in first["inputs"]] == [
        (f"w{i}.xlsx", "converted", 1) for i in range(6)], first["inputs"]
    assert all(r["ledger"].startswith(f"postgresql://postgres@{here}:") for r in first["inputs"])
    with psycopg.connect(url) as conn:
        per_line = conn.execute(
            "SELECT b.line_identity, count(*) FROM billed_lines b JOIN claims c ON c.id = b.claim_row JOIN files f "
            "ON f.id = c.file_id WHERE f.state = 'written' GROUP BY 1").fetchall()
        runs = conn.execute("SELECT DISTINCT command FROM runs").fetchall()
    assert len(per_line) == 6 and {n for _k, n in per_line} == {1}
    assert runs == [(f"batch {first['batch']}",)]
    assert len(list(out.glob("*.837"))) == 6 and not list(out.glob(".*.part"))
    again = _batch(folder, out, cluster, env)
    assert [r["outcome"] for r in again["inputs"]] == ["skipped"] * 6
    assert len(list(out.glob("*.837"))) == 6
