"""Roles (R-P2, R-P7), restrictions (R-P8), teams (R-H1) and resources (R-H2) over HTTP (more in
test_structure_routes.py)."""

from __future__ import annotations

from tests.api.http.client import TENANT, Api, assert_problem

ROLES = f"/v1/tenants/{TENANT}/roles"


def test_R_P2_builtin_roles_are_listed_for_members(acme: Api) -> None:
    acme.add_member("bob")
    roles = {r["role_id"]: r for r in acme.get(ROLES, "bob").json()["items"]}
    assert {"owner", "admin", "manager", "broker", "marketing", "auditor"} <= roles.keys()
    assert roles["admin"]["builtin"] is True and roles["admin"]["includes"] == ["manager"]
    broker = acme.get(f"{ROLES}/broker", "bob").json()
    assert {"permission": "leads.view_details", "scope": "assigned"} in broker["permissions"]
    assert_problem(acme.get(f"{ROLES}/wizard"), 404, "not_found")


def test_R_P8_restrictions_list_needs_permissions_manage(acme: Api) -> None:
    acme.add_member("bob")
    assert acme.get(f"/v1/tenants/{TENANT}/restrictions").json() == {"items": [], "next_cursor": None}
    refused = assert_problem(acme.get(f"/v1/tenants/{TENANT}/restrictions", "bob"), 403, "forbidden")
    assert refused["missing_permission"] == "permissions.manage"


def test_R_H1_everyone_reports_to_the_owner_by_default(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("carl")
    team = acme.get(f"/v1/tenants/{TENANT}/members/olga/team").json()["items"]
    assert [m["user_id"] for m in team] == ["bob", "carl"]
    assert acme.get(f"/v1/tenants/{TENANT}/members/bob/team", "bob").json()["items"] == []
    assert_problem(acme.get(f"/v1/tenants/{TENANT}/members/olga/team", "bob"), 403, "forbidden")
    assert_problem(acme.get(f"/v1/tenants/{TENANT}/members/nobody/team"), 404, "not_found")


def test_R_H2_a_resource_never_named_has_no_parent(acme: Api) -> None:
    answer = acme.get(f"/v1/tenants/{TENANT}/resources/lead/L-17")
    assert answer.json() == {"type": "lead", "id": "L-17", "parent": None, "ancestors": []}


def test_R_P7_define_redefine_and_delete_a_custom_role(acme: Api) -> None:
    body = {"role_id": "closer", "name": "Closer", "includes": ["broker"], "permissions": []}
    defined = acme.post(ROLES, json=body)
    assert defined.status_code == 201 and defined.json()["role"]["role_id"] == "closer"
    redefined = acme.put(f"{ROLES}/closer", json={"name": "Closer II", "includes": [], "permissions": []})
    assert redefined.status_code == 200 and redefined.json()["role"]["name"] == "Closer II"
    assert acme.delete(f"{ROLES}/closer").status_code == 200
    assert_problem(acme.get(f"{ROLES}/closer"), 404, "not_found")


def test_R_P8_restrict_and_lift(acme: Api) -> None:
    acme.add_member("bob")
    added = acme.post(f"/v1/tenants/{TENANT}/restrictions", json={"user_id": "bob", "permission": "contacts.create"})
    assert added.status_code == 201
    restriction_id = added.json()["restriction"]["restriction_id"]
    lifted = acme.delete(f"/v1/tenants/{TENANT}/restrictions/{restriction_id}")
    assert lifted.status_code == 200 and lifted.json()["restriction"]["status"] == "lifted"


def test_R_H1_set_a_manager(acme: Api) -> None:
    acme.add_member("bob")
    acme.add_member("carl")
    answer = acme.put(f"/v1/tenants/{TENANT}/members/carl/manager", json={"reports_to": "bob"})
    assert answer.status_code == 200 and answer.json()["member"]["reports_to"] == "bob"


def test_R_H2_set_a_parent(acme: Api) -> None:
    answer = acme.put(f"/v1/tenants/{TENANT}/resources/lead/L-1", json={"parent": {"type": "account", "id": "A"}})
    assert answer.status_code == 200
    assert answer.json()["resource"] == {"type": "lead", "id": "L-1", "parent": {"type": "account", "id": "A"}}
