"""Seats, seat add-ons and what happens when capacity drops (R-S1…R-S5), on the aggregate."""

from __future__ import annotations

from datetime import date

from domain.due import SEAT_CAPACITY_REDUCED, scheduled_removals
from domain.tenant import events as ev
from domain.tenant.aggregate import midnight
from tests.domain.helpers import OWNER, Sim, utc

TERM_END = midnight(date(2030, 2, 1))

# ----------------------------------------------------------------- R-S1


def test_R_S1_owner_takes_no_seat_and_members_and_invitations_do() -> None:
    sim = Sim(included_seats=3)
    assert (sim.tenant.capacity, sim.tenant.used) == (3, 0)
    sim.add("ann", "admin")
    sim.invite("x@acme.example", "broker")
    assert sim.tenant.used == 2


def test_R_S1_no_command_may_exceed_capacity() -> None:
    sim = Sim(included_seats=2)
    sim.add("ann", "admin")
    invitation_id = sim.invite("x@acme.example", "broker")
    error = sim.expect_rejection(
        "seat_limit_reached",
        OWNER,
        "add_member",
        user_id="bea",
        email="b@acme.example",
        name="B",
        role="broker",
        token_id="t",
        token_hash="h",
    )
    assert error.fields["capacity"] == 2
    sim.expect_rejection("seat_limit_reached", "ann", "invite", email="y@acme.example", role="broker", token_hash="h")
    sim.accept(invitation_id, "xena")  # the reserved seat becomes a member's
    assert sim.tenant.used == sim.tenant.capacity == 2
    sim.do(OWNER, "remove_member", "xena")
    sim.add("bea", "broker")


def test_R_S1_zero_included_seats_leaves_the_owner_alone() -> None:
    sim = Sim(included_seats=0)
    sim.expect_rejection("seat_limit_reached", OWNER, "invite", email="y@acme.example", role="broker", token_hash="h")
    sim.buy_addon()
    assert sim.tenant.capacity == 15


# ----------------------------------------------------------------- R-S2


def test_R_S2_the_seat_add_on_adds_15_seats_and_prorates_the_purchase_month() -> None:
    sim = Sim(now=utc(2030, 11, 16, 9, 30), term_start=date(2030, 11, 1))
    addon_id = sim.buy_addon()
    [bought] = sim.last
    assert isinstance(bought, ev.AddOnPurchased)
    assert (bought.addon_id, bought.kind, bought.seats, bought.monthly_price, bought.currency) == (
        addon_id,
        "user-seats",
        15,
        "49.00",
        "EUR",
    )
    assert bought.prorated_charge == "24.50"
    assert (bought.period_start, bought.period_end) == (date(2030, 11, 16), date(2030, 12, 1))
    assert sim.tenant.capacity == 20


def test_R_S2_owner_and_admins_may_buy_more_than_once_others_may_not() -> None:
    sim = Sim(currency="CHF")
    sim.add("ann", "admin")
    sim.add("mo", "manager")
    sim.buy_addon()
    sim.buy_addon("ann")
    assert sim.tenant.capacity == 35
    assert {a.currency for a in sim.tenant.addons.values()} == {"CHF"}
    error = sim.expect_rejection("forbidden", "mo", "purchase_addon", "user-seats")
    assert error.fields["missing_permission"] == "addons.purchase"
    sim.expect_rejection("validation_error", OWNER, "purchase_addon", "gold-seats")


def test_R_S2_each_following_month_is_charged_49_on_the_first() -> None:
    sim = Sim(now=utc(2030, 1, 10), billing_interval="yearly")
    addon_id = sim.buy_addon()
    sim.at(utc(2030, 3, 15))
    charges = sim.of(ev.AddOnCharged)
    assert [(c.occurred_at, c.amount, c.currency, c.period_start, c.period_end) for c in charges] == [
        (utc(2030, 2, 1), "49.00", "EUR", date(2030, 2, 1), date(2030, 3, 1)),
        (utc(2030, 3, 1), "49.00", "EUR", date(2030, 3, 1), date(2030, 4, 1)),
    ]
    assert all(c.addon_id == addon_id and c.actor == "system" for c in charges)
    assert len({c.charge_id for c in charges}) == 2


# ----------------------------------------------------------------- R-S3


