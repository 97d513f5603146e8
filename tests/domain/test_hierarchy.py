"""Resource trees (R-H2), role grants on a resource (R-P9) and reporting lines with scope `team` (R-H1), on the
aggregate; no escalation (R-P6) through all of them."""

from __future__ import annotations

import pytest

from domain.effective_access import Access
from domain.tenant import events as ev
from domain.tenant import structure_events as ae
from tests.domain.access_world import (
    LEADS,
    can,
    chain,
    define,
    delegate,
    grant_args,
    pair,
    res,
    rights,
    role_grant,
    set_parent,
    world,
)
from tests.domain.helpers import OWNER, Sim, lead


def tree() -> Sim:
    """account:A > region:R > location:B > lead:L-1 (four levels), with lead:L-2 under location:C under region:R,
    lead:L-3 under account:Z, and lead:L-4 nowhere."""
    sim = world()
    chain(sim, "account:A", "region:R", "location:B", "lead:L-1")
    chain(sim, "region:R", "location:C", "lead:L-2")
    chain(sim, "account:Z", "lead:L-3")
    return sim


# ----------------------------------------------------------------- R-H2 resource trees


def test_R_H2_setting_a_parent_records_old_and_new_parent() -> None:
    sim = world()
    sim.do("ann", "set_resource_parent", "lead", "L-1", res("location:B"))
    [first] = sim.last
    assert isinstance(first, ae.ResourceParentSet)
    assert (first.resource_type, first.resource_id, first.old_parent, first.new_parent) == (
        "lead",
        "L-1",
        None,
        res("location:B"),
    )
    set_parent(sim, "lead:L-1", "location:C")
    [moved] = sim.last
    assert (moved.old_parent, moved.new_parent) == (res("location:B"), res("location:C"))
    assert sim.tenant.parents == {"lead:L-1": "location:C"}
    set_parent(sim, "lead:L-1", None)
    [cleared] = sim.last
    assert (cleared.old_parent, cleared.new_parent) == (res("location:C"), None)
    assert sim.tenant.parents == {}


def test_R_H2_setting_the_same_parent_again_records_nothing() -> None:
    sim = world()
    set_parent(sim, "lead:L-1", "location:B")
    set_parent(sim, "lead:L-1", "location:B")
    assert sim.last == []
    set_parent(sim, "lead:L-2", None)
    assert sim.last == []


def test_R_H2_parents_may_be_of_any_type_and_lineage_walks_up() -> None:
    sim = tree()
    assert Access(sim.tenant).lineage("lead", "L-1") == ["lead:L-1", "location:B", "region:R", "account:A"]
    assert Access(sim.tenant).lineage("lead", "L-4") == ["lead:L-4"]


def test_R_H2_setting_parents_needs_settings_manage() -> None:
    sim = world()
    error = sim.expect_rejection("forbidden", "mo", "set_resource_parent", "lead", "L-1", res("location:B"))
    assert error.fields == {"missing_permission": "settings.manage"}


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        ("account:A", "account:A"),  # itself
        ("account:A", "region:R"),  # its child
        ("account:A", "lead:L-1"),  # four levels below
        ("region:R", "location:C"),
    ],
)
def test_R_H2_a_parent_at_or_below_the_resource_is_a_cycle(child: str, parent: str) -> None:
    sim = tree()
    before = dict(sim.tenant.parents)
    sim.expect_rejection("hierarchy_cycle", OWNER, "set_resource_parent", *pair(child), res(parent))
    assert sim.tenant.parents == before


# ----------------------------------------------------------------- R-P9 role grants through the tree


def test_R_P9_a_role_grant_on_an_account_covers_every_lead_below_it_four_levels_down() -> None:
    sim = tree()
    grant_id = role_grant(sim, "mia", "manager", "account:A")
    [granted] = sim.last
    assert isinstance(granted, ev.PermissionGranted)
    assert (granted.grant_id, granted.role, granted.permission, granted.scope, granted.resource) == (
        grant_id,
        "manager",
        None,
        "resource",
        res("account:A"),
    )
    assert rights(sim, "mia", "lead:L-1") == set(LEADS)
    assert rights(sim, "mia", "lead:L-2") == set(LEADS)
    assert rights(sim, "mia", "lead:L-3") == {"leads.list"}  # marketing lists all leads, nothing more
    assert rights(sim, "mia", "lead:L-4") == {"leads.list"}


def test_R_P9_a_role_grant_on_a_location_covers_its_leads_only() -> None:
    sim = tree()
    role_grant(sim, "bea", "manager", "location:B")
    assert rights(sim, "bea", "lead:L-1") == set(LEADS)
    assert rights(sim, "bea", "lead:L-2") == set()


