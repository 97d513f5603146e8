"""Rebuild projections from the events (R-R1), whole or for one tenant, without disturbing readers.

Whole: every table is built aside as `<table>_next` at batch speed, then one short transaction catches up the tail,
drops the serving tables, renames the new ones in, renames their indexes (names are `<table><suffix>_<label>`) and
sets tracking to the rebuilt position. A rebuild killed before that transaction leaves the old tables serving; its
`_next` leftovers are dropped when the next rebuild starts.

The audit trail is append-only and must come out identical (its `recorded_at` is the event store's): when the
rebuilt trail differs from the serving one, nothing is swapped and the first difference is reported as verify
names it. For one tenant the audit trail is only recomputed and compared (its rows can never be deleted); the other
projections' rows of the tenant are deleted and re-inserted in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from projections import guards, rebuild_worker
from projections.audit.chain import GENESIS_HASH, canonical_json, chained, derive_entry
from projections.audit.projection import TABLE as AUDIT_TABLE
from projections.audit.verify import compare_rows, first_difference
from projections.db import ReadStore, Tx
from projections.eventstore import Recorded, all_events, head, read_batch, tenant_events
from projections.follow import notify_projected
from projections.runner import TRACKING_TABLE, Projection, create_tracking, tracked_position

BATCH = 5000
PARALLEL = True  # the audit trail and the change feed in a worker process where it can (rebuild_worker)
SUFFIX = "_next"
# Indexes no projection reads while it writes (queries use them, a batch never does): the aside tables get them
# once, after the rows, in one bulk build each, instead of keeping them up to date row by row (issue 17).
DEFERRED_INDEXES = {
    "audit_entries": ("time", "actor", "subject", "type"),
    "access_changes": ("user",),
    "permission_history": ("holders_open", "holders_closed"),
    "dir_tenants": ("moved",),
    "dir_members": ("seat",),
    "dir_invitations": ("order", "due"),
    "dir_addons": ("due",),
    "dir_charges": ("order",),
    "dir_grants": ("order", "user", "due", "starting"),
    "dir_restrictions": ("order", "user"),
    "dir_reporting": ("reports",),
}
Progress = Callable[[int, int], None]


class _Mismatch(Exception):
    def __init__(self, mismatch: dict[str, Any]) -> None:
        super().__init__(mismatch["problem"])
        self.mismatch = mismatch


def rebuild(
    app: Any,
    store: ReadStore,
    projections: Sequence[Projection],
    tenant: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Rebuild `projections`; answers `{events, seconds, events_per_second, ok, first_mismatch}` (`ok` false
    when the audit trail differs: then nothing was changed). `progress(position, head)` follows the work."""
    started = time.perf_counter()
    projections = list(projections)
    with store.transaction() as tx:
        create_tracking(tx)
    try:
        if tenant is None:
            events = _whole(app, store, projections, progress or _silent)
        else:
            events = _one_tenant(app, store, projections, tenant, progress or _silent)
        mismatch = None
    except _Mismatch as exc:
        events, mismatch = 0, exc.mismatch
    seconds = time.perf_counter() - started
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds) if seconds > 0 else 0,
        "ok": mismatch is None,
        "first_mismatch": mismatch,
    }


def _silent(done: int, total: int) -> None:
    pass


def _has_audit(projections: Iterable[Projection]) -> bool:
    return any(AUDIT_TABLE in p.tables for p in projections)


def _tables(projections: Iterable[Projection]) -> list[str]:
    return [table for p in projections for table in p.tables]


def _lock(tx: Tx, projections: Sequence[Projection], mode: str) -> None:
    """Hold the projections' tracking rows, then their serving tables, in the runner's order (tracking first):
    a runner waits at its tracking row and then reads the position this transaction leaves. The lock timeout
    stays under PostgreSQL's deadlock check, so a reader holding one table while asking for another makes this
    transaction give up and retry, never the reader fail. (A SQLite write transaction excludes other writers.)"""
    if tx.kind != "postgresql":
        return
    tx.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
    for name in sorted(p.name for p in projections):
        tracked_position(tx, name, lock=True)
    tables = [t for t in _tables(projections) if tx.has_table(t)]
    if tables:
        tx.execute(f"LOCK TABLE {', '.join(sorted(tables))} IN {mode} MODE")


def _batches(records: Iterator[Recorded], size: int = BATCH) -> Iterator[list[Recorded]]:
    batch: list[Recorded] = []
    for recorded in records:
        batch.append(recorded)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ----------------------------------------------------------------- whole


