"""R-X3 over HTTP: the same Idempotency-Key and request answer the first answer and record nothing new."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from tests.api.http.client import TENANT, Api, assert_problem

BOB = {"user_id": "bob", "email": "bob@acme.example", "name": "Bob", "role": "broker"}


def test_R_X3_same_key_same_request_answers_the_first_answer(acme: Api) -> None:
    headers = {"Idempotency-Key": "add-bob-1"}
    first = acme.post(f"/v1/tenants/{TENANT}/members", json=BOB, headers=headers)
    assert first.status_code == 201
    count = len(acme.events())
    again = acme.post(f"/v1/tenants/{TENANT}/members", json=dict(reversed(BOB.items())), headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()  # the token it created included
    assert again.headers["x-position"] == first.headers["x-position"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(acme.events()) == count


def test_R_X3_same_key_different_request_is_rejected(acme: Api) -> None:
    headers = {"Idempotency-Key": "add-bob-2"}
    assert acme.post(f"/v1/tenants/{TENANT}/members", json=BOB, headers=headers).status_code == 201
    count = len(acme.events())
    other = {**BOB, "user_id": "carl", "email": "carl@acme.example"}
    answer = acme.post(f"/v1/tenants/{TENANT}/members", json=other, headers=headers)
    assert_problem(answer, 422, "idempotency_key_reused")
    assert len(acme.events()) == count


def test_R_X3_keys_belong_to_their_caller(acme: Api) -> None:
    acme.add_member("ada", "admin")
    headers = {"Idempotency-Key": "shared-key"}
    assert acme.post(f"/v1/tenants/{TENANT}/members", json=BOB, headers=headers).status_code == 201
    other = {**BOB, "user_id": "carl", "email": "carl@acme.example"}
    assert acme.post(f"/v1/tenants/{TENANT}/members", "ada", json=other, headers=headers).status_code == 201


def test_R_X3_a_rejected_command_does_not_keep_its_key(acme: Api) -> None:
    acme.add_member("bob")
    headers = {"Idempotency-Key": "add-bob-again"}
    assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", json=BOB, headers=headers), 409, "already_member")
    assert acme.delete(f"/v1/tenants/{TENANT}/members/bob").status_code == 200
    retried = acme.post(f"/v1/tenants/{TENANT}/members", json=BOB, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


def test_R_X3_concurrent_identical_requests_execute_once(acme: Api) -> None:
    headers = {**acme.as_("olga"), "Idempotency-Key": "race-1"}
    answers = []

    def send() -> None:
        answers.append(acme.http.post(f"/v1/tenants/{TENANT}/members", json=BOB, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["token"] for a in answers}) == 1
    assert sum(1 for e in acme.events() if e["event_type"] == "MemberAdded") == 1


def test_R_X3_secrets_are_sealed_at_rest_and_lost_with_a_random_key(settings: Settings) -> None:
    headers_key = {"Idempotency-Key": "open-once"}
    body = {
        "tenant_id": "sealed",
        "name": "Sealed",
        "plan": {"name": "basic", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR"},
        "owner": {"user_id": "sam", "email": "sam@sealed.example", "name": "Sam"},
    }
    with TestClient(create_app(settings)) as http:
        api = Api(http)
        first = api.post("/v1/tenants", "operator", json=body, headers=headers_key)
        assert first.status_code == 201
        token = first.json()["owner_token"]
        app_services = http.app.state.services
        with app_services.store.reader() as tx:
            stored = tx.scalar("SELECT body FROM idempotency_keys WHERE idem_key = ?", ("open-once",))
        assert token not in stored
    with TestClient(create_app(settings)) as http:  # same secret key: the token survives a restart
        assert Api(http).post("/v1/tenants", "operator", json=body, headers=headers_key).json()["owner_token"] == token
    random_key = settings.model_copy(update={"secret_key": None})
    with TestClient(create_app(random_key)) as http:  # a random key per process: the token is gone
        replay = Api(http).post("/v1/tenants", "operator", json=body, headers=headers_key)
        assert replay.status_code == 201
        assert replay.json()["owner_token"] is None
        assert replay.json()["tenant"]["tenant_id"] == "sealed"


def test_R_X3_malformed_key_is_a_validation_error(acme: Api) -> None:
    answer = acme.post(f"/v1/tenants/{TENANT}/members", json=BOB, headers={"Idempotency-Key": "x" * 300})
    assert_problem(answer, 422, "validation_error")
