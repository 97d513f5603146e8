"""The change feed's entries name their causes (R-C5): a grant's start and expiry (R-G3, R-G2), a restriction
(R-P8), a role redefinition fanned out to every holder (R-P7) and a seat-loss eviction (R-S4), each with its
event's position, type and instant; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.projections.readside import ReadSide, read_side
from tests.support import TENANT, add_member, open_tenant, owner


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    open_tenant(ledger)
    with read_side(ledger, clock) as side:
        yield side


def _feed(rs: ReadSide, after: int = 0, **kw) -> list[tuple]:
    rs.sync()
    items = rs.q.changes(TENANT, after=after, limit=1000, **kw)["items"]
    return [(i["event_type"], i["user_id"], i["permission"], i["scope"], i["effect"]) for i in items]


def test_R_C5_R_G3_a_scheduled_grant_gains_at_GrantStarted_and_loses_at_GrantExpired(rs: ReadSide) -> None:
    add_member(rs.ledger, "mia", "marketing")
    start = rs.sync()
    rs.ledger.grant(
        TENANT,
        owner(),
        user_id="mia",
        permission="billing.view",
        scope="all",
        starts_at=rs.now + timedelta(hours=1),
        expires_at=rs.now + timedelta(hours=2),
    )
    assert _feed(rs, start) == []
    rs.later(hours=1)
    rs.ledger.apply_due(TENANT)
    assert _feed(rs, start) == [("GrantStarted", "mia", "billing.view", "all", "gained")]
    rs.later(hours=1)
    rs.ledger.apply_due(TENANT)
    assert _feed(rs, start)[-1] == ("GrantExpired", "mia", "billing.view", "all", "lost")


def test_R_C5_R_P8_a_restriction_everywhere_is_a_loss_and_lifting_it_a_gain(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    start = rs.sync()
    restriction = rs.ledger.restrict(TENANT, owner(), user_id="bob", permission="contacts.create", scope="all")
    feed = _feed(rs, start)
    assert feed and all(e[0] == "RestrictionAdded" and e[4] == "lost" and e[1] == "bob" for e in feed)
    assert ("RestrictionAdded", "bob", "contacts.create", "all", "lost") in feed
    middle = rs.sync()
    rs.ledger.lift_restriction(TENANT, owner(), restriction.values["restriction_id"])
    assert ("RestrictionLifted", "bob", "contacts.create", "all", "gained") in _feed(rs, middle)


def test_R_C5_R_P7_a_role_redefinition_fans_out_to_every_holder(rs: ReadSide) -> None:
    rs.ledger.define_role(
        TENANT,
        owner(),
        role_id="helper",
        name="Helper",
        includes=[],
        permissions=[{"permission": "leads.list", "scope": "assigned"}],
    )
    for user in ("h1", "h2", "h3"):
        add_member(rs.ledger, user, "helper")
    start = rs.sync()
    rs.ledger.redefine_role(
        TENANT,
        owner(),
        "helper",
        name="Helper",
        includes=[],
        permissions=[{"permission": "leads.list", "scope": "all"}],
    )
    feed = _feed(rs, start)
    assert sorted(feed) == sorted(
        [
            ("RoleRedefined", u, "leads.list", s, e)
            for u in ("h1", "h2", "h3")
            for s, e in (("assigned", "lost"), ("all", "gained"))
        ]
    )
    items = rs.q.changes(TENANT, after=start)["items"]
    assert len({i["position"] for i in items}) == 1 and [i["index"] for i in items] == list(range(6))


def test_R_C5_R_S4_a_seat_loss_eviction_loses_every_permission_of_the_member(rs: ReadSide) -> None:
    addon = rs.ledger.purchase_addon(TENANT, owner(), "user-seats").values["addon_id"]
    for n in range(6):
        add_member(rs.ledger, f"m{n}", "broker")
    rs.ledger.cancel_addon(TENANT, owner(), addon)
    start = rs.sync()
    rs.at(rs.now + timedelta(days=40))
    rs.ledger.apply_due(TENANT)
    feed = _feed(rs, start)
    evicted = {e[1] for e in feed if e[0] == "MemberRemoved"}
    assert evicted and all(e[4] == "lost" for e in feed if e[0] == "MemberRemoved")
    role_gives = {e[2] for e in _feed(rs, 0, user_id=sorted(evicted)[0]) if e[0] == "MemberAdded"}
    lost = {e[2] for e in feed if e[1] == sorted(evicted)[0]}
    assert lost == role_gives


def _leads(rs: ReadSide, after: int, **kw) -> list[tuple]:
    rs.sync()
    items = rs.q.changes(TENANT, after=after, limit=1000, **kw)["items"]
    return [
        (i["event_type"], i["permission"], i["scope"], (i["resource"] or {}).get("id"), i["effect"])
        for i in items
        if i["resource"] is None or i["resource"]["type"] == "lead"
    ]


def _report_resources(rs: ReadSide, user_id: str, permission: str) -> list[str]:
    members = rs.q.access_report(TENANT)["members"]
    held = next(
        p for m in members if m["user_id"] == user_id for p in m["permissions"] if p["permission"] == permission
    )
    return [r["id"] for r in held.get("resources", [])]


def test_R_C5_R_H2_a_move_under_a_granted_resource_gains_and_a_move_away_loses(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    berlin = {"type": "location", "id": "berlin"}
    rs.ledger.grant(TENANT, owner(), user_id="bob", permission="leads.view_details", scope="resource", resource=berlin)
    start = rs.sync()
    rs.ledger.set_resource_parent(TENANT, owner(), "lead", "L-1", berlin)
    moved_in = [
        ("ResourceParentSet", "leads.list", "resource", "L-1", "gained"),
        ("ResourceParentSet", "leads.view_details", "resource", "L-1", "gained"),
    ]
    assert _leads(rs, start, user_id="bob") == moved_in
    assert _report_resources(rs, "bob", "leads.view_details") == ["L-1", "berlin"]
    middle = rs.sync()
    rs.ledger.set_resource_parent(TENANT, owner(), "lead", "L-1", None)
    assert _leads(rs, middle, user_id="bob") == [(t, p, s, r, "lost") for t, p, s, r, _ in moved_in]
    assert _report_resources(rs, "bob", "leads.view_details") == ["berlin"]


def test_R_C5_R_H2_a_grant_on_a_container_fans_out_to_the_leads_below_it(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    account = {"type": "account", "id": "A"}
    rs.ledger.set_resource_parent(TENANT, owner(), "location", "B", account)
    for lead in ("L-1", "L-2"):
        rs.ledger.set_resource_parent(TENANT, owner(), "lead", lead, {"type": "location", "id": "B"})
    rs.ledger.set_resource_parent(TENANT, owner(), "lead", "L-3", account)
    start = rs.sync()
    grant = rs.ledger.grant(
        TENANT, owner(), user_id="bob", permission="leads.list", scope="resource", resource=account
    ).values["grant_id"]
    gained = [("PermissionGranted", "leads.list", "resource", lead, "gained") for lead in ("L-1", "L-2", "L-3")]
    assert [e for e in _leads(rs, start, user_id="bob") if e[3] != "A"] == gained
    # Moving the location away takes its leads with it; the lead directly under the account stays.
    middle = rs.sync()
    rs.ledger.set_resource_parent(TENANT, owner(), "location", "B", None)
    assert _leads(rs, middle, user_id="bob") == [
        ("ResourceParentSet", "leads.list", "resource", lead, "lost") for lead in ("L-1", "L-2")
    ]
    end = rs.sync()
    rs.ledger.revoke_grant(TENANT, owner(), grant)
    assert ("PermissionRevoked", "leads.list", "resource", "L-3", "lost") in _leads(rs, end, user_id="bob")
