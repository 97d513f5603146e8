"""Pull notifications in global order and hand each projection its batch, rows and tracking in one transaction.

A projection's tracking row moves only with a compare-and-set on its previous position, so two runners (the API
in-process and `accessledger project`) can never apply the same event twice (R-X4).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from projections.db import ReadStore, Tx
from projections.eventstore import Recorded, read_batch
from projections.follow import notify_projected, resync
from projections.watch import PositionWatch

log = logging.getLogger("accessledger.projections")
BATCH = 2000
TRACKING_TABLE = "projection_tracking"
TRACKING_ATTEMPTS = 5  # a batch is re-read this often when another runner moved the projection first


class Projection(Protocol):
    """Writes read models from events; `suffix` names the aside tables of a rebuild (`_next`)."""

    name: str
    tables: Sequence[str]

    def create(self, tx: Tx, suffix: str = "") -> None: ...

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None: ...


def create_tracking(tx: Tx) -> None:
    tx.execute(f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")


def tracked_position(tx: Tx, name: str, lock: bool = False) -> int:
    """The projection's position; `lock` holds its tracking row to the end of the transaction (PostgreSQL), so a
    second runner or a rebuild's swap waits here, before any table, and then reads the position it left."""
    suffix = " FOR UPDATE" if lock and tx.kind == "postgresql" else ""
    return tx.scalar(f"SELECT position FROM {TRACKING_TABLE} WHERE name = ?{suffix}", (name,)) or 0


def create_projection_tables(tx: Tx, projections: Sequence[Projection]) -> None:
    """The tracking table with a row per projection (a row to lock from the first batch on, see
    tracked_position), and each projection's tables."""
    create_tracking(tx)
    for projection in projections:
        projection.create(tx)
        tx.execute(
            f"INSERT INTO {TRACKING_TABLE} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
            (projection.name,),
        )


def _durable_later(tx: Tx, replicated: bool = False) -> None:
    """PostgreSQL: this transaction's commit need not wait for its WAL to reach the disk. Read models are derived
    and track their position in the same transaction (R-X4): one lost to a server crash before the flush is
    projected again from the durable events (issue 17: a flush per projection was most of a PostgreSQL command's
    wait for its read side)."""
    # Not with a read replica (R-Z6): a walsender streams only flushed WAL, so an unflushed batch would reach the
    # replica up to three `wal_writer_delay`s (600 ms by default) later, and every command waits for it there.
    if tx.kind == "postgresql" and not replicated:
        tx.execute("SET LOCAL synchronous_commit TO OFF")


class StaleTracking(Exception):
    """Another runner moved the projection first: the batch is rolled back and re-read (raised after the last try)."""


def advance_tracking(tx: Tx, name: str, old: int, new: int) -> None:
    """Compare-and-set the projection's position inside the caller's transaction."""
    if old == 0:
        tx.execute(
            f"INSERT INTO {TRACKING_TABLE} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
            (name,),
        )
    cursor = tx.execute(f"UPDATE {TRACKING_TABLE} SET position = ? WHERE name = ? AND position = ?", (new, name, old))
    if cursor.rowcount != 1:
        raise StaleTracking(name)


def lock_tracking(tx: Tx, names: Sequence[str]) -> dict[str, int]:
    """Every named projection's position, their tracking rows held to the end of the transaction (PostgreSQL), in
    one statement: the rows are locked in name order, as a rebuild locks them (`projections.rebuild`)."""
    marks = ", ".join("?" for _ in names)
    suffix = " FOR UPDATE" if tx.kind == "postgresql" else ""
    statement = f"SELECT name, position FROM {TRACKING_TABLE} WHERE name IN ({marks}) ORDER BY name{suffix}"
    found = {row["name"]: int(row["position"]) for row in tx.all(statement, tuple(names))}
    missing = [name for name in names if name not in found]
    if missing:  # a projection added since the tables were made: its row starts at 0, then it is held like the rest
        for name in missing:
            tx.execute(
                f"INSERT INTO {TRACKING_TABLE} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", (name,)
            )
        found = {row["name"]: int(row["position"]) for row in tx.all(statement, tuple(names))}
    return {name: found.get(name, 0) for name in names}


def advance_all(tx: Tx, moves: dict[str, tuple[int, int]], then: Callable[[Tx], None] | None = None) -> None:
    """`advance_tracking` for several projections (name → (old, new)) in one statement; `then` (the NOTIFY) is sent
    with it, in one round trip on PostgreSQL."""
    cursor = None
    with pipelined(tx):
        if moves:
            cases = " ".join("WHEN ? THEN ?" for _ in moves)
            matches = " OR ".join("(name = ? AND position = ?)" for _ in moves)
            params: list[Any] = [x for name, (_, new) in moves.items() for x in (name, new)]
            params += [x for name, (old, _) in moves.items() for x in (name, old)]
            statement = f"UPDATE {TRACKING_TABLE} SET position = CASE name {cases} END WHERE {matches}"
            cursor = tx.execute(statement, params)
        if then is not None:
            then(tx)
    if cursor is not None and cursor.rowcount != len(moves):  # counted once the pipeline is synced
        raise StaleTracking(", ".join(moves))


