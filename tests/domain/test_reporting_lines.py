"""Reporting lines and scope `team` (R-H1) on the aggregate: set_manager, teams, reports moving up when a
manager leaves; no escalation (R-P6) through team scope."""

from __future__ import annotations

from domain.effective_access import Access
from domain.tenant import events as ev
from domain.tenant import structure_events as ae
from tests.domain.access_world import (
    can,
    define,
    grant_args,
    redefine,
    reports,
    rights,
    world,
)
from tests.domain.helpers import OWNER, Sim, lead, utc

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
