"""Wake-ups for readers waiting on a tenant's change feed (long poll, server-sent events), without a thread or a
query per reader: the process's `PositionWatch` (fed by the in-process runner, and on PostgreSQL by the projector's
NOTIFY) tells which tenants moved, and only their readers are woken, each to read once.

    with signals_for(watch).watching(tenant_id) as moved:
        items = read()                     # after registering, so no advance can slip in between
        if not items:
            await moved.wait(timeout)      # True if the tenant moved (or anything might have)
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from projections.watch import PositionWatch, Tenants


class Moved:
    """One reader's wake-up: set, from any thread, when its tenant's events are projected."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()

    def set(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout: float) -> bool:
        """True once woken (then ready for the next wake-up), False after `timeout` seconds."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True


class FeedSignals:
    """Every waiting reader of one process, by tenant."""

    def __init__(self, watch: PositionWatch) -> None:
        self._readers: dict[str, set[Moved]] = {}
        self._lock = threading.Lock()
        watch.subscribe(self._advanced)

    def _advanced(self, position: int, tenants: Tenants) -> None:
        with self._lock:
            if tenants is None:
                woken = [m for readers in self._readers.values() for m in readers]
            else:
                woken = [m for t in tenants for m in self._readers.get(t, ())]
        for moved in woken:
            moved.set()

    @contextmanager
    def watching(self, tenant_id: str) -> Iterator[Moved]:
        """A wake-up for the tenant, registered for the duration of the block (on the running event loop)."""
        moved = Moved(asyncio.get_running_loop())
        with self._lock:
            self._readers.setdefault(tenant_id, set()).add(moved)
        try:
            yield moved
        finally:
            with self._lock:
                readers = self._readers.get(tenant_id)
                if readers is not None:
                    readers.discard(moved)
                    if not readers:
                        del self._readers[tenant_id]

    def waiting(self) -> int:
        """How many readers are registered (for tests and metrics)."""
        with self._lock:
            return sum(len(r) for r in self._readers.values())


_BY_WATCH: weakref.WeakKeyDictionary[PositionWatch, FeedSignals] = weakref.WeakKeyDictionary()
_CREATE = threading.Lock()


def signals_for(watch: PositionWatch) -> FeedSignals:
    """The process's FeedSignals on `watch` (one per watch, made on first use)."""
    with _CREATE:
        found = _BY_WATCH.get(watch)
        if found is None:
            found = _BY_WATCH[watch] = FeedSignals(watch)
        return found
