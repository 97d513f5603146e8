"""API.md's conventions over HTTP: auth (R-X5), problem+json, request ids, reasons, body limit, min_position."""

from __future__ import annotations

import json

import pytest

from api.http import deps
from tests.api.http.client import TENANT, Api, assert_problem, bearer


def test_R_X5_a_foreign_tenant_looks_like_one_that_does_not_exist(acme: Api) -> None:
    acme.open_tenant("beta")
    before = len(acme.events("beta"))
    foreign = acme.get("/v1/tenants/beta", "olga")
    missing = acme.get("/v1/tenants/nowhere", "olga")
    assert_problem(foreign, 404, "not_found")
    assert_problem(missing, 404, "not_found")
    body = {"user_id": "mallory", "email": "m@beta.example", "name": "Mallory", "role": "admin"}
    assert_problem(acme.post("/v1/tenants/beta/members", "olga", json=body), 404, "not_found")
    assert len(acme.events("beta")) == before


def test_unauthenticated_without_a_valid_token(acme: Api) -> None:
    answer = acme.get(f"/v1/tenants/{TENANT}", None)
    assert_problem(answer, 401, "unauthenticated")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert_problem(acme.get(f"/v1/tenants/{TENANT}", None, headers=bearer("no-such-token")), 401, "unauthenticated")
    assert_problem(
        acme.get(f"/v1/tenants/{TENANT}", None, headers={"Authorization": "Basic b2xnYQ=="}), 401, "unauthenticated"
    )


def test_R_I2_invitation_tokens_are_not_bearer_tokens(acme: Api) -> None:
    invitation = acme.post(f"/v1/tenants/{TENANT}/invitations", json={"email": "i@x.example", "role": "broker"}).json()
    answer = acme.get(f"/v1/tenants/{TENANT}", None, headers=bearer(invitation["token"]))
    assert_problem(answer, 401, "unauthenticated")


def test_forbidden_names_the_first_permission_of_the_route(acme: Api) -> None:
    acme.add_member("bob")
    listing = assert_problem(acme.get(f"/v1/tenants/{TENANT}/invitations", "bob"), 403, "forbidden")
    assert listing["missing_permission"] == "users.manage"
    body = {"user_id": "carl", "email": "carl@x.example", "name": "Carl", "role": "broker"}
    adding = assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", "bob", json=body), 403, "forbidden")
    assert adding["missing_permission"] == "users.manage"


def test_R_T1_the_operator_has_no_command_on_a_tenant(acme: Api) -> None:
    before = len(acme.events())
    body = {"user_id": "carl", "email": "carl@x.example", "name": "Carl", "role": "broker"}
    answer = assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", "operator", json=body), 403, "forbidden")
    assert answer["missing_permission"] == "users.manage"
    assert len(acme.events()) == before


def test_validation_errors_list_loc_and_msg(acme: Api) -> None:
    answer = acme.post(f"/v1/tenants/{TENANT}/members", json={"user_id": "bad id!", "email": "x@y"})
    body = assert_problem(answer, 422, "validation_error")
    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert ("body", "user_id") in locations and ("body", "name") in locations and ("body", "role") in locations
    assert all(isinstance(error["msg"], str) for error in body["errors"])


def test_unknown_fields_and_malformed_json_are_validation_errors(acme: Api) -> None:
    body = {"user_id": "bob", "email": "b@x.example", "name": "Bob", "role": "broker", "rol": "admin"}
    assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", json=body), 422, "validation_error")
    raw = acme.post(f"/v1/tenants/{TENANT}/members", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(raw, 422, "validation_error")


def test_unknown_routes_and_methods_are_problems(acme: Api) -> None:
    assert_problem(acme.get("/v1/nothing-here"), 404, "not_found")
    answer = acme.request("PATCH", f"/v1/tenants/{TENANT}")
    assert_problem(answer, 405, "method_not_allowed")
    assert "GET" in answer.headers["allow"]


def test_payload_too_large_over_one_mebibyte(acme: Api) -> None:
    before = len(acme.events())
    big = {"user_id": "bob", "email": "b@x.example", "name": "x" * (1024 * 1024), "role": "broker"}
    assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", json=big), 413, "payload_too_large")

    def chunks():  # no Content-Length: the limit applies while reading
        yield b'{"user_id": "bob", "name": "'
        for _ in range(300):
            yield b"y" * 4096
        yield b'"}'

    streamed = acme.post(
        f"/v1/tenants/{TENANT}/members", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(streamed, 413, "payload_too_large")
    assert len(acme.events()) == before


def test_R_L1_request_id_is_echoed_and_stored_with_the_events(acme: Api) -> None:
    answer = acme.post(
        f"/v1/tenants/{TENANT}/members",
        json={"user_id": "bob", "email": "b@x.example", "name": "Bob", "role": "broker"},
        headers={"X-Request-Id": "req-42"},
    )
    assert answer.status_code == 201
    assert answer.headers["x-request-id"] == "req-42"
    added = [e for e in acme.events() if e["event_type"] == "MemberAdded"]
    assert added[0]["request_id"] == "req-42"
    generated = acme.get(f"/v1/tenants/{TENANT}").headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0


def test_R_L1_x_reason_is_stored_as_the_reason(acme: Api) -> None:
    reason = "Onboarding ticket #17 — approved by Olga"
    answer = acme.post(
        f"/v1/tenants/{TENANT}/members",
        json={"user_id": "bob", "email": "b@x.example", "name": "Bob", "role": "broker"},
        headers={"X-Reason": reason.encode()},
    )
    assert answer.status_code == 201
    added = [e for e in acme.events() if e["event_type"] == "MemberAdded"]
    assert added[0]["reason"] == reason


def test_x_reason_over_500_characters_is_rejected(acme: Api) -> None:
    before = len(acme.events())
    answer = acme.post(
        f"/v1/tenants/{TENANT}/members",
        json={"user_id": "bob", "email": "b@x.example", "name": "Bob", "role": "broker"},
        headers={"X-Reason": "r" * 501},
    )
    assert_problem(answer, 422, "validation_error")
    assert len(acme.events()) == before


def test_every_command_answers_its_position_in_body_and_header(acme: Api) -> None:
    answer = acme.put(f"/v1/tenants/{TENANT}/policy", json={"min_admins": 1})
    assert answer.status_code == 200
    assert answer.json()["position"] == int(answer.headers["x-position"])


def test_min_position_reached_answers(acme: Api) -> None:
    position = acme.add_member("bob")["position"]
    answer = acme.get(f"/v1/tenants/{TENANT}/members/bob", params={"min_position": position})
    assert answer.status_code == 200


def test_min_position_not_reached_is_stale_read(acme: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deps, "MIN_POSITION_WAIT_SECONDS", 0.2)
    services = acme.http.app.state.services
    head = services.ledger.head_position()

    async def behind(position: int, timeout: float) -> bool:  # the projections lag behind
        return False

    monkeypatch.setattr(services, "reach", behind)
    answer = acme.get(f"/v1/tenants/{TENANT}", params={"min_position": head})
    assert_problem(answer, 503, "stale_read")
    assert answer.headers["retry-after"]


def test_R_X8_min_position_beyond_the_head_is_position_ahead(acme: Api) -> None:
    answer = acme.get(f"/v1/tenants/{TENANT}", params={"min_position": 10_000})
    assert_problem(answer, 422, "position_ahead")


def test_problem_bodies_are_json_with_rfc9457_members(acme: Api) -> None:
    body = json.loads(acme.get("/v1/tenants/nowhere").content)
    assert body["type"].startswith("urn:accessledger:problem:")
    assert body["title"] and body["detail"]
