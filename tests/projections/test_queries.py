"""Every Queries method: listings as of an instant, permissions, explain, diff, access report, paging, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import DomainError
from tests.projections.readside import ReadSide, read_side
from tests.support import START, TENANT, add_member, open_tenant, owner

LEAD = ("lead", "L-1")


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    open_tenant(ledger)
    with read_side(ledger, clock) as side:
        yield side


def code_of(call) -> str:
    with pytest.raises(DomainError) as error:
        call()
    return error.value.code


def test_R_C3_members_as_of_show_roles_and_memberships_as_they_were(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    add_member(rs.ledger, "mia", "marketing")
    t1 = rs.now
    rs.later(hours=1)
    rs.ledger.change_role(TENANT, owner(), "bob", "admin")
    t2 = rs.later(minutes=30)
    rs.later(minutes=30)
    rs.ledger.remove_member(TENANT, owner(), "mia")
    rs.sync()

    def listed(**kw) -> list[tuple]:
        items, _ = rs.q.members(TENANT, now=rs.now, **kw)
        return [(m["user_id"], m["role"], m["status"]) for m in items]

    assert listed() == [("olga", "owner", "active"), ("bob", "admin", "active")]
    assert listed(as_of=t1) == [
        ("olga", "owner", "active"),
        ("bob", "broker", "active"),
        ("mia", "marketing", "active"),
    ]
    assert listed(as_of=t2, role="admin") == [("bob", "admin", "active")]
    assert listed(as_of=t2, role="broker") == []
    assert listed(status="removed") == [("mia", "marketing", "removed")]
    assert listed(status="removed", as_of=t2) == []
    assert listed(status="all", as_of=START - timedelta(seconds=1)) == []
    removed = rs.q.member(TENANT, "mia")
    assert (removed["removed_at"], removed["removal_reason"]) == ("2026-11-16T11:30:00Z", "removed")
    assert rs.q.members(TENANT, as_of=t1, now=rs.now)[0][2]["removed_at"] is None
    assert rs.q.member(TENANT, "zed") is None


def test_R_C3_effective_permissions_now_and_as_of(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    t1 = rs.now
    rs.later(hours=1)
    rs.ledger.grant(
        TENANT,
        owner(),
        user_id="bob",
        permission="leads.view_details",
        scope="resource",
        resource={"type": "lead", "id": "L-7"},
    )
    rs.ledger.change_role(TENANT, owner(), "bob", "auditor")
    rs.sync()
    now = rs.q.effective_permissions(TENANT, "bob", now=rs.now)
    assert now["role"] == "auditor"
    assert now["permissions"] == [
        {"permission": "audit.read", "scope": "all"},
        {"permission": "billing.view", "scope": "all"},
        {"permission": "leads.list", "scope": "resource", "resources": [{"type": "lead", "id": "L-7"}]},
        {"permission": "leads.view_details", "scope": "resource", "resources": [{"type": "lead", "id": "L-7"}]},
    ]
    assert (now["as_of"], now["position"]) == (None, rs.ledger.head_position())
    then = rs.q.effective_permissions(TENANT, "bob", as_of=t1, now=rs.now)
    assert then["role"] == "broker"
    assert {p["permission"]: p["scope"] for p in then["permissions"]} == {
        "contacts.create": "all",
        "leads.booster": "assigned",
        "leads.list": "assigned",
        "leads.view_details": "assigned",
    }
    before = rs.q.effective_permissions(TENANT, "bob", as_of=START - timedelta(hours=1), now=rs.now)
    assert (before["role"], before["permissions"]) == (None, [])
    assert code_of(lambda: rs.q.effective_permissions(TENANT, "zed", now=rs.now)) == "not_found"


def test_R_C2_explain_names_the_events_that_gave_or_took_access(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    rs.later(minutes=1)
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1"], user_id="bob")
    t1 = rs.now
    rs.later(minutes=1)
    rs.ledger.remove_member(TENANT, owner(), "bob")
    rs.sync()

    then = rs.q.explain(TENANT, "bob", "leads.view_details", LEAD, as_of=t1, now=rs.now)
    assert then["allowed"] is True
    assert [e["event_type"] for e in then["events"]] == ["MemberAdded", "ResourcesAssigned"]
    assert all(set(e) >= {"position", "sequence", "hash", "data"} for e in then["events"])
    now = rs.q.explain(TENANT, "bob", "leads.view_details", LEAD, now=rs.now)
    assert now["reason"] == "not_a_member"
    assert [e["event_type"] for e in now["events"]] == [
        "MemberAdded",
        "ResourceUnassigned",
        "MemberRemoved",
    ]
    assert now["as_of"] is None


def test_R_R2_diff_lists_gains_and_losses_with_their_events(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    add_member(rs.ledger, "mia", "marketing")
    t0 = rs.later(hours=1)
    changed = rs.ledger.change_role(TENANT, owner(), "bob", "manager")
    granted = rs.ledger.grant(
        TENANT, owner(), user_id="mia", permission="leads.assign", scope="all", expires_at=t0 + timedelta(hours=2)
    )
    t1 = rs.later(hours=1)
    rs.at(t0 + timedelta(hours=3))  # mia's grant expired; nothing recorded
    rs.sync()

    gained = [c for c in rs.q.diff(TENANT, t0 - timedelta(seconds=1), t1, now=rs.now) if c["change"] == "gained"]
    assert {(c["user_id"], c["permission"], c["scope"]) for c in gained} >= {
        ("bob", "leads.view_details", "all"),
        ("bob", "leads.assign", "all"),
        ("bob", "marketing.ai_studio", "all"),
        ("mia", "leads.assign", "all"),
    }
    assert {c["event_type"] for c in gained} == {"MemberRoleChanged", "PermissionGranted"}
    assert {c["position"] for c in gained if c["user_id"] == "bob"} == {changed.position}
    assert {c["position"] for c in gained if c["user_id"] == "mia"} == {granted.position}
    lost = [c for c in rs.q.diff(TENANT, t0 - timedelta(seconds=1), t1, now=rs.now) if c["change"] == "lost"]
    assert {(c["user_id"], c["permission"], c["scope"]) for c in lost} == {
        ("bob", "leads.view_details", "assigned"),
        ("bob", "leads.list", "assigned"),
        ("bob", "leads.booster", "assigned"),
    }
    expiry = rs.q.diff(TENANT, t1, rs.now, now=rs.now)
    assert [(c["user_id"], c["permission"], c["change"], c["event_type"], c["position"]) for c in expiry] == [
        ("mia", "leads.assign", "lost", "GrantExpired", None),
    ]
    assert expiry[0]["at"] == "2026-11-16T12:30:00Z"
    assert code_of(lambda: rs.q.diff(TENANT, t1, t0, now=rs.now)) == "validation_error"


def test_R_L5_access_report_as_of_any_instant(rs: ReadSide) -> None:
    add_member(rs.ledger, "ann", "auditor")
    t1 = rs.later(hours=1)
    rs.later(hours=1)
    rs.ledger.remove_member(TENANT, owner(), "ann")
    rs.sync()
    then = rs.q.access_report(TENANT, as_of=t1, now=rs.now)
    assert then["as_of"] == "2026-11-16T10:30:00Z"
    assert [(m["user_id"], m["email"], m["role"]) for m in then["members"]] == [
        ("olga", "olga@acme.example", "owner"),
        ("ann", "ann@acme.example", "auditor"),
    ]
    assert then["members"][1]["permissions"] == [
        {"permission": "audit.read", "scope": "all"},
        {"permission": "billing.view", "scope": "all"},
    ]
    assert len(then["members"][0]["permissions"]) == 18
    assert [m["user_id"] for m in rs.q.access_report(TENANT, now=rs.now)["members"]] == ["olga"]


def test_R_C1_check_many_answers_each_check_in_order(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    rs.sync()
    checks = [("bob", "leads.list", None), ("bob", "users.manage", None), ("zed", "leads.list", LEAD)]
    for as_of in (None, rs.now):
        answers = rs.q.check_many(TENANT, checks, as_of=as_of, now=rs.now)
        assert [(a["allowed"], a["reason"]) for a in answers] == [
            (True, None),
            (False, "not_permitted"),
            (False, "not_a_member"),
        ]
    assert code_of(lambda: rs.q.check_many(TENANT, [("bob", "nope", None)], now=rs.now)) == "validation_error"


def test_R_L4_lists_page_with_opaque_cursors_and_reject_malformed_ones(rs: ReadSide) -> None:
    """API.md lists: `limit` 1..1000, opaque cursors; R-L4 for the audit's page."""
    for n in range(4):
        add_member(rs.ledger, f"u{n}", "broker")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=[f"L-{n}" for n in range(5)], user_id="u0")
    rs.sync()
    seen, cursor = [], None
    while True:
        items, cursor = rs.q.members(TENANT, cursor=cursor, limit=2, now=rs.now)
        seen += [m["user_id"] for m in items]
        if cursor is None:
            break
    assert seen == ["olga", "u0", "u1", "u2", "u3"]
    first, cursor = rs.q.assignments(TENANT, limit=3, now=rs.now)
    rest, last = rs.q.assignments(TENANT, cursor=cursor, limit=3, now=rs.now)
    assert [a["resource_id"] for a in first + rest] == [f"L-{n}" for n in range(5)] and last is None
    lists = [
        lambda c: rs.q.members(TENANT, cursor=c, now=rs.now),
        lambda c: rs.q.invitations(TENANT, cursor=c, now=rs.now),
        lambda c: rs.q.charges(TENANT, cursor=c),
        lambda c: rs.q.grants(TENANT, cursor=c, now=rs.now),
        lambda c: rs.q.assignments(TENANT, cursor=c, now=rs.now),
        lambda c: rs.q.audit(TENANT, cursor=c),
    ]
    for listing in lists:
        for bad in ("%%%", "bm90IGpzb24", "WzEsMiwzXQ"):  # not base64, not JSON, wrong shape
            assert code_of(lambda listing=listing, bad=bad: listing(bad)) == "validation_error"
    assert code_of(lambda: rs.q.members(TENANT, limit=0, now=rs.now)) == "validation_error"
    assert code_of(lambda: rs.q.members(TENANT, limit=1001, now=rs.now)) == "validation_error"
    assert code_of(lambda: rs.q.members(TENANT, status="gone", now=rs.now)) == "validation_error"
    assert code_of(lambda: rs.q.grants(TENANT, status="gone", now=rs.now)) == "validation_error"


