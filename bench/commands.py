"""Command `add member` then `remove member` (in-process, `AccessLedger`), beside raw eventsourcing: get + save of a
bare aggregate writing as many events per save (two), with the same snapshotting interval, on the same kind of
database (the same PostgreSQL database; a SQLite file beside ours, since eventsourcing's SQLite table name is
fixed). Then the same pair on a tenant with a long history against one with about 100 events and the same team."""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.context import DbRun, log
from bench.harness import Row, Sizes, count_label
from domain.application import SNAPSHOT_INTERVAL, Actor
from domain.storage import parse_database_url

SMALL = 100


class Bare(Aggregate):
    """The smallest aggregate: one counter."""

    def __init__(self) -> None:
        self.n = 0

    @event("Touched")
    def touch(self, n: int) -> None:
        self.n = n


class BareApp(Application):
    name = "benchbare"
    snapshotting_intervals = {Bare: SNAPSHOT_INTERVAL}  # noqa: RUF012


def bare_app(db: DbRun) -> BareApp:
    database = parse_database_url(db.url)
    if database.kind == "sqlite":
        path = str(parse_database_url(db.url).path).replace("bench.db", "bare.db")
        database = parse_database_url(f"sqlite:///{path}")
    return BareApp(env=database.eventsourcing_env())


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [
        ("command add+remove member vs raw get+save", "ratio ≥ 0.50", "cmd/s"),
        (f"command latency at {count_label(sizes.command_history)} vs {SMALL} events", "ratio ≤ 1.5", "s"),
    ]


def pairs(db: DbRun, tenant_id: str, count: int, tag: str) -> list[float]:
    """Seconds per add+remove pair, as admin `ada`."""
    ledger = db.ledger
    ada = Actor("ada")
    spent = []
    for i in range(count):
        user_id = f"cmd-{tag}-{i}"
        started = time.perf_counter()
        ledger.add_member(tenant_id, ada, user_id=user_id, email=f"{user_id}@bench.example", name="Cmd", role="broker")
        ledger.remove_member(tenant_id, ada, user_id)
        spent.append(time.perf_counter() - started)
    return spent


def raw_get_save(app: BareApp, count: int) -> list[float]:
    """Seconds per get + two events + save of one bare aggregate."""
    aggregate = Bare()
    app.save(aggregate)
    ident: Any = aggregate.id
    spent = []
    for i in range(count):
        started = time.perf_counter()
        bare = app.repository.get(ident)
        bare.touch(2 * i)
        bare.touch(2 * i + 1)
        app.save(bare)
        spent.append(time.perf_counter() - started)
    return spent


def run(db: DbRun) -> None:
    s = db.sizes
    small = db.history(SMALL)
    deep = db.history(s.command_history)
    warm = max(3, s.command_pairs // 20)
    tag = uuid.uuid4().hex[:6]
    bare = bare_app(db)
    try:
        raw_get_save(bare, warm)
        pairs(db, small.tenant_id, warm, tag + "w")
        # Interleaved in halves so a noisy neighbour hurts both sides alike.
        half = max(1, s.command_pairs // 2)
        ours_small = pairs(db, small.tenant_id, half, tag + "a")
        raw = raw_get_save(bare, 2 * half)
        ours_deep = pairs(db, deep.tenant_id, half, tag + "b")
        ours_small += pairs(db, small.tenant_id, half, tag + "c")
        raw += raw_get_save(bare, 2 * half)
        ours_deep += pairs(db, deep.tenant_id, half, tag + "d")
    finally:
        bare.close()
    ours_rate = 2 / statistics.fmean(ours_small)
    raw_rate = 1 / statistics.fmean(raw)
    small_p50, deep_p50 = statistics.median(ours_small), statistics.median(ours_deep)
    log(
        f"{db.kind}: commands {ours_rate:,.0f}/s (pair p50 {small_p50 * 1e3:.2f} ms) vs raw {raw_rate:,.0f}/s; "
        f"pair p50 at {deep.events:,} events {deep_p50 * 1e3:.2f} ms"
    )
    db.add(
        Row(
            "command add+remove member vs raw get+save",
            "",
            ours_rate,
            raw_rate,
            "cmd/s",
            "bare aggregate",
            "ratio ≥ 0.50",
            ours_rate >= 0.5 * raw_rate,
            ours_rate / raw_rate,
            f"{2 * len(ours_small)} commands on a {small.events}-event tenant of {len(small.roles)} members",
        )
    )
    db.add(
        Row(
            f"command latency at {count_label(s.command_history)} vs {SMALL} events",
            "",
            deep_p50,
            small_p50,
            "s",
            f"at {SMALL} events",
            "ratio ≤ 1.5",
            deep_p50 <= 1.5 * small_p50,
            deep_p50 / small_p50,
            "median add+remove pair; both tenants have the same team and lead pool",
        )
    )
