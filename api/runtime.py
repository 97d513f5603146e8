"""The composition root: the one place the settings, the clock, the ledger, the read store, the runner and Queries
are put together, for the HTTP app, every CLI command and bench/ alike."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio.to_thread

from api.clock_store import PersistedManualClock
from api.http.idempotency import IdempotencyStore, fernet_for
from api.metrics import Metrics
from api.migrate import ensure_schema
from api.settings import Settings, redacted_url
from domain.application import AccessLedger, CommandResult
from domain.clock import Clock, SystemClock
from domain.storage import parse_database_url
from projections import all_projections
from projections.db import ReadStore
from projections.eventstore import head, position_of
from projections.follow import Follower
from projections.queries.directory import tenant_ids
from projections.queries.facade import Queries
from projections.replica import ReplicaFollower
from projections.runner import Runner
from projections.values import ts
from projections.watch import PositionWatch

log = logging.getLogger("accessledger.api")


@dataclass
class Runtime:
    """The configured database opened once: the one clock, the ledger, the read store, the runner and Queries.

    Every entry point builds it here (`open_runtime`): the HTTP app (as `Services`), each CLI command and bench/."""

    settings: Settings
    clock: Clock
    manual_clock: PersistedManualClock | None
    ledger: AccessLedger
    store: ReadStore
    runner: Runner
    queries: Queries
    # Where queries read (R-Z6): a streaming replica's store, or `store` itself; the replica's follower says what
    # it has replayed.
    reads: ReadStore | None = None
    replica: ReplicaFollower | None = None

    def __post_init__(self) -> None:
        if self.reads is None:
            self.reads = self.store

    @property
    def watch(self) -> PositionWatch:
        """What this process knows of the primary's projection position; await it instead of polling (R-X8, R-Z1)."""
        return self.runner.watch

    @property
    def read_watch(self) -> PositionWatch:
        """What this process knows of the position its queries read at: the replica's replayed projections (R-Z6),
        else the primary's (`watch`). `min_position` and a command's answer wait on it."""
        return self.replica.watch if self.replica is not None else self.runner.watch

    def now(self) -> datetime:
        """The one clock's now (R-K2)."""
        return self.clock.now()

    def head_position(self) -> int:
        """The newest event's position, read through the read store's pool: at most 2 s and one attempt while the
        database is away (R-Z3), where eventsourcing's own read retries ten times, 2 s each."""
        with self.store.autocommit() as tx:
            return head(tx, self.ledger)

    def replica_position(self) -> int | None:
        """How far the read replica has replayed, as last read (None without a replica; no I/O)."""
        return None if self.replica is None else self.replica.watch.position

    def lag(self) -> int:
        """Events stored but not yet in every read model."""
        return self.runner.lag()

    def command_position(self, result: CommandResult) -> int:
        """The position a command answers: its last event's, also when it was recorded before (R-X3)."""
        if result.position is not None:
            return result.position
        if result.recorded_versions is not None and result.values.get("tenant_id"):
            with self.store.reader() as tx:
                found = position_of(tx, self.ledger, result.values["tenant_id"], result.recorded_versions[1])
            if found is not None:
                return int(found)
        return self.head_position()

    def after_write(self, position: int | None) -> None:
        """With projections in-process, project up to `position` here. The projector elsewhere was woken already:
        eventsourcing's PostgreSQL recorder sends `NOTIFY accessledger_events` in the transaction that appends
        (the events table's name is the channel's), so no second NOTIFY is sent here.

        Out of process the caller then awaits `reach`: the projector's NOTIFY wakes it, no polling."""
        if position is None:
            return
        if self.settings.in_process_projections:
            self.runner.catch_up(position)

    async def reach(self, position: int, timeout: float) -> bool:
        """True once the queries of this process read at `position` or later (the primary's projections, or the
        replica's replay of them, R-Z6), False after `timeout` s; waiting holds no thread (R-X8)."""
        watch = self.read_watch
        if watch.position >= position:
            return True
        if self.settings.in_process_projections and self.watch.position < position:
            # Projecting is work, not waiting: what is already stored is projected now, in a worker thread.
            await anyio.to_thread.run_sync(self.runner.catch_up, position)
            if watch.position >= position:
                return True
        if self.replica is not None:
            self.replica.want(position)  # the replica's one follower looks until it is there
        return await watch.wait_for(position, timeout)

    def due_tenants(self) -> list[str]:
        """Tenants with a change due by now, read from the primary: the sweep is a command (R-K1, R-Z6)."""
        with self.store.reader() as tx:
            return tenant_ids(tx, ts(self.now()))

    def sweep(self) -> int:
        """Apply due changes on every tenant (R-K1); returns how many tenants recorded something."""
        if self.settings.in_process_projections:
            self.runner.catch_up()  # the read side says which tenants have something due
        changed = self.ledger.sweep(self.due_tenants())
        if self.settings.in_process_projections:
            self.runner.catch_up()
        return changed

    def close(self) -> None:
        """Release every connection."""
        if self.replica is not None:
            self.replica.close()
        self.ledger.close()
        if self.reads is not None and self.reads is not self.store:
            self.reads.close()
        self.store.close()


