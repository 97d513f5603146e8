"""R-K2: the manual clock's last instant, persisted so that it never goes back across restarts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from domain.clock import ManualClock, utc_now
from projections.db import ReadStore

TABLE = "clock_setting"


class PersistedManualClock:
    """A ManualClock whose every setting is stored; it starts at max(system time at start-up, last instant set)."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        with store.transaction() as tx:
            tx.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, instant TEXT NOT NULL)")
            stored = tx.scalar(f"SELECT instant FROM {TABLE} WHERE id = 1")
        self.clock = ManualClock(utc_now())
        if stored:
            self.clock.advance_to_at_least(datetime.fromisoformat(stored))

    def set(self, instant: datetime) -> datetime:
        """Move forward (409 `clock_backwards` otherwise) and remember it before anyone reads the new time."""
        with self._lock:
            if instant.tzinfo is None or instant < self.clock.now():
                self.clock.set(instant)  # raises validation_error or clock_backwards, with the domain's message
            text = instant.astimezone(UTC).isoformat()
            with self.store.transaction() as tx:
                tx.execute(
                    f"INSERT INTO {TABLE} (id, instant) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET instant = ?",
                    (text, text),
                )
            return self.clock.set(instant)
