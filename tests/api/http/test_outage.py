"""R-Z3: while the database is away requests fail fast with 503 `unavailable`, `/readyz` says so, and the process
heals by itself when the database is back (PostgreSQL; an outage is made by refusing connections to the test's
database and ending the ones open, which is what a server restart looks like to a client)."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.api.http.client import TENANT, Api, assert_problem


def _outage(database_url: str, allow: bool) -> None:
    dbname = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS {"true" if allow else "false"}')
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )


def _until(condition, timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the timeout"
        time.sleep(0.05)
    return time.monotonic() - started


def test_r_z3_requests_fail_fast_while_the_database_is_away_and_recover_after(acme: Api, database_url: str) -> None:
    """R-Z3: during the outage /readyz answers 503 and commands and reads fail within 2 s with `unavailable`
    (never hang); afterwards the same process answers again without a restart."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server to lose")
    assert acme.http.get("/readyz").status_code == 200
    _outage(database_url, allow=False)
    try:
        _until(lambda: acme.http.get("/readyz").status_code == 503, timeout=5)
        for _ in range(3):
            started = time.monotonic()
            body = {"user_id": "bob", "email": "bob@acme.example", "name": "Bob", "role": "broker"}
            answer = acme.post(f"/v1/tenants/{TENANT}/members", json=body)
            assert time.monotonic() - started < 2.0
            assert_problem(answer, 503, "unavailable")
            started = time.monotonic()
            assert_problem(acme.get(f"/v1/tenants/{TENANT}/members"), 503, "unavailable")
            assert time.monotonic() - started < 2.0
    finally:
        _outage(database_url, allow=True)
    _until(lambda: acme.http.get("/readyz").status_code == 200, timeout=10)
    acme.add_member("bob")
    assert acme.get(f"/v1/tenants/{TENANT}/members/bob", params={"min_position": 1}).status_code == 200
