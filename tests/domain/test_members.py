"""Members (R-M1…R-M4), invitations (R-I1…R-I3) and member tokens, on the aggregate."""

from __future__ import annotations

from datetime import timedelta

from domain.tenant import events as ev
from domain.tenant.aggregate import INVITATION_TTL
from tests.domain.helpers import OWNER, Sim

# ----------------------------------------------------------------- R-M1, R-M2


def test_R_M2_add_user_gives_the_next_seat_order_and_a_token() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    added, issued = sim.last
    assert isinstance(added, ev.MemberAdded) and isinstance(issued, ev.TokenIssued)
    assert (added.user_id, added.role, added.seat_order, added.via, added.invitation_id) == (
        "ann",
        "admin",
        1,
        "direct",
        None,
    )
    assert (issued.user_id, issued.label) == ("ann", "default")
    sim.add("bea", "broker", by="ann")
    assert sim.tenant.members["bea"].seat_order == 2
    assert sim.last[0].actor == "ann"


def test_R_M2_seat_orders_are_never_reused() -> None:
    sim = Sim()
    sim.add("ann", "broker")
    sim.do(OWNER, "remove_member", "ann")
    sim.add("bea", "broker")
    assert sim.tenant.members["bea"].seat_order == 2


def test_R_M2_adding_needs_users_manage() -> None:
    sim = Sim()
    sim.add("mo", "manager")
    error = sim.expect_rejection(
        "forbidden",
        "mo",
        "add_member",
        user_id="x",
        email="x@acme.example",
        name="X",
        role="broker",
        token_id="t",
        token_hash="h",
    )
    assert error.fields["missing_permission"] == "users.manage"


def test_R_M1_user_id_and_email_are_unique_within_the_tenant() -> None:
    sim = Sim()
    sim.add("ann", "broker", email="ann@acme.example")
    args = dict(name="X", role="broker", token_id="t", token_hash="h")
    sim.expect_rejection("already_member", OWNER, "add_member", user_id="ann", email="other@acme.example", **args)
    sim.expect_rejection("already_member", OWNER, "add_member", user_id="ann2", email="ANN@acme.example", **args)
    sim.expect_rejection("already_member", OWNER, "add_member", user_id=OWNER, email="new@acme.example", **args)


def test_R_M1_one_user_may_be_a_member_of_several_tenants() -> None:
    first, second = Sim(), Sim(owner="otto")
    first.add("ann", "broker")
    second.add("ann", "admin")
    assert first.tenant.members["ann"].role == "broker"
    assert second.tenant.members["ann"].role == "admin"


# ----------------------------------------------------------------- R-M3


def test_R_M3_role_change_records_old_and_new_role() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.do(OWNER, "change_role", "bea", "manager")
    [changed] = sim.last
    assert (changed.user_id, changed.old_role, changed.new_role) == ("bea", "broker", "manager")
    assert sim.tenant.members["bea"].role == "manager"
    sim.do(OWNER, "change_role", "bea", "manager")
    assert sim.last == []  # no change, no event


def test_R_M3_role_change_needs_users_manage_an_existing_member_and_a_known_role() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("mo", "manager")
    sim.expect_rejection("forbidden", "mo", "change_role", "bea", "marketing")
    sim.expect_rejection("not_found", OWNER, "change_role", "ghost", "marketing")
    sim.expect_rejection("validation_error", OWNER, "change_role", "bea", "wizard")


def test_R_M3_removal_releases_assignments_and_revokes_grants_and_tokens_in_order() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.assign("bea", "L-1", "L-2")
    grant_id = sim.grant("bea", "billing.view")
    sim.do("bea", "issue_token", "tok_extra", "hash-extra", "laptop")
    sim.do(OWNER, "remove_member", "bea")
    assert [type(e) for e in sim.last] == [
        ev.ResourceUnassigned,
        ev.ResourceUnassigned,
        ev.PermissionRevoked,
        ev.TokenRevoked,
        ev.TokenRevoked,
        ev.MemberRemoved,
    ]
    assert {e.resource_id for e in sim.last[:2]} == {"L-1", "L-2"}
    assert sim.last[2].grant_id == grant_id
    assert all(e.reason == "removed" for e in sim.last)
    assert "bea" not in sim.tenant.members
    assert not sim.tenant.assignments and not sim.tenant.grants
    assert {t.user_id for t in sim.tenant.tokens.values()} == {OWNER}
    sim.expect_rejection("not_found", OWNER, "remove_member", "bea")