def test_R_S3_add_on_cancellation_takes_effect_at_term_end_and_can_be_withdrawn() -> None:
    sim = Sim()
    sim.add("ann", "admin")
    sim.add("mo", "manager")
    addon_id = sim.buy_addon()
    sim.expect_rejection("forbidden", "mo", "cancel_addon", addon_id)
    sim.expect_rejection("not_found", "ann", "cancel_addon", "addon_999")
    sim.do("ann", "cancel_addon", addon_id)
    [scheduled] = sim.last
    assert (scheduled.addon_id, scheduled.effective_at) == (addon_id, TERM_END)
    sim.expect_rejection("cancellation_already_scheduled", "ann", "cancel_addon", addon_id)
    sim.do("ann", "withdraw_addon_cancellation", addon_id)
    assert sim.tenant.addons[addon_id].status == "active"
    sim.expect_rejection("cancellation_not_scheduled", "ann", "withdraw_addon_cancellation", addon_id)
    sim.at(TERM_END)
    assert sim.tenant.addons[addon_id].status == "active"


def test_R_S3_a_cancelled_add_on_ends_at_term_end_and_then_is_not_active() -> None:
    sim = Sim()
    addon_id = sim.buy_addon()
    sim.do(OWNER, "cancel_addon", addon_id)
    sim.at(utc(2030, 1, 31, 23, 59))
    assert sim.tenant.capacity == 20
    events = sim.at(TERM_END)
    assert [type(e) for e in events] == [ev.AddOnEnded, ev.TermRenewed]
    assert (events[0].actor, events[0].occurred_at, events[0].seats) == ("system", TERM_END, 15)
    assert sim.tenant.capacity == 5
    sim.expect_rejection("addon_not_active", OWNER, "cancel_addon", addon_id)
    sim.expect_rejection("addon_not_active", OWNER, "withdraw_addon_cancellation", addon_id)


# ----------------------------------------------------------------- R-S4 (seed 000)


def seed_000(invitations: int = 0) -> tuple[Sim, str]:
    """Plan with 5 seats plus one add-on, 10 brokers each with a lead, a grant and a second token."""
    sim = Sim(included_seats=5)
    addon_id = sim.buy_addon()
    for n in range(1, 11):
        user = f"broker{n:02d}"
        sim.add(user, "broker")
        sim.assign(user, f"L-{n}")
        sim.grant(user, "contacts.create")
        sim.do(user, "issue_token", f"tok_{user}_2", f"hash-{user}-2", "phone")
    sim.at(utc(2030, 1, 30))
    for n in range(invitations):
        sim.invite(f"guest{n}@acme.example", "marketing")
    sim.do(OWNER, "cancel_addon", addon_id)
    return sim, addon_id


def test_R_S4_seed_000_the_five_newest_brokers_are_removed_when_the_add_on_ends() -> None:
    sim, addon_id = seed_000()
    events = sim.at(TERM_END)
    assert isinstance(events[0], ev.AddOnEnded) and isinstance(events[-1], ev.TermRenewed)
    removed = [e.user_id for e in events if isinstance(e, ev.MemberRemoved)]
    assert removed == ["broker10", "broker09", "broker08", "broker07", "broker06"]
    assert set(sim.tenant.members) == {OWNER, "broker01", "broker02", "broker03", "broker04", "broker05"}
    assert sim.tenant.used == sim.tenant.capacity == 5
    unassigned = {e.resource_id for e in events if isinstance(e, ev.ResourceUnassigned)}
    assert unassigned == {"L-6", "L-7", "L-8", "L-9", "L-10"}
    assert set(sim.tenant.assignments) == {f"lead:L-{n}" for n in range(1, 6)}
    assert {g.user_id for g in sim.tenant.grants.values()} == {f"broker{n:02d}" for n in range(1, 6)}
    assert {t.user_id for t in sim.tenant.tokens.values()} == {OWNER} | {f"broker{n:02d}" for n in range(1, 6)}
    follow_ups = [e for e in events if not isinstance(e, (ev.AddOnEnded, ev.TermRenewed))]
    assert len(follow_ups) == 5 * (1 + 1 + 2 + 1)  # unassigned, grant revoked, 2 tokens revoked, removed
    for event in follow_ups:
        assert event.reason == SEAT_CAPACITY_REDUCED
        assert event.caller_reason == SEAT_CAPACITY_REDUCED
        assert (event.actor, event.occurred_at) == ("system", TERM_END)


