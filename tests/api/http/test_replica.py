"""R-Z6 on a real streaming replica (the tests' own primary and hot standby, `tests.pgcluster`): queries read the
replica, commands the primary, `min_position` waits for what the replica has replayed (pausing WAL replay with
`pg_wal_replay_pause()` proves it: 503 `stale_read` while paused, the answer once resumed), and a command is
answered only once the replica shows it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.http import commands, deps
from api.http.app import create_app
from api.settings import Settings
from tests.api.http.client import OPERATOR_TOKEN, TENANT, Api, assert_problem

WAIT = 1.0  # the 5 s waits of commands and min_position, shortened so paused-replica tests stay quick


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "COMMAND_WAIT_SECONDS", WAIT)
    monkeypatch.setattr(deps, "MIN_POSITION_WAIT_SECONDS", WAIT)


@pytest.fixture
def replica_api(replicated: tuple[str, str], short_waits: None) -> Iterator[Api]:
    primary, replica = replicated
    settings = Settings(
        database_url=primary,
        read_database_url=replica,
        operator_token=OPERATOR_TOKEN,
        clock="manual",
        secret_key="test-secret-key",
        sweep_interval_seconds=0,
    )
    with TestClient(create_app(settings)) as http:
        api = Api(http)
        api.open_tenant()
        yield api


def _replay(replica_url: str, paused: bool) -> None:
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
        if paused:  # a pause is only requested until the startup process acts on it
            while conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
                time.sleep(0.01)


def _members_on(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT user_id FROM dir_members WHERE tenant_id = %s AND status = 'active'", (TENANT,))
        return {row[0] for row in rows.fetchall()}


def _add(api: Api, user_id: str, key: str) -> object:
    body = {"user_id": user_id, "email": f"{user_id}@acme.example", "name": user_id.title(), "role": "broker"}
    return api.post(f"/v1/tenants/{TENANT}/members", json=body, headers={"Idempotency-Key": key})


def test_R_Z6_queries_read_the_replica_commands_the_primary_and_min_position_waits_for_its_replay(
    replica_api: Api, replicated: tuple[str, str]
) -> None:
    """While the replica's replay is paused, a command is recorded on the primary but not answered from a replica
    that has not replayed it (503 `stale_read` with its position, R-Z2); reads show the replica's state and
    `min_position` answers 503 `stale_read`; once replay resumes, a waiting read is woken with the write, and the
    command's key answers its recorded result."""
    primary, replica = replicated
    api = replica_api
    api.add_member("anna")  # answered once the replica replayed it: readable here without min_position
    assert api.get(f"/v1/tenants/{TENANT}/members/anna").status_code == 200
    _replay(replica, paused=True)
    try:
        answer = _add(api, "bob", "add-bob")
        problem = assert_problem(answer, 503, "stale_read")
        position = problem["position"]
        assert "bob" in _members_on(primary)  # recorded and projected on the primary
        assert "bob" not in _members_on(replica)
        listed = api.get(f"/v1/tenants/{TENANT}/members")
        assert listed.status_code == 200
        assert {m["user_id"] for m in listed.json()["items"]} == {"olga", "anna"}  # what the replica shows
        assert_problem(
            api.get(f"/v1/tenants/{TENANT}/members/bob", params={"min_position": position}), 503, "stale_read"
        )
        assert api.get("/readyz").json()["replica"]["lag"] > 0

        woken: dict[str, object] = {}
        reader = threading.Thread(
            target=lambda: woken.update(
                answer=api.get(f"/v1/tenants/{TENANT}/members/bob", params={"min_position": position})
            )
        )
        reader.start()
        time.sleep(0.3)
    finally:
        _replay(replica, paused=False)
    reader.join(timeout=10)
    assert woken["answer"].status_code == 200, woken["answer"].text
    retried = _add(api, "bob", "add-bob")
    assert retried.status_code == 201, retried.text
    assert retried.json()["position"] == position
    ready = api.get("/readyz").json()
    assert ready["replica"]["database"] == "reachable" and ready["replica"]["lag"] == 0


