"""Keep a process's `PositionWatch` in step with projections run elsewhere (R-Z1), on one connection (R-Z5).

The projector sends `NOTIFY accessledger_projected` after each batch with `{"position": P, "tenants": [...]}`
(`null` when too many to list); API processes send `NOTIFY accessledger_events` after each command so a waiting
projector wakes at once. The follower LISTENs to both on its one connection, feeds the watch, kicks the local
projector, and drops the person keys another process erased (`accessledger_erased`, R-L6, sent by
`KeyStore.destroy` in the transaction that deletes them). Every `poll` seconds (and after reconnecting) it reads
the tracking table itself, naming the tenants that moved from `dir_tenants.last_position`, and the erasure count,
so a lost notification costs at most one poll. On SQLite (one machine, no NOTIFY) it only polls, every 0.1 s:
`accessledger erase` run beside `serve` is heard that way. When the database is away it retries every second
until it is back (R-Z3).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from projections.db import ReadStore, Tx
from projections.keystore import ERASED_CHANNEL
from projections.watch import PositionWatch

log = logging.getLogger("accessledger.projections")

EVENTS_CHANNEL = "accessledger_events"
PROJECTED_CHANNEL = "accessledger_projected"
MAX_PAYLOAD = 7000  # PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more
SWEEPER_LOCK = 727_018  # held by the one process that sweeps due changes (R-Z5), on its listening connection


def projected_payload(position: int, tenants: Sequence[str] | None, source: str = "") -> str:
    """The NOTIFY payload; the tenant list is dropped (meaning "any tenant") when it would not fit."""
    listed = None if tenants is None else sorted(tenants)
    payload = json.dumps({"position": position, "tenants": listed, "source": source})
    if len(payload) > MAX_PAYLOAD:
        payload = json.dumps({"position": position, "tenants": None, "source": source})
    return payload


def notify_projected(tx: Tx, position: int, tenants: Sequence[str] | None, source: str = "") -> None:
    """Tell every follower that the projections reached `position` (delivered when `tx` commits); `source` is the
    sender's watch, which heard it already."""
    if tx.kind == "postgresql":
        tx.execute("SELECT pg_notify(?, ?)", (PROJECTED_CHANNEL, projected_payload(position, tenants, source)))


def read_position(tx: Tx, names: Sequence[str]) -> int:
    """The position every named projection has reached (0 before the first batch)."""
    if not names:
        return 0
    marks = ", ".join("?" for _ in names)
    rows = tx.all(f"SELECT name, position FROM projection_tracking WHERE name IN ({marks})", tuple(names))
    return 0 if len(rows) < len(names) else min(row["position"] for row in rows)


def moved_tenants(tx: Tx, after: int, names: Sequence[str]) -> list[str] | None:
    """Tenants with an event projected after position `after` (None when the directory is not among `names`)."""
    if "directory" not in names:
        return None
    return [row["tenant_id"] for row in tx.all("SELECT tenant_id FROM dir_tenants WHERE last_position > ?", (after,))]


def resync(store: ReadStore, watch: PositionWatch, names: Sequence[str], position: int | None = None) -> int:
    """Tell `watch` what moved since it last heard, read from the tables (`position`: already read by the caller).

    For positions reached by another process whose NOTIFY has not arrived yet (or never will)."""
    known = watch.position
    tenants: list[str] | None = None
    with store.reader() as tx:
        if position is None:
            position = read_position(tx, names)
        if position > known:
            tenants = moved_tenants(tx, known, names)
    if position > known:  # never lower: a NOTIFY may have told the watch more than this read saw
        watch.advance(position, tenants)
    return position


