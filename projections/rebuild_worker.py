"""The audit trail built in a process of its own during a whole rebuild (R-R1, issue 17).

The trail depends on nothing but the events, and deriving and hashing its entries was a quarter of a rebuild's
time. So a forked worker reads the same batches on its own connection, chains them and writes `audit_entries_next`
while this process writes the other projections' aside tables: two cores instead of one. The rebuild hands it one
range of positions at a time and waits for the previous range's answer before handing the next, so when the build
loop ends both sides have reached the same position and the swap proceeds as without a worker.

SQLite takes one writer at a time: both sides take a lock shared across the fork around their write transactions,
so neither waits in SQLite's busy handler (which sleeps up to 100 ms per try), and the worker computes its rows
outside it. The worker exits when its pipe closes, so a rebuild killed midway leaves no process behind, and a
transaction it had open is rolled back like the rebuild's own.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from projections.audit.projection import STORED, AuditProjection
from projections.audit.projection import TABLE as AUDIT_TABLE
from projections.batch import insert_rows
from projections.db import ReadStore
from projections.eventstore import read_batch

LOCK_POLL_SECONDS = 0.5  # how often a side waiting for the write lock checks that the other is still alive
JOIN_SECONDS = 10


def can_fork() -> bool:
    """True where a worker helps: a second core, and `fork` (the worker inherits the application's decoder)."""
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


class AuditWorker:
    """A forked process that writes the aside audit trail range by range (see the module's docstring)."""

    def __init__(self, app: Any, store: ReadStore, suffix: str) -> None:
        context = multiprocessing.get_context("fork")
        self._lock = context.Lock() if store.kind == "sqlite" else None
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(app, store.database, suffix, child_end, self._pipe, self._lock),
            name="accessledger-rebuild-audit",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        self._pending = False

    def submit(self, after: int, upto: int) -> None:
        """Hand over the events after `after` up to `upto` once the previous range is written."""
        self.wait()
        self._pipe.send((after, upto))
        self._pending = True

    def wait(self) -> None:
        """Block until the range handed over last is committed; raises what the worker met."""
        if not self._pending:
            return
        try:
            failure = self._pipe.recv()
        except EOFError:
            raise RuntimeError(f"the rebuild's audit worker exited ({self._process.exitcode})") from None
        self._pending = False
        if failure is not None:
            raise RuntimeError(f"the rebuild's audit worker failed: {failure}")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the shared write lock (SQLite) around one of this side's write transactions."""
        with _locked(self._lock, self._process.is_alive):
            yield

    def close(self) -> None:
        """End the worker (after `wait`, it has nothing left to write)."""
        with suppress(OSError):  # it is gone already
            self._pipe.send(None)
        self._pipe.close()
        self._process.join(JOIN_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


@contextmanager
def _locked(lock: Any, other_alive: Any) -> Iterator[None]:
    if lock is None:
        yield
        return
    while not lock.acquire(timeout=LOCK_POLL_SECONDS):
        if not other_alive():
            raise RuntimeError("the other side of the rebuild died holding the write lock")
    try:
        yield
    finally:
        lock.release()


def _serve(app: Any, database: Any, suffix: str, pipe: Any, parent_end: Any, lock: Any) -> None:
    """The worker's loop: a range in, its entries committed, `None` (or the error) out; ends at `None` or at the
    pipe's end of file (the rebuild's process gone)."""
    parent_end.close()  # inherited by the fork: while open here, the pipe would never reach its end
    parent = os.getppid()
    store = ReadStore(database, pool_size=1)
    projection = AuditProjection()
    try:
        while True:
            try:
                message = pipe.recv()
            except EOFError:
                return
            if message is None:
                return
            after, upto = message
            try:
                _write(store, projection, app, after, upto, suffix, lock, lambda: os.getppid() == parent)
            except Exception as exc:  # answered, and raised by the rebuild
                pipe.send(f"{type(exc).__name__}: {exc}"[:1000])
            else:
                pipe.send(None)
    finally:
        store.close()


def _write(
    store: ReadStore,
    projection: AuditProjection,
    app: Any,
    after: int,
    upto: int,
    suffix: str,
    lock: Any,
    parent_alive: Any,
) -> None:
    batch: Sequence[Any] = read_batch(store, app, after, upto - after, upto)
    with store.autocommit() as tx:  # the chain's last hashes: only this worker writes the aside trail
        rows = projection.rows(tx, batch, suffix)
    with _locked(lock, parent_alive), store.transaction() as tx:
        insert_rows(tx, AUDIT_TABLE + suffix, STORED, rows)
