"""The key store (R-L6): one key per (tenant, person), the only place a key lives, in a table that may be deleted
from (the event store and the audit trail stay append-only).

Erasing a person deletes their keys. SQLite overwrites deleted rows (`secure_delete`) and the write-ahead log is
checkpointed and truncated afterwards, so the key's bytes do not linger in the files; PostgreSQL vacuums the table.
Keys are cached per process; erasing drops them from this process's cache at once (other processes: see
docs/compliance.md).
"""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime

from domain.personal import new_key
from domain.storage import Database
from projections.db import ReadStore, Tx

TABLE = "person_keys"


def create_table(tx: Tx) -> None:
    """The key store's table (R-L6); `accessledger migrate` creates it with the rest of the read side."""
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (tenant_id TEXT NOT NULL, person TEXT NOT NULL, "
        f"key_b64 TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (tenant_id, person))"
    )


class KeyStore:
    """Person keys in their own table, through a connection of their own (it is read while others write)."""

    def __init__(self, database: Database, shared: ReadStore | None = None) -> None:
        self.database = database
        # PostgreSQL: the read side's pool serves keys too (each connection is its own); SQLite: a connection of
        # its own, since a key is read while the thread's read-model connection may be inside a transaction.
        self._shared = shared if shared is not None and shared.kind == "postgresql" else None
        self._store: ReadStore | None = None
        self._cache: dict[tuple[str, str], bytes | None] = {}
        self._lock = threading.Lock()
        self._created = False

    @property
    def store(self) -> ReadStore:
        """Its own small connection pool, opened on first use (most processes read keys rarely)."""
        if self._shared is not None:
            return self._shared
        if self._store is None:
            self._store = ReadStore(self.database, pool_size=2)
            self._store.raw_reads = True
        return self._store

    def ensure(self) -> None:
        """Create the table (idempotent; `accessledger migrate` and every serving process do it at start)."""
        self._ensure()

    def _ensure(self) -> None:
        if self._created:
            return
        with self.store.reader(raw=True) as tx:
            self._created = tx.has_table(TABLE)
        if not self._created:  # a database `accessledger migrate` has not seen yet (tests, the demo)
            with self.store.transaction() as tx:
                if tx.kind == "postgresql":  # racing CREATE TABLE IF NOT EXISTS collide on PostgreSQL's catalog
                    tx.execute("SELECT pg_advisory_xact_lock(hashtext('accessledger:person_keys'))")
                create_table(tx)
            self._created = True

    def key(self, tenant_id: str, person: str, create: bool = False) -> bytes | None:
        """The person's key; with `create`, a new one when there is none yet (None: erased, or never made)."""
        cached = self._cache.get((tenant_id, person))
        if cached is not None:
            return cached
        row = None
        if not create:
            # Reading never creates the table (no write lock for readers): a store without it has no keys yet.
            try:
                with self.store.reader(raw=True) as tx:
                    row = tx.one(f"SELECT key_b64 FROM {TABLE} WHERE tenant_id = ? AND person = ?", (tenant_id, person))
            except Exception as exc:
                if "no such table" not in str(exc) and "does not exist" not in str(exc):
                    raise
        else:
            self._ensure()
            with self.store.transaction() as tx:
                tx.execute(
                    f"INSERT INTO {TABLE} (tenant_id, person, key_b64, created_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tenant_id, person) DO NOTHING",
                    (tenant_id, person, base64.b64encode(new_key()).decode(), datetime.now(UTC).isoformat()),
                )
                row = tx.one(f"SELECT key_b64 FROM {TABLE} WHERE tenant_id = ? AND person = ?", (tenant_id, person))
        if row is None:
            return None
        key = base64.b64decode(row["key_b64"])
        with self._lock:
            self._cache[(tenant_id, person)] = key
        return key

    def destroy(self, tenant_id: str, persons: list[str]) -> int:
        """Delete the persons' keys (crypto-shredding); answers how many existed."""
        self._ensure()
        with self._lock:
            for person in persons:
                self._cache.pop((tenant_id, person), None)
        with self.store.transaction() as tx:
            if tx.kind == "sqlite":
                tx.execute("PRAGMA secure_delete = ON")
            gone = 0
            for person in persons:
                cursor = tx.execute(f"DELETE FROM {TABLE} WHERE tenant_id = ? AND person = ?", (tenant_id, person))
                gone += max(cursor.rowcount or 0, 0)
        self._scrub()
        return gone

    def _scrub(self) -> None:
        """Make the deleted keys' bytes unrecoverable from the files (checkpoint the WAL / vacuum the table)."""
        if self.store.kind == "sqlite":
            conn = self.store._sqlite()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.store._pool.connection() as conn:
                conn.execute(f"VACUUM {TABLE}")

    def forget(self) -> None:
        """Drop the cache (another process erased someone)."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
