"""R-K2: one clock, read once per command: every rule of a command uses the instant its events record.

The clock here moves one second each time it is read, so a second reading inside a command shows at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from domain import billing
from domain.application import AccessLedger
from domain.tenant import events as ev
from domain.tenant.aggregate import INVITATION_TTL
from tests.support import TickingClock, open_tenant, owner, recorded_events


@pytest.fixture
def ticking() -> Iterator[tuple[AccessLedger, TickingClock]]:
    clock = TickingClock(datetime(2026, 11, 16, 9, 30, tzinfo=UTC))
    app = AccessLedger(clock=clock, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        yield app, clock
    finally:
        app.close()


def last_event(app: AccessLedger, kind: type) -> object:
    return [e for e in recorded_events(app) if isinstance(e, kind)][-1]


def test_R_K2_R_I1_invitation_expires_exactly_seven_days_after_it_was_sent(ticking) -> None:
    """R-K2, R-I1: `expires_at` is `occurred_at + 7 days` exactly, also when resent."""
    app, _ = ticking
    open_tenant(app)
    invitation_id = app.invite("acme", owner(), email="ina@acme.example", role="broker").values["invitation_id"]
    sent = last_event(app, ev.InvitationSent)
    assert sent.expires_at == sent.occurred_at + INVITATION_TTL == sent.occurred_at + timedelta(days=7)
    app.resend_invitation("acme", owner(), invitation_id)
    resent = last_event(app, ev.InvitationResent)
    assert resent.expires_at == resent.occurred_at + timedelta(days=7)


def test_R_K2_R_S2_purchase_just_before_midnight_is_charged_for_the_day_it_records(ticking) -> None:
    """R-K2, R-S2: a purchase at 23:59:59.5 is charged from that day on, though the clock passes midnight after."""
    app, clock = ticking
    open_tenant(app)
    clock.instant = datetime(2026, 11, 30, 23, 59, 59, 500000, tzinfo=UTC)
    app.purchase_addon("acme", owner(), "user-seats")
    purchased = last_event(app, ev.AddOnPurchased)
    day = purchased.occurred_at.date()
    assert day == datetime(2026, 11, 30).date()
    assert purchased.period_start == day
    assert purchased.prorated_charge == billing.format_money(
        billing.prorated_charge(billing.SEAT_ADDON_MONTHLY_PRICE, day)
    )


def test_R_K2_R_G1_expiry_is_checked_against_the_commands_instant(ticking) -> None:
    """R-K2, R-G1: a grant expiring one second after the command's instant is accepted (it lies in the future)."""
    app, clock = ticking
    open_tenant(app)
    app.add_member("acme", owner(), user_id="bea", email="bea@acme.example", name="Bea", role="broker")
    expires_at = clock.instant + timedelta(microseconds=1)  # after the instant the command's context reads
    app.grant("acme", owner(), user_id="bea", permission="billing.view", scope="all", expires_at=expires_at)
    granted = last_event(app, ev.PermissionGranted)
    assert granted.expires_at > granted.occurred_at
