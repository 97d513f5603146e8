"""The audit trail and the change feed built in a process of their own during a whole rebuild (R-R1, issue 17).

Deriving and hashing the trail's entries and working out the feed's changes were half of a rebuild's time on one
core. The trail depends on the events alone; the feed reads the directory's and the history's rows of the same
events, always by position, so rows that have moved on past a batch give the same changes. So a forked worker reads
each batch on its own connection and chains its entries while this process writes the directory and the history;
once those are committed it works out the batch's changes and writes both tables' rows, while this process goes on
with the next batch. When the build loop ends the worker has written every range it was handed, and the swap
proceeds as without it.

On PostgreSQL the worker writes the aside tables themselves. SQLite takes one writer at a time, and this process
holds that lock for most of a batch; so there the worker writes into a scratch database file of its own (with the
real database attached for reading) and the rebuild copies its two tables in at the end (`copy_in`: SQLite's
transfer of a whole table, page content rather than statements). The worker exits when its pipe closes, so a
rebuild killed midway leaves no process behind and a transaction it had open is rolled back.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

from projections.audit.projection import STORED
from projections.audit.projection import TABLE as AUDIT_TABLE
from projections.batch import insert_rows
from projections.changes.projection import COLUMNS as CHANGE_COLUMNS
from projections.changes.projection import TABLE as CHANGES_TABLE
from projections.db import ReadStore, Tx
from projections.eventstore import read_batch

JOIN_SECONDS = 10
AHEAD = 2  # committed batches the worker may still be working on before this process waits for it
SCRATCH = ".rebuild-worker-"  # SQLite: `<database file>.rebuild-worker-<random>`


def can_fork(store: ReadStore) -> bool:
    """True where a worker helps and can share the database: a second core, `fork` (the worker inherits the
    application's decoder), a database another process can open (not SQLite in memory), and no thread that may be
    inside a C library at the fork (see `_quiet_threads`)."""
    shared = store.kind == "postgresql" or store.database.path not in (None, "", ":memory:")
    forks = (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()
    return shared and forks and _quiet_threads()


def _settle_pools(app: Any, store: ReadStore) -> None:
    """Wait until the psycopg pools hold the connections they open at start. Their threads then wait in Python for
    the next task; one still connecting at the fork could leave a libpq or OpenSSL lock held in the worker."""
    datastore = getattr(getattr(app, "recorder", None), "datastore", None)
    for pool in (getattr(store, "_pool", None), getattr(datastore, "pool", None)):
        if pool is not None:
            with suppress(Exception):  # a pool not opened (or closed) has no thread to wait for
                pool.wait(timeout=5.0)


_POOL_THREAD = re.compile(r"pool-\d+-(worker-\d+|scheduler)")


def _quiet_threads() -> bool:
    """True when every other thread is one of psycopg_pool's, which wait in Python between their tasks. A fork
    copies only the forking thread: a lock another thread held in a C library stays held in the child, and its
    first call there never returns (seen: a thread reading SQLite during the fork left the worker's
    `sqlite3.connect` waiting for good). `accessledger replay rebuild` has no other threads; a rebuild inside a
    serving process builds in one process."""
    me = threading.current_thread()
    return all(t is me or _POOL_THREAD.fullmatch(t.name) for t in threading.enumerate())


def split(projections: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """(the projections a worker builds, the others); no worker's share when either side would be empty (nothing
    in parallel), or the feed without the history rebuilt beside it (it reads the serving tables then)."""
    names = {table for p in projections for table in p.tables}
    mine = [p for p in projections if p.tables[0] == AUDIT_TABLE]
    if CHANGES_TABLE in names and "permission_history" in names:
        mine += [p for p in projections if p.tables[0] == CHANGES_TABLE]
    others = [p for p in projections if p not in mine]
    return (mine, others) if mine and others else ([], list(projections))


def remove_leftovers(store: ReadStore) -> None:
    """Delete scratch files a killed rebuild left beside a SQLite database."""
    if store.kind == "sqlite":
        for path in glob.glob(glob.escape(str(store.database.path)) + SCRATCH + "*"):
            with suppress(OSError):
                os.remove(path)


class Worker:
    """A forked process that builds the audit trail and the change feed range by range (see the module)."""

    def __init__(
        self,
        app: Any,
        store: ReadStore,
        projections: Sequence[Any],
        suffix: str,
        create_aside: Callable[[Tx, Sequence[Any]], None],
    ) -> None:
        self.store = store
        self.tables = [table + suffix for p in projections for table in p.tables]
        self.scratch = None
        if store.kind == "sqlite":
            self.scratch = f"{store.database.path}{SCRATCH}{secrets.token_hex(4)}"
        _settle_pools(app, store)
        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(app, store, list(projections), suffix, create_aside, self.scratch, child_end, self._pipe),
            name="accessledger-rebuild-worker",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        self._unanswered = 0

    def read(self, after: int, upto: int, feed: bool = True) -> None:
        """The events after `after` up to `upto` are the next batch: read them and chain their entries (and, with
        `feed`, work out their changes once `committed`: otherwise the rebuild does)."""
        self._pipe.send(("read", after, upto, feed))

    def committed(self) -> None:
        """The directory and the history hold the batch handed over last: write its entries and changes."""
        while self._unanswered >= AHEAD:
            self._answer()
        self._pipe.send(("committed",))
        self._unanswered += 1

    def finish(self) -> None:
        """Wait until every batch is written; on SQLite copy the worker's tables into the aside ones."""
        while self._unanswered:
            self._answer()
        self.close()
        if self.scratch is not None:
            copy_in(self.store, self.scratch, self.tables)

    def _answer(self) -> None:
        try:
            failure = self._pipe.recv()
        except EOFError:
            raise RuntimeError(f"the rebuild's worker exited ({self._process.exitcode})") from None
        self._unanswered -= 1
        if failure is not None:
            raise RuntimeError(f"the rebuild's worker failed: {failure}")

    def close(self) -> None:
        """End the worker (it stops at its next message) and wait for it."""
        with suppress(OSError):  # it is gone already
            self._pipe.send(None)
        self._pipe.close()
        self._process.join(JOIN_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def remove_scratch(self) -> None:
        """Delete the worker's scratch file (SQLite)."""
        for path in glob.glob(glob.escape(self.scratch) + "*") if self.scratch is not None else ():
            with suppress(OSError):
                os.remove(path)


def copy_in(store: ReadStore, scratch: str, tables: Sequence[str]) -> None:
    """Copy whole tables of the scratch file into the same (empty) tables of the database."""
    with store.autocommit() as tx:
        tx.execute("ATTACH DATABASE ? AS worker", (scratch,))
    try:
        with store.transaction() as tx:
            for table in tables:
                tx.execute(f"INSERT INTO main.{table} SELECT * FROM worker.{table}")
    finally:
        with store.autocommit() as tx:
            tx.execute("DETACH DATABASE worker")


def _serve(
    app: Any,
    parent_store: ReadStore,
    projections: list[Any],
    suffix: str,
    create_aside: Callable[[Tx, Sequence[Any]], None],
    scratch: str | None,
    pipe: Any,
    parent_end: Any,
) -> None:
    """The worker's loop over the pipe's messages; ends at `None` or at the end of file (the rebuild gone)."""
    parent_end.close()  # inherited by the fork: while open here, the pipe would never reach its end
    store = _own_store(parent_store, scratch, projections, create_aside)
    audit = [p for p in projections if p.tables[0] == AUDIT_TABLE]
    changes = [p for p in projections if p.tables[0] == CHANGES_TABLE]
    batch: Sequence[Any] = ()
    entries: list[Any] = []
    with_feed = True
    failed: str | None = None  # a read's failure, answered at the batch's `committed`
    try:
        while True:
            try:
                message = pipe.recv()
            except EOFError:
                return
            if message is None:
                return
            try:
                if message[0] == "read":
                    _, after, upto, with_feed = message
                    batch = read_batch(store, app, after, upto - after, upto)
                    with store.autocommit() as tx:  # each tenant's last hash: only this worker writes its trail
                        entries = audit[0].rows(tx, batch, suffix) if audit else []
                    continue
                if failed is None:
                    with store.autocommit() as tx:
                        feed = changes[0].rows(tx, batch, suffix) if changes and with_feed else []
                    with _writing(store, scratch) as tx:
                        insert_rows(tx, AUDIT_TABLE + suffix, STORED, entries)
                        insert_rows(tx, CHANGES_TABLE + suffix, CHANGE_COLUMNS, feed)
            except Exception as exc:  # answered, and raised by the rebuild
                failed = failed or f"{type(exc).__name__}: {exc}"[:1000]
            if message[0] == "committed":
                pipe.send(failed)
    finally:
        store.close()


def _own_store(
    parent_store: ReadStore, scratch: str | None, projections: list[Any], create_aside: Callable[..., None]
) -> ReadStore:
    """The worker's connection: the same PostgreSQL database, or the scratch file with the database attached
    (unqualified names find the scratch's own tables first, everything else in the database)."""
    if scratch is None:
        return ReadStore(parent_store.database, pool_size=1)
    store = ReadStore(replace(parent_store.database, url=f"sqlite:///{scratch}", path=scratch), pool_size=1)
    with store.autocommit() as tx:  # a scratch file: nothing to recover after a crash (the rebuild starts over)
        tx.execute("PRAGMA journal_mode=MEMORY")
        tx.execute("PRAGMA synchronous=OFF")
    with _writing(store, scratch) as tx:  # before the attach: no statement here can reach the database's tables
        create_aside(tx, projections)
    with store.autocommit() as tx:
        tx.execute("ATTACH DATABASE ? AS source", (str(parent_store.database.path),))
    return store


@contextmanager
def _writing(store: ReadStore, scratch: str | None) -> Iterator[Tx]:
    """A write transaction of the worker. In the scratch file a deferred one: BEGIN IMMEDIATE would take the write
    lock of the attached database too, which the rebuild holds."""
    if scratch is None:
        with store.transaction() as tx:
            yield tx
        return
    with store.autocommit() as tx:
        tx.execute("BEGIN")
        try:
            yield tx
        except BaseException:
            tx.execute("ROLLBACK")
            raise
        tx.execute("COMMIT")
