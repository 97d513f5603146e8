"""Writing a projection's batch fast: its tables created from a schema, its statements on one cursor (pipelined on
PostgreSQL), and appended rows in bulk (COPY on PostgreSQL). Shared by the directory, history and audit projections.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from projections.db import Tx

# table -> (column definitions, primary key, {index label: (indexed columns, partial WHERE or None)})
Schema = dict[str, tuple[str, str, dict[str, tuple[str, str | None]]]]


def create_tables(tx: Tx, schema: Schema, suffix: str = "") -> None:
    """Create each table and its indexes if missing (idempotent at start-up)."""
    for table, (columns, key, indexes) in schema.items():
        name = table + suffix
        tx.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns}, CONSTRAINT {name}_pk PRIMARY KEY ({key}))")
        for label, (index_columns, where) in indexes.items():
            partial = f" WHERE {where}" if where else ""
            tx.execute(f"CREATE INDEX IF NOT EXISTS {name}_{label} ON {name} ({index_columns}){partial}")


class BatchSql:
    """The statements of one projection batch on one cursor, `{s}` naming the batch's table suffix.

    On PostgreSQL the batch runs in pipeline mode: writes go out without waiting for each answer, which is what
    makes rebuilds fast; a read (`all`) makes psycopg sync the pipeline first, so it sees every earlier write.
    Reusing one cursor matters there too: creating one per statement costs more than sending it.
    """

    def __init__(self, tx: Tx, suffix: str) -> None:
        self.tx = tx
        self.suffix = suffix
        self.cursor = tx.conn.cursor()
        self._sql: dict[str, str] = {}

    def sql(self, statement: str) -> str:
        ready = self._sql.get(statement)
        if ready is None:
            ready = self._sql[statement] = self.tx.sql(statement.replace("{s}", self.suffix))
        return ready

    def run(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self.sql(statement), params)

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self.sql(statement), rows)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.cursor.execute(self.sql(statement), params)
        return list(self.cursor.fetchall())


@contextmanager
def batch_sql(tx: Tx, suffix: str) -> Iterator[BatchSql]:
    """A BatchSql for one `process` call (pipelined on PostgreSQL)."""
    if tx.kind == "postgresql":
        with tx.conn.pipeline():
            yield BatchSql(tx, suffix)
    else:
        yield BatchSql(tx, suffix)


def insert_rows(tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows at once: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(columns)
    if tx.kind == "postgresql":
        with tx.conn.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        tx.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