def test_R_Z6_the_replica_is_read_only_and_every_command_goes_to_the_primary(
    replica_api: Api, replicated: tuple[str, str]
) -> None:
    """Commands, idempotency keys and the manual clock are written on the primary (the replica refuses writes);
    checks, lookups, audit and reports answer from the replica."""
    primary, replica = replicated
    api = replica_api
    api.add_member("bob")
    assert api.post("/v1/clock", "operator", json={"now": "2030-01-01T00:00:00Z"}).status_code == 200
    check = api.get(f"/v1/tenants/{TENANT}/check", params={"user_id": "bob", "permission": "leads.list"})
    assert check.status_code == 200 and check.json()["allowed"] is True
    for path in ("audit", "access-report", "members/bob/permissions"):
        assert api.get(f"/v1/tenants/{TENANT}/{path}").status_code == 200, path
    with psycopg.connect(replica, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE written_here (x int)")
    with psycopg.connect(primary, autocommit=True) as conn:
        assert conn.execute("SELECT instant FROM clock_setting").fetchone()[0].startswith("2030-01-01")


def test_R_Z6_a_replica_that_goes_away_fails_fast_and_readyz_says_so(
    replica_api: Api, replicated: tuple[str, str], own_cluster
) -> None:
    """Stopping the replica: queries and commands answer 503 `unavailable` within 2 s (nothing recorded), /readyz
    answers 503 naming the replica; started again, the same process serves without a restart (R-Z3)."""
    primary, _ = replicated
    api = replica_api
    assert api.get("/readyz").status_code == 200
    own_cluster.stop(own_cluster.replica)
    try:
        deadline = time.monotonic() + 10
        while api.get("/readyz").status_code != 503:
            assert time.monotonic() < deadline, "readyz still 200 with the replica down"
            time.sleep(0.1)
        assert "replica" in api.get("/readyz").json()["detail"]
        started = time.monotonic()
        assert_problem(api.get(f"/v1/tenants/{TENANT}/members"), 503, "unavailable")
        assert_problem(_add(api, "carl", "add-carl"), 503, "unavailable")
        assert time.monotonic() - started < 4.0
        assert "carl" not in _members_on(primary)
    finally:
        own_cluster.start(own_cluster.replica)
        own_cluster.wait_streaming()
    deadline = time.monotonic() + 15
    while api.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, api.get("/readyz").text
        time.sleep(0.1)
    api.add_member("carl")
    assert api.get(f"/v1/tenants/{TENANT}/members/carl").status_code == 200


def test_R_Z6_a_read_database_that_is_not_the_primarys_replica_is_refused(
    replicated: tuple[str, str], tmp_path
) -> None:
    """A read URL naming another server (here the tests' shared one, not a replica of this primary) would answer
    from data the projector never writes: `serve` refuses to start, one line, exit 2."""
    from tests.api.cli.test_configuration import assert_one_line, run_with
    from tests.api.http.test_serve_process import free_port
    from tests.conftest import PG_SERVER, require_postgres

    require_postgres()
    primary, _ = replicated
    settings = {"ACCESSLEDGER_DATABASE_URL": primary, "ACCESSLEDGER_READ_DATABASE_URL": f"{PG_SERVER}/postgres"}
    run = run_with(tmp_path, "serve", "--port", str(free_port()), **settings)
    assert_one_line(run, "ACCESSLEDGER_READ_DATABASE_URL", "not a streaming replica", "pg_basebackup -R")
    # The projector and the command-line tools never read the replica: they do not check it.
    assert run_with(tmp_path, "tick", **settings).code == 0


def test_R_Z6_R_Z1_a_served_process_reads_the_replica_end_to_end(replicated: tuple[str, str]) -> None:
    """`accessledger serve` with ACCESSLEDGER_READ_DATABASE_URL beside `accessledger project`: a command answers
    once the replica shows it, reads with its position see it, its connections to the replica are the ones that
    read, /readyz reports the replica, and a removal is honoured within 0.5 s (R-Z1)."""
    from tests.api.http.test_multiprocess import _add as add
    from tests.api.http.test_multiprocess import _allowed, _connections, _open, _settings, _until, projector
    from tests.api.http.test_serve_process import OPERATOR_TOKEN as SERVE_TOKEN
    from tests.api.http.test_serve_process import bearer, serve

    primary, replica = replicated
    with (
        # The projector gets the replica's URL too (docs/operations.md): it never reads there, but commits durably.
        projector(primary, ACCESSLEDGER_READ_DATABASE_URL=replica),
        serve(primary, SERVE_TOKEN, **_settings("al-api-replica"), ACCESSLEDGER_READ_DATABASE_URL=replica) as api,
    ):
        owner = _open(api.url)
        added = add(api.url, owner, "bob")
        assert added.status_code == 201, added.text
        position, bob = added.json()["position"], added.json()["token"]
        member = httpx.get(
            f"{api.url}/v1/tenants/acme/members/bob", params={"min_position": position}, headers=bearer(owner)
        )
        assert member.status_code == 200, member.text
        assert _allowed(api.url, "bob")
        own = httpx.get(
            f"{api.url}/v1/tenants/acme/check",
            params={"user_id": "bob", "permission": "leads.list"},
            headers=bearer(bob),
        )
        assert own.status_code == 200, own.text
        assert _connections(replica).get("al-api-replica", 0) >= 1  # reads went to the replica
        ready = httpx.get(f"{api.url}/readyz").json()
        assert ready["replica"]["database"] == "reachable" and ready["replica"]["position"] >= position

        removed = httpx.delete(f"{api.url}/v1/tenants/acme/members/bob", headers=bearer(owner))
        assert removed.status_code == 200, removed.text
        waited = _until(lambda: not _allowed(api.url, "bob"), timeout=5)
        assert waited < 0.5, f"the removal was honoured after {waited:.3f} s"
        assert httpx.get(f"{api.url}/v1/tenants/acme/members", headers=bearer(bob)).status_code == 401
        metrics = httpx.get(f"{api.url}/metrics").text
        assert "accessledger_replica_position" in metrics