def test_R_X5_unknown_tenants_are_not_found_everywhere(rs: ReadSide) -> None:
    rs.sync()
    now = rs.now
    calls = [
        lambda: rs.q.tenant("nope", now),
        lambda: rs.q.tenant_status("nope", now),
        lambda: rs.q.members("nope", now=now),
        lambda: rs.q.member("nope", "olga"),
        lambda: rs.q.invitations("nope", now=now),
        lambda: rs.q.invitation("nope", "inv_1", now),
        lambda: rs.q.addons("nope"),
        lambda: rs.q.addon("nope", "addon_1"),
        lambda: rs.q.charges("nope"),
        lambda: rs.q.grants("nope", now=now),
        lambda: rs.q.grant("nope", "grant_1", now),
        lambda: rs.q.assignments("nope", now=now),
        lambda: rs.q.effective_permissions("nope", "olga", now=now),
        lambda: rs.q.explain("nope", "olga", "leads.list", now=now),
        lambda: rs.q.diff("nope", START, now, now=now),
        lambda: rs.q.access_report("nope", now=now),
        lambda: rs.q.audit("nope"),
        lambda: rs.q.audit_export("nope"),
        lambda: rs.q.audit_verify("nope"),
    ]
    assert [code_of(call) for call in calls] == ["not_found"] * len(calls)
    assert code_of(lambda: rs.q.members(TENANT, as_of=now + timedelta(days=1), now=now)) == "validation_error"
    assert code_of(lambda: rs.q.members(TENANT, as_of=datetime(2026, 11, 16), now=now)) == "validation_error"


