"""Fixtures for every suite: one fresh database per test, on SQLite and on PostgreSQL.

`database_url` is parametrised ("sqlite", "postgresql"): a test that asks for it (directly or through `ledger`)
runs on both. PostgreSQL tests create their own database and drop it afterwards. When the server cannot be
reached they are skipped, except under `CI=true`, where they fail: CI must never pass without them.

Plain helpers (actors, `open_tenant`, the notification log) are in `tests.support`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from functools import cache

import psycopg
import pytest
from psycopg import sql

from domain.application import AccessLedger
from domain.clock import ManualClock
from tests.pgcluster import OwnCluster, server_binaries
from tests.support import START, Opened, open_tenant

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_ADMIN_URL = f"{PG_SERVER}/postgres"
DATABASES = ["sqlite", "postgresql"]


def under_ci() -> bool:
    """True when the environment says we run in CI (`CI=true`)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None if it answers (probed once per session)."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {error}".strip()
    return None


def require_postgres() -> None:
    """Fail (under CI) or skip (elsewhere) the current test when PostgreSQL is unreachable."""
    problem = postgres_problem()
    if problem is None:
        return
    if under_ci():
        pytest.fail(f"{problem} -- CI=true requires the PostgreSQL tests to run (start the server)", pytrace=False)
    pytest.skip(f"{problem} (set CI=true to make this a failure)")


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database `al_test_<hex>`, dropped (WITH FORCE) after the test."""
    require_postgres()
    name = f"al_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def own_cluster() -> Iterator[OwnCluster]:
    """A PostgreSQL primary and its streaming replica made for this test session (one per xdist worker that asks,
    made on first use), stopped and deleted at the end (R-Z6; the R-Z3 restart test restarts its primary). Without
    the server binaries (initdb, pg_basebackup) the tests that need it skip, or fail under CI=true."""
    binaries = server_binaries()
    if binaries is None:
        problem = "PostgreSQL's server binaries (initdb, pg_basebackup) are not installed"
        if under_ci():
            pytest.fail(f"{problem} -- CI=true requires the replica tests to run", pytrace=False)
        pytest.skip(problem)
    cluster = OwnCluster.create(binaries)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def replicated(own_cluster: OwnCluster) -> Iterator[tuple[str, str]]:
    """(primary URL, replica URL) of a fresh database on the tests' own cluster, dropped after the test."""
    name = f"al_test_{secrets.token_hex(6)}"
    own_cluster.create_database(name)
    try:
        yield own_cluster.primary.url(name), own_cluster.replica.url(name)
    finally:
        own_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite file under the test's tmp_path."""
    return f"sqlite:///{(tmp_path / 'accessledger.db').resolve()}"


@pytest.fixture(params=DATABASES, ids=DATABASES)
def database_url(request) -> str:
    """The URL of a fresh database, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock standing at 2026-11-16T09:30:00Z (R-K2)."""
    return ManualClock(START)


@pytest.fixture
def ledger(database_url: str, clock: ManualClock) -> Iterator[AccessLedger]:
    """The application service on the test's database and manual clock; closed after the test."""
    app = AccessLedger(database_url, clock)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def memory_ledger(clock: ManualClock) -> Iterator[AccessLedger]:
    """The application service on eventsourcing's in-memory store: no database, for fast application tests."""
    app = AccessLedger(clock=clock, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def opened(ledger: AccessLedger) -> Opened:
    """Tenant "acme" (plan basic: 5 seats, monthly, EUR) with owner olga, on `ledger`."""
    return open_tenant(ledger)


def pytest_report_header(config) -> str:
    problem = postgres_problem()
    state = "reachable" if problem is None else problem
    return f"accessledger: PostgreSQL {state}; CI={'true' if under_ci() else 'false'}"


def pytest_terminal_summary(terminalreporter) -> None:
    """Say how many tests ran on each database, so a log shows the PostgreSQL tests did run."""
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in DATABASES}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            params = re.search(r"\[(.*)\]$", getattr(report, "nodeid", ""))
            for kind in DATABASES:
                if params and kind in params.group(1).split("-"):
                    counts[kind][outcome] += 1
    if any(counts.values()):
        line = "; ".join(
            f"{kind}: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(per.items()))
            for kind, per in counts.items()
            if per
        )
        terminalreporter.write_line(f"database tests -- {line}")
