"""Tenants and the subscription (R-T1…R-T5), driven on the aggregate without a database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import DomainError
from domain.tenant import events as ev
from domain.tenant.aggregate import Tenant, midnight, tenant_uuid
from domain.tenant.metadata import OPERATOR, EventContext, acting
from tests.domain.helpers import OWNER, T0, Sim, utc


def open_with(**plan_overrides: object) -> Tenant:
    plan = {"name": "p", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR", **plan_overrides}
    with acting(EventContext(OPERATOR, T0)):
        return Tenant.open(
            tenant_id="acme",
            name="Acme",
            plan=plan,
            term_start=date(2030, 1, 1),
            term_end=date(2030, 2, 1),
            owner={"user_id": "olga", "email": "o@x.example", "name": "O"},
            min_admins=1,
            owner_token_id="t",
            owner_token_hash="h",
        )


# ----------------------------------------------------------------- R-T1


def test_R_T1_opening_records_TenantOpened_only_and_the_owner_is_member_zero() -> None:
    sim = Sim()
    assert [type(e) for e in sim.recorded] == [ev.TenantOpened]
    opened = sim.recorded[0]
    assert opened.actor == OPERATOR and opened.occurred_at == T0
    assert opened.user_id == OWNER and opened.plan["included_seats"] == 5
    owner = sim.tenant.members[OWNER]
    assert (owner.role, owner.seat_order) == ("owner", 0)
    assert sim.tenant.owner_id == OWNER
    assert [t.user_id for t in sim.tenant.tokens.values()] == [OWNER]
    assert sim.tenant.id == tenant_uuid("acme")
    assert (sim.tenant.used, sim.tenant.capacity) == (0, 5)


def test_R_T1_tenant_ids_are_deterministic() -> None:
    assert tenant_uuid("acme") == tenant_uuid("acme") != tenant_uuid("acme-2")


def test_R_T1_any_term_end_after_term_start_is_accepted() -> None:
    sim = Sim(term_start=date(2030, 1, 1), term_end=date(2030, 1, 4), now=utc(2030, 1, 2))
    assert sim.tenant.term_end == date(2030, 1, 4)
    [renewed] = sim.at(utc(2030, 1, 4))
    assert renewed.term_end == date(2030, 2, 4)


@pytest.mark.parametrize("term_end", [date(2030, 1, 1), date(2029, 12, 31)])
def test_R_T1_term_end_not_after_term_start_is_a_validation_error(term_end: date) -> None:
    with acting(EventContext(OPERATOR, T0)), pytest.raises(DomainError) as info:
        Tenant.open(
            tenant_id="acme",
            name="Acme",
            plan={"name": "p", "included_seats": 5, "billing_interval": "monthly", "currency": "EUR"},
            term_start=date(2030, 1, 1),
            term_end=term_end,
            owner={"user_id": "olga", "email": "o@x.example", "name": "O"},
            min_admins=1,
            owner_token_id="t",
            owner_token_hash="h",
        )
    assert info.value.code == "validation_error"


@pytest.mark.parametrize(
    "override",
    [{"included_seats": -1}, {"included_seats": "5"}, {"billing_interval": "weekly"}, {"currency": "USD"}],
)
def test_R_T1_a_plan_outside_the_spec_is_a_validation_error(override: dict[str, object]) -> None:
    with pytest.raises(DomainError) as info:
        open_with(**override)
    assert info.value.code == "validation_error"


def test_R_T1_zero_included_seats_is_a_valid_plan() -> None:
    assert open_with(included_seats=0).capacity == 0


# ----------------------------------------------------------------- R-T2 (see test_errors for the check order)


def test_R_T2_the_owner_cannot_be_removed_leave_or_change_role() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    sim.expect_rejection("owner_immutable", "ann", "remove_member", OWNER)
    sim.expect_rejection("owner_immutable", OWNER, "remove_member", OWNER)
    sim.expect_rejection("owner_immutable", "ann", "change_role", OWNER, "admin")
    sim.expect_rejection("owner_immutable", OWNER, "change_role", OWNER, "owner")


def test_R_T2_the_owner_role_is_never_given() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    sim.expect_rejection("owner_immutable", OWNER, "change_role", "ann", "owner")
    sim.expect_rejection("owner_immutable", OWNER, "invite", email="x@acme.example", role="owner", token_hash="h")
    sim.expect_rejection(
        "owner_immutable",
        OWNER,
        "add_member",
        user_id="x",
        email="x@acme.example",
        name="X",
        role="owner",
        token_id="t",
        token_hash="h",
    )
    assert [m.user_id for m in sim.tenant.members.values() if m.role == "owner"] == [OWNER]


# ----------------------------------------------------------------- R-T3


def test_R_T3_only_the_owner_cancels_the_subscription() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    error = sim.expect_rejection("forbidden", "ann", "cancel_subscription")
    assert error.fields["missing_permission"] == "subscription.cancel"
    sim.do(OWNER, "cancel_subscription")
    [scheduled] = sim.last
    assert isinstance(scheduled, ev.SubscriptionCancellationScheduled)
    assert scheduled.effective_at == midnight(date(2030, 2, 1))
    assert sim.tenant.status == "cancellation_scheduled"
    sim.expect_rejection("cancellation_already_scheduled", OWNER, "cancel_subscription")
    sim.expect_rejection("forbidden", "ann", "withdraw_cancellation")


def test_R_T3_everything_works_until_the_term_end_and_the_cancellation_can_be_withdrawn() -> None:
    sim = Sim()
    sim.do(OWNER, "cancel_subscription")
    sim.at(utc(2030, 1, 31, 23, 59))
    sim.add("ann", "admin")
    sim.buy_addon("ann")
    sim.do(OWNER, "withdraw_cancellation")
    assert isinstance(sim.last[0], ev.SubscriptionCancellationWithdrawn)
    assert sim.tenant.status == "active"
    sim.expect_rejection("cancellation_not_scheduled", OWNER, "withdraw_cancellation")
    sim.at(utc(2030, 2, 1))
    assert sim.tenant.status == "active"
    assert sim.tenant.term_end == date(2030, 3, 1)


# ----------------------------------------------------------------- R-T4


def test_R_T4_a_monthly_term_renews_by_one_month() -> None:
    sim = Sim()
    events = sim.at(utc(2030, 2, 1))
    assert [type(e) for e in events] == [ev.TermRenewed]
    assert (events[0].term_start, events[0].term_end) == (date(2030, 2, 1), date(2030, 3, 1))
    assert (events[0].actor, events[0].occurred_at) == ("system", utc(2030, 2, 1))


def test_R_T4_a_yearly_term_renews_by_one_year() -> None:
    sim = Sim(billing_interval="yearly", term_start=date(2030, 1, 1))
    assert sim.tenant.term_end == date(2031, 1, 1)
    [renewed] = sim.at(utc(2031, 1, 1))
    assert renewed.term_end == date(2032, 1, 1)


def test_R_T4_a_month_end_term_ends_on_the_last_day_of_a_shorter_month() -> None:
    sim = Sim(term_start=date(2029, 12, 31), term_end=date(2030, 1, 31), now=utc(2030, 1, 10))
    sim.at(utc(2030, 2, 27))
    ends = [e.term_end for e in sim.of(ev.TermRenewed)]
    # Interpretation (docs/interpretations.md): the day of the first term end is kept where the month has it.
    assert ends == [date(2030, 2, 28)]
    sim.at(utc(2030, 4, 29))
    assert [e.term_end for e in sim.of(ev.TermRenewed)] == [date(2030, 2, 28), date(2030, 3, 31), date(2030, 4, 30)]


def test_R_T4_a_yearly_term_ending_29_february_renews_to_28_february() -> None:
    sim = Sim(billing_interval="yearly", term_start=date(2031, 2, 28), term_end=date(2032, 2, 29), now=utc(2031, 3, 1))
    [renewed] = sim.at(utc(2032, 2, 29))
    assert renewed.term_end == date(2033, 2, 28)


def test_R_T4_active_add_ons_renew_with_the_term() -> None:
    sim = Sim()
    addon_id = sim.buy_addon()
    sim.at(utc(2030, 2, 1))
    assert sim.tenant.addons[addon_id].status == "active"
    assert sim.tenant.capacity == 20


# ----------------------------------------------------------------- R-T5


def closed_sim() -> tuple[Sim, str, str, str]:
    sim = Sim()
    sim.add("ann", "admin")
    sim.add("bea", "broker")
    sim.assign("bea", "L-1")
    grant_id = sim.grant("bea", "contacts.create")
    addon_id = sim.buy_addon()
    sim.do(OWNER, "cancel_subscription")
    sim.at(utc(2030, 1, 28))
    invitation_id = sim.invite("x@acme.example", "broker")
    sim.at(utc(2030, 2, 1))
    return sim, grant_id, addon_id, invitation_id


def test_R_T5_a_cancelled_subscription_closes_at_term_end_and_removes_nobody() -> None:
    sim, _, addon_id, invitation_id = closed_sim()
    ended = sim.of(ev.SubscriptionEnded)
    assert len(ended) == 1 and ended[0].occurred_at == utc(2030, 2, 1) and ended[0].actor == "system"
    assert sim.tenant.status == "closed"
    assert set(sim.tenant.members) == {OWNER, "ann", "bea"}
    assert not sim.of(ev.MemberRemoved, ev.TermRenewed, ev.ResourceUnassigned)
    assert sim.tenant.addons[addon_id].status == "ended"
    assert sim.tenant.invitations[invitation_id].status == "pending"
    # Nothing is ever due again: no renewal, no charge, no expiry.
    assert sim.at(utc(2031, 6, 1)) == []


def closed_commands(sim: Sim, grant_id: str, addon_id: str, invitation_id: str) -> list[tuple[str, tuple, dict]]:
    token = sim.tokens[invitation_id]
    return [
        ("change_policy", (2,), {}),
        ("cancel_subscription", (), {}),
        ("withdraw_cancellation", (), {}),
        (
            "add_member",
            (),
            dict(user_id="z", email="z@x.example", name="Z", role="broker", token_id="t", token_hash="h"),
        ),
        ("change_role", ("bea", "manager"), {}),
        ("remove_member", ("bea",), {}),
        ("issue_token", ("t2", "h2", None), {}),
        ("revoke_token", ("tok_owner",), {}),
        ("invite", (), dict(email="y@x.example", role="broker", token_hash="h3")),
        ("revoke_invitation", (invitation_id,), {}),
        ("resend_invitation", (invitation_id, "h4"), {}),
        ("accept_invitation", (), dict(token_hash=token, user_id="y", name="Y", token_id="t", member_token_hash="h")),
        ("decline_invitation", (token,), {}),
        ("purchase_addon", ("user-seats",), {}),
        ("cancel_addon", (addon_id,), {}),
        ("withdraw_addon_cancellation", (addon_id,), {}),
        (
            "grant",
            (),
            dict(user_id="bea", permission="billing.view", scope="all", resource=None, expires_at=None),
        ),
        ("revoke_grant", (grant_id,), {}),
        ("assign", ("lead", ["L-2"], "bea"), {}),
        ("unassign", ("lead", "L-1"), {}),
    ]


def test_R_T5_a_closed_tenant_accepts_no_command() -> None:
    sim, grant_id, addon_id, invitation_id = closed_sim()
    commands = closed_commands(sim, grant_id, addon_id, invitation_id)
    public = {name for name in dir(Tenant) if not name.startswith("_")}
    assert {name for name, _, _ in commands} <= public
    for name, args, kwargs in commands:
        sim.expect_rejection("tenant_closed", OWNER, name, *args, **kwargs)
    sim.expect_rejection("tenant_closed", "bea", "remove_member", "bea")  # leaving, too


def test_R_T5_a_closed_tenant_is_never_reopened() -> None:
    sim, *_ = closed_sim()
    sim.expect_rejection("tenant_closed", OWNER, "withdraw_cancellation")
    sim.later(days=800)
    assert sim.tenant.status == "closed"


def test_R_T5_closing_at_term_end_ends_add_ons_before_the_subscription_and_charges_nothing() -> None:
    sim = Sim(term_start=date(2030, 1, 1))
    sim.buy_addon()
    sim.do(OWNER, "cancel_subscription")
    events = sim.at(utc(2030, 2, 1) + timedelta(hours=1))
    assert [type(e) for e in events] == [ev.AddOnEnded, ev.SubscriptionEnded]
    assert not sim.of(ev.AddOnCharged)
