"""The read side for integration tests: read store, runner with every projection, and Queries on one ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.application import AccessLedger
from domain.clock import ManualClock
from projections import all_projections
from projections.db import ReadStore
from projections.queries.facade import Queries
from projections.runner import Runner


@dataclass
class ReadSide:
    """Everything a test needs to drive commands and read what they made."""

    ledger: AccessLedger
    clock: ManualClock
    store: ReadStore
    runner: Runner
    q: Queries

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def at(self, instant: datetime) -> datetime:
        """Move the clock to `instant` (commands and checks from then on happen there)."""
        return self.clock.set(instant)

    def later(self, **delta: Any) -> datetime:
        return self.clock.set(self.clock.now() + timedelta(**delta))

    def sync(self) -> int:
        """Project everything recorded so far."""
        return self.runner.catch_up()

    def rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        with self.store.reader() as tx:
            return tx.all(sql, params)


@contextmanager
def read_side(ledger: AccessLedger, clock: ManualClock) -> Iterator[ReadSide]:
    store = ReadStore(ledger.database)
    try:
        runner = Runner(ledger, store, all_projections())
        yield ReadSide(ledger, clock, store, runner, Queries(store, app=ledger))
    finally:
        store.close()
