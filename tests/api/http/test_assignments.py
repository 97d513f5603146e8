"""Assignments over HTTP (R-A1, R-A2)."""

from __future__ import annotations

from tests.api.http.client import TENANT, Api, assert_problem

ASSIGNMENTS = f"/v1/tenants/{TENANT}/assignments"


def test_R_A1_assign_list_and_unassign(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("carl")
    body = {"resource_type": "lead", "resource_ids": ["L-1", "L-2"], "user_id": "bob"}
    answer = acme.post(ASSIGNMENTS, json=body)
    assert answer.status_code == 200 and answer.json()["assigned"] == 2
    listed = acme.get(ASSIGNMENTS, params={"user_id": "bob"}).json()["items"]
    assert sorted(a["resource_id"] for a in listed) == ["L-1", "L-2"]
    own = acme.get(ASSIGNMENTS, "bob").json()["items"]  # without leads.assign: one's own
    assert {a["user_id"] for a in own} == {"bob"} and len(own) == 2
    assert acme.get(ASSIGNMENTS, "carl").json()["items"] == []
    refused = assert_problem(acme.get(ASSIGNMENTS, "carl", params={"user_id": "bob"}), 403, "forbidden")
    assert refused["missing_permission"] == "leads.assign"
    assert acme.delete(f"{ASSIGNMENTS}/lead/L-1").status_code == 200
    assert_problem(acme.delete(f"{ASSIGNMENTS}/lead/L-1"), 404, "not_found")
    assert [a["resource_id"] for a in acme.get(ASSIGNMENTS).json()["items"]] == ["L-2"]


def test_R_A1_bulk_limits_and_rights(acme: Api) -> None:
    acme.add_member("bob")
    too_many = {"resource_type": "lead", "resource_ids": [f"L-{i}" for i in range(10_001)], "user_id": "bob"}
    assert_problem(acme.post(ASSIGNMENTS, json=too_many), 422, "validation_error")
    empty = {"resource_type": "lead", "resource_ids": [], "user_id": "bob"}
    assert_problem(acme.post(ASSIGNMENTS, json=empty), 422, "validation_error")
    body = {"resource_type": "lead", "resource_ids": ["L-1"], "user_id": "bob"}
    refused = assert_problem(acme.post(ASSIGNMENTS, "bob", json=body), 403, "forbidden")
    assert refused["missing_permission"] == "leads.assign"


def test_R_A2_assignee_must_see_the_lead(acme: Api) -> None:
    acme.add_member("mia", "marketing")
    body = {"resource_type": "lead", "resource_ids": ["L-1"], "user_id": "mia"}
    assert_problem(acme.post(ASSIGNMENTS, json=body), 409, "assignee_cannot_access")
