"""Checks, explanations and access reports over HTTP (R-C1…R-C3, R-L5)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from tests.api.http.client import TENANT, Api, assert_problem

CHECK = f"/v1/tenants/{TENANT}/check"


def test_R_C1_check_oneself_and_others(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("carl")
    acme.post(
        f"/v1/tenants/{TENANT}/assignments", json={"resource_type": "lead", "resource_ids": ["L-1"], "user_id": "bob"}
    )
    params = {"user_id": "bob", "permission": "leads.view_details", "resource_type": "lead", "resource_id": "L-1"}
    own = acme.get(CHECK, "bob", params=params).json()
    assert own["allowed"] is True and own["scope"] == "assigned"
    assert {"kind": "assignment", "resource": {"type": "lead", "id": "L-1"}} in own["via"]
    assert acme.get(CHECK, "operator", params=params).json()["allowed"] is True
    refused = assert_problem(acme.get(CHECK, "carl", params=params), 403, "forbidden")
    assert refused["missing_permission"] == "users.manage"
    other = acme.get(CHECK, "olga", params={**params, "resource_id": "L-2"}).json()
    assert other["allowed"] is False and other["reason"] == "not_assigned"


def test_R_C1_not_a_member_is_an_answer(acme: Api) -> None:
    answer = acme.get(CHECK, params={"user_id": "stranger", "permission": "leads.list"})
    assert answer.status_code == 200 and answer.json()["reason"] == "not_a_member"


def test_check_rejects_bad_parameters(acme: Api) -> None:
    assert_problem(acme.get(CHECK, params={"user_id": "olga", "permission": "nope"}), 422, "validation_error")
    half = {"user_id": "olga", "permission": "leads.list", "resource_type": "lead"}
    assert_problem(acme.get(CHECK, params=half), 422, "validation_error")
    future = (datetime.now().astimezone() + timedelta(days=400)).isoformat()
    assert_problem(
        acme.get(CHECK, params={"user_id": "olga", "permission": "leads.list", "as_of": future}),
        422,
        "validation_error",
    )
    assert_problem(acme.get(CHECK, params={"permission": "leads.list"}), 422, "validation_error")


def test_R_C3_check_as_of_a_past_instant(acme: Api) -> None:
    acme.add_member("bob")
    before = acme.post("/v1/clock", "operator", json={"now": _later(minutes=1)}).json()["now"]
    acme.post("/v1/clock", "operator", json={"now": _later(minutes=2)})
    acme.put(f"/v1/tenants/{TENANT}/members/bob/role", json={"role": "auditor"})
    params = {"user_id": "bob", "permission": "contacts.create"}
    assert acme.get(CHECK, params=params).json()["allowed"] is False
    then = acme.get(CHECK, params={**params, "as_of": before}).json()
    assert then["allowed"] is True and then["as_of"] is not None


def test_batch_check(acme: Api) -> None:
    acme.add_member("bob")
    body = {
        "checks": [
            {"user_id": "bob", "permission": "contacts.create"},
            {"user_id": "bob", "permission": "users.manage"},
        ]
    }
    answer = acme.post(CHECK, "bob", json=body)
    assert answer.status_code == 200
    assert [r["allowed"] for r in answer.json()["results"]] == [True, False]
    others = {"checks": [{"user_id": "olga", "permission": "users.manage"}]}
    assert_problem(acme.post(CHECK, "bob", json=others), 403, "forbidden")
    too_many = {"checks": [{"user_id": "bob", "permission": "leads.list"}] * 1001}
    assert_problem(acme.post(CHECK, json=too_many), 422, "validation_error")


def test_R_C2_explain_names_the_events(acme: Api) -> None:
    acme.add_member("bob")
    answer = acme.get(f"/v1/tenants/{TENANT}/explain", params={"user_id": "bob", "permission": "contacts.create"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["allowed"] is True and "MemberAdded" in [e["event_type"] for e in body["events"]]
    refused = acme.get(f"/v1/tenants/{TENANT}/explain", "bob", params={"user_id": "bob", "permission": "leads.list"})
    assert_problem(refused, 403, "forbidden")


def test_R_L5_access_report_as_json_and_csv(acme: Api) -> None:
    acme.add_member("bob")
    report = acme.get(f"/v1/tenants/{TENANT}/access-report").json()
    assert [m["user_id"] for m in report["members"]] == ["olga", "bob"]
    answer = acme.get(f"/v1/tenants/{TENANT}/access-report", "operator", params={"format": "csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {"user_id": "bob", "permission": "contacts.create", "scope": "all"}.items() <= next(
        r for r in rows if r["user_id"] == "bob" and r["permission"] == "contacts.create"
    ).items()
    assert_problem(acme.get(f"/v1/tenants/{TENANT}/access-report", "bob"), 403, "forbidden")


def _later(minutes: int) -> str:
    return (datetime.now().astimezone() + timedelta(minutes=minutes)).isoformat()
