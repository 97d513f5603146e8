"""Wake-ups for readers waiting on a tenant's change feed (long poll, server-sent events), without a thread or a
query per reader: the process's `PositionWatch` (fed by the in-process runner, and on PostgreSQL by the projector's
NOTIFY) tells which tenants moved, and only their readers are woken, each to read once — and readers woken at the
same point share that read (`FeedSignals.shared`), so a hundred streams cost one query per command.

    with signals_for(watch).watching(tenant_id) as moved:
        items = read()                     # after registering, so no advance can slip in between
        if not items:
            await moved.wait(timeout)      # True if the tenant moved (or anything might have)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from projections.watch import PositionWatch, Tenants

KEPT_PAGES = 64  # finished pages kept for readers woken a little later (memory: at most this many pages)
# A tenant's readers are woken at most once per THROTTLE seconds: at once after a quiet spell, else at the end of
# the window, once for every advance in it. Under a stream of commands a reader then gets one read and one write
# per window instead of one per command (each write is a system call per reader, on the loop that also serves
# the commands), and an entry still reaches it well within R-C5's second.
THROTTLE = 0.25


class Moved:
    """One reader's wake-up: set, from any thread, when its tenant's events are projected. Cheaper than an
    `asyncio.Event` under `wait_for` (no task per wait): a hundred readers wake on every command."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.flag = False
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Set it (on its loop)."""
        self.flag = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def set(self) -> None:
        """Set it from any thread."""
        self.loop.call_soon_threadsafe(self.wake)

    async def wait(self, timeout: float) -> bool:
        """True once woken (then ready for the next wake-up), False after `timeout` seconds."""
        if not self.flag:
            waiter = self.waiter = self.loop.create_future()
            timer = self.loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
        woken, self.flag = self.flag, False
        return woken


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _OnLoop:
    """The readers of one event loop, touched only on that loop (no lock on the readers' path)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[str, asyncio.TimerHandle] = {}  # tenant → its readers' coming wake-up
        self.woken_at: dict[str, float] = {}  # tenant → when its readers were last woken (loop time)
        self.readers: dict[str, set[Moved]] = {}
        # Each advance is a new generation of the tenants it names: a page read in a generation holds everything
        # projected before the advance was heard here, so readers asking in that generation can share it.
        self.generation = 0
        self.moved_in: dict[str, int] = {}
        self.pages: dict[tuple, tuple[int, asyncio.Task[Any]]] = {}

    def advanced(self, tenants: Tenants) -> None:
        """The tenants moved (None: any may have): new generation, their pages dropped, their readers woken."""
        self.generation += 1
        if tenants is None:
            self.moved_in = dict.fromkeys(self.readers, self.generation)
            self.pages.clear()
            woken = [m for readers in self.readers.values() for m in readers]
            for moved in woken:
                moved.wake()
            return
        for tenant_id in tenants:
            self.moved_in[tenant_id] = self.generation
            if tenant_id in self.readers and tenant_id not in self.due:
                last = self.woken_at.get(tenant_id)
                delay = 0.0 if last is None else max(0.0, last + THROTTLE - self.loop.time())
                self.due[tenant_id] = self.loop.call_later(delay, self.wake, tenant_id)
        for key in [k for k, (_, page) in self.pages.items() if k[0] in tenants and page.done()]:
            del self.pages[key]

    def wake(self, tenant_id: str) -> None:
        """Wake the tenant's readers, once for every advance heard since they were last woken."""
        self.due.pop(tenant_id, None)
        self.woken_at[tenant_id] = self.loop.time()
        for moved in self.readers.get(tenant_id, ()):
            moved.wake()

    def finished(self, key: tuple, page: asyncio.Task[Any]) -> None:
        failed = page.cancelled() or page.exception() is not None
        if failed and self.pages.get(key, (0, None))[1] is page:
            del self.pages[key]
        done = [k for k, (_, p) in self.pages.items() if p.done()]
        for old in done[: max(0, len(done) - KEPT_PAGES)]:
            del self.pages[old]


class FeedSignals:
    """Every waiting reader of one process, by event loop and tenant. An advance is handed to each loop that has
    readers in one hop, and everything after (generations, shared pages, wake-ups) happens on that loop."""

    def __init__(self, watch: PositionWatch) -> None:
        self._loops: dict[asyncio.AbstractEventLoop, _OnLoop] = {}
        self._lock = threading.Lock()  # guards `_loops` only (a loop's first and last reader)
        watch.subscribe(self._advanced)

    def _advanced(self, position: int, tenants: Tenants) -> None:
        with self._lock:
            loops = list(self._loops.items())
        for loop, state in loops:
            with contextlib.suppress(RuntimeError):  # a loop closed since (its readers are gone)
                loop.call_soon_threadsafe(state.advanced, tenants)

    def _here(self) -> tuple[asyncio.AbstractEventLoop, _OnLoop]:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            with self._lock:
                state = self._loops.setdefault(loop, _OnLoop(loop))
        return loop, state

    async def shared(self, key: tuple, read: Callable[[], Awaitable[Any]]) -> Any:
        """`await read()`, shared by every reader of this loop asking the same `key` (tenant first) since the
        tenant last moved: a hundred streams woken by one command read the page once. A page read before an
        advance is never handed to a reader asking after it (it might miss what moved). The read is a task of its
        own, so a reader that leaves does not cancel it for the others; a few finished pages are kept."""
        loop, state = self._here()
        generation = state.moved_in.get(key[0], 0)
        found = state.pages.get(key)
        if found is not None and found[0] == generation:
            page = found[1]
            if page.done():
                return page.result()
        else:
            page = loop.create_task(read())
            state.pages[key] = (generation, page)
            page.add_done_callback(lambda done: state.finished(key, done))
        return await asyncio.shield(page)

    @contextmanager
    def watching(self, tenant_id: str) -> Iterator[Moved]:
        """A wake-up for the tenant, registered for the duration of the block (on the running event loop)."""
        loop, state = self._here()
        moved = Moved(loop)
        state.readers.setdefault(tenant_id, set()).add(moved)
        try:
            yield moved
        finally:
            readers = state.readers.get(tenant_id)
            if readers is not None:
                readers.discard(moved)
                if not readers:
                    del state.readers[tenant_id]
                    state.woken_at.pop(tenant_id, None)
            if not state.readers:
                with self._lock:
                    if not state.readers and self._loops.get(loop) is state:
                        del self._loops[loop]

    def waiting(self) -> int:
        """How many readers are registered (for tests and metrics)."""
        with self._lock:
            loops = list(self._loops.values())
        return sum(len(r) for state in loops for r in list(state.readers.values()))


_BY_WATCH: weakref.WeakKeyDictionary[PositionWatch, FeedSignals] = weakref.WeakKeyDictionary()
_CREATE = threading.Lock()


def signals_for(watch: PositionWatch) -> FeedSignals:
    """The process's FeedSignals on `watch` (one per watch, made on first use)."""
    with _CREATE:
        found = _BY_WATCH.get(watch)
        if found is None:
            found = _BY_WATCH[watch] = FeedSignals(watch)
        return found
