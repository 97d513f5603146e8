"""The one clock every part of the ledger reads (R-K2)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

from domain.errors import DomainError


def utc_now() -> datetime:
    """The system time, timezone-aware, in UTC."""
    return datetime.now(tz=UTC)


class Clock(Protocol):
    """Something that says what time it is."""

    def now(self) -> datetime: ...


class SystemClock:
    """The system clock; it cannot be set."""

    manual = False

    def now(self) -> datetime:
        """The current system time in UTC."""
        return utc_now()


class ManualClock:
    """A clock that stands still until set, and only moves forward (R-K2)."""

    manual = True

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or utc_now()).astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Exactly the last instant set."""
        return self._now

    def set(self, instant: datetime) -> datetime:
        """Move the clock to `instant`; going back raises `clock_backwards`."""
        if instant.tzinfo is None:
            raise DomainError("validation_error", "the instant needs a time zone")
        instant = instant.astimezone(UTC)
        with self._lock:
            if instant < self._now:
                raise DomainError(
                    "clock_backwards",
                    f"the clock reads {self._now.isoformat()}; it cannot go back to {instant.isoformat()}",
                )
            self._now = instant
        return instant

    def advance_to_at_least(self, instant: datetime) -> None:
        """Move forward to `instant` if it is later (used at start-up to resume a persisted manual clock)."""
        with self._lock:
            if instant > self._now:
                self._now = instant.astimezone(UTC)
