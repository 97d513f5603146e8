"""Grants over HTTP (R-G1, R-G2, R-P6)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.http.client import TENANT, Api, assert_problem

GRANTS = f"/v1/tenants/{TENANT}/grants"


def test_R_G1_grant_list_and_revoke(acme: Api) -> None:
    acme.add_member("bob")
    granted = acme.post(GRANTS, json={"user_id": "bob", "permission": "billing.view", "scope": "all"})
    assert granted.status_code == 201, granted.text
    grant = granted.json()["grant"]
    assert grant["permission"] == "billing.view" and grant["role"] is None and grant["status"] == "active"
    assert acme.get(f"/v1/tenants/{TENANT}/charges", "bob").status_code == 200  # read-your-writes
    listed = acme.get(GRANTS, params={"user_id": "bob"}).json()["items"]
    assert [g["grant_id"] for g in listed] == [grant["grant_id"]]
    revoked = acme.delete(f"{GRANTS}/{grant['grant_id']}")
    assert revoked.status_code == 200 and revoked.json()["grant"]["status"] == "revoked"
    assert_problem(acme.delete(f"{GRANTS}/grant_999"), 404, "not_found")


def test_R_G1_bad_grants_are_rejected(acme: Api) -> None:
    acme.add_member("bob")
    unknown = {"user_id": "bob", "permission": "leads.fly", "scope": "all"}
    assert_problem(acme.post(GRANTS, json=unknown), 422, "validation_error")
    both = {"user_id": "bob", "permission": "billing.view", "role": "admin", "scope": "all"}
    assert_problem(acme.post(GRANTS, json=both), 422, "validation_error")
    never = {"user_id": "bob", "permission": "subscription.cancel", "scope": "all"}
    assert_problem(acme.post(GRANTS, json=never), 409, "not_grantable")
    naive = {"user_id": "bob", "permission": "billing.view", "scope": "all", "expires_at": "2030-01-01T00:00:00"}
    assert_problem(acme.post(GRANTS, json=naive), 422, "validation_error")
    refused = assert_problem(acme.post(GRANTS, "bob", json=never), 403, "forbidden")
    assert refused["missing_permission"] == "permissions.manage"


def test_R_G2_grants_expire_with_the_clock(acme: Api) -> None:
    acme.add_member("bob")
    now = datetime.fromisoformat(acme.post("/v1/clock", "operator", json={"now": _soon()}).json()["now"])
    expires = (now + timedelta(hours=1)).isoformat()
    body = {"user_id": "bob", "permission": "billing.view", "scope": "all", "expires_at": expires}
    grant_id = acme.post(GRANTS, json=body).json()["grant"]["grant_id"]
    acme.post("/v1/clock", "operator", json={"now": (now + timedelta(hours=2)).isoformat()})
    assert acme.get(GRANTS, params={"status": "expired"}).json()["items"][0]["grant_id"] == grant_id
    assert_problem(acme.get(f"/v1/tenants/{TENANT}/charges", "bob"), 403, "forbidden")


def test_grants_list_needs_permissions_manage_or_audit_read(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("audra", "auditor")
    assert acme.get(GRANTS, "audra").status_code == 200
    assert_problem(acme.get(GRANTS, "bob"), 403, "forbidden")


def _soon() -> str:
    return (datetime.now().astimezone() + timedelta(minutes=1)).isoformat()


def test_R_G3_a_grant_that_starts_later_is_scheduled_until_then(acme: Api) -> None:
    acme.add_member("bob")
    now = datetime.fromisoformat(acme.post("/v1/clock", "operator", json={"now": _soon()}).json()["now"])
    starts = (now + timedelta(hours=1)).isoformat()
    body = {"user_id": "bob", "permission": "billing.view", "scope": "all", "starts_at": starts}
    granted = acme.post(GRANTS, json=body)
    assert granted.status_code == 201, granted.text
    grant = granted.json()["grant"]
    assert grant["status"] == "scheduled" and grant["starts_at"] is not None
    assert_problem(acme.get(f"/v1/tenants/{TENANT}/charges", "bob"), 403, "forbidden")
    acme.post("/v1/clock", "operator", json={"now": (now + timedelta(hours=2)).isoformat()})
    assert acme.get(f"/v1/tenants/{TENANT}/charges", "bob").status_code == 200
    assert acme.get(GRANTS, params={"status": "active"}).json()["items"][0]["status"] == "active"
    assert "GrantStarted" in [e["event_type"] for e in acme.events()]


def test_R_G3_a_start_in_the_past_or_after_the_expiry_is_refused_and_records_nothing(acme: Api) -> None:
    acme.add_member("bob")
    now = datetime.fromisoformat(acme.post("/v1/clock", "operator", json={"now": _soon()}).json()["now"])
    before = len(acme.events())
    base = {"user_id": "bob", "permission": "billing.view", "scope": "all"}
    past = {**base, "starts_at": (now - timedelta(hours=1)).isoformat()}
    assert_problem(acme.post(GRANTS, json=past), 422, "validation_error")
    late = {
        **base,
        "starts_at": (now + timedelta(hours=3)).isoformat(),
        "expires_at": (now + timedelta(hours=2)).isoformat(),
    }
    assert_problem(acme.post(GRANTS, json=late), 422, "validation_error")
    assert len(acme.events()) == before
