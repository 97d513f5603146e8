"""Crash safety of the projection loop (R-X4) on a SQLite file and a PostgreSQL database.

`accessledger project`'s loop (`Runner.run_forever`) runs in a child process while this test keeps recording
commands; the child is killed with SIGKILL at 20 random moments (while starting, while projecting, between a
command's append and its projection) and started again. In the end every event is projected exactly once, the
audit chain verifies, and every table equals a fresh rebuild.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from projections import all_projections
from projections.audit.verify import verify_every_tenant
from projections.db import ReadStore
from projections.rebuild import rebuild
from projections.runner import Runner
from tests.projections.random_history import RandomHistory, dump_tables, projection_tables, tracking

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
PROJECT_LOOP = """
import sys, threading
from domain.application import AccessLedger
from projections import all_projections
from projections.db import ReadStore
from projections.runner import Runner

app = AccessLedger(sys.argv[1])
Runner(app, ReadStore(app.database), all_projections()).run_forever(threading.Event(), poll_interval=0.02)
"""


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen]]:
    """The child processes this test starts; any still alive at the end is killed by its pid."""
    started: list[subprocess.Popen] = []
    yield started
    for child in started:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)


def slowest(store: ReadStore, names: list[str]) -> int:
    positions = tracking(store)
    return min(positions.get(name, 0) for name in names)


@pytest.mark.slow
def test_R_X4_projection_loop_killed_20_times_projects_every_event_exactly_once(ledger, clock, store, children):
    """R-X4: SIGKILL at any point loses no event and duplicates no row; the result equals a fresh rebuild."""
    projections = all_projections()
    names = [p.name for p in projections]
    Runner(ledger, store, projections)  # the schema exists before any child races to create it
    rng = random.Random(20)
    driver = RandomHistory(ledger, clock, seed=21, tenants=3)
    for kill in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", PROJECT_LOOP, ledger.database.url],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
        )
        children.append(child)
        if kill % 5 == 4:
            # While it starts up (imports, schema and guard creation), commands still coming.
            until = time.monotonic() + rng.uniform(0.0, 0.6)
            while time.monotonic() < until:
                driver.step()
        else:
            # While it projects: once it has moved, keep commands coming for a random moment more.
            reached = slowest(store, names)
            deadline = time.monotonic() + 30
            while slowest(store, names) <= reached and time.monotonic() < deadline:
                driver.step()
            assert child.poll() is None, "the projection loop died by itself"
            until = time.monotonic() + rng.uniform(0.0, 0.3)
            while time.monotonic() < until:
                driver.step()
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    for _ in range(10):
        driver.step()
    Runner(ledger, store, projections).catch_up()

    head = ledger.head_position()
    assert head > 100
    assert tracking(store) == {name: head for name in names}
    with store.reader() as tx:
        positions = [r["position"] for r in tx.all("SELECT position FROM audit_entries ORDER BY position")]
    assert positions == [n.id for n in ledger.recorder.select_notifications(1, 1_000_000)]
    assert verify_every_tenant(store, ledger)["ok"] is True
    tables = projection_tables(projections)
    projected = dump_tables(store, tables)
    assert rebuild(ledger, store, projections)["ok"] is True
    assert dump_tables(store, tables) == projected
