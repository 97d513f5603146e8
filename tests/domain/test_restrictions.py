"""Restrictions (R-P8) on the aggregate: deny overrides every source, implied withdrawals, scopes, lifting,
the owner, no escalation (R-P6) and min_admins (R-M4)."""

from __future__ import annotations

import pytest

from domain.effective_access import Access
from domain.tenant import events as ev
from domain.tenant import structure_events as ae
from tests.domain.access_world import (
    can,
    chain,
    delegate,
    grant_args,
    pair,
    reports,
    restrict,
    role_grant,
    world,
)
from tests.domain.helpers import OWNER, Sim, lead

LEADS = ("leads.list", "leads.view_details", "leads.booster", "leads.assign")


def lead_rights(sim: Sim, user_id: str, where: str) -> set[str]:
    """Which lead permissions the member holds on one resource."""
    return {p for p in LEADS if can(sim, user_id, p, where)}


# ----------------------------------------------------------------- adding and lifting


def test_R_P8_restrict_records_the_restriction_at_scope_all_by_default() -> None:
    sim = world()
    restriction_id = sim.do("ann", "restrict", user_id="mo", permission="leads.booster")
    [added] = sim.last
    assert isinstance(added, ae.RestrictionAdded)
    assert (added.restriction_id, added.user_id, added.permission, added.scope, added.resource) == (
        restriction_id,
        "mo",
        "leads.booster",
        "all",
        None,
    )
    restriction = sim.tenant.restrictions[restriction_id]
    assert (restriction.created_by, restriction.created_at) == ("ann", sim.now)
    assert (restriction.resource_type, restriction.resource_id) == (None, None)


def test_R_P8_a_resource_restriction_records_its_resource() -> None:
    sim = world()
    restriction_id = restrict(sim, "mo", "leads.view_details", "resource", "lead:L-1")
    assert sim.last[0].resource == lead("L-1")
    restriction = sim.tenant.restrictions[restriction_id]
    assert (restriction.scope, restriction.resource_type, restriction.resource_id) == ("resource", "lead", "L-1")


def test_R_P8_lifting_restores_and_a_lifted_restriction_is_gone() -> None:
    sim = world()
    restriction_id = restrict(sim, "mo", "leads.view_details")
    assert lead_rights(sim, "mo", "lead:L-1") == {"leads.list", "leads.assign"}
    sim.do("ann", "lift_restriction", restriction_id)
    [lifted] = sim.last
    assert isinstance(lifted, ae.RestrictionLifted)
    assert (lifted.restriction_id, lifted.user_id, lifted.reason) == (restriction_id, "mo", "lifted")
    assert lead_rights(sim, "mo", "lead:L-1") == set(LEADS)
    assert restriction_id not in sim.tenant.restrictions
    sim.expect_rejection("not_found", OWNER, "lift_restriction", restriction_id)
    sim.expect_rejection("not_found", OWNER, "lift_restriction", "restr_404")


def test_R_P8_restricting_and_lifting_need_permissions_manage() -> None:
    sim = world()
    restriction_id = restrict(sim, "bea", "contacts.create")
    error = sim.expect_rejection("forbidden", "mo", "restrict", user_id="bea", permission="leads.list")
    assert error.fields == {"missing_permission": "permissions.manage"}
    sim.expect_rejection("forbidden", "mo", "lift_restriction", restriction_id)


def test_R_P8_the_owner_cannot_be_restricted() -> None:
    sim = world()
    for permission in ("leads.list", "users.manage", "subscription.cancel"):
        sim.expect_rejection("owner_immutable", "ann", "restrict", user_id=OWNER, permission=permission)
    assert not sim.tenant.restrictions


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "mo", "permission": "leads.delete"},
        {"user_id": "mo", "permission": "leads.list", "scope": "galaxy"},
        {"user_id": "mo", "permission": "leads.list", "scope": "resource"},  # no resource
        {"user_id": "mo", "permission": "leads.list", "scope": "all", "resource": lead("L-1")},
        {"user_id": "mo", "permission": "billing.view", "scope": "team"},
        {"user_id": "mo", "permission": "billing.view", "scope": "resource", "resource": lead("L-1")},
    ],
)
def test_R_P8_bad_restrictions_are_validation_errors(body: dict) -> None:
    sim = world()
    sim.expect_rejection("validation_error", OWNER, "restrict", **body)


