"""The key store (R-L6): one key per (tenant, person), the only place a key lives, in a table that may be deleted
from (the event store and the audit trail stay append-only).

A new person's key is *staged* while their events are mapped (`stage`) and inserted by the event store's recorder
in the same transaction as those events (`projections.key_recorders`): a recorded event never lacks its key, and
a command that records nothing (rejected, or conflicting with a concurrent write) leaves no key behind.

Erasing a person deletes their keys. SQLite overwrites deleted rows (`secure_delete`) and the write-ahead log is
checkpointed and truncated afterwards, so the key's bytes do not linger in the files; PostgreSQL vacuums the table.
Keys are cached per process; erasing drops them from this process's cache at once and, on PostgreSQL, tells every
other process to drop them too (`NOTIFY accessledger_erased`, heard by `projections.follow`).
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime

from domain.personal import OpenedValues, PersonalText, new_key
from domain.storage import Database
from projections.db import ReadStore, Tx

TABLE = "person_keys"
# One row counting erasures: a process that may have missed a NOTIFY (or, on SQLite, where `accessledger erase` runs
# beside `serve` without one) drops its cached keys when the count moved.
ERASURES = "person_key_erasures"
ERASED_CHANNEL = "accessledger_erased"
INSERT = f"INSERT INTO {TABLE} (tenant_id, person, key_b64, created_at) VALUES (?, ?, ?, ?)"

Staged = dict[tuple[str, str], bytes]


def key_rows(staged: Staged) -> list[tuple[str, str, str, str]]:
    """The rows that store staged keys (what `INSERT` takes)."""
    now = datetime.now(UTC).isoformat()
    return [(t, p, base64.b64encode(k).decode(), now) for (t, p), k in staged.items()]


def create_table(tx: Tx) -> None:
    """The key store's table (R-L6); `accessledger migrate` creates it with the rest of the read side."""
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (tenant_id TEXT NOT NULL, person TEXT NOT NULL, "
        f"key_b64 TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (tenant_id, person))"
    )
    tx.execute(f"CREATE TABLE IF NOT EXISTS {ERASURES} (id INTEGER PRIMARY KEY, erasures BIGINT NOT NULL)")


def erased_payload(tenant_id: str, persons: list[str]) -> str:
    """The NOTIFY payload naming erased keys; too many to list (PostgreSQL caps payloads) means "drop every key"."""
    payload = json.dumps({"tenant_id": tenant_id, "persons": persons})
    return payload if len(payload) < 7000 else json.dumps({"tenant_id": tenant_id, "persons": None})


def notify_erased(tx: Tx, tenant_id: str, persons: list[str]) -> None:
    """Tell every process to drop these keys from its cache, delivered when the DELETE commits (PostgreSQL; SQLite
    serves from one process, whose cache `destroy` drops itself)."""
    if tx.kind == "postgresql":
        tx.execute("SELECT pg_notify(?, ?)", (ERASED_CHANNEL, erased_payload(tenant_id, persons)))


