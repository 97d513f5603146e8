"""R-X3 (amended) and R-Z2 over HTTP: keys belong to tokens, survive crashes, never store a stale answer
(findings 3, 4 and 11 of issue 13)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

import api.http.commands as commands
import api.http.idempotency as idempotency
from api.http.app import create_app
from api.settings import Settings
from domain.application import hash_token
from tests.api.http.client import TENANT, Api, assert_problem
from tests.security.helpers import head

T = f"/v1/tenants/{TENANT}"
BOB = {"user_id": "bob", "email": "bob@acme.example", "name": "Bob", "role": "broker"}


@contextmanager
def served(settings: Settings, tokens: dict[str, str]) -> Iterator[Api]:
    with TestClient(create_app(settings)) as http:
        yield Api(http, tokens)


def added(api: Api) -> int:
    return sum(1 for e in api.events() if e["event_type"] == "MemberAdded")


def test_R_X3_finding3_a_key_held_by_a_process_that_died_answers_what_was_recorded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first process records the command and dies before storing its answer; the retry (another process)
    answers 201 with the recorded outcome (`token: null`: tokens are kept only as hashes), never 409."""
    monkeypatch.setattr(idempotency, "FOREIGN_CLAIM_SECONDS", 0.5)
    tokens: dict[str, str] = {}
    headers = {"Idempotency-Key": "crash-1"}
    with served(settings, tokens) as first:
        first.open_tenant()
        # The process "dies" between recording and storing the answer: the claim stays pending.
        monkeypatch.setattr(idempotency.IdempotencyStore, "complete", lambda *a, **k: None)
        assert first.post(f"{T}/members", json=BOB, headers=headers).status_code == 201
        monkeypatch.undo()
        monkeypatch.setattr(idempotency, "FOREIGN_CLAIM_SECONDS", 0.5)
    with served(settings, tokens) as second:
        before = head(second)
        retried = second.post(f"{T}/members", json=BOB, headers=headers)
        assert retried.status_code == 201, retried.text
        assert retried.json()["member"]["user_id"] == "bob"
        assert retried.json()["token"] is None
        assert retried.headers["idempotent-replayed"] == "true"
        assert head(second) == before and added(second) == 1
        again = second.post(f"{T}/members", json=BOB, headers=headers)
        assert again.status_code == 201 and again.json() == retried.json()


def test_R_X3_R_S2_a_purchase_recorded_before_a_crash_answers_its_recorded_charge(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry of an add-on purchase recorded by a process that died answers 201 with the add-on and the
    prorated charge its event recorded, and buys nothing twice."""
    monkeypatch.setattr(idempotency, "FOREIGN_CLAIM_SECONDS", 0.5)
    tokens: dict[str, str] = {}
    headers = {"Idempotency-Key": "crash-addon"}
    with served(settings, tokens) as first:
        first.open_tenant()
        monkeypatch.setattr(idempotency.IdempotencyStore, "complete", lambda *a, **k: None)
        bought = first.post(f"{T}/addons", json={"kind": "user-seats"}, headers=headers)
        assert bought.status_code == 201, bought.text
        monkeypatch.undo()
        monkeypatch.setattr(idempotency, "FOREIGN_CLAIM_SECONDS", 0.5)
    with served(settings, tokens) as second:
        before = head(second)
        retried = second.post(f"{T}/addons", json={"kind": "user-seats"}, headers=headers)
        assert retried.status_code == 201, retried.text
        assert retried.json()["charge"] == bought.json()["charge"]
        assert retried.json()["addon"]["addon_id"] == bought.json()["addon"]["addon_id"]
        assert head(second) == before


def test_R_X3_finding3_a_key_held_by_a_process_that_died_before_recording_runs_the_command(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "FOREIGN_CLAIM_SECONDS", 0.5)
    tokens: dict[str, str] = {}
    with served(settings, tokens) as first:
        first.open_tenant()
        services = first.http.app.state.services
        owner = services.queries.principal_for_token(hash_token(tokens["olga"]))
        scope = f"token:{TENANT}:{owner['token_id']}"
        print_ = idempotency.fingerprint("POST", f"{T}/members", json.dumps(BOB).encode())
        assert services.idempotency.claim(scope, "crash-2", print_) is None  # claimed, then the process died
    with served(settings, tokens) as second:
        retried = second.post(f"{T}/members", json=BOB, headers={"Idempotency-Key": "crash-2"})
        assert retried.status_code == 201, retried.text
        assert retried.json()["token"]  # it ran now: the token it created is in the answer
        assert added(second) == 1


def test_R_X3_finding4_a_key_belongs_to_the_token_not_the_user_id(acme: Api) -> None:
    acme.add_member("a1", "admin")
    headers = {"Idempotency-Key": "hire-carl"}
    carl = {"user_id": "carl", "email": "carl@acme.example", "name": "Carl", "role": "admin"}
    first = acme.post(f"{T}/members", "a1", json=carl, headers=headers)
    assert first.status_code == 201
    assert acme.delete(f"{T}/members/a1").status_code == 200
    acme.add_member("a1", "broker")  # a new member reusing the user id, with a token of its own
    before = head(acme)
    replay = acme.post(f"{T}/members", "a1", json=carl, headers=headers)
    assert_problem(replay, 403, "forbidden")  # authenticated and authorized like a new request
    assert "token" not in replay.json()
    assert head(acme) == before


def test_R_X3_a_replay_with_a_revoked_token_is_refused(acme: Api) -> None:
    acme.add_member("a1", "admin")
    headers = {"Idempotency-Key": "hire-dora"}
    dora = {"user_id": "dora", "email": "dora@acme.example", "name": "Dora", "role": "broker"}
    assert acme.post(f"{T}/members", "a1", json=dora, headers=headers).status_code == 201
    assert acme.delete(f"{T}/members/a1").status_code == 200
    assert_problem(acme.post(f"{T}/members", "a1", json=dora, headers=headers), 401, "unauthenticated")


def test_R_Z2_finding11_a_recorded_command_is_never_answered_from_a_stale_read_model(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Projections out of process and behind: 503 stale_read with the command's position, not stored; once the
    read side caught up, the retry answers the recorded result."""
    monkeypatch.setattr(commands, "COMMAND_WAIT_SECONDS", 0.3)
    base = Settings(
        database_url=database_url,
        operator_token="operator-token-for-tests-0123456789abcdef",
        clock="manual",
        secret_key="k",
        sweep_interval_seconds=0,
    )
    tokens: dict[str, str] = {}
    with served(base, tokens) as api:
        api.open_tenant()
    behind = base.model_copy(update={"in_process_projections": False})
    with served(behind, tokens) as api:
        headers = {"Idempotency-Key": "add-bob-stale"}
        stale = api.post(f"{T}/members", json=BOB, headers=headers)
        body = assert_problem(stale, 503, "stale_read")
        assert body["position"] == head(api)
        assert stale.headers["x-position"] == str(body["position"])
        api.http.app.state.services.runner.catch_up()  # the projector comes back
        retried = api.post(f"{T}/members", json=BOB, headers=headers)
        assert retried.status_code == 201, retried.text
        assert retried.json()["member"]["user_id"] == "bob"
        assert retried.json()["position"] == body["position"]
        assert added(api) == 1
