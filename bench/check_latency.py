"""Check latency in-process, p50/p99: checks now and as of past instants, both from the access cache.

    .venv/bin/python -m bench.check_latency [--database-url URL] [--depth 500] [--checks 20000]

Builds one tenant with a deep history (role changes and short-lived grants on one member, many members with
assignments), projects it, then times `Queries.check` now (with the position read from the tracking table on every
call, and with the runner's `PositionWatch` as the API wires it) and as of random past instants.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from api.runtime import open_runtime
from api.settings import Settings
from domain.application import AccessLedger, Actor
from domain.clock import ManualClock
from projections.queries.facade import Queries

START = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
OWNER = Actor("olga")


def build(app: AccessLedger, clock: ManualClock, members: int, depth: int) -> list[datetime]:
    """A tenant `acme` with `members` brokers (two leads each) and `depth` role changes/grants on `deep`."""
    app.open_tenant(
        Actor("operator"),
        tenant_id="acme",
        name="Acme",
        plan={"name": "big", "included_seats": members + 10, "billing_interval": "yearly", "currency": "EUR"},
        owner={"user_id": "olga", "email": "olga@acme.example", "name": "Olga"},
    )
    for n in range(members):
        user = f"u{n}"
        app.add_member("acme", OWNER, user_id=user, email=f"{user}@acme.example", name=user, role="broker")
        app.assign("acme", OWNER, resource_type="lead", resource_ids=[f"L-{n}-a", f"L-{n}-b"], user_id=user)
    app.add_member("acme", OWNER, user_id="deep", email="deep@acme.example", name="Deep", role="broker")
    instants = []
    for step in range(depth):
        clock.set(clock.now() + timedelta(minutes=1))
        instants.append(clock.now())
        if step % 2:
            grant = app.grant("acme", OWNER, user_id="deep", permission="leads.booster", scope="all")
            clock.set(clock.now() + timedelta(seconds=30))
            app.revoke_grant("acme", OWNER, grant.values["grant_id"])
        else:
            app.change_role("acme", OWNER, "deep", "manager" if step % 4 == 0 else "broker")
    clock.set(clock.now() + timedelta(minutes=1))
    return instants


def timed(label: str, calls: int, call: Callable[[int], object]) -> None:
    gc.collect()
    for i in range(4096):  # every case once: the cache is warm, as in a serving process
        call(i)
    samples = []
    for i in range(calls):
        started = time.perf_counter_ns()
        call(i)
        samples.append(time.perf_counter_ns() - started)
    samples.sort()
    p50 = statistics.median(samples) / 1000
    p99 = samples[int(len(samples) * 0.99) - 1] / 1000
    print(f"{label:<44} p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   ({calls} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--depth", type=int, default=500)
    parser.add_argument("--checks", type=int, default=20000)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    clock = ManualClock(START)
    runtime = open_runtime(Settings(database_url=url, sweep_interval_seconds=0), clock=clock)
    app, store, runner = runtime.ledger, runtime.store, runtime.runner
    instants = build(app, clock, args.members, args.depth)
    started = time.perf_counter()
    reached = runner.catch_up()
    elapsed = time.perf_counter() - started
    print(f"{url.split(':')[0]}: {reached} events projected in {elapsed:.2f} s ({reached / elapsed:,.0f} events/s)")

    now = clock.now()
    rng = random.Random(7)
    users = [f"u{n}" for n in range(args.members)] + ["deep", "olga", "nobody"]
    permissions = ["leads.view_details", "leads.list", "leads.booster", "users.manage", "contacts.create"]
    cases = [
        (rng.choice(users), rng.choice(permissions), rng.choice([None, ("lead", f"L-{rng.randrange(args.members)}-a")]))
        for _ in range(4096)
    ]
    as_of = [rng.choice(instants) for _ in range(4096)]

    from_db = Queries(store)
    in_memory = runtime.queries

    def now_db(i: int) -> object:
        user, permission, resource = cases[i % 4096]
        return from_db.check("acme", user, permission, resource, now=now)

    def now_memory(i: int) -> object:
        user, permission, resource = cases[i % 4096]
        return in_memory.check("acme", user, permission, resource, now=now)

    def past(i: int) -> object:
        user, permission, resource = cases[i % 4096]
        return in_memory.check("acme", user, permission, resource, as_of=as_of[i % 4096], now=now)

    def past_deep(i: int) -> object:
        return in_memory.check("acme", "deep", "leads.booster", ("lead", "L-0-a"), as_of=as_of[i % 4096], now=now)

    timed("current check (position from the database)", args.checks, now_db)
    timed("current check (PositionWatch)", args.checks, now_memory)
    timed("as-of check (random member and instant)", args.checks // 4, past)
    timed(f"as-of check (member with {args.depth} changes)", args.checks // 4, past_deep)
    runtime.close()


if __name__ == "__main__":
    main()