def test_R_P8_restricting_someone_who_is_not_a_member_is_not_found() -> None:
    sim = world()
    sim.expect_rejection("not_found", OWNER, "restrict", user_id="ghost", permission="leads.list")


def test_R_P8_a_restriction_may_precede_the_permission_and_still_withdraws_it() -> None:
    sim = world()
    restrict(sim, "bea", "audit.read")
    sim.grant("bea", "audit.read")
    assert not can(sim, "bea", "audit.read")
    sim.do(OWNER, "change_role", "bea", "admin")
    assert not can(sim, "bea", "audit.read") and can(sim, "bea", "billing.view")


# ----------------------------------------------------------------- deny overrides every source


def test_R_P8_deny_overrides_the_role() -> None:
    sim = world()
    restrict(sim, "ann", "settings.manage")
    assert not can(sim, "ann", "settings.manage") and not can(sim, "ann", "settings.manage", scope="all")
    sim.expect_rejection("forbidden", "ann", "change_policy", 2)


def test_R_P8_deny_overrides_a_grant_at_every_scope() -> None:
    sim = world()
    sim.grant("mia", "leads.view_details", "all")
    sim.grant("mia", "leads.view_details", "resource", lead("L-1"))
    sim.grant("mia", "billing.view")
    restrict(sim, "mia", "leads.view_details")
    restrict(sim, "mia", "billing.view")
    assert lead_rights(sim, "mia", "lead:L-1") == {"leads.list"}  # marketing lists every lead
    assert not can(sim, "mia", "billing.view")


def test_R_P8_deny_overrides_an_assignment() -> None:
    sim = world()
    sim.assign("bea", "L-1")
    assert lead_rights(sim, "bea", "lead:L-1") == {"leads.list", "leads.view_details", "leads.booster"}
    restrict(sim, "bea", "leads.list")
    assert lead_rights(sim, "bea", "lead:L-1") == set()


def test_R_P8_deny_overrides_a_role_grant_on_an_ancestor() -> None:
    sim = world()
    chain(sim, "account:A", "location:B", "lead:L-1")
    role_grant(sim, "mia", "manager", "account:A")
    assert lead_rights(sim, "mia", "lead:L-1") == set(LEADS)
    restrict(sim, "mia", "leads.booster")
    assert lead_rights(sim, "mia", "lead:L-1") == {"leads.list", "leads.view_details", "leads.assign"}


# ----------------------------------------------------------------- implied permissions go with it


@pytest.mark.parametrize(
    ("restricted", "left"),
    [
        ("leads.list", set()),
        ("leads.view_details", {"leads.list", "leads.assign"}),
        ("leads.booster", {"leads.list", "leads.view_details", "leads.assign"}),
        ("leads.assign", {"leads.list", "leads.view_details", "leads.booster"}),
    ],
)
def test_R_P8_a_restriction_withdraws_every_permission_implying_it(restricted: str, left: set[str]) -> None:
    sim = world()
    restrict(sim, "mo", restricted)
    assert lead_rights(sim, "mo", "lead:L-1") == left
    assert {p for p in LEADS if can(sim, "mo", p, scope="all")} == left


# ----------------------------------------------------------------- scopes


def test_R_P8_scope_resource_withdraws_that_resource_and_what_is_below_it_only() -> None:
    sim = world()
    chain(sim, "lead:L-1", "lead:L-1a")
    restriction_id = restrict(sim, "mo", "leads.view_details", "resource", "lead:L-1")
    for where in ("lead:L-1", "lead:L-1a"):
        assert lead_rights(sim, "mo", where) == {"leads.list", "leads.assign"}
        restriction = Access(sim.tenant).restriction_for("mo", "leads.booster", "resource", pair(where))
        assert restriction.restriction_id == restriction_id
    assert lead_rights(sim, "mo", "lead:L-2") == set(LEADS)
    assert Access(sim.tenant).restriction_for("mo", "leads.booster", "resource", pair("lead:L-2")) is None


