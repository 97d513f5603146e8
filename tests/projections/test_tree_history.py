"""Resource trees with role grants (R-H2, R-P9) and reporting lines with scope `team` (R-H1) on the read side: what
covers what at each instant, explained, listed as of any instant, and the same rows however events are batched;
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.projections.readside import ReadSide, read_side
from tests.support import START, TENANT, add_member, open_tenant, owner

LEAD = ("lead", "L-1")


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    open_tenant(ledger, included_seats=20)
    with read_side(ledger, clock) as side:
        yield side


def check(rs: ReadSide, user_id: str, permission: str, resource=None, as_of=None) -> dict:
    return rs.q.check(TENANT, user_id, permission, resource, as_of=as_of, now=rs.now)


def parent(rs: ReadSide, child: tuple[str, str], above: tuple[str, str] | None) -> int:
    target = None if above is None else {"type": above[0], "id": above[1]}
    return rs.ledger.set_resource_parent(TENANT, owner(), child[0], child[1], target).position


def test_R_P9_R_H2_a_role_grant_covers_what_is_below_the_resource_until_it_moves(rs: ReadSide) -> None:
    add_member(rs.ledger, "mia", "marketing")
    parent(rs, LEAD, ("location", "B"))
    parent(rs, ("location", "B"), ("account", "A"))
    granted = rs.ledger.grant(
        TENANT, owner(), user_id="mia", role="manager", scope="resource", resource={"type": "account", "id": "A"}
    )
    grant_id = granted.values["grant_id"]
    under_a = rs.now
    rs.later(hours=1)
    moved = parent(rs, ("location", "B"), ("account", "Z"))
    rs.sync()

    then = check(rs, "mia", "leads.view_details", LEAD, as_of=under_a)
    assert (then["allowed"], then["scope"]) == (True, "resource")
    assert then["via"] == [{"kind": "role_grant", "grant_id": grant_id, "resource": {"type": "account", "id": "A"}}]
    assert check(rs, "mia", "leads.assign", LEAD, as_of=under_a)["allowed"] is True
    # The role's permissions of other types, and the granted resource itself for lead permissions, are not given.
    assert check(rs, "mia", "users.manage", as_of=under_a)["allowed"] is False
    assert check(rs, "mia", "leads.view_details", ("account", "A"), as_of=under_a)["reason"] == "not_permitted"
    assert check(rs, "mia", "leads.view_details", LEAD)["reason"] == "not_permitted"  # moved away from A
    explained = rs.q.explain(TENANT, "mia", "leads.view_details", LEAD, as_of=under_a, now=rs.now)
    assert {"ResourceParentSet", "PermissionGranted"} <= {e["event_type"] for e in explained["events"]}

    assert rs.q.resource(TENANT, *LEAD, now=rs.now) == {
        "type": "lead",
        "id": "L-1",
        "parent": {"type": "location", "id": "B"},
        "ancestors": [{"type": "location", "id": "B"}, {"type": "account", "id": "Z"}],
    }
    assert rs.q.resource(TENANT, *LEAD, as_of=under_a, now=rs.now)["ancestors"][-1] == {"type": "account", "id": "A"}
    assert rs.q.resource(TENANT, *LEAD, as_of=START, now=rs.now)["parent"] == {"type": "location", "id": "B"}
    rows = rs.rows("SELECT to_position FROM dir_parents WHERE tenant_id = ? AND resource_id = 'L-1'", (TENANT,))
    assert moved in [r["to_position"] for r in rows]  # the lead's chain was reopened by its parent's move

    # The listing names the granted resource and the leads below it then (R-H2), not after the move.
    listed = rs.q.effective_permissions(TENANT, "mia", as_of=under_a, now=rs.now)["permissions"]
    granted_on = [{"type": "account", "id": "A"}, {"type": "lead", "id": "L-1"}]
    assert {"permission": "leads.assign", "scope": "resource", "resources": granted_on} in listed
    now_listed = rs.q.effective_permissions(TENANT, "mia", now=rs.now)["permissions"]
    assert {"permission": "leads.assign", "scope": "resource", "resources": granted_on[:1]} in now_listed


def test_R_H2_a_permission_grant_on_a_lead_covers_leads_below_it_and_clearing_the_parent_ends_that(rs) -> None:
    add_member(rs.ledger, "mia", "marketing")
    rs.ledger.grant(
        TENANT,
        owner(),
        user_id="mia",
        permission="leads.booster",
        scope="resource",
        resource={"type": "lead", "id": "L-0"},
    )
    parent(rs, LEAD, ("lead", "L-0"))
    below = rs.now
    rs.later(minutes=1)
    parent(rs, LEAD, None)
    rs.sync()
    assert check(rs, "mia", "leads.booster", LEAD, as_of=below)["allowed"] is True
    assert check(rs, "mia", "leads.booster", LEAD)["reason"] == "not_permitted"
    assert rs.q.resource(TENANT, *LEAD, now=rs.now) == {"type": "lead", "id": "L-1", "parent": None, "ancestors": []}


def test_R_H1_scope_team_reaches_what_is_assigned_below_and_follows_the_lines(rs: ReadSide) -> None:
    for user in ("boss", "lead1", "rep1", "rep2"):
        add_member(rs.ledger, user, "broker")
    rs.ledger.set_manager(TENANT, owner(), "lead1", "boss")
    rs.ledger.set_manager(TENANT, owner(), "rep1", "lead1")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1"], user_id="rep1")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-2"], user_id="rep2")
    rs.ledger.grant(TENANT, owner(), user_id="boss", permission="leads.view_details", scope="team")
    in_team = rs.now
    rs.later(hours=1)
    rs.ledger.set_manager(TENANT, owner(), "lead1", None)
    rs.sync()

    then = check(rs, "boss", "leads.view_details", LEAD, as_of=in_team)
    assert (then["allowed"], then["scope"], then["via"][-1]) == (True, "team", {"kind": "team", "user_id": "rep1"})
    assert check(rs, "boss", "leads.view_details", ("lead", "L-2"), as_of=in_team)["reason"] == "not_assigned"
    assert check(rs, "boss", "leads.view_details", LEAD)["reason"] == "not_assigned"  # lead1 left boss's team
    explained = rs.q.explain(TENANT, "boss", "leads.view_details", LEAD, as_of=in_team, now=rs.now)
    assert "ReportingLineChanged" in [e["event_type"] for e in explained["events"]]
    # The owner's team is everyone; a member's own assigned resource is an assignment, not a team.
    assert check(rs, "rep1", "leads.view_details", LEAD)["via"][-1]["kind"] == "assignment"

    def team(user: str, as_of=None) -> list[str]:
        return [m["user_id"] for m in rs.q.team(TENANT, user, as_of=as_of, now=rs.now)[0]]

    assert team("boss", in_team) == ["lead1", "rep1"]
    assert team("boss") == []
    assert team("lead1") == ["rep1"]
    assert team("olga") == ["boss", "lead1", "rep1", "rep2"]
    members = {m["user_id"]: m for m in rs.q.members(TENANT, as_of=in_team, now=rs.now)[0]}
    assert members["lead1"]["reports_to"] == "boss"
    assert rs.q.member(TENANT, "lead1")["reports_to"] is None


def test_R_H1_removing_a_manager_moves_their_reports_up_from_that_instant(rs: ReadSide) -> None:
    for user in ("boss", "mid", "rep"):
        add_member(rs.ledger, user, "broker")
    rs.ledger.set_manager(TENANT, owner(), "mid", "boss")
    rs.ledger.set_manager(TENANT, owner(), "rep", "mid")
    before = rs.now
    rs.later(hours=1)
    rs.ledger.remove_member(TENANT, owner(), "mid")
    rs.sync()

    assert rs.q.member(TENANT, "rep")["reports_to"] == "boss"
    assert [m["user_id"] for m in rs.q.team(TENANT, "boss", now=rs.now)[0]] == ["rep"]
    assert [m["user_id"] for m in rs.q.team(TENANT, "boss", as_of=before, now=rs.now)[0]] == ["mid", "rep"]
    moved = [e for e in rs.q.audit(TENANT, limit=100)[0] if e["event_type"] == "ReportingLineChanged"][-1]
    assert (moved["subject"], moved["data"]["reason"], moved["data"]["new_reports_to"]) == (
        "rep",
        "manager_removed",
        "boss",
    )


def test_R_X4_tree_and_role_rows_are_the_same_whatever_the_batches(rs: ReadSide) -> None:
    """Moves read the rows below them and redefinitions the role state: one event at a time and the whole history
    in one batch give the same rows."""
    from projections.directory.projection import DirectoryProjection
    from projections.history.projection import HistoryProjection

    steps = [
        lambda: add_member(rs.ledger, "bob", "broker"),
        lambda: add_member(rs.ledger, "mia", "marketing"),
        lambda: rs.ledger.define_role(
            TENANT, owner(), role_id="viewer", name="V", includes=[], permissions=[{"permission": "leads.list"}]
        ),
        lambda: rs.ledger.change_role(TENANT, owner(), "mia", "viewer"),
        lambda: rs.ledger.grant(
            TENANT, owner(), user_id="bob", role="viewer", scope="resource", resource={"type": "account", "id": "A"}
        ),
        lambda: rs.ledger.redefine_role(TENANT, owner(), "viewer", name="V", includes=["broker"], permissions=[]),
        lambda: parent(rs, LEAD, ("location", "B")),
        lambda: parent(rs, ("location", "B"), ("account", "A")),
        lambda: rs.ledger.set_manager(TENANT, owner(), "mia", "bob"),
        lambda: rs.ledger.restrict(TENANT, owner(), user_id="mia", permission="leads.list", scope="assigned"),
        lambda: parent(rs, ("account", "A"), ("region", "R")),
        lambda: rs.ledger.redefine_role(TENANT, owner(), "viewer", name="V", includes=["auditor"], permissions=[]),
        lambda: rs.ledger.redefine_role(TENANT, owner(), "viewer", name="V", includes=["marketing"], permissions=[]),
        lambda: rs.ledger.remove_member(TENANT, owner(), "bob"),
    ]
    for step in steps:
        rs.later(minutes=10)
        step()
        rs.sync()  # one small batch per command
    events = rs.runner.read(0, 100_000)
    projections = [DirectoryProjection(), HistoryProjection()]
    with rs.store.transaction() as tx:
        for projection in projections:
            projection.create(tx, "_one")
            projection.process(tx, events, "_one")  # the whole history in one batch
    for projection in projections:
        for table in projection.tables:
            incremental = rs.rows(f"SELECT * FROM {table}")
            at_once = rs.rows(f"SELECT * FROM {table}_one")
            assert sorted(map(repr, incremental)) == sorted(map(repr, at_once)), table
    ancestors = rs.rows("SELECT ancestors FROM dir_parents WHERE resource_id = 'L-1' AND valid_to IS NULL")
    assert ancestors[0]["ancestors"].count('"type"') == 3
    # The role grant gave nothing on resources for a while, and was still reached by the last redefinition.
    kinds = rs.rows("SELECT to_event FROM permission_history WHERE source_kind = 'role_grant' ORDER BY from_position")
    assert [r["to_event"] for r in kinds][-1] == "PermissionRevoked"
