"""R-X6 over HTTP: strict input, 422 never 5xx, control characters refused, nothing recorded (findings 6 and 10
of issue 13), and R-X8's `position_ahead` (finding 7)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.http.client import TENANT, Api, assert_problem
from tests.security.helpers import head

T = f"/v1/tenants/{TENANT}"
JSON = {"Content-Type": "application/json"}


def test_R_X6_finding6_a_deeply_nested_body_with_an_idempotency_key_answers_422(acme: Api) -> None:
    before = head(acme)
    body = "[" * 1000 + "]" * 1000
    for path in (f"{T}/members", f"{T}/policy", "/v1/tenants"):
        answer = acme.post(path, content=body, headers={**JSON, "Idempotency-Key": "deep-1"})
        assert_problem(answer, 422, "validation_error")
    deep_object = '{"a":' * 200 + "1" + "}" * 200
    assert_problem(acme.post(f"{T}/members", content=deep_object, headers=JSON), 422, "validation_error")
    assert head(acme) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_admins", True), ("min_admins", 1.0), ("min_admins", "1")],
)
def test_R_X6_finding10_a_boolean_or_a_float_is_not_an_integer(acme: Api, field: str, value: object) -> None:
    before = head(acme)
    refused = assert_problem(acme.put(f"{T}/policy", json={field: value}), 422, "validation_error")
    assert refused["errors"][0]["loc"][-1] == field
    assert head(acme) == before


def test_R_X6_finding10_included_seats_must_be_an_integer(api: Api) -> None:
    before = head(api)
    plan = {"name": "basic", "included_seats": 1.0, "billing_interval": "monthly", "currency": "EUR"}
    owner = {"user_id": "sam", "email": "sam@x.example", "name": "Sam"}
    body = {"tenant_id": "floaty", "name": "Floaty", "plan": plan, "owner": owner}
    assert_problem(api.post("/v1/tenants", "operator", json=body), 422, "validation_error")
    assert_problem(
        api.post("/v1/tenants", "operator", json={**body, "plan": {**plan, "included_seats": True}}),
        422,
        "validation_error",
    )
    assert head(api) == before


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"\xff\xfe{}", b'{"role": "admin"', b"\x00", b'{"role": "\xc3\x28"}'],
    ids=["unparsable", "bad-utf8-bom", "truncated", "nul", "bad-utf8-inside"],
)
def test_R_X6_finding10_unparsable_bodies_answer_422_not_400(acme: Api, raw: bytes) -> None:
    acme.add_member("bob")
    before = head(acme)
    assert_problem(acme.put(f"{T}/members/bob/role", content=raw, headers=JSON), 422, "validation_error")
    assert head(acme) == before


@pytest.mark.parametrize("char", ["\u0007", "\u001b", "\u007f", "\u0085", "\u202e", "\u2066", "\t"])
def test_R_X6_control_characters_are_refused_everywhere(acme: Api, char: str) -> None:
    before = head(acme)
    body = {"user_id": "bob", "email": "bob@acme.example", "name": f"Bob{char}", "role": "broker"}
    refused = assert_problem(acme.post(f"{T}/members", json=body), 422, "validation_error")
    assert refused["errors"][0]["loc"] == ["body", "name"]
    reason = acme.post(f"{T}/members", json={**body, "name": "Bob"}, headers={"X-Reason": f"why{char}".encode()})
    assert assert_problem(reason, 422, "validation_error")["errors"][0]["loc"] == ["header", "x-reason"]
    assert_problem(acme.get(f"{T}/members", params={"role": f"a{char}"}), 422, "validation_error")
    assert_problem(acme.get(f"{T}/members/bo{quote(char)}b"), 422, "validation_error")
    assert head(acme) == before


def test_R_X6_a_route_without_body_fields_refuses_a_body(acme: Api) -> None:
    acme.add_member("bob")
    before = head(acme)
    assert_problem(acme.delete(f"{T}/members/bob", json={"force": True}), 422, "validation_error")
    assert_problem(acme.post(f"{T}/subscription/cancellation", json=[1]), 422, "validation_error")
    assert head(acme) == before
    assert acme.delete(f"{T}/members/bob", json={}).status_code == 200


def test_R_X6_a_body_over_one_mib_answers_413(acme: Api) -> None:
    before = head(acme)
    huge = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    assert_problem(acme.post(f"{T}/members", content=huge, headers=JSON), 413, "payload_too_large")
    assert head(acme) == before


def test_R_X8_finding7_a_min_position_beyond_the_head_answers_422_at_once(acme: Api) -> None:
    acme.add_member("aud", "auditor")
    answer = acme.get(f"{T}/members", "aud", params={"min_position": 10**15})
    assert_problem(answer, 422, "position_ahead")
    assert answer.elapsed.total_seconds() < 1
    assert acme.get(f"{T}/members", "aud", params={"min_position": head(acme)}).status_code == 200


def test_R_X6_invalid_utf8_in_headers_and_queries_is_refused() -> None:
    """Test clients re-encode header text, so the raw bytes a real client may send are checked directly."""
    from api.http.input_guard import Refused, check_target

    for scope in (
        {"path": "/v1/tenants", "query_string": b"", "headers": [(b"x-reason", b"\xff\xfe")]},
        {"path": "/v1/tenants", "query_string": b"status=%FF", "headers": []},
        {"path": "/v1/tenants/a\u202eb", "query_string": b"", "headers": []},
    ):
        with pytest.raises(Refused):
            check_target(scope)
    check_target({"path": "/v1/tenants", "query_string": b"status=%C3%A9&x", "headers": [(b"x-reason", "é".encode())]})
