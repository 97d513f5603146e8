"""`accessledger migrate` and the schema check every serving process makes at start (R-Z4)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from api import migrate as migration
from api.runtime import build_services
from api.settings import Settings
from domain.application import AccessLedger
from domain.storage import parse_database_url
from projections import all_projections
from projections.db import ReadStore
from projections.runner import Runner
from tests.support import add_member, open_tenant

PROGRAM = str(Path(sys.executable).parent / "accessledger")


def _run_migrate(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"ACCESSLEDGER_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    return subprocess.run([PROGRAM, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_r_z4_migrate_is_an_explicit_idempotent_step(database_url: str, tmp_path: Path) -> None:
    """R-Z4: the first `accessledger migrate` creates the schema, the second finds it current and sends nothing."""
    first = _run_migrate(database_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "migrated" in first.stdout
    second = _run_migrate(database_url, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already current" in second.stdout
    store = ReadStore(parse_database_url(database_url))
    try:
        assert migration.is_current(store)
        with store.reader() as tx:
            for table in ("dir_tenants", "permission_history", "audit_entries"):
                assert tx.scalar(f"SELECT COUNT(*) FROM {table}") == 0
            assert tx.scalar("SELECT MAX(position) FROM projection_tracking") == 0
    finally:
        store.close()
    # A serving process on a current schema migrates nothing.
    assert migration.ensure_schema(database_url) is False


def test_r_z4_a_changed_schema_migrates_again(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-Z4: a release whose statements differ (here: a bumped step version) is not current until migrated."""
    assert migration.migrate(database_url).applied
    monkeypatch.setattr(migration, "STEPS_VERSION", migration.STEPS_VERSION + 1)
    assert migration.ensure_schema(database_url) is True
    assert migration.migrate(database_url).applied is False


def test_r_z4_processes_starting_together_on_a_fresh_database_take_turns(database_url: str) -> None:
    """R-Z4: four processes starting at once on an empty database all start (no CREATE TABLE race)."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            migration.ensure_schema(database_url)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert migration.ensure_schema(database_url) is False


def test_r_z4_starting_an_api_process_under_write_load_always_succeeds(database_url: str) -> None:
    """R-Z4: while commands are recorded and projected, API processes start and stop ten times without error."""
    migration.migrate(database_url)
    ledger = AccessLedger(database_url)
    store = ReadStore(ledger.database)
    runner = Runner(ledger, store, all_projections(), create_tables=False)
    open_tenant(ledger, included_seats=10_000)
    stop = threading.Event()
    failures: list[BaseException] = []

    def write_and_project() -> None:
        n = 0
        while not stop.is_set():
            try:
                add_member(ledger, f"user{n}")
                runner.catch_up()
                n += 1
            except BaseException as exc:  # collected and asserted below
                failures.append(exc)
                return

    writer = threading.Thread(target=write_and_project)
    writer.start()
    try:
        settings = Settings(database_url=database_url, sweep_interval_seconds=0)
        for _ in range(10):
            build_services(settings).close()
    finally:
        stop.set()
        writer.join(timeout=60)
        store.close()
        ledger.close()
    assert failures == []
