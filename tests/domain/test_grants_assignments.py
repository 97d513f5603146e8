"""Grants (R-G1, R-G2) and resource assignments (R-A1, R-A2), on the aggregate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.effective_access import holds
from domain.tenant import events as ev
from domain.tenant.aggregate import MAX_BULK
from tests.domain.helpers import OWNER, Sim, lead


def grant_args(sim: Sim, **overrides: object) -> dict[str, object]:
    return {
        "user_id": "bea",
        "permission": "billing.view",
        "scope": "all",
        "resource": None,
        "expires_at": None,
        **overrides,
    }


# ----------------------------------------------------------------- R-G1


def test_R_G1_a_grant_gives_one_member_one_permission_at_a_scope() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    expiry = sim.now + timedelta(days=3)
    grant_id = sim.grant("bea", "leads.booster", "resource", lead("L-1"), expires_at=expiry)
    [granted] = sim.last
    assert isinstance(granted, ev.PermissionGranted)
    assert (granted.grant_id, granted.user_id, granted.permission, granted.role) == (
        grant_id,
        "bea",
        "leads.booster",
        None,
    )
    assert (granted.scope, granted.resource, granted.expires_at) == ("resource", lead("L-1"), expiry)
    grant = sim.tenant.grants[grant_id]
    assert (grant.granted_by, grant.granted_at) == (OWNER, sim.now)
    assert holds(sim.tenant, "bea", "leads.list", "resource", ("lead", "L-1"))


@pytest.mark.parametrize(
    ("permission", "scope"),
    [("leads.assign", "all"), ("leads.view_details", "team"), ("leads.list", "assigned"), ("audit.read", "all")],
)
def test_R_G1_grantable_scopes(permission: str, scope: str) -> None:
    sim = Sim()
    sim.add("bea", "broker")
    grant_id = sim.grant("bea", permission, scope)
    assert sim.tenant.grants[grant_id].scope == scope


def test_R_G1_granting_needs_permissions_manage() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("mo", "manager")
    error = sim.expect_rejection("forbidden", "mo", "grant", **grant_args(sim))
    assert error.fields["missing_permission"] == "permissions.manage"


def test_R_G1_subscription_cancel_is_never_grantable_not_even_by_the_owner() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    sim.expect_rejection(
        "not_grantable", OWNER, "grant", **grant_args(sim, user_id="ann", permission="subscription.cancel")
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"permission": "leads.delete"},
        {"scope": "everything"},
        {"permission": "billing.view", "scope": "assigned"},
        {"permission": "leads.list", "scope": "resource"},
        {"permission": "leads.list", "scope": "all", "resource": lead("L-1")},
        {"permission": "contacts.create", "scope": "resource", "resource": lead("L-1")},
    ],
)
def test_R_G1_malformed_grants_are_validation_errors(overrides: dict[str, object]) -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.expect_rejection("validation_error", OWNER, "grant", **grant_args(sim, **overrides))


def test_R_G1_expiry_must_be_in_the_future_and_the_member_must_exist() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.expect_rejection("validation_error", OWNER, "grant", **grant_args(sim, expires_at=sim.now))
    sim.expect_rejection("not_found", OWNER, "grant", **grant_args(sim, user_id="ghost"))


# ----------------------------------------------------------------- R-G2


def test_R_G2_grants_can_be_revoked_once() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("mo", "manager")
    grant_id = sim.grant("bea", "billing.view")
    sim.expect_rejection("forbidden", "mo", "revoke_grant", grant_id)
    sim.do(OWNER, "revoke_grant", grant_id)
    [revoked] = sim.last
    assert (revoked.grant_id, revoked.user_id, revoked.reason) == (grant_id, "bea", "revoked")
    assert not holds(sim.tenant, "bea", "billing.view")
    sim.expect_rejection("not_found", OWNER, "revoke_grant", grant_id)


def test_R_G2_grants_expire_by_themselves_at_their_expiry() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    expiry = sim.now + timedelta(hours=5)
    grant_id = sim.grant("bea", "billing.view", expires_at=expiry)
    assert sim.later(hours=4, minutes=59) == []
    [expired] = sim.later(minutes=1)
    assert isinstance(expired, ev.GrantExpired)
    assert (expired.grant_id, expired.user_id, expired.actor, expired.occurred_at) == (
        grant_id,
        "bea",
        "system",
        expiry,
    )
    assert grant_id not in sim.tenant.grants
    sim.expect_rejection("not_found", OWNER, "revoke_grant", grant_id)


# ----------------------------------------------------------------- R-A1


def test_R_A1_assigning_and_reassigning_records_previous_assignees() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("bob", "broker")
    assert sim.assign("bea", "L-1", "L-2") == 2
    [first] = sim.last
    assert (first.resource_type, first.resource_ids, first.user_id) == ("lead", ["L-1", "L-2"], "bea")
    assert first.previous_assignees == {"L-1": None, "L-2": None}
    sim.assign("bob", "L-2", "L-3")
    assert sim.last[0].previous_assignees == {"L-2": "bea", "L-3": None}
    assert sim.tenant.assignments == {"lead:L-1": "bea", "lead:L-2": "bob", "lead:L-3": "bob"}


def test_R_A1_unassign() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("mia", "marketing")
    sim.assign("bea", "L-1")
    sim.expect_rejection("forbidden", "mia", "unassign", "lead", "L-1")
    sim.do(OWNER, "unassign", "lead", "L-1")
    [unassigned] = sim.last
    assert (unassigned.resource_id, unassigned.user_id, unassigned.reason) == ("L-1", "bea", "unassigned")
    sim.expect_rejection("not_found", OWNER, "unassign", "lead", "L-1")


def test_R_A1_assigning_needs_leads_assign_on_each_resource() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("bob", "broker")
    error = sim.expect_rejection("forbidden", "bea", "assign", "lead", ["L-1"], "bob")
    assert error.fields["missing_permission"] == "leads.assign"
    sim.grant("bea", "leads.assign", "assigned")
    sim.assign("bea", "L-1")
    sim.assign("bob", "L-1", by="bea")  # her own lead
    sim.expect_rejection("forbidden", "bea", "assign", "lead", ["L-1"], "bea")  # no longer hers
    sim.expect_rejection("not_found", OWNER, "assign", "lead", ["L-1"], "ghost")


@pytest.mark.parametrize("ids", [[], ["L-1", "L-1"], [f"L-{n}" for n in range(MAX_BULK + 1)]])
def test_R_A1_bulk_takes_1_to_10000_distinct_ids(ids: list[str]) -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.expect_rejection("validation_error", OWNER, "assign", "lead", ids, "bea")


def test_R_A1_bulk_of_10000_is_all_or_nothing() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("bob", "broker")
    sim.grant("bea", "leads.assign", "assigned")
    ids = [f"L-{n}" for n in range(MAX_BULK)]
    assert sim.assign("bea", *ids[:-1]) == MAX_BULK - 1
    # bea may hand over her own 9,999 leads but not the last one, which is not hers: nothing moves.
    sim.expect_rejection("forbidden", "bea", "assign", "lead", ids, "bob")
    assert sum(1 for a in sim.tenant.assignments.values() if a == "bea") == MAX_BULK - 1
    assert sim.assign("bob", *ids) == MAX_BULK
    [assigned] = sim.last
    assert len(assigned.resource_ids) == MAX_BULK
    assert assigned.previous_assignees == {**{i: "bea" for i in ids[:-1]}, ids[-1]: None}
    assert set(sim.tenant.assignments.values()) == {"bob"}


# ----------------------------------------------------------------- R-A2


def test_R_A2_leads_go_only_to_members_who_could_view_their_details() -> None:
    sim = Sim()
    sim.add("mia", "marketing")
    sim.add("aud", "auditor")
    sim.add("mo", "manager")
    sim.expect_rejection("assignee_cannot_access", OWNER, "assign", "lead", ["L-1"], "mia")
    sim.expect_rejection("assignee_cannot_access", OWNER, "assign", "lead", ["L-1"], "aud")
    sim.assign("mo", "L-1")
    sim.assign(OWNER, "L-2")
    sim.grant("mia", "leads.view_details", "resource", lead("L-3"))
    sim.assign("mia", "L-3")
    sim.expect_rejection("assignee_cannot_access", OWNER, "assign", "lead", ["L-3", "L-4"], "mia")  # all or nothing
    sim.grant("aud", "leads.booster", "assigned")  # implies view_details on what is assigned
    sim.assign("aud", "L-4", "L-5")
