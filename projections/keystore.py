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
from projections.db import ReadStore

TABLE = "person_keys"


class KeyStore:
    """Person keys in their own table, through a connection of their own (it is read while others write)."""

    def __init__(self, database: Database) -> None:
        self.store = ReadStore(database)
        self.store.raw_reads = True
        self._cache: dict[tuple[str, str], bytes | None] = {}
        self._lock = threading.Lock()
        self._created = False

    def _ensure(self) -> None:
        if self._created:
            return
        with self.store.transaction() as tx:
            if tx.kind == "postgresql":  # racing CREATE TABLE IF NOT EXISTS collide on PostgreSQL's catalog
                tx.execute("SELECT pg_advisory_xact_lock(hashtext('accessledger:person_keys'))")
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (tenant_id TEXT NOT NULL, person TEXT NOT NULL, "
                f"key_b64 TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (tenant_id, person))"
            )
        self._created = True

    def key(self, tenant_id: str, person: str, create: bool = False) -> bytes | None:
        """The person's key; with `create`, a new one when there is none yet (None: erased, or never made)."""
        cached = self._cache.get((tenant_id, person))
        if cached is not None:
            return cached
        self._ensure()
        with self.store.reader() as tx:
            row = tx.one(f"SELECT key_b64 FROM {TABLE} WHERE tenant_id = ? AND person = ?", (tenant_id, person))
        if row is None and create:
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
        self.store.close()