def test_R_P8_scope_assigned_withdraws_the_members_own_leads_only() -> None:
    sim = world()
    sim.assign("mo", "L-1")
    sim.assign("bea", "L-2")
    restrict(sim, "mo", "leads.view_details", "assigned")
    assert lead_rights(sim, "mo", "lead:L-1") == {"leads.list", "leads.assign"}
    assert lead_rights(sim, "mo", "lead:L-2") == set(LEADS)
    assert lead_rights(sim, "mo", "lead:L-3") == set(LEADS)  # unassigned


def test_R_P8_scope_team_withdraws_leads_of_the_member_and_everyone_below_them() -> None:
    sim = world()
    sim.add("rob", "broker")
    reports(sim, "bea", "mo")
    reports(sim, "rob", "bea")
    sim.assign("mo", "L-1")
    sim.assign("bea", "L-2")
    sim.assign("rob", "L-3")
    sim.assign("ann", "L-4")
    restrict(sim, "mo", "leads.view_details", "team")
    for where in ("lead:L-1", "lead:L-2", "lead:L-3"):
        assert lead_rights(sim, "mo", where) == {"leads.list", "leads.assign"}, where
    assert lead_rights(sim, "mo", "lead:L-4") == set(LEADS)
    assert lead_rights(sim, "mo", "lead:L-5") == set(LEADS)  # unassigned


def test_R_P8_scope_all_withdraws_everywhere() -> None:
    sim = world()
    sim.assign("mo", "L-1")
    restrict(sim, "mo", "leads.view_details", "all")
    for where in ("lead:L-1", "lead:L-2"):
        assert lead_rights(sim, "mo", where) == {"leads.list", "leads.assign"}
    assert not can(sim, "mo", "leads.view_details")  # not even "at any scope"


def test_R_P8_without_a_resource_only_scope_all_withdraws_held_at_any_scope() -> None:
    sim = world()
    restrict(sim, "mo", "leads.view_details", "team")
    restrict(sim, "mo", "leads.view_details", "resource", "lead:L-1")
    assert can(sim, "mo", "leads.view_details")


@pytest.mark.parametrize("restricted_at", ["assigned", "team", "resource"])
@pytest.mark.parametrize("asked", ["assigned", "team", "all"])
def test_R_P8_a_narrower_restriction_withdraws_a_whole_scope_it_overlaps(restricted_at: str, asked: str) -> None:
    """Holding a permission at a scope means holding it on everything the scope covers; a restriction anywhere in
    it takes that away (R-P6 relies on this: see test_R_P6_R_P8_a_restricted_manager_cannot_give_around_it)."""
    sim = world()
    sim.assign("mo", "L-1")
    restrict(sim, "mo", "leads.view_details", restricted_at, "lead:L-1" if restricted_at == "resource" else None)
    assert not can(sim, "mo", "leads.view_details", scope=asked)
    assert can(sim, "mo", "leads.list", scope=asked)


def test_R_P8_restrictions_outlive_role_changes_and_apply_per_member() -> None:
    sim = world()
    restrict(sim, "bea", "leads.booster")
    sim.do(OWNER, "change_role", "bea", "manager")
    assert lead_rights(sim, "bea", "lead:L-1") == {"leads.list", "leads.view_details", "leads.assign"}
    assert lead_rights(sim, "mo", "lead:L-1") == set(LEADS)


def test_R_P8_restriction_for_names_the_first_restriction_that_applies() -> None:
    sim = world()
    first = restrict(sim, "mo", "leads.list", "resource", "lead:L-1")
    restrict(sim, "mo", "leads.view_details")
    access = Access(sim.tenant)
    assert access.restriction_for("mo", "leads.booster", "resource", pair("lead:L-1")).restriction_id == first
    assert access.restriction_for("mo", "leads.assign", "resource", pair("lead:L-2")) is None
    assert access.restriction_for("ann", "leads.list", "resource", pair("lead:L-1")) is None