def _missing_table(exc: Exception) -> bool:
    """The error of a database `accessledger migrate` has not seen yet: no key table, so nobody has a key."""
    return "no such table" in str(exc) or "does not exist" in str(exc)


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
        self._staged = threading.local()  # keys made for events this thread is about to record
        # Bumped whenever keys are dropped: a key (or a value opened with it) read before a drop is not cached after
        # it (an erasure in another thread or process must never be undone by a read that raced it).
        self.generation = 0
        self.opened = OpenedValues()  # values opened with cached keys (domain.personal.open_with); dropped with them
        self._erasures_seen: int | None = None  # the erasure count when this process last looked
        # SQLite: per tenant, every person that has a key (read once, then kept as keys are stored), so staging a new
        # person's key needs no look-up. An answer gone stale (a key another process stored since) does no harm there:
        # the recorder's plain INSERT of the key row fails on the primary key like a concurrent write, the tenant's
        # list is dropped (`not_stored`) and the retry looks the key up. PostgreSQL's recorder skips a key row that
        # is already there (see key_recorders), so there a new person's key is always looked up.
        self._persons: dict[str, set[str]] = {}

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
        """The person's key (None: erased, or never made); with `create`, a new one is stored at once when there is
        none yet (snapshots: they follow recorded events, whose keys exist already, so this is a fallback)."""
        cached = self._cache.get((tenant_id, person))
        if cached is not None:
            return cached
        row = None
        generation = self.generation
        if not create:
            # Reading never creates the table (no write lock for readers): a store without it has no keys yet.
            try:
                with self.store.autocommit() as tx:
                    row = tx.one(f"SELECT key_b64 FROM {TABLE} WHERE tenant_id = ? AND person = ?", (tenant_id, person))
            except Exception as exc:
                if not _missing_table(exc):
                    raise
        else:
            self._ensure()
            with self.store.transaction() as tx:
                tx.execute(
                    INSERT + " ON CONFLICT (tenant_id, person) DO NOTHING",
                    key_rows({(tenant_id, person): new_key()})[0],
                )
                row = tx.one(f"SELECT key_b64 FROM {TABLE} WHERE tenant_id = ? AND person = ?", (tenant_id, person))
        if row is None:
            return None
        key = base64.b64decode(row["key_b64"])
        with self._lock:
            if generation == self.generation:
                self._cache[(tenant_id, person)] = key
            self._persons.get(tenant_id, set()).add(person)
        return key

    def _keyless(self, tenant_id: str, person: str) -> bool:
        """True when the person is known to have no key in the tenant (SQLite only, see `_persons`)."""
        if self.database.kind != "sqlite":
            return False
        persons = self._persons.get(tenant_id)
        if persons is None:
            generation = self.generation
            try:
                with self.store.autocommit() as tx:
                    rows = tx.all(f"SELECT person FROM {TABLE} WHERE tenant_id = ?", (tenant_id,))
            except Exception as exc:
                if not _missing_table(exc):
                    raise
                rows = []
            persons = {row["person"] for row in rows}
            with self._lock:
                if generation != self.generation:
                    return False
                persons = self._persons.setdefault(tenant_id, persons)
        return person not in persons

    def remember(self, envelope: str, value: PersonalText, generation: int) -> None:
        """Keep a value opened with a key read at `generation`, unless keys were dropped since."""
        with self._lock:
            if generation == self.generation:
                self.opened.keep(envelope, value)

    def _staging(self) -> Staged:
        staged = getattr(self._staged, "keys", None)
        if staged is None:
            staged = self._staged.keys = {}
        return staged

    def stage(self, tenant_id: str, person: str) -> bytes:
        """The key to seal an event's personal field with: the stored one, or a new one that the event store's
        recorder inserts in the transaction that records the event (`take_staged`)."""
        staged = self._staging()
        key = staged.get((tenant_id, person)) or self._cache.get((tenant_id, person))
        if key is None and not self._keyless(tenant_id, person):
            key = self.key(tenant_id, person)
        if key is None:
            self._ensure()  # once per process: a database `accessledger migrate` has not seen (tests, the demo)
            key = staged[(tenant_id, person)] = new_key()
        return key

    def take_staged(self) -> Staged:
        """The keys staged by this thread since the last call (the recorder inserts them with the events)."""
        staged = self._staging()
        self._staged.keys = {}
        return staged

    def stored(self, staged: Staged) -> None:
        """The transaction holding `staged` committed: they are the persons' keys now."""
        with self._lock:
            self._cache.update(staged)
            for tenant_id, person in staged:
                self._persons.get(tenant_id, set()).add(person)

    def not_stored(self, staged: Staged) -> None:
        """The transaction that would have stored `staged` failed (maybe one of them exists already): look up the
        tenants' keys again."""
        with self._lock:
            for tenant_id, _ in staged:
                self._persons.pop(tenant_id, None)

    def discard_staged(self) -> None:
        """Forget keys staged for events that will not be recorded (a failed or abandoned save)."""
        self._staged.keys = {}

    def destroy(self, tenant_id: str, persons: list[str]) -> int:
        """Delete the persons' keys (crypto-shredding); answers how many existed."""
        self._ensure()
        self.forget(tenant_id, persons)
        with self.store.transaction() as tx:
            if tx.kind == "sqlite":
                tx.execute("PRAGMA secure_delete = ON")
            gone = 0
            for person in persons:
                cursor = tx.execute(f"DELETE FROM {TABLE} WHERE tenant_id = ? AND person = ?", (tenant_id, person))
                gone += max(cursor.rowcount or 0, 0)
            tx.execute(
                f"INSERT INTO {ERASURES} (id, erasures) VALUES (1, 1) "
                f"ON CONFLICT (id) DO UPDATE SET erasures = {ERASURES}.erasures + 1"
            )
            notify_erased(tx, tenant_id, persons)
        self.forget(tenant_id, persons)  # again: a read in another thread may have cached a key before the DELETE
        self._scrub()
        return gone

    def notice_erasures(self) -> bool:
        """Drop every cached key if anyone erased anyone since the last look (True then). The followers call it on
        each poll: SQLite's every 0.1 s, PostgreSQL's when no NOTIFY came for a second and after reconnecting."""
        try:
            with self.store.autocommit() as tx:
                count = int(tx.scalar(f"SELECT erasures FROM {ERASURES} WHERE id = 1") or 0)
        except Exception as exc:  # a database `accessledger migrate` has not seen yet: nobody was erased
            if _missing_table(exc):
                return False
            raise
        if count == self._erasures_seen:
            return False
        self.forget()
        self._erasures_seen = count
        return True

    def _scrub(self) -> None:
        """Make the deleted keys' bytes unrecoverable from the files (checkpoint the WAL / vacuum the table)."""
        if self.store.kind == "sqlite":
            conn = self.store._sqlite()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.store._pool.connection() as conn:
                conn.execute(f"VACUUM {TABLE}")

    def forget(self, tenant_id: str | None = None, persons: list[str] | None = None) -> None:
        """Drop cached keys (another process erased someone): the persons named, or every key when not named."""
        with self._lock:
            self.generation += 1
            self.opened.clear()  # erasure is rare: dropping every opened value is simpler than finding the person's
            if tenant_id is None or persons is None:
                self._cache.clear()
                self._persons.clear()
            else:
                self._persons.pop(tenant_id, None)
                for person in persons:
                    self._cache.pop((tenant_id, person), None)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
