"""Rebuilding projections from the events (R-R1) on SQLite and PostgreSQL: the result equals the incrementally
built tables row for row, whole or for one tenant; a differing audit trail is kept and reported; a rebuild killed
midway leaves the old tables serving (R-X4).
"""

from __future__ import annotations

import glob
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from domain.application import AccessLedger
from projections import all_projections
from projections.audit.projection import audit_page
from projections.audit.verify import verify_every_tenant
from projections.db import ReadStore
from projections.rebuild import rebuild
from projections.runner import Runner
from tests.projections.random_history import (
    RandomHistory,
    dump_tables,
    index_names,
    projection_tables,
    table_names,
    tracking,
)
from tests.support import owner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def projections() -> list[Any]:
    return all_projections()


@pytest.fixture
def runner(ledger: AccessLedger, store: ReadStore, projections: list[Any]) -> Runner:
    return Runner(ledger, store, projections)


def live_history(runner: Runner, ledger, clock, steps: int, seed: int, tenants: int = 4) -> RandomHistory:
    """A random history projected incrementally, in batches of random size as a live server would."""
    driver = RandomHistory(ledger, clock, seed=seed, tenants=tenants)
    for _ in range(steps):
        driver.step()
        if driver.rng.random() < 0.3:
            runner.catch_up()
    runner.catch_up()
    return driver


def test_R_R1_whole_rebuild_equals_the_incremental_tables_row_for_row(
    ledger, clock, store, runner, projections, monkeypatch
):
    """R-R1: on a long random history, every projection's rebuilt tables equal the live ones, twice in a row."""
    monkeypatch.setattr("projections.rebuild.BATCH", 64)  # several batches, then the tail inside the swap
    live_history(runner, ledger, clock, steps=500, seed=11)
    tables = projection_tables(projections)
    live, indexes = dump_tables(store, tables), index_names(store)
    head = ledger.head_position()
    assert head > 400
    seen: list[tuple[int, int]] = []
    result = rebuild(ledger, store, projections, progress=lambda done, total: seen.append((done, total)))
    assert result["ok"] is True and result["first_mismatch"] is None
    assert result["events"] == head
    assert seen[-1] == (head, head)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert dump_tables(store, tables) == live
    assert tracking(store) == {p.name: head for p in projections}
    # The swap names indexes as `create` does, so the next rebuild starts clean and ends the same.
    assert index_names(store) == indexes
    assert not any(name.endswith("_next") for name in table_names(store))
    assert rebuild(ledger, store, projections)["ok"] is True
    assert dump_tables(store, tables) == live
    assert index_names(store) == indexes
    assert verify_every_tenant(store, ledger)["ok"] is True


def test_R_R1_rebuild_while_commands_arrive_then_catch_up(ledger, clock, store, runner, projections, monkeypatch):
    """R-R1: commands recorded during a rebuild are in the swapped-in tables or projected right after it."""
    monkeypatch.setattr("projections.rebuild.BATCH", 40)
    driver = live_history(runner, ledger, clock, steps=150, seed=12, tenants=2)
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        for _ in range(5):
            driver.step()

    result = rebuild(ledger, store, projections, progress=progress)
    assert result["ok"] is True
    assert len(calls) >= 4
    runner.catch_up()
    head = ledger.head_position()
    assert tracking(store) == {p.name: head for p in projections}
    tables = projection_tables(projections)
    projected = dump_tables(store, tables)
    positions = sorted(row["position"] for row in projected["audit_entries"])
    assert positions == [n.id for n in ledger.recorder.select_notifications(1, 1_000_000)]
    assert rebuild(ledger, store, projections)["ok"] is True
    assert dump_tables(store, tables) == projected


