"""eventsourcing's recorders, storing a new person's key in the transaction that records the person's events (R-L6).

eventsourcing runs a recorder's `_insert_events(cursor, stored_events, **kwargs)` inside the transaction that
inserts the events, before them (its process recorders insert their tracking record there the same way). The keys
the mapper staged while sealing the events (`KeyStore.stage`) are inserted there, so:

- a recorded event never lacks its key: both commit together;
- a save that fails (a concurrent write: IntegrityError, then the command is retried or answers `conflict`) leaves
  no key behind, and neither does a rejected command, which never reaches the recorder;
- two commands staging a key for the same new person cannot both win: they ran on the same tenant version, so the
  second's events conflict and its save fails like any concurrent write (SQLite: the key table's primary key may
  refuse it first, the same IntegrityError; PostgreSQL: see `KeyPostgresRecorder`); the retry uses the stored key.

This removed a transaction of its own per new person before every such save (issue 15: sealing cost 0.47× of the
clear command rate on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from projections.keystore import INSERT, TABLE, KeyStore, key_rows

SQLITE_TOPIC = "projections.key_recorders:KeySQLiteRecorder"
POSTGRES_TOPIC = "projections.key_recorders:KeyPostgresRecorder"


class _StagedKeys:
    """What both recorders share: take the thread's staged keys, insert them with the events, cache them after."""

    keys: KeyStore | None = None

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        keys = self.keys
        staged = keys.take_staged() if keys is not None else {}
        if not staged:
            return super().insert_events(stored_events, **kwargs)  # type: ignore[misc]
        assert keys is not None
        try:
            notification_ids = super().insert_events(stored_events, person_keys=staged, **kwargs)  # type: ignore[misc]
        except BaseException:
            keys.not_stored(staged)
            raise
        keys.stored(staged)  # committed with the events: this process may use them from now on
        return notification_ids


class KeySQLiteRecorder(_StagedKeys, SQLiteApplicationRecorder):
    """SQLite: the key table is in the same file as the events."""

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        staged = kwargs.get("person_keys")
        if staged:
            c.executemany(INSERT, key_rows(staged))
        return super()._insert_events(c, stored_events, **kwargs)


class KeyPostgresRecorder(_StagedKeys, PostgresApplicationRecorder):
    """PostgreSQL: the key rows join eventsourcing's pipelined transaction, before its table lock.

    In that pipeline only the events' INSERT, the last statement, may fail: a failure earlier leaves statements
    aborted behind it, and the transaction's end then raises `pipeline aborted` (an OperationalError, not retried)
    instead of the events' IntegrityError. So a key row that is already there is skipped (`ON CONFLICT DO NOTHING`).
    That is safe because keys are staged only for the events of one tenant: a command that finds no key for a new
    person and stages one has loaded the tenant before the racing command that stored it committed, so its events
    conflict with that command's (the same versions) and its save fails with IntegrityError; the retry reads the
    stored key (tests/domain/test_storage.py, the racing invitations, which all stage the same invitation's key)."""

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        staged = kwargs.get("person_keys")
        if staged:
            from psycopg.sql import SQL, Identifier

            insert = INSERT.replace(TABLE, "{}.{}").replace("?", "%s") + " ON CONFLICT (tenant_id, person) DO NOTHING"
            statement = SQL(insert).format(Identifier(self.datastore.schema), Identifier(TABLE))
            curs.executemany(statement, key_rows(staged))
        super()._insert_events(curs, stored_events, **kwargs)


def recorder_topic(kind: str) -> str | None:
    """eventsourcing's APPLICATION_RECORDER_TOPIC for a database kind (None: the library's own recorder)."""
    return {"sqlite": SQLITE_TOPIC, "postgresql": POSTGRES_TOPIC}.get(kind)


def attach(recorder: Any, keys: Any) -> None:
    """Give the recorder the key store whose staged keys it inserts (a no-op for other recorders)."""
    if isinstance(recorder, _StagedKeys):
        recorder.keys = keys
