"""Custom roles on the read side (R-P7): definitions with their intervals, holders' permissions before and after a
redefinition (checks, diff, explain, effective permissions, access report), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.projections.readside import ReadSide, read_side
from tests.support import START, TENANT, add_member, open_tenant, owner

LEAD = ("lead", "L-1")
VIEW = [{"permission": "leads.view_details", "scope": "all"}]


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    open_tenant(ledger)
    with read_side(ledger, clock) as side:
        yield side


def check(rs: ReadSide, user_id: str, permission: str, resource=None, as_of=None) -> dict:
    return rs.q.check(TENANT, user_id, permission, resource, as_of=as_of, now=rs.now)


def define(rs: ReadSide, role_id: str, includes=(), permissions=()) -> int:
    return rs.ledger.define_role(
        TENANT, owner(), role_id=role_id, name=role_id.title(), includes=list(includes), permissions=list(permissions)
    ).position


def redefine(rs: ReadSide, role_id: str, includes=(), permissions=()) -> int:
    return rs.ledger.redefine_role(
        TENANT, owner(), role_id, name=f"{role_id.title()} II", includes=list(includes), permissions=list(permissions)
    ).position


def test_R_P7_a_custom_role_is_listed_and_answered_as_defined_at_any_instant(rs: ReadSide) -> None:
    define(rs, "closer", ["broker"], [{"permission": "contacts.create", "scope": "all"}])
    t1 = rs.later(hours=1)
    redefine(rs, "closer", [], VIEW)
    t2 = rs.later(hours=1)
    rs.ledger.delete_role(TENANT, owner(), "closer")
    rs.sync()

    assert rs.q.role(TENANT, "closer") is None
    assert "closer" not in {r["role_id"] for r in rs.q.roles(TENANT)}
    assert rs.q.role(TENANT, "closer", as_of=START) == {
        "role_id": "closer",
        "name": "Closer",
        "builtin": False,
        "includes": ["broker"],
        "permissions": [{"permission": "contacts.create", "scope": "all"}],
    }
    assert rs.q.role(TENANT, "closer", as_of=t1)["permissions"] == VIEW
    assert rs.q.role(TENANT, "closer", as_of=t1)["name"] == "Closer II"
    assert [r["role_id"] for r in rs.q.roles(TENANT, as_of=t2 - timedelta(seconds=1))][-1] == "closer"
    assert rs.q.role(TENANT, "closer", as_of=t2) is None
    assert rs.q.role(TENANT, "admin")["builtin"] is True


def test_R_P7_a_redefinition_changes_every_holder_from_its_instant_and_keeps_the_past(rs: ReadSide) -> None:
    define(rs, "closer", [], [{"permission": "leads.list", "scope": "all"}])
    define(rs, "senior", ["closer"], [{"permission": "contacts.create", "scope": "all"}])
    add_member(rs.ledger, "bob", "closer")
    add_member(rs.ledger, "cleo", "senior")
    before = rs.now
    rs.later(hours=1)
    redefined = redefine(rs, "closer", [], VIEW)
    after = rs.later(hours=1)
    rs.sync()

    for user in ("bob", "cleo"):  # the role itself, and a role including it
        then = check(rs, user, "leads.view_details", LEAD, as_of=before)
        assert (then["allowed"], then["reason"]) == (False, "not_permitted")
        now = check(rs, user, "leads.view_details", LEAD, as_of=after)
        assert now["allowed"] is True
        # leads.list is held on both sides, so its row goes on: only what changed is closed and reopened.
        assert check(rs, user, "leads.list", LEAD, as_of=before)["allowed"] is True
    assert check(rs, "cleo", "leads.view_details")["via"] == [{"kind": "role", "role": "senior"}]
    assert check(rs, "cleo", "contacts.create", as_of=after)["allowed"] is True

    changes = rs.q.diff(TENANT, before, after, now=rs.now)
    assert {(c["user_id"], c["permission"], c["change"], c["event_type"], c["position"]) for c in changes} == {
        (user, "leads.view_details", "gained", "RoleRedefined", redefined) for user in ("bob", "cleo")
    }
    explained = rs.q.explain(TENANT, "bob", "leads.view_details", LEAD, now=rs.now)
    assert "RoleRedefined" in [e["event_type"] for e in explained["events"]]
    listed = rs.q.effective_permissions(TENANT, "bob", as_of=before, now=rs.now)
    assert [p["permission"] for p in listed["permissions"]] == ["leads.list"]
    report = {m["user_id"]: m for m in rs.q.access_report(TENANT, as_of=after, now=rs.now)["members"]}
    assert {"permission": "leads.view_details", "scope": "all"} in report["cleo"]["permissions"]

    # Taking the permission back closes it from then on, and the diff names that redefinition.
    rs.later(hours=1)
    taken = redefine(rs, "closer", [], [{"permission": "leads.list", "scope": "all"}])
    rs.sync()
    lost = rs.q.diff(TENANT, after, rs.now, now=rs.now)
    assert {(c["user_id"], c["permission"], c["change"], c["position"]) for c in lost} == {
        (user, p, "lost", taken) for user in ("bob", "cleo") for p in ("leads.view_details",)
    }
    assert check(rs, "bob", "leads.view_details", LEAD, as_of=after)["allowed"] is True
    assert check(rs, "bob", "leads.view_details", LEAD)["reason"] == "not_permitted"


def test_R_P7_R_P9_a_redefinition_reaches_role_grants_of_the_role(rs: ReadSide) -> None:
    define(rs, "viewer", [], [{"permission": "leads.list", "scope": "all"}])
    add_member(rs.ledger, "mia", "marketing")
    granted = rs.ledger.grant(
        TENANT, owner(), user_id="mia", role="viewer", scope="resource", resource={"type": "account", "id": "A"}
    )
    rs.ledger.set_resource_parent(TENANT, owner(), "lead", "L-1", {"type": "account", "id": "A"})
    before = rs.now
    rs.later(hours=1)
    redefine(rs, "viewer", [], [{"permission": "leads.booster", "scope": "assigned"}])
    rs.sync()

    via = [{"kind": "role_grant", "grant_id": granted.values["grant_id"], "resource": {"type": "account", "id": "A"}}]
    assert check(rs, "mia", "leads.booster", LEAD, as_of=before)["reason"] == "not_permitted"
    now = check(rs, "mia", "leads.booster", LEAD)
    assert (now["allowed"], now["scope"], now["via"]) == (True, "resource", via)
    # A role grant gives the role's permissions on the resource whatever their scope in the role (R-P9).
    assert check(rs, "mia", "leads.view_details", ("lead", "L-2"))["reason"] == "not_permitted"


def test_R_P7_a_member_whose_custom_role_gave_nothing_is_still_reached(rs: ReadSide) -> None:
    define(rs, "empty")
    add_member(rs.ledger, "bob", "empty")
    rs.sync()
    assert rs.q.effective_permissions(TENANT, "bob", now=rs.now)["permissions"] == []
    rs.later(minutes=5)
    redefine(rs, "empty", ["auditor"])
    rs.sync()
    assert check(rs, "bob", "audit.read")["via"] == [{"kind": "role", "role": "empty"}]
    # Changing the member to a built-in role takes them out of the role's reach.
    rs.later(minutes=5)
    rs.ledger.change_role(TENANT, owner(), "bob", "broker")
    rs.later(minutes=5)
    redefine(rs, "empty", ["admin"])
    rs.sync()
    assert check(rs, "bob", "users.manage")["reason"] == "not_permitted"
    assert check(rs, "bob", "audit.read")["reason"] == "not_permitted"


def test_R_P7_audit_entries_of_role_events(rs: ReadSide) -> None:
    define(rs, "closer", ["broker"])
    redefine(rs, "closer", [], VIEW)
    rs.ledger.delete_role(TENANT, owner(), "closer")
    rs.sync()
    entries = [e for e in rs.q.audit(TENANT, limit=100)[0] if e["event_type"].startswith("Role")]
    assert [e["event_type"] for e in entries] == ["RoleDefined", "RoleRedefined", "RoleDeleted"]
    assert all(e["subject"] is None and e["actor"] == "olga" for e in entries)
    assert entries[0]["data"]["includes"] == ["broker"]
    assert entries[1]["data"]["old"]["includes"] == ["broker"] and entries[1]["data"]["new"]["permissions"] == VIEW
    assert rs.q.audit_verify(TENANT)["ok"] is True
