"""A PostgreSQL primary and its streaming replica of the tests' own (R-Z6, R-Z3), in a temporary directory.

The clusters run as the `postgres` OS user when the tests run as root (initdb refuses root), on free ports (never
5432), from the newest server binaries installed (/usr/lib/postgresql/<version>/bin). The replica is made with
`pg_basebackup -R`, so it streams from the primary like a production hot standby. Both are stopped by `pg_ctl`
(then by the postmaster's pid) and their directory is deleted when the session ends, so a run leaves nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.api.http.test_serve_process import free_port

SERVER_USER = "postgres"


def server_binaries() -> Path | None:
    """The bin directory of the newest PostgreSQL server installed with initdb and pg_basebackup, or None."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parent.parent.name
        if version.replace(".", "").isdigit() and os.path.exists(Path(initdb).with_name("pg_basebackup")):
            found.append((tuple(int(part) for part in version.split(".")), Path(initdb).parent))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_basebackup") else None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


@dataclass
class Node:
    """One cluster: its data directory, port and log."""

    data: Path
    port: int
    log: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None


@dataclass
class OwnCluster:
    """A primary and a hot standby streaming from it; `close` stops both and deletes every file."""

    binaries: Path
    root: Path
    primary: Node = field(init=False)
    replica: Node = field(init=False)
    closed: bool = False

    @classmethod
    def create(cls, binaries: Path) -> OwnCluster:
        root = Path(tempfile.mkdtemp(prefix="al-pgcluster-"))
        cluster = cls(binaries, root)
        atexit.register(cluster.close)  # a worker that dies between tests still stops its servers
        try:
            cluster._make()
        except BaseException:
            cluster.close()
            raise
        return cluster

    def _run(self, *command: str, timeout: float = 120) -> None:
        done = subprocess.run(
            _as_server_user([str(self.binaries / command[0]), *command[1:]]),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def _make(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER)
        self.root.chmod(0o700)
        self.primary = Node(self.root / "primary", free_port(), self.root / "primary.log")
        self._run("initdb", "-D", str(self.primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with (self.primary.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.primary.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nhot_standby_feedback = on\n"
                "fsync = off\nmax_connections = 100\nshared_buffers = 32MB\n"
            )
        with (self.primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self.start(self.primary)
        self.replica = Node(self.root / "replica", free_port(), self.root / "replica.log")
        self._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.replica.data), "-R", "-X", "stream", "-c", "fast"),
        )
        with (self.replica.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.replica.port}\n")
        self.start(self.replica)
        self.wait_streaming()

    def start(self, node: Node) -> None:
        self._run("pg_ctl", "-D", str(node.data), "-l", str(node.log), "-w", "-t", "60", "start")

    def stop(self, node: Node, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(node.data), "-m", mode, "-w", "-t", "60", "stop")

    def wait_streaming(self, timeout: float = 30) -> None:
        """Until the primary sees its replica streaming (after start-up or a primary restart)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.primary.url(), autocommit=True, connect_timeout=2) as conn:
                    if conn.execute("SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'").fetchone():
                        return
            except psycopg.Error:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica is not streaming after {timeout} s; see {self.replica.log}")
            time.sleep(0.1)

    def create_database(self, name: str, timeout: float = 30) -> None:
        """A database on the primary, once the replica has replayed it."""
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica.url(), autocommit=True) as conn:
            while not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                assert time.monotonic() < deadline, f"database {name} did not reach the replica"
                time.sleep(0.05)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Stop both servers (pg_ctl, then SIGKILL of the postmaster's pid) and delete their directory."""
        if self.closed:
            return
        self.closed = True
        for node in (getattr(self, "replica", None), getattr(self, "primary", None)):
            if node is None or not node.data.exists():
                continue
            try:
                self.stop(node, "immediate")
            except (RuntimeError, subprocess.TimeoutExpired, OSError):
                pid = node.postmaster_pid()
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
