"""Members and tokens over HTTP (R-M1…R-M4)."""

from __future__ import annotations

from tests.api.http.client import TENANT, Api, assert_problem

MEMBERS = f"/v1/tenants/{TENANT}/members"


def test_R_M2_add_member_answers_member_and_token(acme: Api) -> None:
    added = acme.add_member("bob")
    assert added["member"]["user_id"] == "bob" and added["member"]["seat_order"] == 1
    assert added["member"]["status"] == "active" and added["member"]["role"] == "broker"
    assert acme.get(f"/v1/tenants/{TENANT}", "bob").status_code == 200  # its token works


def test_R_M1_reserved_and_malformed_user_ids_are_rejected(acme: Api) -> None:
    for user_id in ("operator", "system", "", "a" * 129, "has space"):
        body = {"user_id": user_id, "email": "x@acme.example", "name": "X", "role": "broker"}
        assert_problem(acme.post(MEMBERS, json=body), 422, "validation_error")
    unknown_role = {"user_id": "x", "email": "x@acme.example", "name": "X", "role": "wizard"}
    assert_problem(acme.post(MEMBERS, json=unknown_role), 422, "validation_error")


def test_R_S1_seat_limit_over_http(api: Api) -> None:
    api.open_tenant(included_seats=1)
    api.add_member("bob")
    body = {"user_id": "carl", "email": "carl@acme.example", "name": "Carl", "role": "broker"}
    assert_problem(api.post(MEMBERS, json=body), 409, "seat_limit_reached")


def test_list_and_get_members_with_pages(acme: Api) -> None:
    for user_id in ("bob", "carl", "dora"):
        acme.add_member(user_id)
    first = acme.get(MEMBERS, "bob", params={"limit": 2}).json()
    assert [m["user_id"] for m in first["items"]] == ["olga", "bob"]
    second = acme.get(MEMBERS, "bob", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [m["user_id"] for m in second["items"]] == ["carl", "dora"] and second["next_cursor"] is None
    assert acme.get(MEMBERS, params={"role": "owner"}).json()["items"][0]["user_id"] == "olga"
    assert acme.get(f"{MEMBERS}/carl", "bob").json()["email"] == "carl@acme.example"
    assert_problem(acme.get(f"{MEMBERS}/nobody"), 404, "not_found")
    assert_problem(acme.get(MEMBERS, params={"cursor": "garbage!"}), 422, "validation_error")
    assert_problem(acme.get(MEMBERS, params={"limit": 1001}), 422, "validation_error")


def test_R_M3_change_role(acme: Api) -> None:
    acme.add_member("bob")
    answer = acme.put(f"{MEMBERS}/bob/role", json={"role": "manager"})
    assert answer.status_code == 200 and answer.json()["member"]["role"] == "manager"
    assert_problem(acme.put(f"{MEMBERS}/olga/role", json={"role": "admin"}), 409, "owner_immutable")
    assert_problem(acme.put(f"{MEMBERS}/nobody/role", json={"role": "admin"}), 404, "not_found")
    refused = assert_problem(acme.put(f"{MEMBERS}/olga/role", "bob", json={"role": "admin"}), 403, "forbidden")
    assert refused["missing_permission"] == "users.manage"


def test_R_P6_no_escalation_over_http(acme: Api) -> None:
    acme.add_member("ada", "admin")
    acme.add_member("bob")
    assert_problem(acme.put(f"{MEMBERS}/bob/role", "ada", json={"role": "owner"}), 409, "owner_immutable")


def test_R_M3_remove_a_member_and_its_tokens_stop_working(acme: Api) -> None:
    acme.add_member("bob")
    answer = acme.delete(f"{MEMBERS}/bob")
    assert answer.status_code == 200 and answer.json()["position"] == int(answer.headers["x-position"])
    assert_problem(acme.get(f"/v1/tenants/{TENANT}", "bob"), 401, "unauthenticated")
    removed = acme.get(f"{MEMBERS}/bob").json()
    assert removed["status"] == "removed" and removed["removal_reason"] == "removed"
    assert_problem(acme.delete(f"{MEMBERS}/olga"), 409, "owner_immutable")


def test_R_M3_a_member_leaves_by_itself(acme: Api) -> None:
    acme.add_member("bob")
    assert acme.delete(f"{MEMBERS}/bob", "bob").status_code == 200
    assert acme.get(f"{MEMBERS}/bob").json()["removal_reason"] == "left"


def test_effective_permissions_for_itself_and_managers(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("carl")
    own = acme.get(f"{MEMBERS}/bob/permissions", "bob")
    assert own.status_code == 200
    held = {p["permission"]: p["scope"] for p in own.json()["permissions"]}
    assert held["leads.view_details"] == "assigned" and own.json()["role"] == "broker"
    assert acme.get(f"{MEMBERS}/bob/permissions", "operator").status_code == 200
    refused = assert_problem(acme.get(f"{MEMBERS}/bob/permissions", "carl"), 403, "forbidden")
    assert refused["missing_permission"] == "users.manage"
    assert_problem(acme.get(f"{MEMBERS}/nobody/permissions"), 404, "not_found")


def test_tokens_are_issued_to_oneself_and_revocable(acme: Api) -> None:
    acme.add_member("bob")
    issued = acme.post(f"/v1/tenants/{TENANT}/tokens", "bob", json={"label": "ci"})
    assert issued.status_code == 201
    token_id, token = issued.json()["token_id"], issued.json()["token"]
    acme.tokens["bob-ci"] = token
    assert acme.get(f"/v1/tenants/{TENANT}", "bob-ci").status_code == 200
    assert acme.delete(f"/v1/tenants/{TENANT}/tokens/{token_id}", "bob").status_code == 200
    assert_problem(acme.get(f"/v1/tenants/{TENANT}", "bob-ci"), 401, "unauthenticated")
    assert_problem(acme.delete(f"/v1/tenants/{TENANT}/tokens/tok_nothing"), 404, "not_found")
    assert acme.post(f"/v1/tenants/{TENANT}/tokens", "bob").status_code == 201  # the body is optional
    assert_problem(acme.post(f"/v1/tenants/{TENANT}/tokens", "operator"), 403, "forbidden")
