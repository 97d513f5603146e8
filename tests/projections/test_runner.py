"""The runner's tracking (R-X4): a projection's position moves only with its rows, and never on a batch not applied."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from domain.application import AccessLedger
from projections.db import ReadStore, Tx
from projections.eventstore import Recorded
from projections.runner import TRACKING_ATTEMPTS, Runner, StaleTracking
from tests.support import open_tenant


class Contested:
    """A projection whose tracking row seems moved by another runner on its first `conflicts` batches."""

    name = "contested"
    tables: Sequence[str] = ()

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts

    def create(self, tx: Tx, suffix: str = "") -> None:
        pass

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise StaleTracking(self.name)


def test_R_X4_runner_raises_after_repeated_tracking_conflicts(ledger: AccessLedger) -> None:
    """R-X4: when every attempt meets a moved position the runner raises; nothing claims the batch was projected."""
    open_tenant(ledger)
    store = ReadStore(ledger.database)
    try:
        runner = Runner(ledger, store, [Contested(TRACKING_ATTEMPTS)])
        heard: list[int] = []
        runner.watch.subscribe(lambda position, tenants: heard.append(position))
        with pytest.raises(StaleTracking):
            runner.catch_up()
        assert runner.position() == 0 and runner.watch.position == 0 and heard == []
        assert runner.catch_up() == ledger.head_position()  # the conflict is gone: the next catch-up projects
    finally:
        store.close()


def test_R_X4_runner_retries_a_conflict_and_projects(ledger: AccessLedger) -> None:
    """R-X4: fewer conflicts than attempts are retried within one catch-up."""
    open_tenant(ledger)
    store = ReadStore(ledger.database)
    try:
        runner = Runner(ledger, store, [Contested(TRACKING_ATTEMPTS - 1)])
        assert runner.catch_up() == ledger.head_position() == runner.watch.position
    finally:
        store.close()