@dataclass
class Stall:
    """How long a position has stood below its target without advancing, as seen by successive probes."""

    mark: tuple[int, float] | None = None  # (position, since when it has stood there)

    def seconds(self, target: int, reached: int) -> float:
        """Seconds `reached` has stood below `target` without advancing (0 when it is not below)."""
        if reached >= target:
            self.mark = None
            return 0.0
        now = time.monotonic()
        if self.mark is None or reached > self.mark[0]:
            self.mark = (reached, now)
        return now - self.mark[1]


@dataclass
class Services(Runtime):
    """A serving process's Runtime plus idempotency, metrics and background work; routes reach it through deps."""

    idempotency: IdempotencyStore = field(kw_only=True)
    metrics: Metrics = field(kw_only=True)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    follower: Follower | None = None
    closed: bool = False
    # How long the projections, and a read replica's, have stood without advancing while behind (readiness, R-Z3).
    projections_stall: Stall = field(default_factory=Stall)
    replica_stall: Stall = field(default_factory=Stall)

    def operator_token_matches(self, token: str) -> bool:
        """Constant-time comparison with the configured operator token (none configured: nobody is operator)."""
        expected = self.settings.operator_token
        return bool(expected) and secrets.compare_digest(token.encode(), expected.encode())

    def close(self) -> None:
        """Stop background work and release every connection; a closed Services is rebuilt by the next start."""
        self.closed = True
        self.stop.set()
        self.runner.kick()
        if self.follower is not None:
            self.follower.close()
            self.follower = None
        for thread in self.threads:
            thread.join(timeout=10)
        self.threads.clear()
        super().close()