def test_R_R1_rebuild_beside_a_live_runner_and_readers(ledger, clock, store, runner, projections, monkeypatch):
    """R-R1: while commands are projected and the audit trail is read in another thread, whole and one-tenant
    rebuilds swap in without an error on either side; the end state equals a fresh rebuild."""
    monkeypatch.setattr("projections.rebuild.BATCH", 50)
    driver = live_history(runner, ledger, clock, steps=120, seed=16, tenants=2)
    stop, failures, reads = threading.Event(), [], [0]

    def serve() -> None:
        try:
            while not stop.is_set():
                driver.step()
                runner.catch_up()
                with store.reader() as tx:
                    items, _ = audit_page(tx, driver.tenants[0], limit=50)
                    assert items
                    tx.all("SELECT * FROM dir_members WHERE tenant_id = ?", (driver.tenants[0],))
                reads[0] += 1
        except Exception as exc:  # reported by the main thread
            failures.append(exc)

    server = threading.Thread(target=serve)
    server.start()
    try:
        for round_ in range(3):
            assert rebuild(ledger, store, projections)["ok"] is True
            assert rebuild(ledger, store, projections, tenant=driver.tenants[round_ % 2])["ok"] is True
    finally:
        stop.set()
        server.join(timeout=120)
    assert not server.is_alive()
    assert failures == []
    assert reads[0] > 0
    runner.catch_up()
    tables = projection_tables(projections)
    projected = dump_tables(store, tables)
    assert verify_every_tenant(store, ledger)["ok"] is True
    assert rebuild(ledger, store, projections)["ok"] is True
    assert dump_tables(store, tables) == projected


def test_R_R1_one_tenant_rebuild_restores_that_tenants_rows_only(ledger, clock, store, runner, projections):
    """R-R1: rebuilding one tenant deletes and re-creates its rows from its events; other tenants are untouched."""
    driver = live_history(runner, ledger, clock, steps=200, seed=13, tenants=3)
    victim = driver.tenants[1]
    others = [p for p in projections if "audit_entries" not in p.tables]
    tables = projection_tables(others)
    live = dump_tables(store, tables)
    with store.transaction() as tx:
        for table in tables:
            tx.execute(f"DELETE FROM {table} WHERE tenant_id = ?", (victim,))
    assert dump_tables(store, tables) != live
    result = rebuild(ledger, store, projections, tenant=victim)
    assert result["ok"] is True
    with store.reader() as tx:
        count = tx.scalar("SELECT count(*) AS n FROM audit_entries WHERE tenant_id = ?", (victim,))
    assert result["events"] == count  # each of the tenant's events once, however many projections read it
    assert dump_tables(store, tables) == live
    assert verify_every_tenant(store, ledger)["ok"] is True


