"""`accessledger migrate`: every table, index and trigger, created or upgraded as one explicit step (R-Z4).

Starting `serve` or `project` runs `ensure_schema`: a single SELECT when the database already has this release's
schema, so a process starting under write load sends no DDL at all (DDL such as `CREATE INDEX IF NOT EXISTS`
takes table locks that can deadlock with the projector's updates). Otherwise it migrates, under a PostgreSQL
advisory lock so that processes starting together on a fresh database take turns instead of racing on
`CREATE TABLE IF NOT EXISTS`. Which schema a database has is a fingerprint of the statements that create it, so
a release that adds a table or an index migrates without anyone remembering to bump a number.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from domain.storage import Database, parse_database_url
from projections.db import ReadStore, Tx

log = logging.getLogger("accessledger.migrate")

SCHEMA_TABLE = "accessledger_schema"
LOCK_KEY = 727_017  # the advisory lock every migrating process takes (PostgreSQL)
# Steps that the fingerprint below cannot see (triggers, the event store's own tables): bump when they change.
STEPS_VERSION = 1
LOCK_TIMEOUT = "5s"  # an upgrade waiting on a busy table gives up and retries instead of deadlocking
ATTEMPTS = 5


@dataclass(frozen=True)
class Migrated:
    """What `migrate` found and did."""

    fingerprint: str
    applied: bool  # False: the schema was current, nothing was sent
    seconds: float


class _Recorder:
    """A Tx that records the statements sent to it and answers every query with nothing."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.statements: list[str] = []

    def execute(self, statement: str, params: Any = ()) -> Any:
        self.statements.append(" ".join(statement.split()))
        return self

    def executemany(self, statement: str, rows: Any) -> None:
        self.execute(statement)

    def all(self, statement: str, params: Any = ()) -> list[Any]:
        return []

    def one(self, statement: str, params: Any = ()) -> None:
        return None

    def scalar(self, statement: str, params: Any = ()) -> None:
        return None

    @property
    def rowcount(self) -> int:
        return 1


def _create_read_side(tx: Any) -> None:
    """Every table of the read side: tracking, each projection's, idempotency keys, the manual clock."""
    from api.clock_store import create_table as create_clock
    from api.http.idempotency import create_table as create_idempotency
    from projections import all_projections
    from projections.keystore import create_table as create_keys
    from projections.runner import create_projection_tables

    create_projection_tables(tx, all_projections())
    create_keys(tx)
    create_idempotency(tx)
    create_clock(tx)


def fingerprint(kind: str) -> str:
    """A digest of this release's schema on `kind` (sqlite or postgresql)."""
    recorder = _Recorder(kind)
    _create_read_side(recorder)
    text = "\n".join([f"steps {STEPS_VERSION}", *recorder.statements])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_fingerprint(tx: Tx) -> str | None:
    """The fingerprint the database was last migrated to (None: never)."""
    if tx.kind == "postgresql":
        if not tx.scalar("SELECT to_regclass(?) IS NOT NULL", (SCHEMA_TABLE,)):
            return None
    elif not tx.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SCHEMA_TABLE,)):
        return None
    return tx.scalar(f"SELECT fingerprint FROM {SCHEMA_TABLE} WHERE id = 1")


def is_current(store: ReadStore) -> bool:
    """True when the database has this release's schema (one SELECT, no lock)."""
    with store.reader() as tx:
        return stored_fingerprint(tx) == fingerprint(store.kind)


def migrate(database_url: str, force: bool = False) -> Migrated:
    """Create or upgrade the schema, idempotently, under the advisory lock (R-Z4); `force` re-runs every step."""
    database = parse_database_url(database_url)
    started = time.monotonic()
    store = ReadStore(database, pool_size=1)
    try:
        with _migration_lock(database):
            wanted = fingerprint(store.kind)
            if not force and is_current(store):
                return Migrated(wanted, False, time.monotonic() - started)
            for attempt in range(ATTEMPTS):
                try:
                    _apply(database, store, wanted)
                    break
                except Exception as exc:
                    if attempt == ATTEMPTS - 1 or not _lock_trouble(exc):
                        raise
                    log.warning("migration waited too long for a table (%s); retrying", exc)
                    time.sleep(0.2 * (attempt + 1))
            return Migrated(wanted, True, time.monotonic() - started)
    finally:
        store.close()


def ensure_schema(database_url: str) -> bool:
    """What `serve`, `project` and `tick` do at start: nothing when the schema is current, else `migrate`.
    Returns True when it migrated."""
    store = ReadStore(parse_database_url(database_url), pool_size=1)
    try:
        if is_current(store):
            return False
    finally:
        store.close()
    return migrate(database_url).applied


def _apply(database: Database, store: ReadStore, wanted: str) -> None:
    from domain.application import AccessLedger
    from projections import guards

    # eventsourcing creates its own tables (stored events, snapshots) when asked to.
    AccessLedger(database.url, env={"CREATE_TABLE": "y", "POSTGRES_POOL_SIZE": "1"}).close()
    with store.transaction() as tx:
        if tx.kind == "postgresql":
            tx.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        _create_read_side(tx)
        guards.install(tx)
        tx.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL)")
        tx.execute(
            f"INSERT INTO {SCHEMA_TABLE} (id, fingerprint) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint",
            (wanted,),
        )


class _migration_lock:  # noqa: N801 - used as a context manager, named like one
    """The advisory lock on PostgreSQL (its own session, held for the whole migration); nothing on SQLite, whose
    write transactions are serialised by the file lock anyway."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.conn: Any = None

    def __enter__(self) -> None:
        if self.database.kind != "postgresql":
            return
        import psycopg

        self.conn = psycopg.connect(self.database.conninfo(), autocommit=True, connect_timeout=5)
        self.conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            finally:
                self.conn.close()


def _lock_trouble(exc: BaseException) -> bool:
    text = str(exc)
    return "lock timeout" in text or "deadlock detected" in text or "database is locked" in text