def open_runtime(
    settings: Settings,
    *,
    serving: bool = False,
    create_tables: bool = True,
    clock: Clock | None = None,
) -> Runtime:
    """Open the ledger and the read side on the configured database, with the one clock (R-K2).

    `serving`: this process serves the API, so it starts a manual clock (commands attach to the instant it stores)
    and keeps a full connection pool. `create_tables=False` opens an existing database without creating anything;
    otherwise the schema is migrated first when it is not current (`accessledger migrate`, R-Z4), and after that
    nothing here sends DDL, so a process starting under write load cannot deadlock with the projector.
    `clock` replaces the configured clock (the demo and bench/ write histories at instants they choose)."""
    if create_tables:
        ensure_schema(settings.database_url)
    replica_database = settings.read_database if serving else None  # command-line tools read the primary
    events_pool, reads_pool = pool_sizes(settings.db_pool_size) if serving else (1, 4)
    replica_pool = 0
    if replica_database is not None:
        replica_pool = max(1, reads_pool - reads_pool // 2)
        reads_pool = max(1, reads_pool // 2)
    store = ReadStore(parse_database_url(settings.database_url), pool_size=reads_pool)
    manual_clock = None
    if clock is None and settings.clock == "manual":
        manual_clock = PersistedManualClock.start(store) if serving else PersistedManualClock.attach(store)
    clock = clock or (manual_clock.clock if manual_clock else SystemClock())
    ledger = AccessLedger(settings.database_url, clock, env=event_store_env(events_pool), keys=store.keys)  # R-L6
    runner = Runner(ledger, store, all_projections(), create_tables=False)
    runner.replicated = settings.read_database_url is not None  # `project` too: set the variable on every process
    reads, replica = store, None
    if replica_database is not None:
        # R-Z6: queries, their cache and their positions come from the replica; personal values are opened with
        # the primary's key store.
        reads = ReadStore(replica_database, pool_size=replica_pool, keys_from=store)
        replica = ReplicaFollower(reads, PositionWatch(), runner.watch, runner.names)
        log.info("queries read the replica at %s", redacted_url(settings.read_database_url or ""))
    read_watch = replica.watch if replica is not None else runner.watch
    queries = Queries(reads, app=ledger, watch=read_watch, cache_bytes=int(settings.cache_mb * 2**20))
    return Runtime(settings, clock, manual_clock, ledger, store, runner, queries, reads, replica)


def pool_sizes(total: int) -> tuple[int, int]:
    """`ACCESSLEDGER_DB_POOL_SIZE` split between the event store (loads and appends) and the read side (R-Z5)."""
    events = max(1, total // 3)
    return events, total - events


def build_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """The serving process's Runtime with idempotency and metrics."""
    core = open_runtime(settings, serving=True)
    idempotency = IdempotencyStore(
        core.store, fernet_for(settings.secret_key), settings.idempotency_retention_hours, create=False
    )
    runner = core.runner
    metrics = metrics or Metrics(core.head_position, lambda: runner.position(), lambda: runner.stopped)
    return Services(**vars(core), idempotency=idempotency, metrics=metrics)


def event_store_env(pool_size: int) -> dict[str, str]:
    """eventsourcing's pool: a fixed size, no overflow (R-Z5), no DDL (migrate made the tables)."""
    return {
        "CREATE_TABLE": "n",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
        "POSTGRES_CONNECT_TIMEOUT": "2",  # also how long a request waits for a pooled connection (R-Z3)
    }


def start_background(services: Services) -> None:
    """The follower (what other processes projected), the sweeper (due changes at least once a minute) and,
    in-process, the projector."""
    runner = services.runner
    kick = runner.kick if services.settings.in_process_projections else None
    services.follower = Follower(services.store, runner.watch, runner.names, kick).start()
    if services.replica is not None:
        services.replica.start()
    threads: list[tuple[str, Any]] = [("accessledger-sweeper", _sweeper)]
    if services.settings.in_process_projections:
        threads.append(("accessledger-projector", _projector))
    for name, target in threads:
        thread = threading.Thread(target=target, args=(services,), name=name, daemon=True)
        thread.start()
        services.threads.append(thread)


def _sweeper(services: Services) -> None:
    interval = services.settings.sweep_interval_seconds
    if interval <= 0:
        return
    purged_at = 0.0
    while not services.stop.wait(interval):
        follower = services.follower
        if follower is not None and not follower.sweeper:
            continue  # another process holds the sweeper lock (R-Z5)
        try:
            services.sweep()
            purged_at += interval
            if purged_at >= 3600:
                services.idempotency.purge()
                purged_at = 0.0
        except Exception as exc:  # keep sweeping when the database comes back
            log.warning("sweep failed: %s", exc)


def _projector(services: Services) -> None:
    project_forever(services, services.stop)


def project_forever(runtime: Runtime, stop: threading.Event, on_progress: Any = None) -> None:
    """Project until `stop`, retrying every second while the database is away (R-Z3); `accessledger project` and
    the in-process projector thread alike. New events wake it through the follower's LISTEN."""
    own = None
    if not isinstance(runtime, Services) or runtime.follower is None:
        own = Follower(runtime.store, runtime.watch, runtime.runner.names, runtime.runner.kick).start()
    failures = 0
    try:
        while not stop.is_set():
            try:
                runtime.runner.run_forever(stop, on_progress=on_progress)
            except Exception as exc:
                failures += 1
                if failures in (1, 2) or failures % 30 == 0:
                    log.warning("projector lost the database (%s); retrying every second", exc)
                stop.wait(1.0)
            else:
                failures = 0
    finally:
        if own is not None:
            own.close()