def _whole(app: Any, store: ReadStore, projections: list[Projection], progress: Progress) -> int:
    tables = _tables(projections)
    rebuild_worker.remove_leftovers(store)
    with store.transaction() as tx:
        _create_aside(tx, projections)
    try:
        return _build_and_swap(app, store, projections, tables, progress)
    except BaseException:
        _drop_aside(store, tables)
        raise


def _create_aside(tx: Tx, projections: Sequence[Projection]) -> None:
    """Empty aside tables for the projections, without the indexes built after the rows (DEFERRED_INDEXES)."""
    tables = _tables(projections)
    for table in tables:
        tx.execute(f"DROP TABLE IF EXISTS {table}{SUFFIX}")
    for projection in projections:
        projection.create(tx, SUFFIX)
    for table in tables:
        for label in DEFERRED_INDEXES.get(table, ()):
            tx.execute(f"DROP INDEX IF EXISTS {table}{SUFFIX}_{label}")


def _drop_aside(store: ReadStore, tables: Iterable[str]) -> None:
    try:
        with store.transaction() as tx:
            for table in tables:
                tx.execute(f"DROP TABLE IF EXISTS {table}{SUFFIX}")
    except Exception:  # noqa: S110 - the next rebuild drops leftovers anyway
        pass


def _build_and_swap(
    app: Any, store: ReadStore, projections: list[Projection], tables: list[str], progress: Progress
) -> int:
    done, events = _build(app, store, projections, progress)
    if store.kind == "postgresql":
        # The deferred indexes, built outside the swap (which renames them). SQLite cannot rename an index: its
        # swap creates every index under its final name, the deferred ones once only.
        with store.transaction() as tx:
            for projection in projections:
                projection.create(tx, SUFFIX)
    audit = _has_audit(projections)
    compared = _compare_audit(store, done) if audit else 0
    for attempt in range(SWAP_ATTEMPTS):
        try:
            final, tail = _swap_in(app, store, projections, tables, done, compared)
            break
        except Exception as exc:
            # A reader holding one table while asking for another can make PostgreSQL pick the swap as a
            # deadlock victim, or the lock timeout can strike: nothing was changed, so try again.
            if not _lock_trouble(exc) or attempt == SWAP_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    progress(final, final)
    return events + tail


def _build(app: Any, store: ReadStore, projections: list[Projection], progress: Progress) -> tuple[int, int]:
    """Fill the aside tables batch by batch until what is left is small (the swap projects that tail while it
    holds the tables); the audit trail and the change feed in a worker process beside the others when it can
    (projections.rebuild_worker)."""
    mine, others = rebuild_worker.split(projections) if PARALLEL and rebuild_worker.can_fork(store) else ([], [])
    here, worker = projections, None
    done = events = 0
    try:
        while True:
            target = app.head_position()
            progress(done, target)
            if target - done <= BATCH // 5:
                break
            batch = read_batch(store, app, done, BATCH, upto=target)
            if not batch:
                break
            if mine and worker is None:  # forked once there is a batch to share
                worker = rebuild_worker.Worker(app, store, mine, SUFFIX, _create_aside)
            if worker is not None:
                # The last batch's changes are worked out here: the worker would only start them once the directory
                # and the history are committed, and this process would wait for them idle.
                last = target - batch[-1].position <= BATCH // 5
                worker.read(done, batch[-1].position, feed=not last)
                here = [p for p in projections if p in others or (last and p.name == "changes")]
            with store.transaction() as tx:
                for projection in here:
                    projection.process(tx, batch, SUFFIX)
            if worker is not None:
                worker.committed()
            done, events = batch[-1].position, events + len(batch)
        if worker is not None:
            worker.finish()
    finally:
        if worker is not None:
            worker.close()
            worker.remove_scratch()
    return done, events


SWAP_ATTEMPTS = 40
LOCK_TIMEOUT_MS = 500  # under PostgreSQL's deadlock_timeout (1 s by default)


def _lock_trouble(exc: Exception) -> bool:
    try:
        from psycopg import errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, (errors.LockNotAvailable, errors.DeadlockDetected))


def _swap_in(
    app: Any, store: ReadStore, projections: list[Projection], tables: list[str], done: int, compared: int
) -> tuple[int, int]:
    """The one transaction readers notice: project the tail, compare the trail's tail, swap, set tracking."""
    tail = 0
    audit = _has_audit(projections)
    with store.transaction() as tx:
        _lock(tx, projections, "ACCESS EXCLUSIVE")
        final = head(tx, app)
        for batch in _batches(all_events(tx, app, upto=final, after=done)):
            for projection in projections:
                projection.process(tx, batch, SUFFIX)
            tail += len(batch)
        if audit and tx.has_table(AUDIT_TABLE):
            serving = min(final, tracked_position(tx, "audit"))
            mismatch = first_difference(tx, AUDIT_TABLE, AUDIT_TABLE + SUFFIX, compared, serving)
            if mismatch is not None:
                raise _Mismatch(mismatch)
        for table in tables:
            _swap(tx, table)
        if tx.kind == "sqlite":
            for projection in projections:
                projection.create(tx)  # the indexes under their final names (the tables exist: kept as they are)
        if audit:
            guards.install(tx)
        for projection in projections:
            _set_tracking(tx, projection.name, final)
        notify_projected(tx, final, None)  # every process drops what it cached from the old tables
    return final, tail


