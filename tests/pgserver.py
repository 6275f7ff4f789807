"""A throw-away PostgreSQL server for the ledger tests (issue #16 §1), started from the system's
``initdb``/``pg_ctl`` (Debian: ``/usr/lib/postgresql/*/bin``; ``.ci/run`` installs ``postgresql``).

Our own ~80 lines rather than pytest-postgresql: that plugin runs ``initdb``/``pg_ctl`` as the
current user, and PostgreSQL refuses to run as root — which is how CI and the developers' machines
run. Here, when the euid is 0, the cluster directory is given to the ``postgres`` system user and the
binaries are run through ``runuser -u postgres``; as anyone else they run as that user. The server
listens on 127.0.0.1 on a free port (trust authentication: nothing leaves the machine) with its unix
socket inside its own directory, fsync off (a test server), and is stopped when the session ends.

Without ``pg_ctl``/``initdb`` the PostgreSQL tests are skipped with the reason — except when ``CI``
is set: then they fail, so CI never passes without having run them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bin_dir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, bin_dir: Path, *, listen: tuple[str, ...] = ("127.0.0.1",), trust: tuple[str, ...] = ()) -> None:
        """``listen``: the addresses to listen on; ``trust``: networks (CIDR) whose connections are trusted
        besides this machine's own (a test's other network hosts)."""
        self.bin = bin_dir
        self.listen, self.trust = listen, trust
        self.root = Path(tempfile.mkdtemp(prefix="otbill-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self._n = 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            log = (self.root / "log").read_text(errors="replace")[-2000:] if (self.root / "log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout}{done.stderr}{log}")

    def start(self) -> PgServer:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--no-instructions")
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.writelines(f"host all all {net} trust\n" for net in self.trust)
        options = (f"-p {self.port} -k {self.root} -c listen_addresses={','.join(self.listen)} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=120")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "-t", "60",
                  "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres", host: str = "127.0.0.1") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            # FILE_COPY (PostgreSQL 15+): the template is copied as files, not written through the WAL
            # (which made the cluster, and its removal at the end, grow by ~8 MB a database)
            try:
                conn.execute(f"CREATE DATABASE {name} STRATEGY = FILE_COPY")
            except psycopg.errors.SyntaxError:
                conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