def tamper(store: ReadStore, tenant_id: str) -> dict[str, Any]:
    """Drop the guard as the database owner and rewrite one entry's data; the entry as it was."""
    with store.transaction() as tx:
        rows = tx.all("SELECT * FROM audit_entries WHERE tenant_id = ? ORDER BY sequence", (tenant_id,))
        victim = rows[len(rows) // 2]
        if store.kind == "postgresql":
            tx.execute("DROP TRIGGER audit_entries_append_only ON audit_entries")
        else:
            tx.execute("DROP TRIGGER audit_entries_no_update")
        data = json.dumps({**json.loads(victim["data"]), "forged": True})
        tx.execute("UPDATE audit_entries SET data = ? WHERE position = ?", (data, victim["position"]))
    return victim


@pytest.mark.parametrize("scope", ["whole", "tenant"])
def test_R_R1_a_differing_audit_trail_is_kept_and_the_difference_reported(
    ledger, clock, store, runner, projections, scope
):
    """R-R1: when the rebuilt trail differs from the serving one, the serving trail stays, nothing is swapped,
    and the first difference is reported as verify names it."""
    driver = live_history(runner, ledger, clock, steps=150, seed=14, tenants=2)
    victim = tamper(store, driver.tenants[0])
    tables = projection_tables(projections)
    before, positions = dump_tables(store, tables), tracking(store)
    result = rebuild(ledger, store, projections, tenant=driver.tenants[0] if scope == "tenant" else None)
    assert result["ok"] is False
    assert result["first_mismatch"] == {
        "tenant_id": driver.tenants[0],
        "sequence": victim["sequence"],
        "position": victim["position"],
        "problem": "data differs from event store",
    }
    assert dump_tables(store, tables) == before
    assert tracking(store) == positions
    assert not any(name.endswith("_next") for name in table_names(store))
    other = rebuild(ledger, store, projections, tenant=driver.tenants[1])
    assert other["ok"] is True


KILLED_REBUILD = """
import os, signal, sys
import projections.rebuild as rebuilding
from domain.application import AccessLedger
from projections import all_projections
from projections.db import ReadStore

rebuilding.BATCH = 40
app = AccessLedger(sys.argv[1])
store = ReadStore(app.database)

def progress(done, total):
    if done >= 120:
        os.kill(os.getpid(), signal.SIGKILL)

rebuilding.rebuild(app, store, all_projections(), progress=progress)
sys.exit(3)
"""


def test_R_X4_a_rebuild_killed_midway_leaves_the_old_tables_serving(ledger, clock, store, runner, projections):
    """R-X4 / R-R1: SIGKILL in the middle of a rebuild changes nothing that readers see; the next rebuild
    drops the leftovers and completes."""
    live_history(runner, ledger, clock, steps=200, seed=15, tenants=2)
    tables = projection_tables(projections)
    before, positions = dump_tables(store, tables), tracking(store)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_REBUILD, ledger.database.url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.wait(timeout=120) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    assert "audit_entries_next" in table_names(store)  # it really died half-way
    assert dump_tables(store, tables) == before
    assert tracking(store) == positions
    assert verify_every_tenant(store, ledger)["ok"] is True
    ledger.issue_token(next(iter(before["audit_entries"]))["tenant_id"], owner())
    runner.catch_up()
    result = rebuild(ledger, store, projections)
    assert result["ok"] is True
    assert not any(name.endswith("_next") for name in table_names(store))
    assert scratch_files(store) == []  # the killed rebuild's worker file, if it had one, is gone too
    assert len(dump_tables(store, tables)["audit_entries"]) == len(before["audit_entries"]) + 1


def scratch_files(store: ReadStore) -> list[str]:
    """The rebuild worker's scratch files beside a SQLite database (none on PostgreSQL)."""
    return glob.glob(f"{store.database.path}.rebuild-worker-*") if store.kind == "sqlite" else []


def test_R_R1_a_failing_worker_fails_the_rebuild_and_changes_nothing(
    ledger, clock, store, runner, projections, monkeypatch
):
    """R-R1: the rebuild's worker process (issue 17: the audit trail and the change feed) reports its failure; the
    rebuild raises it, drops its aside tables, leaves the serving ones as they were and no process or file behind."""
    monkeypatch.setattr("projections.rebuild.BATCH", 40)
    live_history(runner, ledger, clock, steps=120, seed=17, tenants=2)
    tables = projection_tables(projections)
    before, positions = dump_tables(store, tables), tracking(store)

    def broken(self, tx, batch, suffix=""):
        raise ValueError("no chain today")

    monkeypatch.setattr("projections.audit.projection.AuditProjection.rows", broken)  # inherited by the fork
    with pytest.raises((RuntimeError, ValueError), match="no chain today"):  # ValueError without a worker
        rebuild(ledger, store, projections)
    assert dump_tables(store, tables) == before
    assert tracking(store) == positions
    assert not any(name.endswith("_next") for name in table_names(store))
    assert [p for p in multiprocessing.active_children() if p.name.startswith("accessledger-rebuild")] == []
    assert scratch_files(store) == []


def test_R_R1_no_worker_is_forked_beside_another_thread(store) -> None:
    """R-R1 (issue 17): a fork copies only the forking thread, so a lock another thread held in a C library (SQLite
    reading, say) would stay held in the worker for good: with a thread of the application's own running, the rebuild
    builds in one process."""
    from projections.rebuild_worker import can_fork

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="reader")
    other.start()
    try:
        assert can_fork(store) is False
    finally:
        stop.set()
        other.join()
