"""The directory read models (tenants, members, invitations, tokens, add-ons, charges, grants, assignments)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.application import hash_token
from tests.projections.readside import ReadSide, read_side
from tests.support import START, TENANT, actor, add_member, open_tenant, owner


@pytest.fixture
def rs(ledger, clock) -> Iterator[ReadSide]:
    opened = open_tenant(ledger)
    with read_side(ledger, clock) as side:
        side.owner_token = opened.owner_token
        side.owner_token_id = opened.owner_token_id
        yield side


def test_R_T1_an_opened_tenant_has_its_owner_plan_and_seats(rs: ReadSide) -> None:
    rs.sync()
    tenant = rs.q.tenant(TENANT, rs.now)
    assert tenant == {
        "tenant_id": TENANT,
        "name": "Acme Ltd",
        "status": "active",
        "plan": {"name": "basic", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR"},
        "term_start": "2026-11-16",
        "term_end": "2026-12-16",
        "seats": {"capacity": 5, "used": 0, "members": 0, "pending_invitations": 0, "free": 5},
        "addons": [],
        "min_admins": 1,
        "cancellation_effective_at": None,
    }
    owner_row = rs.q.member(TENANT, "olga")
    assert (owner_row["role"], owner_row["seat_order"], owner_row["status"]) == ("owner", 0, "active")
    assert rs.q.principal_for_token(hash_token(rs.owner_token)) == {
        "tenant_id": TENANT,
        "user_id": "olga",
        "token_id": rs.owner_token_id,
    }


def test_R_T3_R_T4_policy_cancellation_withdrawal_and_renewal(rs: ReadSide) -> None:
    rs.ledger.change_policy(TENANT, owner(), 1)
    rs.ledger.cancel_subscription(TENANT, owner())
    rs.sync()
    tenant = rs.q.tenant(TENANT, rs.now)
    assert (tenant["status"], tenant["cancellation_effective_at"]) == ("cancellation_scheduled", "2026-12-16T00:00:00Z")
    rs.ledger.withdraw_cancellation(TENANT, owner())
    rs.at(datetime(2026, 12, 16, 0, 0, tzinfo=UTC))
    rs.ledger.apply_due(TENANT)
    rs.sync()
    tenant = rs.q.tenant(TENANT, rs.now)
    assert (tenant["status"], tenant["term_start"], tenant["term_end"]) == ("active", "2026-12-16", "2027-01-16")
    assert tenant["cancellation_effective_at"] is None


def test_R_M2_R_M3_memberships_keep_their_intervals_and_roles(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    t1 = rs.later(hours=1)
    rs.ledger.change_role(TENANT, owner(), "bob", "manager")
    rs.later(hours=1)
    rs.ledger.remove_member(TENANT, owner(), "bob")
    rs.later(hours=1)
    add_member(rs.ledger, "bob", "marketing")  # the same user joins again: a new membership and seat
    rs.sync()

    rejoined = rs.q.member(TENANT, "bob")
    assert (rejoined["status"], rejoined["role"], rejoined["seat_order"]) == ("active", "marketing", 2)
    rows = rs.rows(
        "SELECT * FROM dir_members WHERE tenant_id = ? AND user_id = 'bob' ORDER BY joined_position", (TENANT,)
    )
    assert [(r["status"], r["role"], r["removal_reason"]) for r in rows] == [
        ("removed", "manager", "removed"),
        ("active", "marketing", None),
    ]
    roles = rs.rows("SELECT * FROM dir_roles WHERE tenant_id = ? AND user_id = 'bob' ORDER BY from_position", (TENANT,))
    assert [(r["role"], r["valid_to"] is None) for r in roles] == [
        ("broker", False),
        ("manager", False),
        ("marketing", True),
    ]
    assert roles[0]["valid_to"] == "2026-11-16T10:30:00.000000Z" == roles[1]["valid_from"]
    everyone, _ = rs.q.members(TENANT, status="all", now=rs.now)
    assert [(m["user_id"], m["seat_order"], m["status"]) for m in everyone] == [
        ("olga", 0, "active"),
        ("bob", 1, "removed"),
        ("bob", 2, "active"),
    ]
    then, _ = rs.q.members(TENANT, as_of=t1, now=rs.now)
    assert [(m["user_id"], m["role"], m["status"]) for m in then] == [
        ("olga", "owner", "active"),
        ("bob", "manager", "active"),
    ]


def test_R_I1_R_I2_invitations_and_their_statuses(rs: ReadSide) -> None:
    sent = [rs.ledger.invite(TENANT, owner(), email=f"{n}@x.example", role="broker") for n in "abcde"]
    ids = [r.values["invitation_id"] for r in sent]
    rs.ledger.accept_invitation(actor("anna"), token=sent[0].values["token"], user_id="anna", name="Anna")
    rs.ledger.decline_invitation(actor("x"), token=sent[1].values["token"])
    rs.ledger.revoke_invitation(TENANT, owner(), ids[2])
    rs.later(days=3)
    resent = rs.ledger.resend_invitation(TENANT, owner(), ids[3])
    rs.sync()
    statuses = {i["invitation_id"]: i["status"] for i in rs.q.invitations(TENANT, now=rs.now)[0]}
    assert statuses == dict(zip(ids, ["accepted", "declined", "revoked", "pending", "pending"], strict=True))
    assert rs.q.invitation(TENANT, ids[0], rs.now)["invited_by"] == "olga"
    assert rs.q.member(TENANT, "anna")["role"] == "broker"
    row = rs.rows("SELECT token_hash FROM dir_invitations WHERE tenant_id = ? AND invitation_id = ?", (TENANT, ids[3]))
    assert row[0]["token_hash"] == hash_token(resent.values["token"])
    assert rs.q.tenant(TENANT, rs.now)["seats"] == {
        "capacity": 5,
        "used": 3,
        "members": 1,
        "pending_invitations": 2,
        "free": 2,
    }

    rs.later(days=4, seconds=1)  # the one not resent expired; nothing recorded yet
    rs.sync()
    assert rs.q.invitation(TENANT, ids[4], rs.now)["status"] == "expired"
    assert [i["invitation_id"] for i in rs.q.invitations(TENANT, status="expired", now=rs.now)[0]] == [ids[4]]
    assert [i["invitation_id"] for i in rs.q.invitations(TENANT, status="pending", now=rs.now)[0]] == [ids[3]]
    assert rs.q.tenant(TENANT, rs.now)["seats"]["pending_invitations"] == 1
    rs.ledger.apply_due(TENANT)
    rs.sync()
    stored = rs.rows("SELECT status FROM dir_invitations WHERE tenant_id = ? AND invitation_id = ?", (TENANT, ids[4]))
    assert stored[0]["status"] == "expired"


def test_R_M3_tokens_map_to_memberships_and_revoked_ones_fail_at_once(rs: ReadSide) -> None:
    added = add_member(rs.ledger, "bob", "broker")
    issued = rs.ledger.issue_token(TENANT, actor("bob"), label="ci")
    rs.sync()
    bob = {"tenant_id": TENANT, "user_id": "bob"}
    assert rs.q.principal_for_token(hash_token(added.values["token"])) == {**bob, "token_id": added.values["token_id"]}
    assert rs.q.principal_for_token(hash_token(issued.values["token"]))["token_id"] == issued.values["token_id"]
    rs.ledger.revoke_token(TENANT, actor("bob"), issued.values["token_id"])
    rs.sync()
    assert rs.q.principal_for_token(hash_token(issued.values["token"])) is None
    assert rs.q.principal_for_token(hash_token(added.values["token"])) is not None
    rs.ledger.remove_member(TENANT, owner(), "bob")
    rs.sync()
    assert rs.q.principal_for_token(hash_token(added.values["token"])) is None
    assert rs.q.principal_for_token("not-a-hash") is None


def test_R_S2_R_S3_addons_and_their_prorated_and_monthly_charges(rs: ReadSide) -> None:
    bought = rs.ledger.purchase_addon(TENANT, owner(), "user-seats")
    addon_id = bought.values["addon_id"]
    rs.at(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    rs.ledger.apply_due(TENANT)
    rs.ledger.cancel_addon(TENANT, owner(), addon_id)
    rs.sync()
    addon = rs.q.addon(TENANT, addon_id)
    assert addon == {
        "addon_id": addon_id,
        "kind": "user-seats",
        "seats": 15,
        "monthly_price": "49.00",
        "currency": "EUR",
        "status": "cancellation_scheduled",
        "purchased_at": "2026-11-16T09:30:00Z",
        "ends_at": "2026-12-16T00:00:00Z",
    }
    assert rs.q.tenant(TENANT, rs.now)["seats"]["capacity"] == 20
    charges, cursor = rs.q.charges(TENANT)
    assert cursor is None
    assert [(c["kind"], c["amount"], c["period_start"], c["period_end"], c["charged_at"]) for c in charges] == [
        ("prorated", "24.50", "2026-11-16", "2026-12-01", "2026-11-16T09:30:00Z"),
        ("monthly", "49.00", "2026-12-01", "2027-01-01", "2026-12-01T00:00:00Z"),
    ]
    rs.at(datetime(2026, 12, 16, tzinfo=UTC))
    rs.ledger.apply_due(TENANT)
    rs.sync()
    assert rs.q.addons(TENANT)[0]["status"] == "ended"
    assert rs.q.tenant(TENANT, rs.now)["seats"]["capacity"] == 5
    assert rs.q.addon(TENANT, "addon_404") is None


def test_R_G1_R_G2_grants_with_their_statuses(rs: ReadSide) -> None:
    add_member(rs.ledger, "mia", "marketing")
    add_member(rs.ledger, "bob", "broker")
    give = dict(permission="leads.view_details", scope="all")
    g1 = rs.ledger.grant(TENANT, owner(), user_id="mia", **give).values["grant_id"]
    g2 = rs.ledger.grant(TENANT, owner(), user_id="mia", expires_at=rs.now + timedelta(hours=1), **give).values[
        "grant_id"
    ]
    g3 = rs.ledger.grant(TENANT, owner(), user_id="bob", **give).values["grant_id"]
    rs.ledger.revoke_grant(TENANT, owner(), g3)
    rs.later(hours=2)
    rs.sync()
    statuses = {g["grant_id"]: g["status"] for g in rs.q.grants(TENANT, now=rs.now)[0]}
    assert statuses == {g1: "active", g2: "expired", g3: "revoked"}
    assert [g["grant_id"] for g in rs.q.grants(TENANT, user_id="mia", now=rs.now)[0]] == [g1, g2]
    assert [g["grant_id"] for g in rs.q.grants(TENANT, status="expired", now=rs.now)[0]] == [g2]
    assert [g["grant_id"] for g in rs.q.grants(TENANT, status="active", now=rs.now)[0]] == [g1]
    first = rs.q.grant(TENANT, g1, rs.now)
    assert first == {
        "grant_id": g1,
        "user_id": "mia",
        "permission": "leads.view_details",
        "role": None,
        "scope": "all",
        "resource": None,
        "starts_at": None,
        "expires_at": None,
        "granted_by": "olga",
        "granted_at": "2026-11-16T09:30:00Z",
        "status": "active",
    }
    rs.ledger.apply_due(TENANT)
    rs.sync()
    assert rs.rows("SELECT status FROM dir_grants WHERE grant_id = ?", (g2,))[0]["status"] == "expired"


def test_R_A1_assignments_keep_intervals_and_list_now_and_as_of(rs: ReadSide) -> None:
    add_member(rs.ledger, "bob", "broker")
    add_member(rs.ledger, "carl", "broker")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-1", "L-2", "L-3"], user_id="bob")
    t1 = rs.later(minutes=1)
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-2", "L-1"], user_id="carl")
    rs.ledger.assign(TENANT, owner(), resource_type="lead", resource_ids=["L-3"], user_id="bob")  # no change
    rs.ledger.unassign(TENANT, owner(), "lead", "L-1")
    rs.sync()
    now, _ = rs.q.assignments(TENANT, now=rs.now)
    assert [(a["resource_id"], a["user_id"], a["assigned_at"]) for a in now] == [
        ("L-2", "carl", "2026-11-16T09:31:00Z"),
        ("L-3", "bob", "2026-11-16T09:30:00Z"),
    ]
    then, _ = rs.q.assignments(TENANT, as_of=t1 - timedelta(seconds=1), now=rs.now)
    assert [(a["resource_id"], a["user_id"]) for a in then] == [("L-1", "bob"), ("L-2", "bob"), ("L-3", "bob")]
    assert [a["resource_id"] for a in rs.q.assignments(TENANT, user_id="bob", now=rs.now)[0]] == ["L-3"]
    assert rs.q.assignments(TENANT, resource_type="account", now=rs.now) == ([], None)
    intervals = rs.rows(
        "SELECT user_id, unassign_reason FROM dir_assignments WHERE tenant_id = ? AND resource_id = 'L-1' "
        "ORDER BY from_position",
        (TENANT,),
    )
    assert [(r["user_id"], r["unassign_reason"]) for r in intervals] == [("bob", "reassigned"), ("carl", "unassigned")]


def test_R_K1_tenant_ids_lists_tenants_with_something_due(rs: ReadSide) -> None:
    open_tenant(rs.ledger, "beta")
    add_member(rs.ledger, "mia", "marketing")
    rs.ledger.grant(
        TENANT,
        owner(),
        user_id="mia",
        permission="leads.view_details",
        scope="all",
        expires_at=START + timedelta(days=2),
    )
    rs.sync()
    assert rs.q.tenant_ids() == ["acme", "beta"]
    assert rs.q.tenant_ids(due_before=START + timedelta(days=1)) == []
    assert rs.q.tenant_ids(due_before=START + timedelta(days=2)) == ["acme"]
    assert rs.q.tenant_ids(due_before=datetime(2026, 12, 16, tzinfo=UTC)) == ["acme", "beta"]
