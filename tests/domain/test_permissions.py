"""Roles, catalog, scopes, implications (R-P2…R-P5) and no escalation (R-P6), on plain data and on the aggregate."""

from __future__ import annotations

import pytest

from domain.effective_access import held_scopes, holds
from domain.permissions import (
    BUILTIN_ROLES,
    CATALOG,
    NEVER_GRANTABLE,
    SCOPES,
    expand_grant,
    implied_closure,
    implying,
    is_builtin_role,
    is_permission,
    resource_type_of,
    role_includes,
    role_permissions,
    scope_covers,
    widest,
)
from tests.domain.helpers import OWNER, Sim, lead

MARKETING = {
    "marketing.acquisition_booster",
    "marketing.ai_studio",
    "marketing.lead_magnets",
    "marketing.landing_pages",
    "marketing.materials",
}
LEADS = {"leads.list", "leads.view_details", "leads.booster", "leads.assign"}
ADMIN_ADDS = {
    "settings.manage",
    "users.manage",
    "permissions.manage",
    "addons.purchase",
    "addons.cancel",
    "billing.view",
    "audit.read",
}


# ----------------------------------------------------------------- R-P3 catalog


def test_R_P3_catalog_is_exactly_the_spec_list_with_resource_types() -> None:
    assert set(CATALOG) == MARKETING | LEADS | ADMIN_ADDS | {"contacts.create", "subscription.cancel"}
    assert {p for p, t in CATALOG.items() if t is not None} == LEADS
    assert all(resource_type_of(p) == "lead" for p in LEADS)
    assert resource_type_of("contacts.create") is None
    assert is_permission("leads.list") and not is_permission("leads.delete")


# ----------------------------------------------------------------- R-P2 built-in roles


def test_R_P2_six_builtin_roles() -> None:
    assert set(BUILTIN_ROLES) == {"marketing", "broker", "manager", "admin", "owner", "auditor"}
    assert all(is_builtin_role(r) for r in BUILTIN_ROLES)
    assert not is_builtin_role("superuser")


def test_R_P2_marketing_lists_all_leads_but_sees_no_details() -> None:
    held = role_permissions("marketing")
    assert held == {**{p: "all" for p in MARKETING}, "leads.list": "all"}
    assert "leads.view_details" not in held


def test_R_P2_broker_works_assigned_leads_only_and_creates_contacts() -> None:
    assert role_permissions("broker") == {
        "leads.list": "assigned",
        "leads.view_details": "assigned",
        "leads.booster": "assigned",
        "contacts.create": "all",
    }


def test_R_P2_manager_includes_marketing_and_broker_and_adds_all_leads() -> None:
    assert role_includes("manager") == {"manager", "marketing", "broker"}
    held = role_permissions("manager")
    assert {p: held[p] for p in LEADS} == {p: "all" for p in LEADS}
    assert all(held[p] == "all" for p in MARKETING)
    assert held["contacts.create"] == "all"
    assert set(held) == MARKETING | LEADS | {"contacts.create"}


def test_R_P2_admin_is_manager_plus_administration() -> None:
    assert role_includes("admin") == {"admin", "manager", "marketing", "broker"}
    held = role_permissions("admin")
    assert set(held) == set(role_permissions("manager")) | ADMIN_ADDS
    assert "subscription.cancel" not in held
    assert all(scope == "all" for scope in held.values())


def test_R_P2_owner_is_admin_plus_subscription_cancel() -> None:
    assert role_includes("owner") == {"owner", "admin", "manager", "marketing", "broker"}
    assert role_permissions("owner") == {**role_permissions("admin"), "subscription.cancel": "all"}


def test_R_P2_auditor_reads_audit_and_billing_only() -> None:
    assert role_includes("auditor") == {"auditor"}
    assert role_permissions("auditor") == {"audit.read": "all", "billing.view": "all"}


@pytest.mark.parametrize(("role", "below"), [("manager", "marketing"), ("manager", "broker"), ("admin", "manager")])
def test_R_P2_a_role_holds_everything_of_the_roles_below_at_that_scope_or_wider(role: str, below: str) -> None:
    upper = role_permissions(role)
    for permission, scope in role_permissions(below).items():
        assert scope_covers(upper[permission], scope)


def test_R_P2_unknown_role_gives_nothing() -> None:
    assert role_permissions("nobody") == {}


# ----------------------------------------------------------------- R-P4 scopes


def test_R_P4_scopes_are_ordered_resource_assigned_team_all() -> None:
    assert SCOPES == ("resource", "assigned", "team", "all")


@pytest.mark.parametrize("held", SCOPES)
@pytest.mark.parametrize("wanted", SCOPES)
def test_R_P4_a_scope_covers_itself_and_every_narrower_one(held: str, wanted: str) -> None:
    assert scope_covers(held, wanted) == (SCOPES.index(held) >= SCOPES.index(wanted))


def test_R_P4_widest() -> None:
    assert widest([]) is None
    assert widest(["assigned", "resource"]) == "assigned"
    assert widest(["resource", "all", "team"]) == "all"


