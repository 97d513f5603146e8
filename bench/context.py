"""One benchmark run on one database: a fresh SQLite file or PostgreSQL database, the services the API would
build on it, and the generated tenants loaded into it on first use. The database is dropped afterwards."""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.runtime import Services, build_services
from api.settings import Settings
from bench.harness import Row, Sizes, count_label
from bench.workload import History, churned_history, history_start, matrix_tenant
from projections.eventstore import events_table

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
OPERATOR_TOKEN = "bench-operator-token-" + secrets.token_hex(16)
INSERT_CHUNK = 5000

# Generated histories are the same for every database of a run: made once, inserted into each.
_generated: dict[str, History] = {}


def log(message: str) -> None:
    print(f"  · {message}", flush=True)


def generated(key: str, make: Callable[[], History]) -> History:
    if key not in _generated:
        history = make()
        log(f"generated {key}: {history.events:,} events in {history.seconds:.1f} s")
        _generated[key] = history
    return _generated[key]


def forget_generated() -> None:
    _generated.clear()


def release_loaded(dbs: list[DbRun]) -> None:
    """Drop the events of the histories every database has loaded: a smaller heap, steadier timings."""
    for key, history in _generated.items():
        if history.stored and all(key in db.loaded for db in dbs):
            history.count, history.stored, history.snapshot = history.events, [], None


class DbRun:
    """Everything one database's figures share; `rows` collects their results."""

    def __init__(self, kind: str, sizes: Sizes) -> None:
        self.kind = kind
        self.sizes = sizes
        self.rows: list[Row] = []
        self.setup: dict[str, float] = {}
        self.loaded: dict[str, History] = {}
        self.notes: list[str] = []
        self._tmp: Path | None = None
        self._pg_name: str | None = None
        self.url = self._create()
        self.settings = Settings(
            database_url=self.url,
            operator_token=OPERATOR_TOKEN,
            clock="system",
            secret_key="bench-secret-key",
            sweep_interval_seconds=0,
        )
        self.services: Services = build_services(self.settings)

    # ------------------------------------------------------------- the database

    def _create(self) -> str:
        if self.kind == "sqlite":
            self._tmp = Path(tempfile.mkdtemp(prefix="accessledger-bench-"))
            return f"sqlite:///{self._tmp / 'bench.db'}"
        import psycopg
        from psycopg import sql

        self._pg_name = f"al_bench_{secrets.token_hex(6)}"
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self._pg_name)))
        return f"{PG_SERVER}/{self._pg_name}"

    def close(self) -> None:
        try:
            self.services.close()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
            if self._pg_name is not None:
                import psycopg
                from psycopg import sql

                with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self._pg_name))
                    )

    def add(self, row: Row) -> Row:
        row.database = self.kind
        self.rows.append(row)
        return row

    # ------------------------------------------------------------- tenants

    @property
    def ledger(self) -> Any:
        return self.services.ledger

    @property
    def queries(self) -> Any:
        return self.services.queries

    def load(self, history: History) -> History:
        """Insert a generated history (events in bulk, then its snapshot) and project it."""
        if history.tenant_id in self.loaded:
            return history
        inserted, projected = store_history(self.services, history)
        self.record(history, inserted, projected)
        return history

    def record(self, history: History, inserted: float, projected: float) -> None:
        """Note a loaded history and its setup times."""
        self.setup[f"{history.tenant_id}: insert {history.events} events (s)"] = round(inserted, 2)
        self.setup[f"{history.tenant_id}: project {history.events} events (s)"] = round(projected, 2)
        log(
            f"{self.kind}: loaded {history.tenant_id} ({history.events:,} events): insert {inserted:.1f} s, "
            f"project {projected:.1f} s ({history.events / max(projected, 1e-9):,.0f} events/s)"
        )
        self.loaded[history.tenant_id] = history

    def matrix(self) -> History:
        """The role-matrix tenant (SPEC.md's roles, `sizes.members` members)."""
        s = self.sizes
        history = generated(
            "matrix",
            lambda: matrix_tenant("matrix", s.members, s.leads_per_broker, history_start(4 * s.members)),
        )
        return self.load(history)

    def history(self, events: int) -> History:
        """A churned team tenant with `events` events of history."""
        key = history_key(events)
        if key in self.loaded:
            return self.loaded[key]
        history = generated(key, lambda: churned_history(key, events, history_start(events)))
        return self.load(history)


def history_key(events: int) -> str:
    return f"hist-{count_label(events).lower()}"


def store_history(services: Services, history: History) -> tuple[float, float]:
    """Insert the events (COPY on PostgreSQL) and the snapshot, then project: (insert s, project s)."""
    ledger = services.ledger
    started = time.perf_counter()
    if services.store.kind == "postgresql":
        table = events_table(ledger)
        with services.store.transaction() as tx, tx.conn.cursor() as cursor:
            statement = f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN"
            with cursor.copy(statement) as copy:
                for stored in history.stored:
                    copy.write_row((stored.originator_id, stored.originator_version, stored.topic, stored.state))
    else:
        for start in range(0, len(history.stored), INSERT_CHUNK):
            ledger.recorder.insert_events(history.stored[start : start + INSERT_CHUNK])
    ledger.snapshots.put([history.snapshot])
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    services.runner.catch_up()
    return inserted, time.perf_counter() - started


def fail_row(figure: str, goal: str, unit: str, exc: BaseException) -> Row:
    """A row for a figure that crashed: counted, not met, with the error as its note."""
    print(f"  ! {figure}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    return Row(figure, "", None, None, unit, "", goal, False, note=f"failed: {type(exc).__name__}: {exc}")
