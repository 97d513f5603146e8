"""R-K2: the manual clock's instant, persisted so that it never goes back across restarts and every process reads it.

The serving process starts the clock (the later of the system time and the last instant stored) and stores where it
stands; command-line processes attach to it and read that same instant, standing still like the server's.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg

from domain.clock import ManualClock, utc_now
from projections.db import ReadStore, Tx

TABLE = "clock_setting"


def create_table(tx: Any) -> None:
    """The one-row table of the last instant set (run by `accessledger migrate`)."""
    tx.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, instant TEXT NOT NULL)")


def _stored(tx: Tx) -> datetime | None:
    text = tx.scalar(f"SELECT instant FROM {TABLE} WHERE id = 1")
    return datetime.fromisoformat(text) if text else None


def _store(tx: Tx, instant: datetime) -> None:
    text = instant.astimezone(UTC).isoformat()
    tx.execute(
        f"INSERT INTO {TABLE} (id, instant) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET instant = ?", (text, text)
    )


class PersistedManualClock:
    """A ManualClock whose every setting is stored."""

    def __init__(self, store: ReadStore, clock: ManualClock) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def start(cls, store: ReadStore) -> PersistedManualClock:
        """The serving process's clock: the later of the system time now and the last instant stored, stored."""
        with store.transaction() as tx:
            stored = _stored(tx)
            clock = ManualClock(utc_now())
            if stored:
                clock.advance_to_at_least(stored)
            _store(tx, clock.now())
        return cls(store, clock)

    @classmethod
    def attach(cls, store: ReadStore) -> PersistedManualClock:
        """A command's clock: exactly the instant the server stands at (system time if no clock was started yet)."""
        try:
            with store.reader() as tx:
                stored = _stored(tx)
        except (sqlite3.Error, psycopg.Error):  # no clock_setting table: no server ever ran on this database
            stored = None
        return cls(store, ManualClock(stored or utc_now()))

    def set(self, instant: datetime) -> datetime:
        """Move forward (409 `clock_backwards` otherwise) and remember it before anyone reads the new time."""
        with self._lock:
            if instant.tzinfo is None or instant < self.clock.now():
                self.clock.set(instant)  # raises validation_error or clock_backwards, with the domain's message
            with self.store.transaction() as tx:
                _store(tx, instant)
            return self.clock.set(instant)