def test_R_P8_removing_a_member_lifts_their_restrictions_before_member_removed() -> None:
    sim = world()
    restriction_id = restrict(sim, "bea", "leads.booster")
    sim.do(OWNER, "remove_member", "bea")
    kinds = [type(e) for e in sim.last]
    assert kinds.index(ae.RestrictionLifted) < kinds.index(ev.MemberRemoved)
    lifted = next(e for e in sim.last if isinstance(e, ae.RestrictionLifted))
    assert (lifted.restriction_id, lifted.reason) == (restriction_id, "removed")
    assert not sim.tenant.restrictions


# ----------------------------------------------------------------- R-P6 no escalation


def test_R_P6_R_P8_nobody_restricts_what_they_do_not_hold_there() -> None:
    sim = world()
    sim.add("dan", "broker")
    delegate(sim, "dan", "permissions.manage")
    sim.assign("dan", "L-1")
    for scope in ("all", "team"):
        error = sim.expect_rejection(
            "escalation", "dan", "restrict", user_id="bea", permission="leads.view_details", scope=scope
        )
        assert error.fields == {"permission": "leads.view_details", "scope": scope}
    sim.expect_rejection("escalation", "dan", "restrict", user_id="bea", permission="audit.read")
    sim.expect_rejection(
        "escalation", "dan", "restrict", user_id="bea", permission="leads.list", scope="resource", resource=lead("L-2")
    )
    restrict(sim, "bea", "leads.view_details", "assigned", by="dan")
    restrict(sim, "bea", "leads.list", "resource", "lead:L-1", by="dan")
    restrict(sim, "bea", "contacts.create", by="dan")


def test_R_P6_R_P8_a_restricted_manager_cannot_give_around_it() -> None:
    sim = world()
    sim.assign("mo", "L-1")
    delegate(sim, "mo", "permissions.manage", "users.manage")
    restrict(sim, "mo", "leads.view_details", "team")
    sim.expect_rejection("escalation", "mo", "grant", **grant_args(sim, permission="leads.view_details", scope="all"))
    sim.expect_rejection(
        "escalation", "mo", "grant", **grant_args(sim, permission="leads.view_details", scope="assigned")
    )
    sim.expect_rejection(
        "escalation",
        "mo",
        "grant",
        **grant_args(sim, permission="leads.booster", scope="resource", resource=lead("L-1")),
    )
    sim.expect_rejection("escalation", "mo", "change_role", "mia", "broker")
    sim.expect_rejection(
        "escalation", "mo", "restrict", user_id="bea", permission="leads.view_details", scope="assigned"
    )
    sim.expect_rejection(
        "escalation",
        "mo",
        "define_role",
        role_id="xx",
        name="X",
        includes=[],
        permissions=[{"permission": "leads.view_details", "scope": "assigned"}],
    )
    # a lead that is not his (nor his team's) is untouched by the restriction
    sim.grant("mia", "leads.booster", "resource", lead("L-2"), by="mo")
    sim.grant("mia", "leads.list", "assigned", by="mo")


# ----------------------------------------------------------------- R-M4


def test_R_M4_a_restriction_that_drops_users_manage_below_the_policy_is_rejected() -> None:
    sim = world(min_admins=2)
    sim.expect_rejection("min_admins", OWNER, "restrict", user_id="ann", permission="users.manage")
    sim.do(OWNER, "change_role", "mo", "admin")
    restrict(sim, "ann", "users.manage")
    assert Access(sim.tenant).user_managers() == 2
    sim.expect_rejection("min_admins", OWNER, "restrict", user_id="mo", permission="users.manage")
    # other permissions are no concern of R-M4
    restrict(sim, "mo", "permissions.manage")


def test_R_M4_restricting_oneself_counts_too() -> None:
    sim = world(min_admins=2)
    sim.expect_rejection("min_admins", "ann", "restrict", user_id="ann", permission="users.manage")


def test_R_M4_removing_a_restricted_admin_is_judged_on_who_really_manages_users() -> None:
    sim = world(min_admins=2)
    sim.do(OWNER, "change_role", "mo", "admin")
    restrict(sim, "ann", "users.manage")
    sim.do(OWNER, "remove_member", "ann")  # ann no longer managed users: the count stays at 2
    sim.expect_rejection("min_admins", OWNER, "remove_member", "mo")
