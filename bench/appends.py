"""Appends per second on one database: commands spread over 20 tenants from several threads, beside eventsourcing's
raw save rate (get + one event + save of bare aggregates, 20 of them, as many threads) measured in the same run.

This is the write ceiling of one primary that docs/operations.md quotes. eventsourcing's PostgreSQL recorder takes
`LOCK TABLE … IN EXCLUSIVE MODE` around each insert to keep notification ids gap-free in commit order, so appends
are serialised whatever the number of processes; SQLite serialises them by its file lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from bench.commands import Bare, bare_app
from bench.context import DbRun, log
from bench.harness import Row, Sizes
from domain.application import Actor
from domain.tenant.metadata import OPERATOR

TENANTS = 20
THREADS = 8
FIGURE = "appends/s, commands over 20 tenants vs raw saves"


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [(FIGURE, "ratio ≥ 0.50", "events/s")]


def _timed(seconds: float, work: Callable[[int, threading.Event], int]) -> float:
    """Events per second of `work(thread_index, stop)` run by THREADS threads for `seconds`."""
    stop = threading.Event()
    counts = [0] * THREADS
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            counts[index] = work(index, stop)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(counts) / (time.perf_counter() - started)


def run(db: DbRun) -> None:
    seconds = 3.0 if db.sizes.name == "quick" else 8.0
    ledger = db.ledger
    tag = uuid.uuid4().hex[:6]
    tenants = [f"app-{tag}-{n}" for n in range(TENANTS)]
    plan = {"name": "bench", "included_seats": 1_000_000, "billing_interval": "yearly", "currency": "EUR"}
    for tenant in tenants:
        ledger.open_tenant(
            Actor(OPERATOR),
            tenant_id=tenant,
            name=tenant,
            plan=plan,
            owner={"user_id": "owner", "email": "owner@bench.example", "name": "Owner"},
        )

    def commands(index: int, stop: threading.Event) -> int:
        owner, n = Actor("owner"), 0
        while not stop.is_set():
            tenant = tenants[(index + n * THREADS) % TENANTS]
            user = f"u{index}-{n}"
            ledger.add_member(tenant, owner, user_id=user, email=f"{user}@bench.example", name="U", role="broker")
            n += 1
        return n

    bare = bare_app(db)
    ids = []
    for _ in range(TENANTS):
        aggregate = Bare()
        bare.save(aggregate)
        ids.append(aggregate.id)

    def raw(index: int, stop: threading.Event) -> int:
        from eventsourcing.persistence import IntegrityError

        events, n = 0, 0
        while not stop.is_set():
            aggregate = bare.repository.get(ids[(index + n * THREADS) % TENANTS])
            aggregate.touch(n)
            try:
                bare.save(aggregate)
                events += 1
            except IntegrityError:  # two threads on one aggregate: the loser retries, as our commands do
                pass
            n += 1
        return events

    try:
        head, started = ledger.head_position(), time.perf_counter()
        per_second = _timed(seconds, commands)
        rate = (ledger.head_position() - head) / (time.perf_counter() - started)
        baseline = _timed(seconds, raw)
    finally:
        bare.close()
    log(
        f"{db.kind}: appends {rate:,.0f} events/s ({per_second:,.0f} commands/s) over {TENANTS} tenants, "
        f"{THREADS} threads; raw saves {baseline:,.0f} events/s"
    )
    db.add(
        Row(
            FIGURE,
            "",
            rate,
            baseline,
            "events/s",
            "raw eventsourcing saves",
            "ratio ≥ 0.50",
            rate >= 0.5 * baseline,
            rate / baseline if baseline else None,
            f"{per_second:,.0f} add-member commands/s, {THREADS} threads, {seconds:.0f} s each; one primary's "
            "append ceiling (docs/operations.md)",
        )
    )
