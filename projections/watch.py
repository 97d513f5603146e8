"""One process's knowledge of the projection position, and wake-ups when it moves (R-Z1, R-X8).

Whoever learns that the projections advanced calls `advance(position, tenants)`: the in-process runner after each
batch, and on PostgreSQL the follower (`projections.follow`) when the projector's NOTIFY arrives. Everyone else
reads or waits, without I/O and without holding a thread:

    watch.position                          # how far the projections are known to be, no I/O
    await watch.wait_for(position, timeout) # True once reached, False after `timeout` seconds (no thread held)
    watch.wait_blocking(position, timeout)  # the same for code that already runs in a worker thread
    unsubscribe = watch.subscribe(fn)       # fn(position, tenants) after every advance; tenants None = anything

A change feed's long poll waits with `wait_for(after + 1, timeout)` and then reads what is new.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable

log = logging.getLogger("accessledger.projections")

Tenants = frozenset[str] | None  # None: any tenant may have moved (a rebuild, a reconnect, a missed NOTIFY)
Listener = Callable[[int, Tenants], None]


class PositionWatch:
    """The highest projection position this process has heard of; waiters are woken as soon as it passes theirs."""

    def __init__(self, position: int = 0) -> None:
        self._position = position
        self.source = uuid.uuid4().hex[:12]  # names this watch in NOTIFY payloads, so it ignores its own
        self._advanced_at = time.monotonic()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiters: dict[int, tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
        self._ids = itertools.count()
        self._listeners: list[Listener] = []
        self._notify_lock = threading.Lock()  # listeners see advances one at a time, in order

    @property
    def position(self) -> int:
        """The position every projection is known to have reached (no I/O)."""
        return self._position

    @property
    def advanced_at(self) -> float:
        """`time.monotonic()` of the last advance (readiness: have the projections moved lately?)."""
        return self._advanced_at

    def advance(self, position: int, tenants: Iterable[str] | None = None) -> None:
        """The projections reached `position`; `tenants` names the tenants whose events moved them (None: unknown).

        Listeners are told even when `position` is not higher (two runners may report out of order): the tenants
        they name still moved."""
        moved: Tenants = None if tenants is None else frozenset(tenants)
        with self._notify_lock:
            with self._lock:
                higher = position > self._position
                if higher:
                    self._position = position
                    self._advanced_at = time.monotonic()
                    self._changed.notify_all()
                    due = [key for key, (wanted, _, _) in self._waiters.items() if wanted <= position]
                    woken = [self._waiters.pop(key) for key in due]
                else:
                    woken = []
                current = self._position
            for _, loop, future in woken:
                loop.call_soon_threadsafe(_resolve, future)
            if higher or moved is None or moved:
                for listener in list(self._listeners):
                    try:
                        listener(current, moved)
                    except Exception:  # one broken listener must not stop the others from hearing
                        log.exception("position listener failed")

    def reset(self, position: int) -> None:
        """Everything was rebuilt: the position is `position` now (even if lower) and every tenant moved."""
        with self._lock:
            self._position = position
            self._advanced_at = time.monotonic()
        self.advance(position, None)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(position, tenants)` after every advance; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def wait_for(self, position: int, timeout: float) -> bool:
        """True once the projections reached `position`, False after `timeout` seconds; holds no thread."""
        if self._position >= position:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._position >= position:
                return True
            key = next(self._ids)
            self._waiters[key] = (position, loop, future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return self._position >= position
        finally:
            with self._lock:
                self._waiters.pop(key, None)

    def wait_blocking(self, position: int, timeout: float) -> bool:
        """`wait_for` for code already running in a worker thread."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def waiting(self) -> int:
        """How many async waiters are parked (for metrics and tests)."""
        return len(self._waiters)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