# ----------------------------------------------------------------- R-P5 implications


def test_R_P5_implication_closure() -> None:
    assert implied_closure("leads.booster") == {"leads.booster", "leads.view_details", "leads.list"}
    assert implied_closure("leads.view_details") == {"leads.view_details", "leads.list"}
    assert implied_closure("leads.assign") == {"leads.assign", "leads.list"}
    assert implied_closure("leads.list") == {"leads.list"}
    assert implied_closure("users.manage") == {"users.manage"}


def test_R_P5_implying_is_the_inverse_of_the_closure() -> None:
    assert implying("leads.list") == LEADS
    assert implying("leads.view_details") == {"leads.view_details", "leads.booster"}
    assert implying("audit.read") == {"audit.read"}


def test_R_P5_granting_a_permission_grants_what_it_implies_on_the_same_scope() -> None:
    assert expand_grant("leads.booster", "assigned") == {
        "leads.booster": "assigned",
        "leads.view_details": "assigned",
        "leads.list": "assigned",
    }
    sim = Sim()
    sim.add("mia", "marketing")
    sim.grant("mia", "leads.booster", "resource", lead("L-1"))
    assert holds(sim.tenant, "mia", "leads.view_details", "resource", ("lead", "L-1"))
    assert not holds(sim.tenant, "mia", "leads.view_details", "resource", ("lead", "L-2"))


def test_R_P5_a_role_holds_the_implied_permissions_at_the_same_scope() -> None:
    assert role_permissions("broker")["leads.list"] == "assigned"
    assert set(NEVER_GRANTABLE) == {"subscription.cancel"}


# ----------------------------------------------------------------- R-P6 no escalation (aggregate)


def test_R_P6_admins_can_create_admins() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    sim.add("abe", "admin", by="ann")
    assert sim.tenant.members["abe"].role == "admin"


def test_R_P6_holder_of_users_manage_cannot_give_a_role_wider_than_their_own() -> None:
    sim = Sim()
    sim.add("mia", "marketing")
    sim.grant("mia", "users.manage")
    sim.add("max", "marketing", by="mia")  # marketing gives nothing mia lacks
    error = sim.expect_rejection(
        "escalation",
        "mia",
        "add_member",
        user_id="bob",
        email="bob@acme.example",
        name="Bob",
        role="broker",
        token_id="t",
        token_hash="h",
    )
    assert error.fields["permission"] in role_permissions("broker")
    sim.expect_rejection("escalation", "mia", "change_role", "max", "admin")
    sim.expect_rejection("escalation", "mia", "invite", email="x@acme.example", role="manager", token_hash="h")


def test_R_P6_a_grant_cannot_exceed_the_grantors_scope() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("bob", "broker")
    sim.grant("bea", "permissions.manage")
    # bea holds leads.view_details only on leads assigned to her.
    sim.expect_rejection(
        "escalation",
        "bea",
        "grant",
        user_id="bob",
        permission="leads.view_details",
        scope="all",
        resource=None,
        expires_at=None,
    )
    sim.grant("bob", "leads.view_details", "assigned", by="bea")  # assigned covers assigned
    sim.expect_rejection(
        "escalation",
        "bea",
        "grant",
        user_id="bob",
        permission="leads.view_details",
        scope="resource",
        resource=lead("L-1"),
        expires_at=None,
    )
    sim.assign("bea", "L-1")
    grant_id = sim.grant("bob", "leads.view_details", "resource", lead("L-1"), by="bea")
    assert sim.tenant.grants[grant_id].granted_by == "bea"
    # bea's assigned scope no longer covers L-1 once it moves to someone else (R-P6).
    sim.assign("bob", "L-1")
    sim.expect_rejection(
        "escalation",
        "bea",
        "grant",
        user_id="bob",
        permission="leads.booster",
        scope="resource",
        resource=lead("L-1"),
        expires_at=None,
    )


def test_R_P6_nobody_can_give_a_permission_they_do_not_hold_even_narrowly() -> None:
    sim = Sim()
    sim.add("aud", "auditor")
    sim.add("mia", "marketing")
    sim.grant("aud", "permissions.manage")
    sim.expect_rejection(
        "escalation",
        "aud",
        "grant",
        user_id="mia",
        permission="leads.assign",
        scope="resource",
        resource=lead("L-9"),
        expires_at=None,
    )
    sim.grant("mia", "billing.view", by="aud")


def test_R_P6_held_scopes_merge_role_and_grants_at_the_widest_scope() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.grant("bea", "leads.view_details", "resource", lead("L-1"))
    sim.grant("bea", "leads.list", "all")
    held = held_scopes(sim.tenant, "bea")
    assert held["leads.list"] == "all"
    assert held["leads.view_details"] == "assigned"
    assert held_scopes(sim.tenant, "ghost") == {}
    assert held_scopes(sim.tenant, OWNER) == role_permissions("owner")
