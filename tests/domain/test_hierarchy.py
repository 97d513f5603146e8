"""Resource trees (R-H2), role grants on a resource (R-P9) and reporting lines with scope `team` (R-H1), on the
aggregate; no escalation (R-P6) through all of them."""

from __future__ import annotations

import pytest

from domain.effective_access import Access
from domain.tenant import events as ev
from domain.tenant import structure_events as ae
from tests.domain.access_world import (
    can,
    chain,
    define,
    delegate,
    grant_args,
    pair,
    redefine,
    reports,
    res,
    role_grant,
    set_parent,
    world,
)
from tests.domain.helpers import OWNER, Sim, lead, utc

LEADS = ("leads.list", "leads.view_details", "leads.booster", "leads.assign")


def tree() -> Sim:
    """account:A > region:R > location:B > lead:L-1 (four levels), with lead:L-2 under location:C under region:R,
    lead:L-3 under account:Z, and lead:L-4 nowhere."""
    sim = world()
    chain(sim, "account:A", "region:R", "location:B", "lead:L-1")
    chain(sim, "region:R", "location:C", "lead:L-2")
    chain(sim, "account:Z", "lead:L-3")
    return sim


def rights(sim: Sim, user_id: str, where: str) -> set[str]:
    return {p for p in LEADS if can(sim, user_id, p, where)}


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


