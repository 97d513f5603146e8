"""Custom roles (R-P7) under no escalation (R-P6): nobody defines, redefines or hands out a role carrying more
than they hold; min_admins (R-M4) on redefinition."""

from __future__ import annotations

import pytest

from domain.effective_access import Access
from domain.tenant import structure_events as ae
from tests.domain.access_world import (
    can,
    define,
    definition,
    delegate,
    grant_args,
    redefine,
    res,
    restrict,
    role_grant,
    world,
)
from tests.domain.helpers import OWNER, Sim

VIEWER = (("leads.view_details", "team"), ("billing.view", "all"))


# ----------------------------------------------------------------- R-P6 no escalation


def deputy_world() -> Sim:
    """dan: a broker who manages users and permissions by grant (an admin with a narrow role)."""
    sim = world()
    sim.add("dan", "broker")
    delegate(sim, "dan", "users.manage", "permissions.manage")
    return sim


@pytest.mark.parametrize(
    ("pairs", "includes", "missing"),
    [
        # the first missing permission in name order is named: leads.list, implied by leads.view_details
        ((("leads.view_details", "all"),), (), ("leads.list", "all")),
        ((("leads.view_details", "team"),), (), ("leads.list", "team")),
        ((("billing.view", "all"),), (), ("billing.view", "all")),
        ((), ("manager",), None),
        ((), ("auditor",), None),
    ],
)
def test_R_P6_R_P7_nobody_defines_a_role_carrying_more_than_they_hold(
    pairs: tuple, includes: tuple, missing: tuple | None
) -> None:
    sim = deputy_world()
    error = sim.expect_rejection(
        "escalation", "dan", "define_role", role_id="more", **definition(*pairs, includes=includes)
    )
    if missing:
        assert (error.fields["permission"], error.fields["scope"]) == missing
    assert "more" not in sim.tenant.custom_roles


def test_R_P6_R_P7_a_role_within_what_the_definer_holds_is_fine() -> None:
    """R-P6, R-P7: dan defines a role carrying only what he holds; it is recorded as given, by him."""
    sim = deputy_world()
    define(sim, "mine", ("leads.booster", "assigned"), ("users.manage", "all"), includes=("broker",), by="dan")
    [defined] = sim.last
    assert isinstance(defined, ae.RoleDefined) and (defined.role_id, defined.actor) == ("mine", "dan")
    role = sim.tenant.custom_roles["mine"]
    assert (role.includes, role.permissions) == (["broker"], [["leads.booster", "assigned"], ["users.manage", "all"]])


def test_R_P6_R_P7_an_admin_restricted_on_a_permission_cannot_put_it_in_a_role() -> None:
    sim = world()
    restrict(sim, "ann", "leads.view_details", by=OWNER)
    sim.expect_rejection("escalation", "ann", "define_role", role_id="xx", **definition(("leads.booster", "assigned")))
    sim.expect_rejection("escalation", "ann", "define_role", role_id="xx", **definition(includes=("broker",)))
    define(sim, "xx", ("leads.list", "all"), ("leads.assign", "all"), by="ann")


def test_R_P6_R_P7_redefining_is_under_no_escalation_for_everything_the_role_carries() -> None:
    sim = deputy_world()
    define(sim, "viewer", ("leads.view_details", "all"))
    # only a new name, but the role carries leads.view_details at all, which dan does not hold
    sim.expect_rejection(
        "escalation",
        "dan",
        "redefine_role",
        "viewer",
        name="Renamed",
        includes=[],
        permissions=[{"permission": "leads.view_details", "scope": "all"}],
    )
    sim.expect_rejection("escalation", "dan", "redefine_role", "viewer", **definition(includes=("manager",)))
    redefine(sim, "viewer", ("leads.view_details", "assigned"), by="dan")  # narrowing within his own is fine
    sim.expect_rejection("escalation", "dan", "redefine_role", "viewer", **definition(("leads.view_details", "team")))


def test_R_P6_R_P7_nobody_assigns_a_custom_role_carrying_more_than_they_hold() -> None:
    sim = deputy_world()
    define(sim, "viewer", ("leads.view_details", "team"))
    sim.expect_rejection(
        "escalation",
        "dan",
        "add_member",
        user_id="rob",
        email="rob@acme.example",
        name="Rob",
        role="viewer",
        token_id="t",
        token_hash="h",
    )
    sim.expect_rejection("escalation", "dan", "invite", email="i@acme.example", role="viewer", token_hash="h")
    sim.expect_rejection("escalation", "dan", "change_role", "mia", "viewer")
    sim.expect_rejection(
        "escalation",
        "dan",
        "grant",
        **grant_args(sim, user_id="mia", role="viewer", scope="resource", resource=res("account:A")),
    )
    define(sim, "narrow", ("leads.view_details", "assigned"))
    sim.add("rob", "narrow", by="dan")
    sim.do("dan", "change_role", "mia", "narrow")


def test_R_P6_R_P7_a_redefinition_cannot_widen_what_a_role_grant_gives_beyond_the_redefiner() -> None:
    """A role granted on a container gives its resource-typed permissions on everything below it, whatever their
    scope in the role: so the redefiner must hold them there too."""
    sim = deputy_world()
    define(sim, "narrow", ("leads.view_details", "assigned"))
    role_grant(sim, "mia", "narrow", "account:A")
    sim.expect_rejection("escalation", "dan", "redefine_role", "narrow", **definition(("leads.booster", "assigned")))
    sim.do("ann", "redefine_role", "narrow", **definition(("leads.booster", "assigned")))


# ----------------------------------------------------------------- R-M4 on redefinition


def people_world(min_admins: int) -> Sim:
    """olga (owner), ann (admin) and pat (custom role `people` carrying users.manage) manage users."""
    sim = world(min_admins=min_admins)
    define(sim, "people", ("users.manage", "all"), ("billing.view", "all"))
    define(sim, "people_plus", includes=("people",))
    sim.add("pat", "people_plus")
    assert Access(sim.tenant).user_managers() == 3
    return sim


def test_R_M4_a_redefinition_that_drops_users_manage_below_the_policy_is_rejected() -> None:
    sim = people_world(min_admins=3)
    sim.expect_rejection("min_admins", OWNER, "redefine_role", "people", **definition(("billing.view", "all")))
    assert can(sim, "pat", "users.manage", scope="all")
    redefine(sim, "people", ("users.manage", "all"))  # keeping it is fine


def test_R_M4_a_redefinition_above_the_policy_goes_through() -> None:
    sim = people_world(min_admins=2)
    redefine(sim, "people", ("billing.view", "all"))
    assert not can(sim, "pat", "users.manage", scope="all")
    assert Access(sim.tenant).user_managers() == 2
