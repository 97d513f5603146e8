"""Effective-dated changes (R-K1): order at one instant, catching up after idle months, month-end terms (R-T4)."""

from __future__ import annotations

from datetime import date, timedelta

from domain.due import SEAT_CAPACITY_REDUCED, apply_due_changes, next_due_instant
from domain.tenant import events as ev
from domain.tenant.aggregate import midnight
from domain.tenant.metadata import EventContext, acting
from tests.domain.helpers import OWNER, Sim, utc

FEB_1 = midnight(date(2030, 2, 1))


def names(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def test_R_K1_changes_due_at_one_instant_apply_expiries_then_ends_then_renewal_then_charges() -> None:
    sim = Sim(included_seats=1, now=utc(2030, 1, 10))
    kept = sim.buy_addon()
    ending = sim.buy_addon()
    sim.add("bea", "broker")
    grant_id = sim.grant("bea", "billing.view", expires_at=FEB_1)
    for n in range(16, 32):
        sim.add(f"m{n:02d}", "marketing")  # 17 members on 31 seats
    sim.at(FEB_1 - timedelta(days=7))
    invitation_id = sim.invite("x@acme.example", "broker")  # expires exactly at FEB_1
    sim.do(OWNER, "cancel_addon", ending)
    events = sim.at(FEB_1 + timedelta(hours=1))
    kinds = names(events)
    assert kinds[:3] == ["InvitationExpired", "GrantExpired", "AddOnEnded"]
    assert (events[0].invitation_id, events[1].grant_id, events[2].addon_id) == (invitation_id, grant_id, ending)
    assert kinds[-2:] == ["TermRenewed", "AddOnCharged"]
    assert events[-1].addon_id == kept
    evictions = events[3:-2]
    assert evictions and {e.reason for e in evictions} == {SEAT_CAPACITY_REDUCED}
    assert len([e for e in evictions if isinstance(e, ev.MemberRemoved)]) == 1
    assert all((e.occurred_at, e.actor) == (FEB_1, "system") for e in events)


def test_R_K1_an_add_on_ending_at_midnight_on_the_first_is_not_charged_that_month() -> None:
    sim = Sim(now=utc(2030, 1, 10))
    addon_id = sim.buy_addon()
    sim.do(OWNER, "cancel_addon", addon_id)
    sim.at(utc(2030, 4, 1))
    assert not sim.of(ev.AddOnCharged)
    assert [e.addon_id for e in sim.of(ev.AddOnEnded)] == [addon_id]


def test_R_K1_an_idle_tenant_gets_every_renewal_and_charge_in_time_order() -> None:
    sim = Sim(now=utc(2030, 1, 10))
    addon_id = sim.buy_addon()
    touched = utc(2031, 3, 20, 12)
    sim.at(touched)  # 14 months without a command
    sim.add("bea", "broker")
    renewals, charges = sim.of(ev.TermRenewed), sim.of(ev.AddOnCharged)
    firsts = [utc(2030 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(2, 16)]
    assert len(firsts) == 14 and firsts[-1] == utc(2031, 3, 1)
    assert [e.occurred_at for e in renewals] == firsts
    assert [e.occurred_at for e in charges] == firsts
    assert [e.term_end for e in renewals] == [f.date() for f in firsts[1:]] + [date(2031, 4, 1)]
    assert all(c.addon_id == addon_id and c.period_start == c.occurred_at.date() for c in charges)
    due = [e for e in sim.recorded if e.actor == "system"]
    assert names(due) == ["TermRenewed", "AddOnCharged"] * 14
    assert all(e.actor == "system" for e in renewals + charges)
    # No later event of the tenant precedes them, and versions follow time.
    instants = [e.occurred_at for e in sim.recorded]
    assert instants == sorted(instants)
    assert [e.originator_version for e in sim.recorded] == list(range(1, len(sim.recorded) + 1))
    assert sim.recorded[-1].occurred_at == touched


def test_R_K1_due_changes_apply_before_the_command_that_follows_them() -> None:
    sim = Sim()
    sim.invite("x@acme.example", "broker")
    sim.now += timedelta(days=8)  # no sweep ran: the command itself applies the expiry first
    invitation_id = sim.invite("x@acme.example", "marketing")
    assert names(sim.recorded[-2:]) == ["InvitationExpired", "InvitationSent"]
    assert sim.tenant.invitations[invitation_id].role == "marketing"


def test_R_K1_applying_due_changes_twice_records_nothing_more() -> None:
    sim = Sim()
    sim.buy_addon()
    context = EventContext("system", utc(2030, 6, 1))
    assert apply_due_changes(sim.tenant, utc(2030, 6, 1), context) == 5
    assert apply_due_changes(sim.tenant, utc(2030, 6, 1), context) == 0
    assert next_due_instant(sim.tenant, utc(2030, 6, 1)) is None
    assert next_due_instant(sim.tenant, utc(2030, 7, 1)) == utc(2030, 7, 1)


def test_R_K1_due_events_keep_the_request_that_triggered_them() -> None:
    sim = Sim()
    context = EventContext("bea", utc(2030, 2, 3), request_id="req-9", reason="why", idempotency_key="k")
    apply_due_changes(sim.tenant, context.occurred_at, context)
    [renewed] = sim.tenant.collect_events()
    assert (renewed.actor, renewed.request_id, renewed.idempotency_key) == ("system", "req-9", None)
    assert renewed.occurred_at == FEB_1


def test_R_T4_month_end_terms_renew_between_first_of_month_charges() -> None:
    sim = Sim(term_start=date(2029, 12, 31), term_end=date(2030, 1, 31), now=utc(2030, 1, 10))
    sim.buy_addon()
    sim.at(utc(2030, 4, 15))
    due = [(type(e).__name__, e.occurred_at.date()) for e in sim.recorded if e.actor == "system"]
    assert due == [
        ("TermRenewed", date(2030, 1, 31)),
        ("AddOnCharged", date(2030, 2, 1)),
        ("TermRenewed", date(2030, 2, 28)),
        ("AddOnCharged", date(2030, 3, 1)),
        ("TermRenewed", date(2030, 3, 31)),
        ("AddOnCharged", date(2030, 4, 1)),
    ]
    assert [e.term_end for e in sim.of(ev.TermRenewed)] == [date(2030, 2, 28), date(2030, 3, 31), date(2030, 4, 30)]


def test_R_K1_a_cancelled_add_on_on_a_mid_month_term_is_charged_until_it_ends() -> None:
    sim = Sim(term_start=date(2029, 12, 15), term_end=date(2030, 3, 15), now=utc(2030, 1, 10))
    addon_id = sim.buy_addon()
    sim.do(OWNER, "cancel_addon", addon_id)
    sim.at(utc(2030, 5, 1))
    assert [c.period_start for c in sim.of(ev.AddOnCharged)] == [date(2030, 2, 1), date(2030, 3, 1)]
    [ended] = sim.of(ev.AddOnEnded)
    assert ended.occurred_at == utc(2030, 3, 15)


def test_R_K1_ids_stay_unique_when_due_changes_precede_the_command_unsaved() -> None:
    """The application applies due changes and the command before one save; ids must not collide later."""
    sim = Sim()
    sim.invite("a@acme.example", "broker")
    sim.now += timedelta(days=8)
    context = EventContext(OWNER, sim.now)
    apply_due_changes(sim.tenant, sim.now, context)  # InvitationExpired, still pending
    with acting(context):
        first = sim.tenant.invite(email="b@acme.example", role="broker", token_hash="hb")
        addon_id = sim.tenant.purchase_addon("user-seats")["addon_id"]
    sim.due()
    second = sim.invite("c@acme.example", "broker")
    other_addon = sim.buy_addon()
    assert len({first, second}) == 2 and len({addon_id, other_addon}) == 2
    assert [i.email for i in sim.tenant.invitations.values()] == ["a@acme.example", "b@acme.example", "c@acme.example"]
    assert len(sim.tenant.addons) == 2