class Follower:
    """A daemon thread: LISTEN (PostgreSQL) or poll (SQLite), feed `watch`, call `kick` when events arrive."""

    def __init__(
        self,
        store: ReadStore,
        watch: PositionWatch,
        projection_names: Sequence[str],
        kick: Callable[[], None] | None = None,
        poll: float | None = None,
    ) -> None:
        self.store = store
        self.watch = watch
        self.names = list(projection_names)
        self.kick = kick
        self.poll = poll if poll is not None else (1.0 if store.kind == "postgresql" else 0.1)
        self.stop = threading.Event()
        self.connected = threading.Event()  # set while the listening connection is up (readiness)
        # True while this process holds the sweeper lock: a session lock on the listening connection, so a process
        # that dies or loses the database hands it to another at once (R-Z5). SQLite has one process: always True.
        self.sweeper = store.kind != "postgresql"
        self._thread: threading.Thread | None = None

    def start(self) -> Follower:
        self._thread = threading.Thread(target=self._run, name="accessledger-follower", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def resync(self) -> None:
        resync(self.store, self.watch, self.names)

    def _run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                if self.store.kind == "postgresql":
                    self._listen()
                else:
                    self.connected.set()
                    self.resync()
                    # `accessledger erase` runs in a process of its own beside `serve`, with no NOTIFY on SQLite.
                    self.store.keys.notice_erasures()
                    self.stop.wait(self.poll)
                failures = 0
            except Exception as exc:  # the database went away: fail requests fast, retry until it is back (R-Z3)
                self.connected.clear()
                failures += 1
                if failures > 1:
                    self.store.unreachable = True
                if failures in (1, 2) or failures % 30 == 0:
                    log.warning("the database is unreachable (%s); retrying every second", exc)
                self.stop.wait(0.2 if failures == 1 else 1.0)

    def _listen(self) -> None:
        import psycopg

        conn = psycopg.connect(self.store.database.conninfo(), autocommit=True, connect_timeout=2)
        try:
            conn.execute(f"LISTEN {EVENTS_CHANNEL}")
            conn.execute(f"LISTEN {PROJECTED_CHANNEL}")
            conn.execute(f"LISTEN {ERASED_CHANNEL}")
            if self.store.unreachable:
                self.store.recovered()
            self.store.keys.notice_erasures()  # an erasure while nobody listened
            self.connected.set()
            self.resync()  # what moved while nobody listened
            while not self.stop.is_set():
                if not self.sweeper:
                    self.sweeper = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (SWEEPER_LOCK,)).fetchone()[0])
                heard = False
                for notify in conn.notifies(timeout=self.poll):
                    heard = True
                    self._heard(notify.channel, notify.payload)
                if not heard:
                    conn.execute("SELECT 1")  # notice a dead server even when nothing is said
                    self.resync()
                    self.store.keys.notice_erasures()  # a lost NOTIFY costs at most one poll
                if self.store.unreachable:  # suspected by a probe (`/readyz`), but this connection answers
                    conn.execute("SELECT 1")
                    self.store.recovered()
        finally:
            self.connected.clear()
            self.sweeper = False
            conn.close()

    def _heard(self, channel: str, payload: str) -> None:
        if channel == EVENTS_CHANNEL:
            if self.kick is not None:
                self.kick()
            return
        if channel == ERASED_CHANNEL:
            self._erased(payload)
            return
        try:
            message: dict[str, Any] = json.loads(payload)
            position = int(message["position"])
            tenants = message.get("tenants")
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed %s payload", PROJECTED_CHANNEL)
            return
        if message.get("source") == self.watch.source:
            return
        self.watch.advance(position, None if tenants is None else [str(t) for t in tenants])

    def _erased(self, payload: str) -> None:
        """Another process erased persons (R-L6): drop their keys from this process's cache (all, if unnamed)."""
        try:
            message: dict[str, Any] = json.loads(payload)
            tenant_id, persons = str(message["tenant_id"]), message.get("persons")
            named = None if persons is None else [str(p) for p in persons]
        except (ValueError, KeyError, TypeError):
            named, tenant_id = None, None
        if named is None:
            self.store.keys.forget()
        else:
            self.store.keys.forget(tenant_id, named)