def test_R_M3_a_member_may_leave_without_users_manage() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("bob", "broker")
    sim.expect_rejection("forbidden", "bea", "remove_member", "bob")
    sim.do("bea", "remove_member", "bea")
    assert sim.last[-1].reason == "left" and sim.last[-1].actor == "bea"
    assert sim.tenant.used == 1


# ----------------------------------------------------------------- R-M4


def test_R_M4_default_min_admins_is_met_by_the_owner_alone() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    sim.do(OWNER, "change_role", "ann", "broker")
    sim.do(OWNER, "remove_member", "ann")
    assert sim.tenant.min_admins == 1


def test_R_M4_no_command_drops_users_manage_holders_below_the_policy() -> None:
    sim = Sim(min_admins=2)
    sim.add("ann", "admin")
    sim.add("mia", "marketing")
    sim.expect_rejection("min_admins", OWNER, "change_role", "ann", "manager")
    sim.expect_rejection("min_admins", OWNER, "remove_member", "ann")
    sim.expect_rejection("min_admins", "ann", "remove_member", "ann")  # leaving too
    sim.do(OWNER, "change_role", "ann", "admin")  # unchanged: fine
    grant_id = sim.grant("mia", "users.manage")
    sim.do(OWNER, "change_role", "ann", "manager")  # mia now holds users.manage through her grant
    sim.expect_rejection("min_admins", OWNER, "revoke_grant", grant_id)
    sim.expect_rejection("min_admins", OWNER, "remove_member", "mia")
    sim.do(OWNER, "change_role", "mia", "admin")  # role and grant both give it
    sim.do(OWNER, "revoke_grant", grant_id)
    assert sim.last[0].reason == "revoked"


def test_R_M4_policy_change_needs_settings_manage_and_at_least_one() -> None:
    sim = Sim()
    sim.add("mo", "manager")
    sim.expect_rejection("forbidden", "mo", "change_policy", 2)
    sim.expect_rejection("validation_error", OWNER, "change_policy", 0)
    sim.do(OWNER, "change_policy", 3)
    [changed] = sim.last
    assert (changed.min_admins, changed.old_min_admins) == (3, 1)
    # Raising the policy above the current count is accepted; from then on the count cannot drop.
    sim.add("ann", "admin")
    sim.expect_rejection("min_admins", OWNER, "remove_member", "ann")


# ----------------------------------------------------------------- R-I1…R-I3


def test_R_I1_an_invitation_reserves_a_seat_and_expires_after_7_days() -> None:
    sim = Sim()
    invitation_id = sim.invite("x@acme.example", "broker")
    [sent] = sim.last
    assert (sent.invitation_id, sent.email, sent.role) == (invitation_id, "x@acme.example", "broker")
    assert sent.expires_at == sim.now + INVITATION_TTL == sim.now + timedelta(days=7)
    assert "token_hash" in ev.InvitationSent.SECRET_FIELDS
    assert sim.tenant.used == 1
    assert sim.at(sent.expires_at - timedelta(seconds=1)) == []
    [expired] = sim.at(sent.expires_at)
    assert isinstance(expired, ev.InvitationExpired)
    assert (expired.actor, expired.occurred_at) == ("system", sent.expires_at)
    assert sim.tenant.used == 0
    sim.expect_rejection("invitation_not_pending", "x", "decline_invitation", sim.tokens[invitation_id])


def test_R_I1_inviting_needs_users_manage_and_obeys_no_escalation() -> None:
    sim = Sim()
    sim.add("mo", "manager")
    sim.expect_rejection("forbidden", "mo", "invite", email="x@acme.example", role="broker", token_hash="h")
    sim.grant("mo", "users.manage")
    sim.invite("x@acme.example", "manager", by="mo")
    sim.expect_rejection("escalation", "mo", "invite", email="y@acme.example", role="admin", token_hash="h")
    sim.expect_rejection("validation_error", "mo", "invite", email="y@acme.example", role="boss", token_hash="h")


def test_R_I2_accepting_makes_a_member_with_its_own_token() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    invitation_id = sim.invite("x@acme.example", "broker", by="ann")
    member = sim.accept(invitation_id, "xena")
    assert [type(e) for e in sim.last] == [ev.InvitationAccepted, ev.MemberAdded, ev.TokenIssued]
    accepted, added, _ = sim.last
    assert accepted.user_id == "xena" and all(e.actor == "xena" for e in sim.last)
    assert (added.via, added.invitation_id, added.email, added.role, added.seat_order) == (
        "invitation",
        invitation_id,
        "x@acme.example",
        "broker",
        2,
    )
    assert member.user_id == "xena" and sim.tenant.invitations[invitation_id].invited_by == "ann"
    assert sim.tenant.used == 2
    sim.expect_rejection(
        "invitation_not_pending",
        "yves",
        "accept_invitation",
        token_hash=sim.tokens[invitation_id],
        user_id="yves",
        name="Y",
        token_id="t",
        member_token_hash="h",
    )


