"""The runner's tracking (R-X4): a projection's position moves only with its rows, and never on a batch not applied."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from domain.application import AccessLedger
from projections.db import ReadStore, Tx
from projections.eventstore import Recorded
from projections.runner import TRACKING_ATTEMPTS, Runner, StaleTracking
from tests.support import open_tenant, owner


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


class Seen:
    """A projection that remembers every position it was given."""

    name = "seen"
    tables: Sequence[str] = ()

    def __init__(self) -> None:
        self.positions: list[int] = []

    def create(self, tx: Tx, suffix: str = "") -> None:
        pass

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None:
        self.positions += [r.position for r in batch]


def test_R_X4_a_commands_catch_up_never_skips_events_a_projection_has_not_seen(ledger: AccessLedger) -> None:
    """R-X4: a command's catch-up reads on from what the process's watch knows; a projection standing before that
    (here: never run) is still given every event, in order, before the batch counts as projected."""
    open_tenant(ledger)
    head = ledger.head_position()
    store = ReadStore(ledger.database)
    try:
        seen = Seen()
        runner = Runner(ledger, store, [seen])
        runner.watch.advance(head)  # the watch believes every projection is at the head already
        position = ledger.add_member(
            "acme", owner(), user_id="kai", email="kai@acme.example", name="Kai", role="broker"
        ).position
        assert position is not None and position > head
        assert runner.catch_up(position) == position
        assert seen.positions == sorted(seen.positions) and seen.positions[0] == 1 and seen.positions[-1] == position
        assert runner.position() == position
    finally:
        store.close()