def _compare_audit(store: ReadStore, upto: int) -> int:
    """Compare the rebuilt trail with the serving one outside the swap (long); returns the position compared to."""
    with store.reader(raw=True) as tx:
        if not tx.has_table(AUDIT_TABLE):
            return 0
        serving = min(upto, tracked_position(tx, "audit"))
        mismatch = first_difference(tx, AUDIT_TABLE, AUDIT_TABLE + SUFFIX, 0, serving)
    if mismatch is not None:
        raise _Mismatch(mismatch)
    return serving


def _swap(tx: Tx, table: str) -> None:
    """Put `<table>_next` in place of `table` with the indexes named as a fresh `create` would name them (SQLite:
    its indexes are dropped here and created by the projection's `create` after every table is swapped)."""
    aside = table + SUFFIX
    tx.execute(f"DROP TABLE IF EXISTS {table}")
    tx.execute(f"ALTER TABLE {aside} RENAME TO {table}")
    if tx.kind == "postgresql":
        rows = tx.all(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?", (table,)
        )
        for row in rows:
            name = row["indexname"]
            if name.startswith(aside):
                tx.execute(f"ALTER INDEX {name} RENAME TO {table}{name[len(aside) :]}")
        return
    rows = tx.all("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))
    for row in rows:
        if row["name"].startswith(aside):
            tx.execute(f"DROP INDEX {row['name']}")


def _set_tracking(tx: Tx, name: str, position: int) -> None:
    tx.execute(
        f"INSERT INTO {TRACKING_TABLE} (name, position) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        (name, position),
    )


# ----------------------------------------------------------------- one tenant


def _one_tenant(app: Any, store: ReadStore, projections: list[Projection], tenant_id: str, progress: Progress) -> int:
    others = [p for p in projections if AUDIT_TABLE not in p.tables]
    for attempt in range(SWAP_ATTEMPTS):
        try:
            return _rebuild_tenant_rows(app, store, projections, others, tenant_id, progress)
        except Exception as exc:
            if not _lock_trouble(exc) or attempt == SWAP_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return 0


def _rebuild_tenant_rows(
    app: Any,
    store: ReadStore,
    projections: list[Projection],
    others: list[Projection],
    tenant_id: str,
    progress: Progress,
) -> int:
    events = 0  # each event counts once, however many projections read it
    with store.transaction() as tx:
        _lock(tx, others, "SHARE ROW EXCLUSIVE")
        if _has_audit(projections):
            _check_tenant_trail(tx, app, tenant_id)
        for projection in others:
            upto = tracked_position(tx, projection.name)
            delete = getattr(projection, "delete_tenant", None)
            if delete is not None:
                delete(tx, tenant_id)
            else:
                for table in projection.tables:
                    tx.execute(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
            read = 0
            for batch in _batches(tenant_events(tx, app, tenant_id, upto)):
                projection.process(tx, batch)
                read += len(batch)
                progress(batch[-1].position, upto)
            events = max(events, read)
        notify_projected(tx, tracked_position(tx, others[0].name) if others else 0, [tenant_id])
    return events


def _check_tenant_trail(tx: Tx, app: Any, tenant_id: str) -> None:
    """Recompute the tenant's trail from its events and compare it with the serving one (R-R1)."""
    upto = tracked_position(tx, "audit")
    serving = tx.stream(
        f"SELECT * FROM {AUDIT_TABLE} WHERE tenant_id = ? AND position <= ? ORDER BY sequence", (tenant_id, upto)
    )
    mismatch, _ = compare_rows(serving, _derived_rows(tenant_events(tx, app, tenant_id, upto)))
    if mismatch is not None:
        raise _Mismatch(mismatch)


def _derived_rows(records: Iterator[Recorded]) -> Iterator[dict[str, Any]]:
    prev = GENESIS_HASH
    for recorded in records:
        entry = chained(derive_entry(recorded), prev)
        prev = entry["hash"]
        yield {**entry, "data": canonical_json(entry["data"]).decode()}