def test_R_P9_a_role_grant_gives_only_the_roles_resource_typed_permissions() -> None:
    sim = tree()
    role_grant(sim, "bea", "admin", "account:A")
    assert rights(sim, "bea", "lead:L-1") == set(LEADS)
    assert not can(sim, "bea", "users.manage")
    assert not can(sim, "bea", "marketing.ai_studio")
    assert not can(sim, "bea", "leads.view_details", scope="all")
    assert can(sim, "bea", "leads.assign")  # held somewhere, so commands needing it may look further
    assert Access(sim.tenant).held_scopes("bea")["leads.assign"] == "resource"


def test_R_P9_a_custom_role_granted_on_a_resource_gives_its_permissions_whatever_their_scope_in_the_role() -> None:
    sim = tree()
    define(sim, "booster", ("leads.booster", "assigned"), ("billing.view", "all"))
    role_grant(sim, "mia", "booster", "region:R")
    assert rights(sim, "mia", "lead:L-1") == {"leads.list", "leads.view_details", "leads.booster"}
    assert rights(sim, "mia", "lead:L-3") == {"leads.list"}
    assert not can(sim, "mia", "billing.view")


def test_R_P9_a_role_grant_on_a_lead_covers_that_lead() -> None:
    sim = tree()
    role_grant(sim, "bea", "manager", "lead:L-4")
    assert rights(sim, "bea", "lead:L-4") == set(LEADS)
    assert rights(sim, "bea", "lead:L-1") == set()


def test_R_P9_revoking_a_role_grant_ends_what_it_gave() -> None:
    sim = tree()
    grant_id = role_grant(sim, "bea", "manager", "account:A")
    sim.do(OWNER, "revoke_grant", grant_id)
    assert rights(sim, "bea", "lead:L-1") == set()


def test_R_P9_a_permission_grant_on_a_resource_covers_its_descendants_too() -> None:
    sim = tree()
    chain(sim, "lead:L-4", "lead:L-4a")
    sim.grant("bea", "leads.booster", "resource", lead("L-4"))
    assert rights(sim, "bea", "lead:L-4a") == {"leads.list", "leads.view_details", "leads.booster"}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"role": "manager", "scope": "all"}, "validation_error"),
        ({"role": "manager", "scope": "team"}, "validation_error"),
        ({"role": "manager", "scope": "resource", "resource": None}, "validation_error"),
        ({"role": "ghost", "scope": "resource", "resource": res("account:A")}, "validation_error"),
        ({"role": "auditor", "scope": "resource", "resource": res("account:A")}, "validation_error"),  # gives nothing
        (
            {"role": "manager", "permission": "leads.list", "scope": "resource", "resource": res("account:A")},
            "validation_error",
        ),
        ({"scope": "resource", "resource": res("account:A")}, "validation_error"),  # neither role nor permission
        ({"role": "owner", "scope": "resource", "resource": res("account:A")}, "owner_immutable"),
        ({"user_id": "ghost", "role": "manager", "scope": "resource", "resource": res("account:A")}, "not_found"),
    ],
)
def test_R_P9_bad_role_grants(overrides: dict, code: str) -> None:
    sim = tree()
    sim.expect_rejection(code, OWNER, "grant", **grant_args(sim, **overrides))


def test_R_H2_a_permission_granted_on_a_container_covers_the_leads_below_it_and_only_them() -> None:
    sim = tree()
    sim.add("gus", "auditor")
    on_a = grant_args(sim, user_id="gus", permission="leads.view_details", scope="resource", resource=res("account:A"))
    sim.do(OWNER, "grant", **on_a)
    assert rights(sim, "gus", "lead:L-1") == {"leads.view_details", "leads.list"}  # and what it implies (R-P5)
    assert rights(sim, "gus", "lead:L-3") == set()  # under account:Z
    set_parent(sim, "location:B", None)  # L-1 leaves A with its location
    assert rights(sim, "gus", "lead:L-1") == set()
    sim.expect_rejection(
        "validation_error",
        OWNER,
        "grant",
        **grant_args(sim, permission="billing.view", scope="resource", resource=res("account:A")),
    )


# ----------------------------------------------------------------- R-H2 moving a resource moves its coverage


