"""The deployment docs/operations.md describes, for real: two `accessledger serve` API processes and one
`accessledger project` on one PostgreSQL database (R-Z1…R-Z5), including kill -9 of the projector and of an API
process in the middle of a burst of commands. Every process is started on a free port and stopped by its pid.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import psycopg
import pytest

from tests.api.http.test_serve_process import OPERATOR_TOKEN, Server, accessledger, bearer, environment, serve, stop

POOL_SIZE = 4
SECRET = "multiprocess-test-secret-key"
_names = itertools.count()


def _require_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes on one database is a PostgreSQL deployment (SQLite: one process)")


def _settings(name: str) -> dict[str, str]:
    return {
        "ACCESSLEDGER_IN_PROCESS_PROJECTIONS": "false",
        "ACCESSLEDGER_SECRET_KEY": SECRET,
        "ACCESSLEDGER_DB_POOL_SIZE": str(POOL_SIZE),
        "PGAPPNAME": name,  # libpq names every connection of the process: pg_stat_activity counts them
    }


@contextmanager
def api_process(database_url: str, name: str) -> Iterator[Server]:
    with serve(database_url, OPERATOR_TOKEN, **_settings(name)) as server:
        yield server


@contextmanager
def projector(database_url: str, **extra: str) -> Iterator[subprocess.Popen[str]]:
    """`accessledger project`, stopped by its pid."""
    env = environment(database_url, OPERATOR_TOKEN, **_settings("al-projector"), **extra)
    process = subprocess.Popen(
        [accessledger(), "project"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        yield process
    finally:
        stop(process)


def _kill9(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _open(url: str, tenant_id: str = "acme") -> str:
    body = {
        "tenant_id": tenant_id,
        "name": "Acme Ltd",
        "plan": {"name": "basic", "included_seats": 500, "billing_interval": "monthly", "currency": "EUR"},
        "owner": {"user_id": "olga", "email": "olga@acme.example", "name": "Olga Owner"},
    }
    answer = httpx.post(f"{url}/v1/tenants", json=body, headers=bearer(OPERATOR_TOKEN), timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()["owner_token"]


def _add(url: str, token: str, user_id: str, key: str | None = None) -> httpx.Response:
    body = {"user_id": user_id, "email": f"{user_id}@acme.example", "name": user_id.title(), "role": "broker"}
    headers = {**bearer(token), **({"Idempotency-Key": key} if key else {})}
    return httpx.post(f"{url}/v1/tenants/acme/members", json=body, headers=headers, timeout=30)


def _allowed(url: str, user_id: str) -> bool:
    answer = httpx.get(
        f"{url}/v1/tenants/acme/check",
        params={"user_id": user_id, "permission": "leads.list"},
        headers=bearer(OPERATOR_TOKEN),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["allowed"]


def _until(condition, timeout: float, step: float = 0.005) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the timeout"
        time.sleep(step)
    return time.monotonic() - started


def _connections(database_url: str) -> dict[str, int]:
    dbname = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, COUNT(*) FROM pg_stat_activity WHERE datname = %s GROUP BY 1", (dbname,)
        ).fetchall()
    return dict(rows)


def test_r_z1_r_z2_r_z4_r_z5_two_api_processes_and_a_projector_answer_as_one(database_url: str) -> None:
    """R-Z1: a write on one process is read on the other with min_position, and a removal is honoured there
    within 0.5 s without it; R-Z2: commands answer from their own result; R-Z4: a third API process starts under
    write load; R-Z5: each process stays within its pool plus one listening connection, one process sweeps."""
    _require_postgresql(database_url)
    with ExitStack() as stack:
        stack.enter_context(projector(database_url))
        a = stack.enter_context(api_process(database_url, "al-api-a"))
        b = stack.enter_context(api_process(database_url, "al-api-b"))
        owner = _open(a.url)
        added = _add(a.url, owner, "bob")
        assert added.status_code == 201, added.text  # R-Z2: answered once the projector reported it
        position, bob = added.json()["position"], added.json()["token"]
        seen = httpx.get(
            f"{b.url}/v1/tenants/acme/members/bob",
            params={"min_position": position},
            headers=bearer(owner),
            timeout=10,
        )
        assert seen.status_code == 200, seen.text
        assert _allowed(b.url, "bob")
        assert (
            httpx.get(
                f"{b.url}/v1/tenants/acme/check",
                params={"user_id": "bob", "permission": "leads.list"},
                headers=bearer(bob),
                timeout=10,
            ).status_code
            == 200
        )

        removed = httpx.delete(f"{a.url}/v1/tenants/acme/members/bob", headers=bearer(owner), timeout=10)
        assert removed.status_code == 200, removed.text
        waited = _until(lambda: not _allowed(b.url, "bob"), timeout=5)
        assert waited < 0.5, f"process b honoured the removal after {waited:.3f} s"
        refused = httpx.get(f"{b.url}/v1/tenants/acme/members", headers=bearer(bob), timeout=10)
        assert refused.status_code == 401

        # R-Z4: a third process starts while commands are recorded.
        stop_burst = threading.Event()
        answers: list[int] = []

        def burst() -> None:
            for n in itertools.count():
                if stop_burst.is_set():
                    return
                answers.append(_add(a.url, owner, f"load{n}").status_code)

        writer = threading.Thread(target=burst)
        writer.start()
        try:
            c = stack.enter_context(api_process(database_url, "al-api-c"))
            assert httpx.get(f"{c.url}/readyz", timeout=10).status_code == 200
        finally:
            stop_burst.set()
            writer.join(timeout=60)
        assert answers and set(answers) == {201}

        # R-Z5: pool plus one listening connection per API process; one sweeper.
        counts = _connections(database_url)
        for name in ("al-api-a", "al-api-b", "al-api-c"):
            assert 1 <= counts.get(name, 0) <= POOL_SIZE + 1, counts
        with psycopg.connect(database_url, autocommit=True) as conn:
            sweepers = conn.execute(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 727018 AND granted"
                # pg_locks lists every database's locks: another test's processes elect their own sweeper.
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()[0]
        assert sweepers == 1


def test_r_z3_kill_9_of_the_projector_and_of_an_api_process_mid_burst(database_url: str) -> None:
    """R-Z3, R-Z2: kill -9 of the projector during a burst: commands answer 201 or 503 `stale_read` with their
    position (never a stale error), and once a projector runs again every acknowledged write is readable; kill -9
    of an API process mid-burst: the other keeps answering and loses nothing it acknowledged."""
    _require_postgresql(database_url)
    with ExitStack() as stack:
        first = stack.enter_context(projector(database_url))
        a = stack.enter_context(api_process(database_url, "al-api-a"))
        b = stack.enter_context(api_process(database_url, "al-api-b"))
        owner = _open(a.url)
        acknowledged: dict[str, int] = {}
        unexpected: list[str] = []
        stop_burst = threading.Event()

        def burst(url: str, prefix: str) -> None:
            for n in itertools.count():
                if stop_burst.is_set():
                    return
                user = f"{prefix}{n}"
                try:
                    answer = _add(url, owner, user, key=f"key-{user}")
                except httpx.TransportError:
                    continue  # the process was killed under this request: not acknowledged
                body = answer.json()
                if answer.status_code == 201 or (answer.status_code == 503 and body.get("code") == "stale_read"):
                    acknowledged[user] = body["position"]
                elif answer.status_code != 503:
                    unexpected.append(f"{answer.status_code} {answer.text}")

        writers = [threading.Thread(target=burst, args=(a.url, "a")), threading.Thread(target=burst, args=(b.url, "b"))]
        for writer in writers:
            writer.start()
        try:
            _until(lambda: len(acknowledged) >= 10, timeout=30, step=0.05)
            _kill9(first)
            time.sleep(1.0)
            stack.enter_context(projector(database_url))
            _until(lambda: len(acknowledged) >= 30, timeout=60, step=0.05)
            _kill9(a.process)
            before = len(acknowledged)
            _until(lambda: len(acknowledged) >= before + 10, timeout=30, step=0.05)
        finally:
            stop_burst.set()
            for writer in writers:
                writer.join(timeout=60)
        assert unexpected == []
        head = max(acknowledged.values())
        listed = httpx.get(
            f"{b.url}/v1/tenants/acme/members",
            params={"min_position": head, "limit": 1000},
            headers=bearer(owner),
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        members = {m["user_id"] for m in listed.json()["items"]}
        assert set(acknowledged) <= members
        assert httpx.get(f"{b.url}/readyz", timeout=10).status_code == 200


def test_r_z3_a_postgresql_restart_under_a_served_process_and_a_projector(replicated, own_cluster) -> None:
    """R-Z3 on the tests' own cluster: its primary is stopped (immediate: what a crash looks like) and started
    again under an API process and a projector in the middle of a burst of commands. While it is down, /readyz
    answers 503 and requests fail within 2 s with 503 `unavailable`; afterwards both processes carry on without a
    restart, /readyz answers 200 again, and every write acknowledged before, during or after is readable."""
    primary, _ = replicated
    with ExitStack() as stack:
        stack.enter_context(projector(primary))
        a = stack.enter_context(api_process(primary, "al-api-a"))
        owner = _open(a.url)
        acknowledged: dict[str, int] = {}
        unexpected: list[str] = []
        stop_burst = threading.Event()

        def burst() -> None:
            for n in itertools.count():
                if stop_burst.is_set():
                    return
                user = f"r{n}"
                answer = _add(a.url, owner, user, key=f"key-{user}")
                body = answer.json()
                if answer.status_code == 201 or (answer.status_code == 503 and body.get("code") == "stale_read"):
                    acknowledged[user] = body["position"]
                elif answer.status_code != 503 or body.get("code") != "unavailable":
                    unexpected.append(f"{answer.status_code} {answer.text}")
                if answer.status_code == 503:
                    time.sleep(0.05)

        writer = threading.Thread(target=burst)
        writer.start()
        try:
            _until(lambda: len(acknowledged) >= 10, timeout=30, step=0.05)
            own_cluster.stop(own_cluster.primary, "immediate")
            try:
                _until(lambda: httpx.get(f"{a.url}/readyz", timeout=10).status_code == 503, timeout=5, step=0.05)
                for _ in range(3):
                    for request in (
                        lambda: httpx.get(f"{a.url}/v1/tenants/acme/members", headers=bearer(owner), timeout=10),
                        lambda: _add(a.url, owner, "during-outage"),
                    ):
                        started = time.monotonic()
                        answer = request()
                        assert time.monotonic() - started < 2.0
                        assert answer.status_code == 503 and answer.json()["code"] == "unavailable", answer.text
            finally:
                own_cluster.start(own_cluster.primary)
            _until(lambda: httpx.get(f"{a.url}/readyz", timeout=10).status_code == 200, timeout=30, step=0.1)
            before = len(acknowledged)
            _until(lambda: len(acknowledged) >= before + 10, timeout=30, step=0.05)
        finally:
            stop_burst.set()
            writer.join(timeout=60)
        assert unexpected == []
        listed = httpx.get(
            f"{a.url}/v1/tenants/acme/members",
            params={"min_position": max(acknowledged.values()), "limit": 1000},
            headers=bearer(owner),
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        assert set(acknowledged) <= {m["user_id"] for m in listed.json()["items"]}
    own_cluster.wait_streaming()  # the next test on this cluster finds its replica streaming again
