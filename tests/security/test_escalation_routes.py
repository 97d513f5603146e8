"""R-P10 over HTTP: no command lets anyone do what the actor could not (findings 1 and 2 of issue 13)."""

from __future__ import annotations

from tests.api.http.client import TENANT, Api, assert_problem
from tests.security.helpers import check, head

T = f"/v1/tenants/{TENANT}"
TEAMLEAD = {
    "role_id": "teamlead",
    "name": "Team lead",
    "includes": [],
    "permissions": [
        {"permission": "users.manage", "scope": "all"},
        {"permission": "leads.view_details", "scope": "team"},
    ],
}


def test_R_P10_finding1_a_restricted_admin_cannot_lift_their_own_restriction(acme: Api) -> None:
    acme.add_member("a2", "admin")
    added = acme.post(f"{T}/restrictions", json={"user_id": "a2", "permission": "audit.read"})
    assert added.status_code == 201, added.text
    restriction_id = added.json()["restriction"]["restriction_id"]
    before = head(acme)
    refused = assert_problem(acme.delete(f"{T}/restrictions/{restriction_id}", "a2"), 403, "escalation")
    assert refused["permission"] == "audit.read"
    assert head(acme) == before
    assert_problem(acme.get(f"{T}/audit", "a2"), 403, "forbidden")
    # The owner, who holds everything, lifts it.
    assert acme.delete(f"{T}/restrictions/{restriction_id}").status_code == 200
    assert acme.get(f"{T}/audit", "a2").status_code == 200


def test_R_P10_finding1_an_admin_cannot_lift_a_restriction_they_share(acme: Api) -> None:
    acme.add_member("a2", "admin")
    acme.add_member("a3", "admin")
    for user in ("a2", "a3"):
        assert acme.post(f"{T}/restrictions", json={"user_id": user, "permission": "billing.view"}).status_code == 201
    restrictions = acme.get(f"{T}/restrictions", params={"user_id": "a3"}).json()["items"]
    before = head(acme)
    assert_problem(acme.delete(f"{T}/restrictions/{restrictions[0]['restriction_id']}", "a2"), 403, "escalation")
    assert head(acme) == before


def test_R_P10_finding2_a_teamlead_cannot_move_a_broker_under_itself(acme: Api) -> None:
    assert acme.post(f"{T}/roles", json=TEAMLEAD).status_code == 201
    acme.add_member("tl", "teamlead")
    acme.add_member("bob", "broker")
    assigned = acme.post(f"{T}/assignments", json={"resource_type": "lead", "resource_ids": ["L-1"], "user_id": "bob"})
    assert assigned.status_code == 200, assigned.text
    before = head(acme)
    refused = acme.put(f"{T}/members/bob/manager", "tl", json={"reports_to": "tl"})
    body = assert_problem(refused, 403, "escalation")
    assert body["permission"].startswith("leads.")
    assert head(acme) == before
    assert check(acme, "tl", "leads.view_details", "lead:L-1")["allowed"] is False
    # The owner may: she holds every lead.
    assert acme.put(f"{T}/members/bob/manager", json={"reports_to": "tl"}).status_code == 200
    assert check(acme, "tl", "leads.view_details", "lead:L-1")["allowed"] is True


def test_R_P10_finding2_a_role_grant_holder_cannot_move_a_lead_into_its_reach(acme: Api) -> None:
    organizer = {
        "role_id": "organizer",
        "name": "Organizer",
        "includes": [],
        "permissions": [{"permission": "settings.manage", "scope": "all"}],
    }
    assert acme.post(f"{T}/roles", json=organizer).status_code == 201
    acme.add_member("org", "organizer")
    grant = {"user_id": "org", "role": "manager", "scope": "resource", "resource": {"type": "account", "id": "ACC-2"}}
    assert acme.post(f"{T}/grants", json=grant).status_code == 201
    before = head(acme)
    moved = acme.put(f"{T}/resources/lead/L-9", "org", json={"parent": {"type": "account", "id": "ACC-2"}})
    assert_problem(moved, 403, "escalation")
    assert head(acme) == before
    assert check(acme, "org", "leads.view_details", "lead:L-9")["allowed"] is False
    # Moving a lead it already reaches stays allowed (nobody gains anything).
    assert (
        acme.put(
            f"{T}/resources/location/LOC-1", "org", json={"parent": {"type": "account", "id": "ACC-2"}}
        ).status_code
        == 200
    )


def test_R_P10_a_member_cannot_widen_a_role_they_hold(acme: Api) -> None:
    designer = {
        "role_id": "designer",
        "name": "Designer",
        "includes": [],
        "permissions": [{"permission": "permissions.manage", "scope": "all"}],
    }
    assert acme.post(f"{T}/roles", json=designer).status_code == 201
    acme.add_member("dee", "designer")
    before = head(acme)
    wider = {**designer, "permissions": [*designer["permissions"], {"permission": "billing.view", "scope": "all"}]}
    wider.pop("role_id")
    assert_problem(acme.put(f"{T}/roles/designer", "dee", json=wider), 403, "escalation")
    assert head(acme) == before
