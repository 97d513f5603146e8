"""What a PostgreSQL streaming replica has replayed, for a process that reads its queries there (R-Z6).

NOTIFY is not replicated, so a replica cannot tell anyone that it replayed something. One daemon thread per
process (`ReplicaFollower`), on one connection of its own, reads the replica's `projection_tracking` rows and feeds
the process's read-side `PositionWatch`, naming the tenants that moved from the replica's
`dir_tenants.last_position` (so the access cache drops exactly what the replica now shows differently, and the
change feed wakes). It is told when to look by the primary: the primary's watch advances (the projector's NOTIFY,
or the in-process runner) and requests that wait for a position (`want`) wake it; then it reads every few
milliseconds until the replica caught up, backing off while it does not move; otherwise once a second, which also
notices a replica that went away. One query per interval per process, whatever the number of waiting requests:
they await the watch, holding nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from projections.db import ReadStore, Tx
from projections.follow import moved_tenants, read_position
from projections.watch import PositionWatch, Tenants

log = logging.getLogger("accessledger.projections")

IDLE_SECONDS = 1.0  # nothing to wait for: look once a second (liveness, lag, a missed wake-up)
FIRST_STEP = 0.002  # behind what someone needs: look again this soon, doubling while the replica does not move
LAST_STEP = 0.1


class ReplicaFollower:
    """A daemon thread keeping `watch` at the position the replica's projections have replayed."""

    def __init__(
        self,
        replica: ReadStore,
        watch: PositionWatch,
        primary: PositionWatch,
        projection_names: Sequence[str],
        idle: float = IDLE_SECONDS,
    ) -> None:
        self.replica = replica
        self.watch = watch
        self.primary = primary
        self.names = list(projection_names)
        self.idle = idle
        self.stop = threading.Event()
        self.reachable = threading.Event()  # set while the last read of the replica succeeded
        self.error: str | None = None  # why the replica could not be read, while it cannot
        self._wanted = 0
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._unsubscribe = primary.subscribe(self._primary_moved)

    def start(self) -> ReplicaFollower:
        self._thread = threading.Thread(target=self._run, name="accessledger-replica", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._unsubscribe()
        self.stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def want(self, position: int) -> None:
        """A request waits for `position` on the replica: look until it is there."""
        if position > self._wanted:
            self._wanted = position
        if self.watch.position < position:
            self._kick.set()

    def lag(self) -> int:
        """Positions the primary's projections reached that the replica has not replayed yet (what this process
        has heard of; no I/O)."""
        return max(0, self.primary.position - self.watch.position)

    def _primary_moved(self, position: int, tenants: Tenants) -> None:
        if position > self.watch.position:
            self._kick.set()

    def _target(self) -> int:
        return max(self.primary.position, self._wanted)

    def _run(self) -> None:
        failures = 0
        step = FIRST_STEP
        while not self.stop.is_set():
            before = self.watch.position
            try:
                self._read()
            except Exception as exc:  # the replica went away: its queries fail fast until it is back (R-Z3)
                self._drop()
                failures += 1
                self.reachable.clear()
                self.error = " ".join(str(exc).split()) or type(exc).__name__
                if failures > 1:
                    self.replica.unreachable = True
                if failures in (1, 2) or failures % 30 == 0:
                    log.warning("the read replica is unreachable (%s); retrying every second", self.error)
                self.stop.wait(0.2 if failures == 1 else 1.0)
                continue
            if failures or self.replica.unreachable:
                self.replica.recovered()
            failures, self.error = 0, None
            self.reachable.set()
            if self.watch.position < self._target():
                # Behind what the primary reached or a request needs: look again soon, less often while it
                # does not move (a paused or lagging replica costs at most ten reads a second).
                step = FIRST_STEP if self.watch.position > before else min(step * 2, LAST_STEP)
                self._kick.wait(step)
            else:
                step = FIRST_STEP
                self._kick.wait(self.idle)
            self._kick.clear()
        self._drop()

    def _read(self) -> None:
        """One look at the replica, on this follower's own connection: a replica that went away is noticed at once
        (the pool would wait for a connection first), and the pool stays for the queries."""
        import psycopg
        from psycopg.rows import dict_row

        if self._conn is None:
            schema = self.replica.database.schema
            self._conn = psycopg.connect(
                self.replica.database.conninfo(),
                autocommit=True,
                connect_timeout=2,
                row_factory=dict_row,
                **({"options": f"-c search_path={schema}"} if schema else {}),
            )
        conn = self._conn
        known = self.watch.position
        tenants: list[str] | None = None
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            tx = Tx(conn, "postgresql")
            position = read_position(tx, self.names)
            if position > known:
                tenants = moved_tenants(tx, known, self.names)
        if position > known:
            self.watch.advance(position, tenants)

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def wait_reachable(self, timeout: float) -> bool:
        """True once the replica answered a read (tests, start-up)."""
        deadline = time.monotonic() + timeout
        while not self.reachable.wait(0.05):
            if time.monotonic() > deadline or self.stop.is_set():
                return False
        return True
