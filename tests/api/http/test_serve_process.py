"""A real `accessledger serve` process and `accessledger tick`, on both databases (API.md, Command line; R-K1).

Each server is started on a free port, waited for on /healthz, and stopped by its pid (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

OPERATOR_TOKEN = "operator-token-for-the-serve-test-0123456789"
STARTUP_SECONDS = 60
STOP_SECONDS = 15
TOKEN_LINE = re.compile(r"^[A-Za-z0-9_-]{43,}$")


def accessledger() -> str:
    """The console script installed beside this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "accessledger"
    found = str(beside) if beside.exists() else shutil.which("accessledger")
    if found is None:
        pytest.fail("the accessledger console script is not installed (pip install -e .)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(database_url: str, operator_token: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSLEDGER_")}
    env.update(ACCESSLEDGER_DATABASE_URL=database_url, ACCESSLEDGER_CLOCK="system", PYTHONUNBUFFERED="1", **extra)
    if operator_token is not None:
        env["ACCESSLEDGER_OPERATOR_TOKEN"] = operator_token
    return env


@dataclass
class Server:
    """A running `accessledger serve` and everything it printed so far."""

    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.output)


@contextmanager
def serve(database_url: str, operator_token: str | None, **extra: str) -> Iterator[Server]:
    """Start the server, wait until /healthz answers, and always stop it by its pid."""
    port = free_port()
    process = subprocess.Popen(
        [accessledger(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment(database_url, operator_token, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    reader = threading.Thread(target=_read, args=(process, server.output), daemon=True)
    reader.start()
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        stop(process)
        reader.join(timeout=5)


def _read(process: subprocess.Popen[str], into: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.append(line)


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"serve exited with {server.process.returncode}:\n{server.text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve did not answer /healthz within {STARTUP_SECONDS} s:\n{server.text()}")


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM by pid; SIGKILL if it has not exited after STOP_SECONDS."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_tenant(url: str, operator_token: str, tenant_id: str, **plan: str) -> dict:
    body = {
        "tenant_id": tenant_id,
        "name": f"{tenant_id} Ltd",
        "plan": {"name": "basic", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR", **plan},
        "owner": {"user_id": "olga", "email": "olga@acme.example", "name": "Olga Owner"},
    }
    answer = httpx.post(f"{url}/v1/tenants", json=body, headers=bearer(operator_token), timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_serve_answers_commands_checks_metrics_and_readiness(database_url: str) -> None:
    with serve(database_url, OPERATOR_TOKEN) as server:
        assert "/docs" in server.text()
        owner_token = open_tenant(server.url, OPERATOR_TOKEN, "acme")["owner_token"]
        member = {"user_id": "bob", "email": "bob@acme.example", "name": "Bob", "role": "broker"}
        added = httpx.post(
            f"{server.url}/v1/tenants/acme/members", json=member, headers=bearer(owner_token), timeout=30
        )
        assert added.status_code == 201, added.text
        position = added.json()["position"]
        assert added.headers["x-position"] == str(position)

        query = {"user_id": "bob", "permission": "contacts.create"}
        decision = httpx.get(
            f"{server.url}/v1/tenants/acme/check", params=query, headers=bearer(owner_token), timeout=30
        ).json()
        assert decision.get("allowed") is True and decision["position"] >= position, decision
        bob = httpx.get(f"{server.url}/v1/tenants/acme", headers=bearer(added.json()["token"]), timeout=30)
        assert bob.status_code == 200 and bob.json()["seats"]["members"] == 1
        refused = httpx.get(f"{server.url}/v1/tenants/acme", headers=bearer("not-a-token"), timeout=30)
        assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"

        ready = httpx.get(f"{server.url}/readyz", timeout=30).json()
        assert ready["status"] == "ready" and ready["position"] >= position
        metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
        assert 'route="/v1/tenants/{tenant_id}/members"' in metrics and 'status="201"' in metrics
        assert "accessledger_events_appended_total" in metrics
    # SIGTERM stops it gracefully (uvicorn re-raises the signal once the lifespan has closed); no SIGKILL needed.
    assert server.process.returncode in (0, -signal.SIGTERM), server.text()
    assert "Application shutdown complete" in server.text()


def test_serve_without_an_operator_token_prints_a_generated_one_that_works(database_url: str) -> None:
    with serve(database_url, None) as server:
        printed = [line.strip() for line in server.output if TOKEN_LINE.match(line.strip())]
        assert len(printed) == 1, server.text()
        token = printed[0]
        assert open_tenant(server.url, token, "acme")["tenant"]["tenant_id"] == "acme"
        refused = httpx.get(f"{server.url}/v1/tenants/acme", headers=bearer(OPERATOR_TOKEN), timeout=30)
        assert refused.status_code == 401


def test_R_K1_tick_applies_what_is_due_now_from_the_command_line(database_url: str) -> None:
    """A grant that expired while no server swept is expired by `accessledger tick`, once."""
    # No background sweep: only the tick may apply the expiry.
    with serve(database_url, OPERATOR_TOKEN, ACCESSLEDGER_SWEEP_INTERVAL_SECONDS="0") as server:
        owner = bearer(open_tenant(server.url, OPERATOR_TOKEN, "acme")["owner_token"])
        member = {"user_id": "bob", "email": "bob@acme.example", "name": "Bob", "role": "broker"}
        assert httpx.post(f"{server.url}/v1/tenants/acme/members", json=member, headers=owner, timeout=30).is_success
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        grant = {"user_id": "bob", "permission": "audit.read", "scope": "all", "expires_at": expires.isoformat()}
        granted = httpx.post(f"{server.url}/v1/tenants/acme/grants", json=grant, headers=owner, timeout=30)
        assert granted.status_code == 201, granted.text
    while datetime.now(UTC) <= expires:  # wait for the instant to pass; nothing is asserted about time
        time.sleep(0.1)
    env = environment(database_url, OPERATOR_TOKEN)
    first = subprocess.run([accessledger(), "tick"], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 tenant changed" in first.stdout, first.stdout
    again = subprocess.run([accessledger(), "tick"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 tenants changed" in again.stdout, again.stdout + again.stderr
    with serve(database_url, OPERATOR_TOKEN, ACCESSLEDGER_SWEEP_INTERVAL_SECONDS="0") as server:
        operator = bearer(OPERATOR_TOKEN)
        grants = httpx.get(f"{server.url}/v1/tenants/acme/grants", headers=operator, timeout=30).json()["items"]
        assert [g["status"] for g in grants] == ["expired"]
        audit = httpx.get(
            f"{server.url}/v1/tenants/acme/audit", params={"type": "GrantExpired"}, headers=operator, timeout=30
        ).json()["items"]
        occurred = expires.isoformat().replace("+00:00", "Z")
        assert [(e["actor"], e["occurred_at"]) for e in audit] == [("system", occurred)]