def test_R_L1_audit_reads_are_delegated_and_positions_are_tracked(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    head = rs.ledger.head_position()
    assert rs.q.position() < head
    assert rs.sync() == head == rs.q.position()
    items, cursor = rs.q.audit(TENANT, limit=2)
    assert [e["event_type"] for e in items] == ["TenantOpened", "MemberAdded"] and cursor
    exported = "".join(rs.q.audit_export(TENANT, "jsonl", types=["MemberAdded"]))
    assert exported.count("\n") == 1 and "MemberAdded" in exported
    assert rs.q.audit_verify(TENANT)["ok"] is True


def test_R_S4_seed_000_ten_brokers_lose_the_five_newest_when_the_addon_ends(rs: ReadSide) -> None:
    """Seed 000: 10 brokers on 5 seats plus one add-on; the add-on ends; the 5 brokers created last are removed
    and their leads become unassigned; the past still answers as it was."""
    bought = rs.ledger.purchase_addon(TENANT, owner(), "user-seats")
    brokers = [f"broker{n:02d}" for n in range(10)]
    for n, user in enumerate(brokers):
        add_member(rs.ledger, user, "broker")
        rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=[f"L-{n}-a", f"L-{n}-b"], user_id=user)
    before = rs.later(days=1)
    rs.ledger.cancel_addon(TENANT, owner(), bought.values["addon_id"])
    ends = rs.at(datetime(2026, 12, 16, tzinfo=UTC))
    rs.later(minutes=1)
    rs.ledger.apply_due(TENANT)
    rs.sync()

    kept, removed = brokers[:5], brokers[5:]
    active, _ = rs.q.members(TENANT, now=rs.now)
    assert [m["user_id"] for m in active] == ["olga", *kept]
    gone, _ = rs.q.members(TENANT, status="removed", now=rs.now)
    assert [(m["user_id"], m["removal_reason"], m["removed_at"]) for m in gone] == [
        (user, "seat_capacity_reduced", "2026-12-16T00:00:00Z") for user in removed
    ]
    seats = rs.q.tenant(TENANT, rs.now)["seats"]
    assert (seats["capacity"], seats["used"], seats["free"]) == (5, 5, 0)
    assigned, _ = rs.q.assignments(TENANT, now=rs.now)
    assert {a["user_id"] for a in assigned} == set(kept) and len(assigned) == 10
    assert len(rs.q.assignments(TENANT, as_of=before, now=rs.now)[0]) == 20

    lead = ("lead", "L-9-a")
    now = rs.q.check(TENANT, "broker09", "leads.view_details", lead, now=rs.now)
    assert (now["allowed"], now["reason"]) == (False, "not_a_member")
    then = rs.q.check(TENANT, "broker09", "leads.view_details", lead, as_of=before, now=rs.now)
    assert then["allowed"] is True and then["via"][-1] == {
        "kind": "assignment",
        "resource": {"type": "lead", "id": "L-9-a"},
    }
    assert rs.q.check(TENANT, "broker04", "leads.view_details", ("lead", "L-4-b"), now=rs.now)["allowed"] is True
    lost = rs.q.diff(TENANT, before, rs.now, now=rs.now)
    assert {c["user_id"] for c in lost} == set(removed)
    assert {(c["change"], c["event_type"], c["at"]) for c in lost} == {
        ("lost", "MemberRemoved", "2026-12-16T00:00:00Z")
    }
    report = rs.q.access_report(TENANT, as_of=ends - timedelta(seconds=1), now=rs.now)
    assert [m["user_id"] for m in report["members"]] == ["olga", *brokers]
    entries = rs.q.explain(TENANT, "broker09", "leads.view_details", lead, now=rs.now)["events"]
    removal = [e for e in entries if e["event_type"] == "MemberRemoved"]
    assert removal and removal[0]["actor"] == "system" and removal[0]["data"]["reason"] == "seat_capacity_reduced"
