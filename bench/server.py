"""A real `accessledger serve` process on 127.0.0.1 for the HTTP figures, started here and stopped by its pid,
and the load generator (wrk when installed, else threads of httpx clients)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.context import OPERATOR_TOKEN, DbRun
from bench.harness import percentile

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m api.cli.main serve` on the run's database; `with Server(db) as server: server.url`."""

    def __init__(self, db: DbRun, bare: bool = False, workers: int = 1) -> None:
        """`bare`: serve bench/bare_app.py (a trivial FastAPI endpoint) the same way instead, as the baseline.
        `workers`: `serve --workers N` (PostgreSQL: N API processes and a projector)."""
        self.db = db
        self.bare = bare
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="accessledger-bench-serve-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "ACCESSLEDGER_DATABASE_URL": self.db.url,
            "ACCESSLEDGER_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "ACCESSLEDGER_SECRET_KEY": "bench-secret-key",
        }
        with open(self.log_path, "wb") as out:
            address = ["--host", "127.0.0.1", "--port", str(self.port)]
            command = (
                [sys.executable, "-m", "uvicorn", "bench.bare_app:app", *address, "--log-level", "info"]
                if self.bare
                else [sys.executable, "-m", "api.cli.main", "serve", *address, "--workers", str(self.workers)]
            )
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz within 60 s: {self.log_tail()}")

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM by pid, then SIGKILL if it does not stop within 15 s."""
        process = self.process
        if process is None or process.poll() is not None:
            self.log_path.unlink(missing_ok=True)
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ----------------------------------------------------------------- load


def open_tenant(server: Server, tenant_id: str) -> str:
    """Open a tenant with room for every member a figure adds, as the operator; answers its owner's token."""
    plan = {"name": "bench", "included_seats": 1_000_000, "billing_interval": "yearly", "currency": "EUR"}
    owner = {"user_id": "ada", "email": "ada@bench.example", "name": "Ada"}
    opened = httpx.post(
        f"{server.url}/v1/tenants",
        json={"tenant_id": tenant_id, "name": tenant_id, "plan": plan, "owner": owner},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=30,
    )
    if opened.status_code != 201:
        raise RuntimeError(f"opening the tenant answered {opened.status_code}: {opened.text[:200]}")
    return str(opened.json()["owner_token"])


@dataclass
class Load:
    """One load run: requests per second, latency percentiles (seconds), failed or non-2xx answers."""

    tool: str
    requests: int
    seconds: float
    p50: float
    p99: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


WRK_SCRIPT = """
local paths = {%(paths)s}
local counter = 0
wrk.headers["Authorization"] = %(auth)s
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCHJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, " ..
    "\\"p99_us\\": %%d, \\"errors\\": %%d}\\n", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # JSON string escapes are valid Lua for the ASCII we send


def load(base_url: str, paths: list[str], token: str | None, seconds: float, connections: int) -> Load:
    """Closed-loop load on `paths` (round robin) for `seconds` with `connections` connections."""
    if shutil.which("wrk"):
        return _wrk(base_url, paths, token, seconds, connections)
    return _threads(base_url, paths, token, seconds, connections)


def _wrk(base_url: str, paths: list[str], token: str | None, seconds: float, connections: int) -> Load:
    script = WRK_SCRIPT % {
        "paths": ", ".join(_lua_string(p) for p in paths),
        "auth": _lua_string(f"Bearer {token}") if token else "nil",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        completed = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                handle.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    line = next(ln for ln in completed.stdout.splitlines() if ln.startswith("BENCHJSON "))
    data = json.loads(line[len("BENCHJSON ") :])
    return Load(
        "wrk",
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1e6,
        data["p99_us"] / 1e6,
        data["errors"],
    )


def _threads(base_url: str, paths: list[str], token: str | None, seconds: float, connections: int) -> Load:
    """The fallback generator: one thread and one keep-alive httpx client per connection."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start_line = threading.Barrier(connections + 1)
    deadline = [0.0]

    def worker(n: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
            i = n
            start_line.wait()
            mine = latencies[n]
            while time.perf_counter() < deadline[0]:
                started = time.perf_counter()
                try:
                    ok = client.get(paths[i % len(paths)]).status_code < 300
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - started)
                if not ok:
                    errors[n] += 1
                i += connections

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(connections)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start_line.wait()
    for thread in threads:
        thread.join()
    spent = time.perf_counter() - began
    every = [x for per in latencies for x in per]
    return Load("httpx-threads", len(every), spent, percentile(every, 50), percentile(every, 99), sum(errors))