def pipelined(tx: Tx) -> Any:
    """On PostgreSQL, statements that need no answer before the next go out together (psycopg's pipeline: a fetch
    or the block's end waits for every answer); SQLite runs them as they come."""
    return tx.conn.pipeline() if tx.kind == "postgresql" else contextlib.nullcontext()


class _Behind(Exception):
    """A projection stands before the position a batch was read from (rolled back; its positions are read)."""


@dataclass(frozen=True)
class Stopped:
    """A projection stopped by an event it cannot apply (a poison event, R-X8)."""

    projection: str
    position: int
    error: str


def transient(exc: BaseException) -> bool:
    """True for errors that mean the database is unreachable right now (retry), not that an event is poison."""
    names = {f"{cls.__module__.split('.')[0]}.{cls.__name__}" for cls in type(exc).__mro__}
    if names & {
        "psycopg.OperationalError",
        "psycopg.InterfaceError",
        "psycopg_pool.PoolTimeout",
        "psycopg_pool.PoolClosed",
        "eventsourcing.OperationalError",
        "eventsourcing.InterfaceError",
        "sqlite3.OperationalError",  # locked, busy, I/O: SQLite's way of saying "not now"
    }:
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and transient(cause)


class Runner:
    """Keeps every projection up to date with the event store."""

    def __init__(
        self, app: Any, store: ReadStore, projections: Sequence[Projection], create_tables: bool = True
    ) -> None:
        """`create_tables=False` opens an existing read side as it is (a command that only reads or rebuilds)."""
        self.app = app
        self.store = store
        self.projections = list(projections)
        self.names = [p.name for p in self.projections]
        # True when queries read a streaming replica (R-Z6): batches are committed durably, so they stream at once.
        self.replicated = False
        self._lock = threading.Lock()
        self._kick = threading.Event()
        # Projections stopped by a poison event, until the process restarts (R-X8: loud, never a busy loop).
        self.stopped: dict[str, Stopped] = {}
        if create_tables:
            with store.transaction() as tx:
                create_projection_tables(tx, self.projections)
        # What this process knows of the position: advanced by every batch projected here, and by the follower.
        self.watch = PositionWatch(self.position() if create_tables or self._tracked() else 0)

    def _tracked(self) -> bool:
        """True if the tracking table exists (a database whose read side was never built has none)."""
        with self.store.reader() as tx:
            return tx.has_table(TRACKING_TABLE)

    def read(self, after: int, limit: int = BATCH, upto: int | None = None) -> list[Recorded]:
        """Decoded events after global position `after` (at most `limit`, none past `upto`)."""
        return read_batch(self.store, self.app, after, limit, upto)

    def positions(self) -> dict[str, int]:
        """Each projection's position, in one statement (one round trip: every command's catch-up asks twice)."""
        with self.store.autocommit() as tx:
            found = {row["name"]: row["position"] for row in tx.all(f"SELECT name, position FROM {TRACKING_TABLE}")}
        return {p.name: int(found.get(p.name) or 0) for p in self.projections}

    def position(self) -> int:
        """The position every projection has reached (read from the database)."""
        return min(self.positions().values(), default=0)

    def kick(self) -> None:
        """Wake `run_forever` now (new events were recorded) instead of at its next poll."""
        self._kick.set()

    def lag(self) -> int:
        """Events stored but not yet projected by the slowest projection."""
        return max(0, self.app.head_position() - self.position())

    def catch_up(self, until: int | None = None) -> int:
        """Project everything up to `until` (default: the head); returns the position every projection reached
        (a projection stopped by an event it cannot apply stays where it stopped, R-X8)."""
        with self._lock:
            known = self.watch.position
            if until is not None and not self.stopped and known >= until:
                return known  # projected while this thread waited for the lock: nothing to ask
            # Read on from what this process knows every projection reached, without asking the tracking table
            # first (a round trip on PostgreSQL, before a command's answer): the batch's transaction locks the
            # tracking rows and refuses the batch if one stands before it (then they are read). Also when woken
            # without a position: the projector thread often takes a command's batch before the command's thread.
            from_watch = not self.stopped and (until is None or until - known <= BATCH)
            while True:
                if from_watch:
                    from_watch = False
                    reached_by_all = start = known
                    live = list(self.projections)
                else:
                    positions = self.positions()
                    reached_by_all = min(positions.values(), default=0)
                    if reached_by_all > self.watch.position:  # projected by another process: which tenants moved
                        resync(self.store, self.watch, self.names, reached_by_all)
                    live = [p for p in self.projections if p.name not in self.stopped]
                    start = min((positions[p.name] for p in live), default=None)
                if start is None or (until is not None and start >= until):
                    return reached_by_all
                batch = self.read(start, BATCH)
                if not batch:
                    return reached_by_all
                tenants = sorted({r.event.tenant_id for r in batch})
                # The NOTIFY commits with the last projection's tracking: followers hear of a position reached.
                reached = batch[-1].position
                notify = functools.partial(
                    notify_projected, position=reached, tenants=tenants, source=self.watch.source
                )
                failed = None if self.stopped else self._apply_together(live, batch, notify, start)
                if isinstance(failed, _Behind):
                    continue  # nothing was applied: read the positions and start where the slowest stands
                together = not self.stopped and failed is None
                if not together:
                    # A moved position met together counts as each projection's first attempt (R-X4).
                    attempts = TRACKING_ATTEMPTS - (1 if isinstance(failed, StaleTracking) else 0)
                    for projection in live[:-1]:
                        self._apply(projection, batch, attempts=attempts)
                    self._apply(live[-1], batch, None if self.stopped else notify, attempts=attempts)
                # With a projection stopped the position stays where it stopped, but the tenants that moved are
                # still announced (caches drop what they knew of them: revocations keep working, R-Z1).
                self.watch.advance(self.watch.position if self.stopped else reached, tenants)
                if together and (reached >= until if until is not None else len(batch) < BATCH):
                    # Every projection is there (or has all the store held when the batch was read: later events
                    # kick the projector again): no second look at the tracking table.
                    return reached

    def _apply_together(
        self, projections: Sequence[Projection], batch: Sequence[Recorded], then: Callable[[Tx], None], after: int
    ) -> Exception | None:
        """Apply the batch to every projection in one transaction (one commit instead of one per projection: most
        of a command's wait for its read side, issue 17). On a failure other than the database's own (answered:
        the exception), the caller applies it projection by projection, which retries a moved position and stops
        only the projection that cannot apply an event (R-X8)."""
        try:
            with self.store.transaction() as tx:
                # One statement holds every tracking row and one moves them all: on PostgreSQL each round trip
                # counts, as a command's answer waits for this transaction.
                with pipelined(tx):
                    _durable_later(tx, self.replicated)
                    positions = lock_tracking(tx, [p.name for p in projections])
                if min(positions.values(), default=after) < after:
                    raise _Behind  # the batch starts after `after`: applying it would skip events
                moves = {}
                for projection in projections:
                    done = positions[projection.name]
                    todo = [r for r in batch if r.position > done]
                    if todo:
                        projection.process(tx, todo)
                        moves[projection.name] = (done, todo[-1].position)
                advance_all(tx, moves, then)
        except Exception as exc:
            if transient(exc):
                raise  # the database went away: the caller retries once it is back
            return exc
        return None

    def _apply(
        self,
        projection: Projection,
        batch: Sequence[Recorded],
        then: Callable[[Tx], None] | None = None,
        attempts: int = TRACKING_ATTEMPTS,
    ) -> None:
        for _ in range(attempts):
            try:
                self._apply_once(projection, batch, then)
                return
            except StaleTracking:
                continue
            except Exception as exc:
                if transient(exc):
                    raise  # the database went away: the caller retries once it is back
                self._isolate(projection, batch)
                return
        # Under the tracking row's lock this means a bug, not a race: stop rather than report the batch as projected.
        raise StaleTracking(f"{projection.name}: its position moved under every one of {TRACKING_ATTEMPTS} attempts")

    def _apply_once(
        self, projection: Projection, batch: Sequence[Recorded], then: Callable[[Tx], None] | None = None
    ) -> None:
        with self.store.transaction() as tx:
            _durable_later(tx, self.replicated)
            done = tracked_position(tx, projection.name, lock=True)
            todo = [r for r in batch if r.position > done]
            if not todo:
                return
            projection.process(tx, todo)
            advance_tracking(tx, projection.name, done, todo[-1].position)
            if then is not None:
                then(tx)

    def _isolate(self, projection: Projection, batch: Sequence[Recorded]) -> None:
        """The batch failed: apply it event by event up to the one that cannot be applied, and stop there."""
        for recorded in batch:
            try:
                self._apply_once(projection, [recorded])
            except StaleTracking:
                return  # another runner moved on: read again
            except Exception as exc:
                if transient(exc):
                    raise
                error = f"{type(exc).__name__}: {exc}"[:500]
                self.stopped[projection.name] = Stopped(projection.name, recorded.position, error)
                log.error(
                    "projection %s stopped at position %d (%s): %s; fix the cause and restart the process",
                    projection.name,
                    recorded.position,
                    recorded.event_type,
                    error,
                )
                return

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until every projection reached `position` as this process hears of it (a worker thread only;
        the event loop awaits `watch.wait_for`)."""
        return self.watch.wait_blocking(position, timeout)

    def run_forever(
        self,
        stop: threading.Event,
        poll_interval: float = 0.5,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """The projector's loop: catch up, then sleep until `kick` (a follower hears of new events) or the poll."""
        while not stop.is_set():
            self._kick.clear()
            reached = self.catch_up()
            if on_progress:
                on_progress(reached)
            self._kick.wait(poll_interval)
