"""Appends per second on one database: commands spread over 20 tenants from several threads, beside eventsourcing's
raw save rate (get + one event + save of bare aggregates, 20 of them, as many threads) measured in the same run.

This is the write ceiling of one primary that docs/operations.md quotes. eventsourcing's PostgreSQL recorder takes
`LOCK TABLE … IN EXCLUSIVE MODE` around each insert to keep notification ids gap-free in commit order, so appends
are serialised whatever the number of processes; SQLite serialises them by its file lock.

On PostgreSQL the same commands and raw saves are also measured through eventsourcing's one-round-trip path
(`POSTGRES_ENABLE_DB_FUNCTIONS`: one call of a database function per save). It is reported, not used: that function
takes no table lock, so notification ids are no longer in commit order and the projector could pass over an event
that commits after a later one (issue 17; tests/domain/test_append_order.py shows both).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.commands import Bare, BareApp, bare_app
from bench.context import DbRun, log
from bench.harness import Row, Sizes
from domain.application import AccessLedger, Actor
from domain.storage import parse_database_url
from domain.tenant.metadata import OPERATOR

TENANTS = 20
THREADS = 8
FIGURE = "appends/s, commands over 20 tenants vs raw saves"
DB_FUNCTIONS = {"POSTGRES_ENABLE_DB_FUNCTIONS": "y"}


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


def _open_tenants(ledger: Any, tenants: list[str]) -> None:
    plan = {"name": "bench", "included_seats": 1_000_000, "billing_interval": "yearly", "currency": "EUR"}
    for tenant in tenants:
        ledger.open_tenant(
            Actor(OPERATOR),
            tenant_id=tenant,
            name=tenant,
            plan=plan,
            owner={"user_id": "owner", "email": "owner@bench.example", "name": "Owner"},
        )


def _commands(ledger: Any, seconds: float) -> tuple[float, float]:
    """(events/s, commands/s) of add-member commands over TENANTS fresh tenants from THREADS threads."""
    tag = uuid.uuid4().hex[:6]
    tenants = [f"app-{tag}-{n}" for n in range(TENANTS)]
    _open_tenants(ledger, tenants)

    def commands(index: int, stop: threading.Event) -> int:
        owner, n = Actor("owner"), 0
        while not stop.is_set():
            tenant = tenants[(index + n * THREADS) % TENANTS]
            user = f"u{index}-{n}"
            ledger.add_member(tenant, owner, user_id=user, email=f"{user}@bench.example", name="U", role="broker")
            n += 1
        return n

    head, started = ledger.head_position(), time.perf_counter()
    per_second = _timed(seconds, commands)
    return (ledger.head_position() - head) / (time.perf_counter() - started), per_second


def _raw(bare: BareApp, seconds: float) -> float:
    """Events/s of raw eventsourcing saves (get + one event + save) over TENANTS bare aggregates."""
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

    return _timed(seconds, raw)


def run(db: DbRun) -> None:
    seconds = {"full": 8.0, "quick": 3.0}.get(db.sizes.name, 1.0)
    rate, per_second = _commands(db.ledger, seconds)
    bare = bare_app(db)
    try:
        baseline = _raw(bare, seconds)
    finally:
        bare.close()
    log(
        f"{db.kind}: appends {rate:,.0f} events/s ({per_second:,.0f} commands/s) over {TENANTS} tenants, "
        f"{THREADS} threads; raw saves {baseline:,.0f} events/s"
    )
    note = (
        f"{per_second:,.0f} add-member commands/s, {THREADS} threads, {seconds:.0f} s each; one primary's "
        "append ceiling (docs/operations.md)"
    )
    extra: dict[str, Any] = {}
    if db.kind == "postgresql":
        functions, functions_raw = _db_functions(db, seconds)
        extra = {"db_functions_events_per_second": functions, "db_functions_raw_saves_per_second": functions_raw}
        note += (
            f"; through eventsourcing's db functions (not used: ids not in commit order) {functions:,.0f} events/s, "
            f"raw saves {functions_raw:,.0f}"
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
            note,
            extra,
        )
    )


def _db_functions(db: DbRun, seconds: float) -> tuple[float, float]:
    """(events/s of the same commands, of raw saves) through eventsourcing's one-round-trip insert function.

    One after the other: the function is named by the id type only (`es_insert_events_uuid`), so every
    eventsourcing application of a schema shares it and it inserts into the table of whichever created it last."""
    ledger = AccessLedger(db.url, db.ledger.clock, env=DB_FUNCTIONS, keys=db.services.store.keys)
    try:
        rate, per_second = _commands(ledger, seconds)
    finally:
        ledger.close()
    bare = BareApp(env={**parse_database_url(db.url).eventsourcing_env(), **DB_FUNCTIONS})
    try:
        raw = _raw(bare, seconds)
    finally:
        bare.close()
    log(f"{db.kind}: through db functions {rate:,.0f} events/s ({per_second:,.0f} commands/s); raw saves {raw:,.0f}")
    return rate, raw
