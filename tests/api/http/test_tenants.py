"""Tenants over HTTP (R-T1…R-T5, R-S5)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tests.api.http.client import OWNER, PLAN, TENANT, Api, assert_problem


def test_R_T1_the_operator_opens_a_tenant(api: Api) -> None:
    opened = api.open_tenant()
    tenant = opened["tenant"]
    assert tenant["tenant_id"] == TENANT and tenant["status"] == "active"
    assert tenant["plan"] == PLAN
    assert tenant["seats"] == {"capacity": 5, "used": 0, "members": 0, "pending_invitations": 0, "free": 5}
    assert opened["position"] >= 1 and len(opened["owner_token"]) >= 43
    assert api.get(f"/v1/tenants/{TENANT}").json()["tenant_id"] == TENANT  # the owner token works


def test_R_T1_tenant_id_is_generated_from_the_name(api: Api) -> None:
    body = {"name": "Müller & Söhne GmbH", "plan": PLAN, "owner": OWNER}
    answer = api.post("/v1/tenants", "operator", json=body)
    assert answer.status_code == 201
    assert re.fullmatch(r"[a-z0-9-]{3,63}", answer.json()["tenant"]["tenant_id"])


def test_R_T1_only_the_operator_opens_tenants(acme: Api) -> None:
    body = {"tenant_id": "other", "name": "Other", "plan": PLAN, "owner": OWNER}
    assert_problem(acme.post("/v1/tenants", "olga", json=body), 403, "forbidden")
    assert_problem(acme.post("/v1/tenants", None, json=body), 401, "unauthenticated")


def test_R_T1_a_taken_tenant_id_and_a_bad_plan_are_rejected(acme: Api) -> None:
    body = {"tenant_id": TENANT, "name": "Again", "plan": PLAN, "owner": OWNER}
    assert_problem(acme.post("/v1/tenants", "operator", json=body), 409, "tenant_exists")
    bad = {"tenant_id": "bad", "name": "Bad", "plan": {**PLAN, "currency": "USD"}, "owner": OWNER}
    body = assert_problem(acme.post("/v1/tenants", "operator", json=bad), 422, "validation_error")
    assert ["body", "plan", "currency"] in [e["loc"] for e in body["errors"]]
    short = {**bad, "tenant_id": "ab", "plan": PLAN}
    assert_problem(acme.post("/v1/tenants", "operator", json=short), 422, "validation_error")


def test_get_tenant_for_members_and_the_operator(acme: Api) -> None:
    acme.add_member("bob")
    as_member = acme.get(f"/v1/tenants/{TENANT}", "bob").json()
    assert as_member["seats"]["members"] == 1 and "scheduled_removals" not in as_member
    assert acme.get(f"/v1/tenants/{TENANT}", "operator").json()["seats"]["used"] == 1
    assert acme.get(f"/v1/tenants/{TENANT}", "olga").json()["scheduled_removals"] == []


def test_R_M4_policy_by_settings_manage(acme: Api) -> None:
    acme.add_member("bob")
    answer = acme.put(f"/v1/tenants/{TENANT}/policy", json={"min_admins": 2})
    assert answer.status_code == 200 and answer.json()["tenant"]["min_admins"] == 2
    refused = assert_problem(acme.put(f"/v1/tenants/{TENANT}/policy", "bob", json={"min_admins": 1}), 403, "forbidden")
    assert refused["missing_permission"] == "settings.manage"
    assert_problem(acme.put(f"/v1/tenants/{TENANT}/policy", json={"min_admins": 0}), 422, "validation_error")


def test_R_T3_only_the_owner_cancels_and_withdraws(acme: Api) -> None:
    acme.add_member("ada", "admin")
    path = f"/v1/tenants/{TENANT}/subscription/cancellation"
    refused = assert_problem(acme.post(path, "ada"), 403, "forbidden")
    assert refused["missing_permission"] == "subscription.cancel"
    cancelled = acme.post(path)
    assert cancelled.status_code == 200
    tenant = cancelled.json()["tenant"]
    assert tenant["status"] == "cancellation_scheduled"
    assert tenant["cancellation_effective_at"] == f"{tenant['term_end']}T00:00:00Z"
    assert_problem(acme.post(path), 409, "cancellation_already_scheduled")
    withdrawn = acme.delete(path)
    assert withdrawn.status_code == 200 and withdrawn.json()["tenant"]["status"] == "active"
    assert_problem(acme.delete(path), 409, "cancellation_not_scheduled")


def test_R_T5_a_closed_tenant_answers_members_409_and_the_operator_everything(acme: Api) -> None:
    acme.add_member("bob")
    tenant = acme.post(f"/v1/tenants/{TENANT}/subscription/cancellation").json()["tenant"]
    after_end = datetime.fromisoformat(tenant["term_end"] + "T00:00:00+00:00") + timedelta(seconds=1)
    assert acme.post("/v1/clock", "operator", json={"now": after_end.isoformat()}).status_code == 200
    for who in ("olga", "bob"):
        assert_problem(acme.get(f"/v1/tenants/{TENANT}", who), 409, "tenant_closed")
        assert_problem(acme.get(f"/v1/tenants/{TENANT}/members", who), 409, "tenant_closed")
    body = {"user_id": "carl", "email": "carl@acme.example", "name": "Carl", "role": "broker"}
    assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", json=body), 409, "tenant_closed")
    closed = acme.get(f"/v1/tenants/{TENANT}", "operator")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert len(acme.get(f"/v1/tenants/{TENANT}/members", "operator").json()["items"]) == 2
    assert "SubscriptionEnded" in [e["event_type"] for e in acme.events()]
    assert_problem(acme.post(f"/v1/tenants/{TENANT}/members", "operator", json=body), 403, "forbidden")
