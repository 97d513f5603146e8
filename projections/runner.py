"""Pull notifications in global order and hand each projection its batch, rows and tracking in one transaction.

A projection's tracking row moves only with a compare-and-set on its previous position, so two runners (the API
in-process and `accessledger project`) can never apply the same event twice (R-X4).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from projections.db import ReadStore, Tx

BATCH = 2000
TRACKING_TABLE = "projection_tracking"
# How stale `known_position` may be about other processes' projecting (this process's own is seen at once; a
# serving process's projector thread reads the position twice a second anyway, so its checks never wait on it).
KNOWN_MAX_AGE = 1.0


@dataclass(frozen=True)
class Recorded:
    """One event as a projection sees it: its global position, the domain event, and when it was stored."""

    position: int
    event: Any
    recorded_at: datetime

    @property
    def event_type(self) -> str:
        return type(self.event).__name__


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


class StaleTracking(Exception):
    """Another runner moved the projection first; this batch is rolled back and re-read."""


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


class Runner:
    """Keeps every projection up to date with the event store."""

    def __init__(self, app: Any, store: ReadStore, projections: Sequence[Projection]) -> None:
        self.app = app
        self.store = store
        self.projections = list(projections)
        self._lock = threading.Lock()
        self._advanced = threading.Condition()
        self._known: tuple[int, float] = (0, float("-inf"))
        with store.transaction() as tx:
            create_tracking(tx)
            for projection in self.projections:
                projection.create(tx)
                # A row to lock from the first batch on (see tracked_position).
                tx.execute(
                    f"INSERT INTO {TRACKING_TABLE} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
                    (projection.name,),
                )

    def read(self, after: int, limit: int = BATCH, upto: int | None = None) -> list[Recorded]:
        """Decoded events after global position `after` (at most `limit`, none past `upto`)."""
        notifications = self.app.recorder.select_notifications(start=after + 1, limit=limit, stop=upto)
        to_event = self.app.mapper.to_domain_event
        out = []
        for notification in notifications:
            event = to_event(notification)
            out.append(Recorded(notification.id, event, event.timestamp))
        return out

    def positions(self) -> dict[str, int]:
        with self.store.reader() as tx:
            return {p.name: tracked_position(tx, p.name) for p in self.projections}

    def position(self) -> int:
        """The position every projection has reached."""
        reached = min(self.positions().values(), default=0)
        self._known = (reached, time.monotonic())
        return reached

    def known_position(self, max_age: float = KNOWN_MAX_AGE) -> int:
        """`position()` as this process last read or reached it, read again once older than `max_age` seconds.

        Current checks ask this on every call: no database round trip, yet this process's own writes are seen at
        once (catch_up records what it reached) and other processes' within `max_age`."""
        cached = self.cached_position(max_age)
        return self.position() if cached is None else cached

    def cached_position(self, max_age: float = KNOWN_MAX_AGE) -> int | None:
        """`known_position` without reading: None once it is older than `max_age` (for the event loop)."""
        reached, at = self._known
        return reached if time.monotonic() - at <= max_age else None

    def lag(self) -> int:
        """Events stored but not yet projected by the slowest projection."""
        return max(0, self.app.head_position() - self.position())

    def catch_up(self, until: int | None = None) -> int:
        """Project everything up to `until` (default: the head); returns the position reached."""
        with self._lock:
            while True:
                start = self.position()
                if until is not None and start >= until:
                    return start
                batch = self.read(start, BATCH)
                if not batch:
                    return start
                for projection in self.projections:
                    self._apply(projection, batch)
                self._known = (max(self._known[0], batch[-1].position), time.monotonic())
                with self._advanced:
                    self._advanced.notify_all()

    def _apply(self, projection: Projection, batch: Sequence[Recorded]) -> None:
        for _ in range(5):
            try:
                with self.store.transaction() as tx:
                    done = tracked_position(tx, projection.name, lock=True)
                    todo = [r for r in batch if r.position > done]
                    if not todo:
                        return
                    projection.process(tx, todo)
                    advance_tracking(tx, projection.name, done, todo[-1].position)
                return
            except StaleTracking:
                continue

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until every projection reached `position` (another process may be projecting)."""
        deadline = time.monotonic() + timeout
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._advanced:
                self._advanced.wait(min(remaining, 0.05))
        return True

    def run_forever(
        self,
        stop: threading.Event,
        poll_interval: float = 0.5,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """The loop of `accessledger project`: catch up, then wait for new events (LISTEN on PostgreSQL)."""
        listener = _Listener(self.store) if self.store.kind == "postgresql" else None
        try:
            while not stop.is_set():
                reached = self.catch_up()
                if on_progress:
                    on_progress(reached)
                if listener is not None:
                    listener.wait(poll_interval)
                else:
                    stop.wait(poll_interval)
        finally:
            if listener is not None:
                listener.close()


NOTIFY_CHANNEL = "accessledger_events"


class _Listener:
    """Wakes the loop when a command commits (the API sends NOTIFY after saving); polling stays the fallback."""

    def __init__(self, store: ReadStore) -> None:
        import psycopg

        self.conn = psycopg.connect(store.database.conninfo(), autocommit=True)
        self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait(self, timeout: float) -> None:
        for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            pass

    def close(self) -> None:
        self.conn.close()