def test_R_S4_pending_invitations_are_revoked_first_newest_first() -> None:
    sim, _ = seed_000(invitations=3)
    sent = [e.invitation_id for e in sim.of(ev.InvitationSent)]
    events = sim.at(TERM_END)
    revoked = [e for e in events if isinstance(e, ev.InvitationRevoked)]
    assert [e.invitation_id for e in revoked] == list(reversed(sent))
    assert all(e.reason == SEAT_CAPACITY_REDUCED for e in revoked)
    first_removal = next(i for i, e in enumerate(events) if isinstance(e, ev.MemberRemoved))
    assert all(events.index(e) < first_removal for e in revoked)
    assert len([e for e in events if isinstance(e, ev.MemberRemoved)]) == 5


def test_R_S4_only_as_many_invitations_as_needed_are_revoked() -> None:
    sim = Sim(included_seats=2)
    addon_id = sim.buy_addon()
    sim.add("ann", "admin")
    sim.at(utc(2030, 1, 28))
    old = sim.invite("a@acme.example", "broker")
    new = sim.invite("b@acme.example", "broker")
    sim.do(OWNER, "cancel_addon", addon_id)
    events = sim.at(TERM_END)
    assert [e.invitation_id for e in events if isinstance(e, ev.InvitationRevoked)] == [new]
    assert sim.tenant.invitations[old].status == "pending"
    assert "ann" in sim.tenant.members


def test_R_S4_removes_whatever_the_role_but_never_the_owner() -> None:
    sim = Sim(included_seats=0, min_admins=3)
    addon_id = sim.buy_addon()
    sim.add("ann", "admin")
    sim.add("abe", "admin")
    sim.do(OWNER, "cancel_addon", addon_id)
    sim.at(TERM_END)
    # Forced removals are exempt from min_admins (R-M4).
    assert list(sim.tenant.members) == [OWNER]


# ----------------------------------------------------------------- R-S5


def test_R_S5_scheduled_removals_preview_what_the_add_on_end_will_remove() -> None:
    sim, _ = seed_000(invitations=2)
    preview = scheduled_removals(sim.tenant)
    sent = [e.invitation_id for e in sim.of(ev.InvitationSent)]
    assert preview == [
        {"kind": "invitation", "id": sent[1], "effective_at": TERM_END},
        {"kind": "invitation", "id": sent[0], "effective_at": TERM_END},
        *({"kind": "member", "id": f"broker{n:02d}", "effective_at": TERM_END} for n in (10, 9, 8, 7, 6)),
    ]
    events = sim.at(TERM_END)
    done = [("invitation", e.invitation_id) for e in events if isinstance(e, ev.InvitationRevoked)]
    done += [("member", e.user_id) for e in events if isinstance(e, ev.MemberRemoved)]
    assert done == [(p["kind"], p["id"]) for p in preview]


def test_R_S5_invitations_expiring_before_the_effective_instant_are_not_listed() -> None:
    sim = Sim(included_seats=1)
    addon_id = sim.buy_addon()
    sim.add("ann", "broker")
    sim.at(utc(2030, 1, 24, 12))
    early = sim.invite("early@acme.example", "broker")  # expires 31 Jan, before the term end
    sim.at(utc(2030, 1, 25, 0))
    exact = sim.invite("exact@acme.example", "broker")  # expires exactly at the term end: expiry first (R-K1)
    sim.at(utc(2030, 1, 26))
    late = sim.invite("late@acme.example", "broker")
    sim.do(OWNER, "cancel_addon", addon_id)
    assert scheduled_removals(sim.tenant) == [{"kind": "invitation", "id": late, "effective_at": TERM_END}]
    sim.at(TERM_END)
    assert [sim.tenant.invitations[i].status for i in (early, exact, late)] == ["expired", "expired", "revoked"]


def test_R_S5_nothing_is_listed_without_a_scheduled_add_on_end_or_when_the_tenant_closes() -> None:
    sim, addon_id = seed_000()
    sim.do(OWNER, "withdraw_addon_cancellation", addon_id)
    assert scheduled_removals(sim.tenant) == []
    sim.do(OWNER, "cancel_addon", addon_id)
    assert len(scheduled_removals(sim.tenant)) == 5
    sim.do(OWNER, "cancel_subscription")
    assert scheduled_removals(sim.tenant) == []  # a closing tenant removes nobody (R-T5)
