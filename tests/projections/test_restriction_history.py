"""Restrictions on the read side (R-P8): deny overrides allow from any source, with implied withdrawals, `restricted`
and the restriction's id, now and as of any instant, in diffs, listings, explain and the audit; on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.projections.readside import ReadSide, read_side
from tests.support import TENANT, add_member, open_tenant, owner

LEAD = ("lead", "L-1")


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    open_tenant(ledger)
    with read_side(ledger, clock) as side:
        yield side


def check(rs: ReadSide, user_id: str, permission: str, resource=None, as_of=None) -> dict:
    return rs.q.check(TENANT, user_id, permission, resource, as_of=as_of, now=rs.now)


def restrict(rs: ReadSide, user_id: str, permission: str, scope: str = "all", resource=None) -> str:
    result = rs.ledger.restrict(TENANT, owner(), user_id=user_id, permission=permission, scope=scope, resource=resource)
    return result.values["restriction_id"]


def test_R_P8_deny_overrides_role_grant_and_assignment_and_lifting_restores(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1"], user_id="bob")
    rs.ledger.grant(TENANT, owner(), user_id="bob", permission="leads.view_details", scope="all")
    before = rs.now
    rs.later(hours=1)
    restriction_id = restrict(rs, "bob", "leads.view_details")
    during = rs.now
    rs.later(hours=1)
    rs.ledger.lift_restriction(TENANT, owner(), restriction_id)
    after = rs.now
    rs.sync()

    assert check(rs, "bob", "leads.view_details", LEAD, as_of=before)["allowed"] is True
    denied = check(rs, "bob", "leads.view_details", LEAD, as_of=during)
    assert denied == {**denied, "allowed": False, "reason": "restricted", "restriction_id": restriction_id, "via": []}
    # Without a resource, a restriction at scope all withdraws it too; what implies it goes with it.
    assert check(rs, "bob", "leads.view_details", as_of=during)["reason"] == "restricted"
    assert check(rs, "bob", "leads.booster", LEAD, as_of=during)["restriction_id"] == restriction_id
    assert check(rs, "bob", "leads.list", LEAD, as_of=during)["allowed"] is True  # implied by it, not implying it
    assert check(rs, "bob", "leads.view_details", LEAD, as_of=after)["allowed"] is True
    assert check(rs, "bob", "leads.view_details", LEAD)["restriction_id"] is None

    listed = rs.q.effective_permissions(TENANT, "bob", as_of=during, now=rs.now)
    assert {p["permission"] for p in listed["permissions"]} == {"leads.list", "contacts.create"}
    changes = rs.q.diff(TENANT, before, during, now=rs.now)
    assert {(c["permission"], c["change"], c["event_type"]) for c in changes} == {
        ("leads.view_details", "lost", "RestrictionAdded"),
        ("leads.booster", "lost", "RestrictionAdded"),
    }
    back = rs.q.diff(TENANT, during, after, now=rs.now)
    assert {(c["permission"], c["change"], c["event_type"]) for c in back} == {
        ("leads.view_details", "gained", "RestrictionLifted"),
        ("leads.booster", "gained", "RestrictionLifted"),
    }
    explained = rs.q.explain(TENANT, "bob", "leads.booster", LEAD, as_of=during, now=rs.now)
    assert explained["reason"] == "restricted"
    assert "RestrictionAdded" in [e["event_type"] for e in explained["events"]]
    restriction = rs.q.restriction(TENANT, restriction_id)
    assert restriction == {
        "restriction_id": restriction_id,
        "user_id": "bob",
        "permission": "leads.view_details",
        "scope": "all",
        "resource": None,
        "created_by": "olga",
        "created_at": "2026-11-16T10:30:00Z",
        "status": "lifted",
    }


def test_R_P8_narrower_restrictions_withdraw_only_where_they_cover(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "manager")
    add_member(rs.ledger, "carl", "broker")
    rs.ledger.set_manager(TENANT, owner(), "carl", "bob")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1"], user_id="bob")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-2"], user_id="carl")
    rs.ledger.set_resource_parent(TENANT, owner(), "lead", "L-4", {"type": "lead", "id": "L-3"})
    before = rs.now
    rs.later(minutes=5)
    assigned = restrict(rs, "bob", "leads.booster", "assigned")
    team = restrict(rs, "bob", "leads.assign", "team")
    named = restrict(rs, "bob", "leads.view_details", "resource", {"type": "lead", "id": "L-3"})
    rs.sync()

    def reason(permission: str, lead: str) -> tuple:
        d = check(rs, "bob", permission, ("lead", lead))
        return d["reason"], d["restriction_id"]

    assert reason("leads.booster", "L-1") == ("restricted", assigned)
    assert reason("leads.booster", "L-2") == (None, None)
    assert reason("leads.assign", "L-1") == ("restricted", team)
    assert reason("leads.assign", "L-2") == ("restricted", team)  # carl is in bob's team
    assert reason("leads.assign", "L-9") == (None, None)
    assert reason("leads.view_details", "L-3") == ("restricted", named)
    assert reason("leads.view_details", "L-4") == ("restricted", named)  # below L-3 (R-H2)
    assert reason("leads.booster", "L-4") == ("restricted", named)  # booster implies view_details
    assert reason("leads.view_details", "L-1") == (None, None)
    # Held at any scope still: only a restriction at scope all withdraws a question without a resource.
    assert check(rs, "bob", "leads.booster")["allowed"] is True

    listed = {p["permission"]: p for p in rs.q.effective_permissions(TENANT, "bob", now=rs.now)["permissions"]}
    assert listed["leads.assign"]["restrictions"] == [{"restriction_id": team, "scope": "team", "resource": None}]
    assert listed["leads.view_details"]["restrictions"] == [
        {"restriction_id": named, "scope": "resource", "resource": {"type": "lead", "id": "L-3"}}
    ]
    changes = rs.q.diff(TENANT, before, rs.now, now=rs.now)
    assert {(c["permission"], c["scope"], c["change"]) for c in changes} == {
        ("leads.booster", "assigned", "lost"),
        ("leads.assign", "team", "lost"),
        ("leads.view_details", "resource", "lost"),
        ("leads.booster", "resource", "lost"),
    }
    items, _ = rs.q.restrictions(TENANT, user_id="bob", status="active")
    assert [r["restriction_id"] for r in items] == [assigned, team, named]


def test_R_P8_R_M3_removal_lifts_restrictions_and_the_audit_names_the_member(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    restriction_id = restrict(rs, "bob", "contacts.create")
    rs.later(minutes=5)
    rs.ledger.remove_member(TENANT, owner(), "bob")
    rs.sync()
    assert rs.q.restriction(TENANT, restriction_id)["status"] == "lifted"
    assert rs.q.restrictions(TENANT, status="active") == ([], None)
    entries = [e for e in rs.q.audit(TENANT, limit=100)[0] if e["event_type"].startswith("Restriction")]
    assert [(e["event_type"], e["subject"]) for e in entries] == [
        ("RestrictionAdded", "bob"),
        ("RestrictionLifted", "bob"),
    ]
    assert entries[1]["data"]["reason"] == "removed"
    rows = rs.rows(
        "SELECT valid_to FROM permission_history WHERE tenant_id = ? AND source_kind = 'restriction'", (TENANT,)
    )
    assert rows and all(r["valid_to"] is not None for r in rows)