def test_R_I2_declined_revoked_and_unknown_invitations() -> None:
    sim = Sim()
    first = sim.invite("x@acme.example", "broker")
    second = sim.invite("y@acme.example", "broker")
    sim.do("invitee", "decline_invitation", sim.tokens[first])
    assert isinstance(sim.last[0], ev.InvitationDeclined)
    sim.do(OWNER, "revoke_invitation", second)
    assert sim.last[0].reason == "revoked"
    assert sim.tenant.used == 0
    sim.expect_rejection("invitation_not_pending", OWNER, "revoke_invitation", second)
    sim.expect_rejection("invitation_not_pending", OWNER, "resend_invitation", first, "h")
    sim.expect_rejection("not_found", OWNER, "revoke_invitation", "inv_999")
    sim.expect_rejection("unauthenticated", "invitee", "decline_invitation", "never-issued")


def test_R_I2_resend_gives_a_new_token_and_expiry_and_the_old_token_dies() -> None:
    sim = Sim()
    invitation_id = sim.invite("x@acme.example", "broker")
    old = sim.tokens[invitation_id]
    sim.later(days=6)
    sim.do(OWNER, "resend_invitation", invitation_id, "hash-new")
    [resent] = sim.last
    assert resent.expires_at == sim.now + timedelta(days=7)
    sim.tokens[invitation_id] = "hash-new"
    sim.later(days=2)  # past the first expiry
    assert sim.tenant.invitations[invitation_id].status == "pending"
    sim.expect_rejection(
        "unauthenticated",
        "xena",
        "accept_invitation",
        token_hash=old,
        user_id="xena",
        name="X",
        token_id="t",
        member_token_hash="h",
    )
    sim.accept(invitation_id, "xena")


def test_R_I2_accepting_with_a_taken_user_id_is_already_member() -> None:
    sim = Sim()
    sim.add("ann", "broker")
    invitation_id = sim.invite("x@acme.example", "broker")
    sim.expect_rejection(
        "already_member",
        "ann",
        "accept_invitation",
        token_hash=sim.tokens[invitation_id],
        user_id="ann",
        name="A",
        token_id="t",
        member_token_hash="h",
    )


def test_R_I3_one_pending_invitation_per_email_and_none_for_members() -> None:
    sim = Sim()
    sim.add("ann", "broker")
    invitation_id = sim.invite("x@acme.example", "broker")
    sim.expect_rejection("invitation_pending", OWNER, "invite", email="X@ACME.example", role="broker", token_hash="h")
    sim.expect_rejection("already_member", OWNER, "invite", email="ann@acme.example", role="broker", token_hash="h")
    sim.expect_rejection(
        "invitation_pending",
        OWNER,
        "add_member",
        user_id="x",
        email="x@acme.example",
        name="X",
        role="broker",
        token_id="t",
        token_hash="h",
    )
    sim.do(OWNER, "revoke_invitation", invitation_id)
    sim.invite("x@acme.example", "marketing")


# ----------------------------------------------------------------- tokens


def test_member_tokens_are_issued_to_oneself_and_revoked_by_self_or_users_manage() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    sim.add("bob", "broker")
    sim.do("bea", "issue_token", "tok_b2", "hash-b2", "ci")
    [issued] = sim.last
    assert (issued.user_id, issued.label, issued.actor) == ("bea", "ci", "bea")
    sim.expect_rejection("forbidden", "operator", "issue_token", "t", "h", None)
    sim.expect_rejection("forbidden", "bob", "revoke_token", "tok_b2")
    sim.expect_rejection("forbidden", "bob", "revoke_token", "tok_unknown")
    sim.expect_rejection("not_found", OWNER, "revoke_token", "tok_unknown")
    sim.do("bea", "revoke_token", "tok_b2")
    assert (sim.last[0].user_id, sim.last[0].reason) == ("bea", "revoked")
    bob_token = next(t.token_id for t in sim.tenant.tokens.values() if t.user_id == "bob")
    sim.do(OWNER, "revoke_token", bob_token)
    assert bob_token not in sim.tenant.tokens
