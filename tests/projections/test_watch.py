"""The position watch: thread-free waits (R-X8) and invalidation by notification across processes (R-Z1)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from domain.application import AccessLedger, hash_token
from domain.clock import ManualClock
from projections import all_projections
from projections.db import ReadStore
from projections.follow import Follower
from projections.queries.facade import Queries
from projections.runner import Runner
from projections.watch import PositionWatch
from tests.support import actor, add_member, open_tenant, owner


def test_r_x8_a_thousand_waiters_hold_no_thread_and_wake_on_advance() -> None:
    """R-X8: waiting readers are futures on the event loop, not threads; an advance from any thread wakes them."""
    watch = PositionWatch(0)

    async def scenario() -> tuple[list[bool], int, int]:
        threads_before = threading.active_count()
        waiters = [asyncio.ensure_future(watch.wait_for(5, timeout=5.0)) for _ in range(1000)]
        await asyncio.sleep(0.05)
        parked, threads_while = watch.waiting(), threading.active_count()
        threading.Timer(0.05, watch.advance, args=(5, ["acme"])).start()
        results = await asyncio.gather(*waiters)
        return results, parked, threads_while - threads_before

    results, parked, extra_threads = asyncio.run(scenario())
    assert results == [True] * 1000
    assert parked == 1000
    assert extra_threads == 0
    assert watch.waiting() == 0


def test_r_x8_a_wait_times_out_and_leaves_nothing_parked() -> None:
    """R-X8: a position that is not reached answers False after the timeout; the waiter is forgotten."""
    watch = PositionWatch(3)

    async def scenario() -> tuple[bool, bool, float]:
        reached = await watch.wait_for(3, timeout=1.0)
        started = time.monotonic()
        late = await watch.wait_for(4, timeout=0.1)
        return reached, late, time.monotonic() - started

    reached, late, waited = asyncio.run(scenario())
    assert reached is True and late is False
    assert 0.09 <= waited < 1.0
    assert watch.waiting() == 0


def test_r_z1_listeners_hear_the_tenants_that_moved() -> None:
    """R-Z1: subscribers are told which tenants moved (None: any), even when the position did not rise."""
    watch = PositionWatch(0)
    heard: list[tuple[int, frozenset[str] | None]] = []
    unsubscribe = watch.subscribe(lambda position, tenants: heard.append((position, tenants)))
    watch.advance(4, ["acme", "globex"])
    watch.advance(3, ["initech"])  # reported late by a second runner: still news about initech
    watch.advance(4, [])  # nothing moved, position unchanged: nobody is bothered
    watch.reset(2)
    unsubscribe()
    watch.advance(9, ["acme"])
    assert heard == [(4, frozenset({"acme", "globex"})), (4, frozenset({"initech"})), (2, None)]
    assert watch.position == 9
    assert watch.wait_blocking(9, 0.01) and not watch.wait_blocking(10, 0.01)


def _wait_until(condition, timeout: float = 3.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the timeout"
        time.sleep(0.005)
    return time.monotonic() - started


def test_r_z1_a_removal_projected_elsewhere_is_honoured_within_half_a_second(database_url: str) -> None:
    """R-Z1: a second process's cached access and token are dropped as soon as the projector reports the tenant
    moved (NOTIFY on PostgreSQL, the tracking poll on SQLite), without any age-based expiry."""
    clock = ManualClock()
    ledger = AccessLedger(database_url, clock)
    projector_store, api_store = ReadStore(ledger.database), ReadStore(ledger.database)
    follower = None
    try:
        opened = open_tenant(ledger)
        open_tenant(ledger, "globex")
        add_member(ledger, "bob", "admin")
        projector = Runner(ledger, projector_store, all_projections())  # the projector process
        projector.catch_up()
        api_runner = Runner(ledger, api_store, all_projections())  # an API process: it only follows
        queries = Queries(api_store, watch=api_runner.watch)
        follower = Follower(api_store, api_runner.watch, api_runner.names).start()
        assert follower.connected.wait(5)
        now = clock.now()
        assert queries.check("acme", "bob", "leads.list", None, None, now)["allowed"]
        assert queries.check("globex", "olga", "leads.list", None, None, now)["allowed"]
        globex_entry = queries.cache._tenants.get("globex")
        bob_token = ledger.issue_token("acme", actor("bob")).values["token"]
        reached = projector.catch_up()
        # Once the follower has heard of that batch: a token read before its NOTIFY arrives is not kept (the
        # NOTIFY drops the tenant's entry), and a one-round-trip lookup often wins that race.
        _wait_until(lambda: api_runner.watch.position >= reached)
        token_hash = hash_token(bob_token)
        _wait_until(lambda: queries.principal_for_token(token_hash) is not None)
        assert queries.peek_principal(token_hash) is not None

        ledger.remove_member("acme", owner(), "bob")
        projector.catch_up()
        waited = _wait_until(lambda: queries.peek_check("acme", "bob", "leads.list", None, None, now) is None)
        assert waited < 0.5
        assert not queries.check("acme", "bob", "leads.list", None, None, now)["allowed"]
        assert queries.principal_for_token(token_hash) is None
        assert queries.cache._tenants.get("globex") is globex_entry  # only the tenant that moved was dropped
        assert opened.tenant_id == "acme"
    finally:
        if follower is not None:
            follower.close()
        projector_store.close()
        api_store.close()
        ledger.close()


def test_R_Z1_the_recorder_wakes_projectors_on_the_channel_followers_listen_to(ledger) -> None:
    """R-Z1: eventsourcing's PostgreSQL recorder NOTIFYs the events table's name in each append's transaction; the
    followers listen to `accessledger_events`, so that must be that name (commands send no NOTIFY of their own)."""
    from projections.follow import EVENTS_CHANNEL

    if ledger.database.kind != "postgresql":
        pytest.skip("SQLite has no NOTIFY: its follower polls")
    assert ledger.recorder.channel_name == EVENTS_CHANNEL
