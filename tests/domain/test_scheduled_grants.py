"""Grants that start later (R-G3) on the aggregate: validation, nothing before the start, `GrantStarted` as a due
change ordered after expiries and before ends (R-K1), revocation before the start."""

from __future__ import annotations

from datetime import timedelta

from domain.effective_access import holds
from domain.tenant import events as ev
from domain.tenant.aggregate import midnight
from tests.domain.helpers import OWNER, Sim


def _schedule(sim: Sim, hours: float = 5, **kw: object) -> str:
    return sim.do(
        OWNER,
        "grant",
        user_id="bea",
        permission="billing.view",
        scope="all",
        resource=None,
        expires_at=kw.get("expires_at"),
        starts_at=sim.now + timedelta(hours=hours),
    )


def test_R_G3_starts_at_must_be_in_the_future_and_before_the_expiry() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    for starts_at, expires_at in (
        (sim.now, None),
        (sim.now - timedelta(hours=1), None),
        (sim.now + timedelta(hours=2), sim.now + timedelta(hours=2)),
        (sim.now + timedelta(hours=3), sim.now + timedelta(hours=2)),
    ):
        error = sim.expect_rejection(
            "validation_error",
            OWNER,
            "grant",
            user_id="bea",
            permission="billing.view",
            scope="all",
            resource=None,
            expires_at=expires_at,
            starts_at=starts_at,
        )
        assert error.code == "validation_error"


def test_R_G3_a_scheduled_grant_gives_nothing_until_GrantStarted_at_its_instant() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    grant_id = _schedule(sim, hours=5)
    [granted] = sim.last
    assert isinstance(granted, ev.PermissionGranted) and granted.starts_at == sim.now + timedelta(hours=5)
    assert not holds(sim.tenant, "bea", "billing.view", "all")
    assert sim.later(hours=4, minutes=59) == []
    assert not holds(sim.tenant, "bea", "billing.view", "all")
    [started] = sim.later(minutes=1)
    assert isinstance(started, ev.GrantStarted)
    assert (started.grant_id, started.user_id, started.occurred_at) == (grant_id, "bea", sim.now)
    assert started.actor == "system"
    assert holds(sim.tenant, "bea", "billing.view", "all")


def test_R_G3_R_K1_grant_starts_come_after_expiries_and_before_ends_at_one_instant() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    instant = midnight(sim.tenant.term_end)
    hours = (instant - sim.now).total_seconds() / 3600
    sim.grant("bea", "audit.read", expires_at=instant)
    sim.do(OWNER, "cancel_subscription")
    _schedule(sim, hours=hours)
    recorded = sim.at(instant)
    kinds = [type(e).__name__ for e in recorded]
    assert kinds.index("GrantExpired") < kinds.index("GrantStarted")
    after_start = kinds[kinds.index("GrantStarted") + 1 :]
    assert after_start == ["SubscriptionEnded"]


def test_R_G3_a_scheduled_grant_can_be_revoked_before_it_starts() -> None:
    sim = Sim()
    sim.add("bea", "broker")
    grant_id = _schedule(sim, hours=5)
    sim.do(OWNER, "revoke_grant", grant_id)
    assert isinstance(sim.last[0], ev.PermissionRevoked)
    assert sim.later(hours=6) == []
    assert not holds(sim.tenant, "bea", "billing.view", "all")
