"""Issue 6 over HTTP, on SQLite and PostgreSQL: custom roles (R-P7), restrictions (R-P8), role grants (R-P9),
reporting lines and teams (R-H1), resource trees (R-H2); each answer shaped as API.md writes it, each bad input
answering its code and recording nothing (R-X2), and checks explained with the new kinds of `via`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from tests.api.http.client import TENANT, Api, assert_problem

T = f"/v1/tenants/{TENANT}"
ROLES, RESTRICTIONS, GRANTS, CHECK = f"{T}/roles", f"{T}/restrictions", f"{T}/grants", f"{T}/check"


def at(acme: Api, minutes: int) -> str:
    """Set the manual clock `minutes` after the system time (R-K2); the instant as the API wrote it."""
    now = (datetime.now().astimezone() + timedelta(minutes=minutes)).isoformat()
    answer = acme.post("/v1/clock", "operator", json={"now": now})
    assert answer.status_code == 200, answer.text
    return answer.json()["now"]


@contextmanager
def records_nothing(acme: Api) -> Iterator[None]:
    """R-X2: the requests inside add no audit entry (no event)."""
    before = len(acme.events())
    yield
    assert len(acme.events()) == before


def role_body(role_id: str, includes: list[str] | None = None, permissions: list[Any] | None = None) -> dict:
    return {"role_id": role_id, "name": role_id.title(), "includes": includes or [], "permissions": permissions or []}


def check(acme: Api, user_id: str, permission: str, resource: str | None = None, **params: Any) -> dict[str, Any]:
    query = {"user_id": user_id, "permission": permission, **params}
    if resource:
        query["resource_type"], query["resource_id"] = resource.split(":", 1)
    answer = acme.get(CHECK, params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_R_P7_roles_answer_as_api_md_writes(acme: Api) -> None:
    acme.add_member("bob")
    body = role_body("closer", ["broker"], [{"permission": "leads.assign", "scope": "team"}])
    defined = acme.post(ROLES, json=body)
    assert defined.status_code == 201
    assert defined.json() == {
        "role": {
            "role_id": "closer",
            "name": "Closer",
            "builtin": False,
            "includes": ["broker"],
            "permissions": [{"permission": "leads.assign", "scope": "team"}],
        },
        "position": int(defined.headers["X-Position"]),
    }
    listed = acme.get(ROLES, "bob").json()
    assert listed["next_cursor"] is None and listed["items"][-1]["role_id"] == "closer"
    assert acme.get(f"{ROLES}/closer", "bob").json() == defined.json()["role"]
    changed = acme.put(f"/v1/tenants/{TENANT}/members/bob/role", json={"role": "closer"})
    assert changed.json()["member"]["role"] == "closer"
    assert check(acme, "bob", "leads.assign")["via"] == [{"kind": "role", "role": "closer"}]
    deleted = acme.post(ROLES, json=role_body("spare"))
    assert acme.delete(f"{ROLES}/spare").json() == {"position": deleted.json()["position"] + 1}


def test_R_P7_R_X2_bad_role_commands_answer_their_code_and_record_nothing(acme: Api) -> None:
    acme.add_member("bob")
    acme.post(ROLES, json=role_body("aa"))
    acme.post(ROLES, json=role_body("bb", ["aa"]))
    acme.put(f"/v1/tenants/{TENANT}/members/bob/role", json={"role": "bb"})
    with records_nothing(acme):
        assert_problem(acme.put(f"{ROLES}/aa", json=role_body("aa", ["bb"])), 422, "validation_error")  # role_id
        cycle = {"name": "A", "includes": ["bb"], "permissions": []}
        assert_problem(acme.put(f"{ROLES}/aa", json=cycle), 409, "role_cycle")
        assert_problem(acme.post(ROLES, json=role_body("cc", ["wizard"])), 422, "validation_error")
        unknown = [{"permission": "leads.fly", "scope": "all"}]
        assert_problem(acme.post(ROLES, json=role_body("cc", permissions=unknown)), 422, "validation_error")
        untyped = [{"permission": "users.manage", "scope": "team"}]
        assert_problem(acme.post(ROLES, json=role_body("cc", permissions=untyped)), 422, "validation_error")
        never = [{"permission": "subscription.cancel", "scope": "all"}]
        assert_problem(acme.post(ROLES, json=role_body("cc", permissions=never)), 409, "not_grantable")
        assert_problem(acme.post(ROLES, json=role_body("cc", ["owner"])), 409, "owner_immutable")
        assert_problem(acme.post(ROLES, json=role_body("admin")), 422, "validation_error")
        assert_problem(acme.post(ROLES, json=role_body("A!")), 422, "validation_error")
        assert_problem(acme.post(ROLES, json=role_body("aa")), 409, "conflict")
        builtin = {"name": "Admin", "includes": [], "permissions": []}
        assert_problem(acme.put(f"{ROLES}/admin", json=builtin), 422, "validation_error")
        assert_problem(acme.delete(f"{ROLES}/admin"), 422, "validation_error")
        assert_problem(acme.put(f"{ROLES}/nope", json=builtin), 404, "not_found")
        assert_problem(acme.delete(f"{ROLES}/nope"), 404, "not_found")
        assert_problem(acme.delete(f"{ROLES}/bb"), 409, "role_in_use")  # bob holds it
        assert_problem(acme.delete(f"{ROLES}/aa"), 409, "role_in_use")  # bb includes it
        assert_problem(
            acme.put(f"/v1/tenants/{TENANT}/members/bob/role", json={"role": "wizard"}), 422, "validation_error"
        )
        refused = assert_problem(acme.post(ROLES, "bob", json=role_body("dd")), 403, "forbidden")
        assert refused["missing_permission"] == "permissions.manage"


def test_R_P6_an_admin_cannot_define_or_give_what_they_do_not_hold(acme: Api) -> None:
    acme.add_member("ada", role="admin")
    acme.add_member("bob")
    acme.post(RESTRICTIONS, json={"user_id": "ada", "permission": "leads.booster"})
    with records_nothing(acme):
        booster = [{"permission": "leads.booster", "scope": "all"}]
        assert_problem(acme.post(ROLES, "ada", json=role_body("booster", permissions=booster)), 403, "escalation")
        assert_problem(acme.post(ROLES, "ada", json=role_body("mgr", ["manager"])), 403, "escalation")
        role_grant = {
            "user_id": "bob",
            "role": "manager",
            "scope": "resource",
            "resource": {"type": "account", "id": "A"},
        }
        assert_problem(acme.post(GRANTS, "ada", json=role_grant), 403, "escalation")
        grant = {"user_id": "bob", "permission": "leads.booster", "scope": "team"}
        assert_problem(acme.post(GRANTS, "ada", json=grant), 403, "escalation")
        assert_problem(acme.put(f"{T}/members/bob/role", "ada", json={"role": "manager"}), 403, "escalation")
    assert (
        acme.post(
            ROLES, "ada", json=role_body("lister", permissions=[{"permission": "leads.list", "scope": "all"}])
        ).status_code
        == 201
    )


def test_R_P8_restrictions_answer_as_api_md_writes(acme: Api) -> None:
    acme.add_member("bob", role="manager")
    added = acme.post(
        RESTRICTIONS,
        json={
            "user_id": "bob",
            "permission": "leads.view_details",
            "scope": "resource",
            "resource": {"type": "lead", "id": "L-1"},
        },
    )
    assert added.status_code == 201, added.text
    restriction = added.json()["restriction"]
    restriction_id = restriction["restriction_id"]
    assert restriction == {
        "restriction_id": restriction_id,
        "user_id": "bob",
        "permission": "leads.view_details",
        "scope": "resource",
        "resource": {"type": "lead", "id": "L-1"},
        "created_by": "olga",
        "created_at": restriction["created_at"],
        "status": "active",
    }
    denied = check(acme, "bob", "leads.booster", "lead:L-1")
    assert (denied["allowed"], denied["reason"], denied["restriction_id"]) == (False, "restricted", restriction_id)
    assert check(acme, "bob", "leads.booster", "lead:L-2")["allowed"] is True
    assert acme.get(RESTRICTIONS, params={"user_id": "bob", "status": "active"}).json()["items"] == [restriction]
    assert acme.get(RESTRICTIONS, params={"status": "lifted"}).json()["items"] == []
    assert_problem(acme.get(RESTRICTIONS, params={"status": "gone"}), 422, "validation_error")
    held = {p["permission"]: p for p in acme.get(f"{T}/members/bob/permissions").json()["permissions"]}
    withdrawn = [{"restriction_id": restriction_id, "scope": "resource", "resource": {"type": "lead", "id": "L-1"}}]
    assert held["leads.booster"] == {"permission": "leads.booster", "scope": "all", "restrictions": withdrawn}
    csv = acme.get(f"{T}/access-report", params={"format": "csv"}).text.splitlines()
    assert csv[0].endswith(",resources,restricted")
    assert f"bob,bob@acme.example,Bob,manager,leads.booster,all,,{restriction_id} resource lead:L-1" in csv
    lifted = acme.delete(f"{RESTRICTIONS}/{restriction_id}")
    assert lifted.json()["restriction"] == {**restriction, "status": "lifted"}
    assert check(acme, "bob", "leads.booster", "lead:L-1")["allowed"] is True
    permissions = acme.get(f"{T}/members/bob/permissions").json()["permissions"]
    assert {"permission": "leads.booster", "scope": "all"} in permissions


def test_R_P8_R_X2_bad_restrictions_answer_their_code_and_record_nothing(acme: Api) -> None:
    acme.add_member("bob")
    with records_nothing(acme):
        assert_problem(
            acme.post(RESTRICTIONS, json={"user_id": "olga", "permission": "leads.list"}), 409, "owner_immutable"
        )
        assert_problem(
            acme.post(RESTRICTIONS, json={"user_id": "bob", "permission": "leads.fly"}), 422, "validation_error"
        )
        wrong_type = {
            "user_id": "bob",
            "permission": "billing.view",
            "scope": "resource",
            "resource": {"type": "account", "id": "A"},
        }
        assert_problem(acme.post(RESTRICTIONS, json=wrong_type), 422, "validation_error")
        assert_problem(acme.post(RESTRICTIONS, json={"user_id": "zed", "permission": "leads.list"}), 404, "not_found")
        assert_problem(acme.delete(f"{RESTRICTIONS}/restr_99"), 404, "not_found")
        refused = assert_problem(acme.get(RESTRICTIONS, "bob"), 403, "forbidden")
        assert refused["missing_permission"] == "permissions.manage"


def test_R_P9_R_H2_resources_role_grants_and_moves(acme: Api) -> None:
    acme.add_member("mia", role="marketing")
    first = at(acme, 1)
    at(acme, 2)
    put = acme.put(f"{T}/resources/lead/L-1", json={"parent": {"type": "location", "id": "B"}})
    assert put.json() == {
        "resource": {"type": "lead", "id": "L-1", "parent": {"type": "location", "id": "B"}},
        "position": int(put.headers["X-Position"]),
    }
    acme.put(f"{T}/resources/location/B", json={"parent": {"type": "account", "id": "A"}})
    body = {"user_id": "mia", "role": "manager", "scope": "resource", "resource": {"type": "account", "id": "A"}}
    granted = acme.post(GRANTS, json=body)
    assert granted.status_code == 201
    grant = granted.json()["grant"]
    assert (grant["role"], grant["permission"], grant["scope"]) == ("manager", None, "resource")
    allowed = check(acme, "mia", "leads.view_details", "lead:L-1")
    assert allowed["via"] == [
        {"kind": "role_grant", "grant_id": grant["grant_id"], "resource": {"type": "account", "id": "A"}}
    ]
    under_a = at(acme, 3)
    at(acme, 4)
    acme.put(f"{T}/resources/location/B", json={"parent": None})
    assert check(acme, "mia", "leads.view_details", "lead:L-1")["reason"] == "not_permitted"
    assert check(acme, "mia", "leads.view_details", "lead:L-1", as_of=under_a)["allowed"] is True
    node = acme.get(f"{T}/resources/lead/L-1", "mia")
    assert node.json() == {
        "type": "lead",
        "id": "L-1",
        "parent": {"type": "location", "id": "B"},
        "ancestors": [{"type": "location", "id": "B"}],
    }
    then = acme.get(f"{T}/resources/lead/L-1", "mia", params={"as_of": under_a}).json()
    assert then["ancestors"] == [{"type": "location", "id": "B"}, {"type": "account", "id": "A"}]
    assert acme.get(f"{T}/resources/lead/L-1", params={"as_of": first}).json()["parent"] is None
    with records_nothing(acme):
        cycle = {"parent": {"type": "lead", "id": "L-1"}}
        assert_problem(acme.put(f"{T}/resources/location/B", json=cycle), 409, "hierarchy_cycle")
        assert_problem(acme.put(f"{T}/resources/lead/L-1", json=cycle), 409, "hierarchy_cycle")
        scoped = {**body, "scope": "all", "resource": None}
        assert_problem(acme.post(GRANTS, json=scoped), 422, "validation_error")
        assert_problem(acme.post(GRANTS, json={**body, "role": "owner"}), 409, "owner_immutable")
        assert_problem(acme.post(GRANTS, json={**body, "role": "wizard"}), 422, "validation_error")
        wrong_type = {
            "user_id": "mia",
            "permission": "billing.view",
            "scope": "resource",
            "resource": {"type": "account", "id": "A"},
        }
        assert_problem(acme.post(GRANTS, json=wrong_type), 422, "validation_error")
        refused = assert_problem(acme.put(f"{T}/resources/lead/L-2", "mia", json={"parent": None}), 403, "forbidden")
        assert refused["missing_permission"] == "settings.manage"


def test_R_H1_managers_teams_and_scope_team(acme: Api) -> None:
    for user in ("bob", "carl", "dina"):
        acme.add_member(user)
    first = at(acme, 1)
    at(acme, 2)
    changed = acme.put(f"{T}/members/dina/manager", json={"reports_to": "carl"})
    assert changed.json()["member"]["reports_to"] == "carl"
    acme.put(f"{T}/members/carl/manager", json={"reports_to": "bob"})
    acme.post(f"{T}/assignments", json={"resource_type": "lead", "resource_ids": ["L-7"], "user_id": "dina"})
    acme.post(GRANTS, json={"user_id": "bob", "permission": "leads.view_details", "scope": "team"})
    allowed = check(acme, "bob", "leads.view_details", "lead:L-7")
    assert (allowed["scope"], allowed["via"][-1]) == ("team", {"kind": "team", "user_id": "dina"})
    team = acme.get(f"{T}/members/bob/team", "bob").json()
    assert [m["user_id"] for m in team["items"]] == ["carl", "dina"] and team["next_cursor"] is None
    in_team = at(acme, 3)
    at(acme, 4)
    acme.delete(f"{T}/members/carl")  # dina moves up to bob (R-H1)
    assert acme.get(f"{T}/members/dina").json()["reports_to"] == "bob"
    assert [m["user_id"] for m in acme.get(f"{T}/members/bob/team").json()["items"]] == ["dina"]
    then = acme.get(f"{T}/members/bob/team", params={"as_of": in_team}).json()["items"]
    assert [(m["user_id"], m["reports_to"]) for m in then] == [("carl", "bob"), ("dina", "carl")]
    assert acme.get(f"{T}/members/bob/team", params={"as_of": first}).json()["items"] == []
    assert check(acme, "bob", "leads.view_details", "lead:L-7")["via"][-1] == {"kind": "team", "user_id": "dina"}
    with records_nothing(acme):
        assert_problem(acme.put(f"{T}/members/bob/manager", json={"reports_to": "dina"}), 409, "hierarchy_cycle")
        assert_problem(acme.put(f"{T}/members/bob/manager", json={"reports_to": "bob"}), 409, "hierarchy_cycle")
        assert_problem(acme.put(f"{T}/members/olga/manager", json={"reports_to": "bob"}), 409, "hierarchy_cycle")
        assert_problem(acme.put(f"{T}/members/bob/manager", json={"reports_to": "zed"}), 404, "not_found")
        assert_problem(acme.put(f"{T}/members/zed/manager", json={"reports_to": None}), 404, "not_found")
        assert_problem(acme.put(f"{T}/members/bob/manager", json={}), 422, "validation_error")
        refused = assert_problem(
            acme.put(f"{T}/members/dina/manager", "bob", json={"reports_to": None}), 403, "forbidden"
        )
        assert refused["missing_permission"] == "users.manage"