def test_R_H2_moving_a_resource_moves_what_covers_it() -> None:
    sim = tree()
    role_grant(sim, "bea", "manager", "account:A")
    role_grant(sim, "mia", "broker", "account:Z")
    assert rights(sim, "bea", "lead:L-1") == set(LEADS)
    set_parent(sim, "location:B", "account:Z")  # L-1 travels with its location
    assert rights(sim, "bea", "lead:L-1") == set()
    assert rights(sim, "mia", "lead:L-1") == {"leads.list", "leads.view_details", "leads.booster"}
    assert rights(sim, "bea", "lead:L-2") == set(LEADS)  # its sibling stayed
    set_parent(sim, "location:B", None)
    assert rights(sim, "mia", "lead:L-1") == {"leads.list"}


def test_R_H2_moving_a_resource_moves_a_resource_restriction_on_an_ancestor_too() -> None:
    sim = tree()
    chain(sim, "lead:L-4", "lead:L-4a")
    sim.do(OWNER, "restrict", user_id="mo", permission="leads.view_details", scope="resource", resource=lead("L-4"))
    assert rights(sim, "mo", "lead:L-4a") == {"leads.list", "leads.assign"}
    set_parent(sim, "lead:L-4a", None)
    assert rights(sim, "mo", "lead:L-4a") == set(LEADS)


# ----------------------------------------------------------------- R-P6 through role grants


def deputy(sim: Sim, user_id: str = "dan", role: str = "broker") -> None:
    sim.add(user_id, role)
    delegate(sim, user_id, "permissions.manage")


def test_R_P6_R_P9_nobody_grants_a_role_carrying_more_than_they_hold_there() -> None:
    sim = tree()
    deputy(sim)
    error = sim.expect_rejection(
        "escalation", "dan", "grant", **grant_args(sim, role="manager", scope="resource", resource=res("account:A"))
    )
    assert error.fields["scope"] == "resource"
    sim.expect_rejection(
        "escalation", "dan", "grant", **grant_args(sim, role="broker", scope="resource", resource=res("account:A"))
    )


def test_R_P6_R_P9_a_role_granted_on_a_container_can_be_passed_on_at_or_below_it_only() -> None:
    sim = tree()
    deputy(sim)
    role_grant(sim, "dan", "manager", "account:A")
    role_grant(sim, "bea", "manager", "location:B", by="dan")
    role_grant(sim, "bea", "broker", "account:A", by="dan")
    sim.grant("bea", "leads.booster", "resource", lead("L-2"), by="dan")
    sim.expect_rejection(
        "escalation", "dan", "grant", **grant_args(sim, role="manager", scope="resource", resource=res("account:Z"))
    )
    sim.expect_rejection(
        "escalation",
        "dan",
        "grant",
        **grant_args(sim, permission="leads.booster", scope="resource", resource=lead("L-3")),
    )
    sim.expect_rejection("escalation", "dan", "grant", **grant_args(sim, permission="leads.list", scope="all"))


def test_R_P6_R_P9_an_assigned_container_gives_its_assignee_nothing_on_the_leads_below_it() -> None:
    """`assigned` covers resources assigned to the member: a location assigned to a broker does not make the leads
    under it theirs, so they cannot give a role there."""
    sim = tree()
    deputy(sim)
    sim.do(OWNER, "assign", "location", ["B"], "dan")
    assert rights(sim, "dan", "lead:L-1") == set()
    sim.expect_rejection(
        "escalation", "dan", "grant", **grant_args(sim, role="broker", scope="resource", resource=res("location:B"))
    )


def test_R_P6_R_P9_a_restriction_below_a_container_blocks_a_role_grant_on_it() -> None:
    sim = tree()
    deputy(sim, role="manager")
    sim.do(OWNER, "restrict", user_id="dan", permission="leads.booster", scope="resource", resource=lead("L-1"))
    sim.expect_rejection(
        "escalation", "dan", "grant", **grant_args(sim, role="manager", scope="resource", resource=res("region:R"))
    )
    sim.expect_rejection(
        "escalation", "dan", "grant", **grant_args(sim, role="manager", scope="resource", resource=res("lead:L-1"))
    )
    role_grant(sim, "bea", "manager", "location:C", by="dan")
    role_grant(sim, "bea", "marketing", "region:R", by="dan")  # leads.list only: not restricted


def test_R_P6_R_P9_an_assignment_restriction_of_a_lead_below_a_container_blocks_a_role_grant_on_it() -> None:
    sim = tree()
    deputy(sim, role="manager")
    sim.assign("dan", "L-2")
    sim.do(OWNER, "restrict", user_id="dan", permission="leads.booster", scope="assigned")
    sim.expect_rejection(
        "escalation", "dan", "grant", **grant_args(sim, role="manager", scope="resource", resource=res("location:C"))
    )
    role_grant(sim, "bea", "manager", "location:B", by="dan")