def test_R_P9_a_permission_names_a_resource_of_its_own_type_only() -> None:
    sim = tree()
    sim.expect_rejection(
        "validation_error",
        OWNER,
        "grant",
        **grant_args(sim, permission="leads.view_details", scope="resource", resource=res("account:A")),
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


# ----------------------------------------------------------------- R-H1 reporting lines


def test_R_H1_set_manager_records_the_line_and_null_means_the_owner() -> None:
    sim = world()
    sim.do("ann", "set_manager", "bea", "mo")
    [changed] = sim.last
    assert isinstance(changed, ae.ReportingLineChanged)
    assert (changed.user_id, changed.old_reports_to, changed.new_reports_to, changed.reason) == (
        "bea",
        None,
        "mo",
        "set",
    )
    assert sim.tenant.members["bea"].reports_to == "mo"
    reports(sim, "bea", None)
    assert (sim.last[0].old_reports_to, sim.last[0].new_reports_to) == ("mo", None)
    reports(sim, "bea", None)
    assert sim.last == []  # no change, no event
    assert Access(sim.tenant).team(OWNER) == set(sim.tenant.members)


def test_R_H1_reporting_lines_need_users_manage_and_members() -> None:
    sim = world()
    error = sim.expect_rejection("forbidden", "mo", "set_manager", "bea", "mo")
    assert error.fields == {"missing_permission": "users.manage"}
    sim.expect_rejection("not_found", OWNER, "set_manager", "ghost", "mo")
    sim.expect_rejection("not_found", OWNER, "set_manager", "bea", "ghost")


def test_R_H1_cycles_and_a_manager_for_the_owner_are_rejected() -> None:
    sim = world()
    reports(sim, "bea", "mo")
    reports(sim, "mia", "bea")
    sim.expect_rejection("hierarchy_cycle", OWNER, "set_manager", "bea", "bea")
    sim.expect_rejection("hierarchy_cycle", OWNER, "set_manager", "mo", "bea")
    sim.expect_rejection("hierarchy_cycle", OWNER, "set_manager", "mo", "mia")
    sim.expect_rejection("hierarchy_cycle", OWNER, "set_manager", OWNER, "ann")
    reports(sim, "mia", "mo")  # sideways is fine
    reports(sim, "ann", "mia")


def test_R_H1_team_is_the_member_and_everyone_below_them_ten_levels_deep() -> None:
    sim = world(included_seats=20)
    chain_of = [f"u{n}" for n in range(10)]
    previous = "mo"
    for user_id in chain_of:
        sim.add(user_id, "broker")
        reports(sim, user_id, previous)
        previous = user_id
    access = Access(sim.tenant)
    assert access.team("mo") == {"mo", *chain_of}
    assert access.team("u5") == set(chain_of[5:])
    assert access.team("u9") == {"u9"}
    assert access.team(OWNER) == set(sim.tenant.members)


def test_R_H1_scope_team_in_a_custom_role_reaches_leads_of_everyone_below() -> None:
    sim = world()
    define(sim, "team_lead", ("leads.view_details", "team"), includes=("broker",))
    sim.add("tom", "team_lead")
    sim.add("rob", "broker")
    reports(sim, "bea", "tom")
    reports(sim, "rob", "bea")
    sim.assign("tom", "L-1")
    sim.assign("bea", "L-2")
    sim.assign("rob", "L-3")
    sim.assign("mo", "L-4")
    assert {w for w in ("lead:L-1", "lead:L-2", "lead:L-3") if can(sim, "tom", "leads.view_details", w)} == {
        "lead:L-1",
        "lead:L-2",
        "lead:L-3",
    }
    assert not can(sim, "tom", "leads.view_details", "lead:L-4")  # mo is not below tom
    assert not can(sim, "tom", "leads.view_details", "lead:L-5")  # unassigned
    assert not can(sim, "tom", "leads.booster", "lead:L-2")  # booster only on his own (broker, assigned)
    reports(sim, "bea", None)  # bea (and rob below her) leave tom's team
    assert not can(sim, "tom", "leads.view_details", "lead:L-2")
    assert not can(sim, "tom", "leads.view_details", "lead:L-3")


def test_R_H1_scope_team_by_grant() -> None:
    sim = world()
    reports(sim, "bea", "mia")
    sim.assign("bea", "L-1")
    sim.assign("mo", "L-2")
    sim.grant("mia", "leads.booster", "team")
    assert rights(sim, "mia", "lead:L-1") == {"leads.list", "leads.view_details", "leads.booster"}
    assert rights(sim, "mia", "lead:L-2") == {"leads.list"}
    assert can(sim, "mia", "leads.booster", scope="team") and not can(sim, "mia", "leads.booster", scope="all")


def test_R_H1_removing_a_manager_moves_their_reports_up_before_member_removed() -> None:
    sim = world()
    sim.add("rob", "broker")
    reports(sim, "mo", "ann")
    reports(sim, "bea", "mo")
    reports(sim, "rob", "mo")
    sim.do(OWNER, "remove_member", "mo")
    moved = [e for e in sim.last if isinstance(e, ae.ReportingLineChanged)]
    assert [(e.user_id, e.old_reports_to, e.new_reports_to, e.reason) for e in moved] == [
        ("bea", "mo", "ann", "manager_removed"),
        ("rob", "mo", "ann", "manager_removed"),
    ]
    kinds = [type(e) for e in sim.last]
    assert max(i for i, k in enumerate(kinds) if k is ae.ReportingLineChanged) < kinds.index(ev.MemberRemoved)
    assert sim.tenant.members["bea"].reports_to == "ann"
    assert Access(sim.tenant).team("ann") == {"ann", "bea", "rob"}


def test_R_H1_reports_of_a_member_under_the_owner_move_to_the_owner() -> None:
    sim = world()
    reports(sim, "bea", "mo")
    sim.do("mo", "remove_member", "mo")  # leaving counts as removal
    [moved] = [e for e in sim.last if isinstance(e, ae.ReportingLineChanged)]
    assert (moved.new_reports_to, moved.reason) == (None, "manager_removed")
    assert sim.tenant.members["bea"].reports_to is None


def test_R_H1_removing_a_member_without_reports_changes_no_line() -> None:
    sim = world()
    reports(sim, "bea", "mo")
    sim.do(OWNER, "remove_member", "bea")
    assert not [e for e in sim.last if isinstance(e, ae.ReportingLineChanged)]


# ----------------------------------------------------------------- R-P6 through team scope


def test_R_P6_R_H1_a_team_scope_covers_a_named_lead_only_while_it_is_the_teams() -> None:
    sim = world()
    define(sim, "team_lead", ("leads.view_details", "team"), ("permissions.manage", "all"))
    sim.add("tom", "team_lead")
    reports(sim, "bea", "tom")
    sim.assign("bea", "L-1")
    sim.assign("mo", "L-2")
    sim.grant("mia", "leads.view_details", "resource", lead("L-1"), by="tom")
    sim.grant("mia", "leads.view_details", "team", by="tom")
    sim.expect_rejection(
        "escalation",
        "tom",
        "grant",
        **grant_args(sim, user_id="mia", permission="leads.view_details", scope="resource", resource=lead("L-2")),
    )
    sim.expect_rejection(
        "escalation", "tom", "grant", **grant_args(sim, user_id="mia", permission="leads.view_details", scope="all")
    )
    sim.expect_rejection(
        "escalation", "tom", "grant", **grant_args(sim, user_id="mia", permission="leads.booster", scope="team")
    )
    redefine(sim, "team_lead", ("leads.view_details", "assigned"), ("permissions.manage", "all"))
    sim.expect_rejection(
        "escalation",
        "tom",
        "grant",
        **grant_args(sim, user_id="mia", permission="leads.view_details", scope="resource", resource=lead("L-1")),
    )


def test_R_H1_R_S4_a_manager_removed_for_seats_hands_their_reports_up_too() -> None:
    sim = Sim(included_seats=2)
    sim.add("mo", "manager")
    sim.add("rob", "broker")
    addon_id = sim.buy_addon()
    sim.add("bea", "broker")  # the newest member: the first to go when the add-on ends
    reports(sim, "bea", "mo")
    reports(sim, "rob", "bea")
    sim.do(OWNER, "cancel_addon", addon_id)
    events = sim.at(utc(2030, 2, 1))
    kinds = [type(e) for e in events]
    [moved] = [e for e in events if isinstance(e, ae.ReportingLineChanged)]
    [removed] = [e for e in events if isinstance(e, ev.MemberRemoved)]
    assert (moved.user_id, moved.old_reports_to, moved.new_reports_to, moved.reason) == (
        "rob",
        "bea",
        "mo",
        "manager_removed",
    )
    assert removed.user_id == "bea" and kinds.index(ae.ReportingLineChanged) < kinds.index(ev.MemberRemoved)
    assert Access(sim.tenant).team("mo") == {"mo", "rob"}
