"""One narrow interface over the read-model database: SQLite (sqlite3) or PostgreSQL (psycopg 3 with a pool).

SQL is written once with `?` placeholders; PostgreSQL gets them as `%s`. Rows come back as dicts.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from domain.errors import DomainError
from domain.personal import PersonalText, is_envelope, open_with
from domain.storage import Database

# A personal value is written as its envelope, never as its text (R-L6), whichever projection writes it.
sqlite3.register_adapter(PersonalText, lambda value: value.envelope)

# Server-side cursors need names unique within their connection: two streams may be open in one transaction.
_cursor_names = itertools.count(1)


class Tx:
    """A transaction (or autocommit reader) on one connection, with the dialect's placeholders."""

    def __init__(self, conn: Any, kind: str) -> None:
        self.conn = conn
        self.kind = kind
        self.keys: Any = None  # set on readers: personal values are read as their text (or `[erased]`)

    def _opened(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.keys is None or row is None:
            return row
        for name, value in row.items():
            if is_envelope(value):
                row[name] = str(open_with(self.keys, value))
        return row

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.kind == "postgresql" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.conn.cursor()
        cursor.execute(self.sql(statement), params)
        return cursor

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self.conn.cursor().executemany(self.sql(statement), rows)

    def one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        return self._opened(self.execute(statement, params).fetchone())

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        rows = self.execute(statement, params).fetchall()
        if self.keys is None:
            return list(rows)
        return [self._opened(row) for row in rows]

    def tuples(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples, in the statement's column order, never opened (R-L6): for hot reads of tables
        that hold no personal field, where building a dict per row is most of the cost."""
        if self.kind == "postgresql":
            from psycopg.rows import tuple_row

            with self.conn.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(self.sql(statement), params)
                return cursor.fetchall()
        cursor = self.conn.cursor()
        cursor.row_factory = None
        cursor.execute(statement, params)
        return cursor.fetchall()

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(statement, params)
        return None if row is None else next(iter(row.values()))

    def has_table(self, name: str) -> bool:
        """True if table `name` exists (in the current schema on PostgreSQL)."""
        if self.kind == "postgresql":
            return bool(self.scalar("SELECT to_regclass(?) IS NOT NULL AS found", (name,)))
        return bool(self.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def stream(self, statement: str, params: Sequence[Any] = (), size: int = 2000) -> Iterator[dict[str, Any]]:
        """Rows one batch at a time (a server-side cursor on PostgreSQL), so memory stays flat."""
        if self.kind == "postgresql":
            with self.conn.cursor(name=f"stream_{next(_cursor_names)}") as cursor:
                cursor.itersize = size
                cursor.execute(self.sql(statement), params)
                for row in cursor:
                    yield self._opened(row)
        else:
            cursor = self.conn.cursor()
            cursor.execute(statement, params)
            while batch := cursor.fetchmany(size):
                for row in batch:
                    yield self._opened(row)


@contextmanager
def _snapshot(conn: Any) -> Iterator[None]:
    """The connection's next transaction is a read-only snapshot: psycopg says so in its BEGIN, one round trip
    where a `SET TRANSACTION` after it is a second. The pooled connection is given back as it came (one that
    cannot be reset is closed, so the pool drops it rather than lend a read-only connection to a writer)."""
    from psycopg import IsolationLevel

    conn.isolation_level, conn.read_only = IsolationLevel.REPEATABLE_READ, True
    try:
        yield
    finally:
        try:
            conn.isolation_level, conn.read_only = None, None
        except Exception:
            conn.close()  # broken (the error that broke it is what the caller sees)


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class ReadStore:
    """Connections to the read models, in the same database as the events."""

    def __init__(self, database: Database, pool_size: int = 10, keys_from: ReadStore | None = None) -> None:
        """`pool_size` bounds the PostgreSQL connections this store opens (R-Z5). `keys_from`: a read replica's
        store opens personal values with the primary's key store (R-Z6), so a key erased on the primary is gone
        for its readers at once and the process keeps one key cache."""
        self.database = database
        self._keys_from = keys_from
        self.kind = database.kind
        # Set by the process's follower while it cannot reach the database: requests then fail at once with
        # 503 `unavailable` instead of waiting for a connection that will not come (R-Z3).
        self.unreachable = False
        self._local = threading.local()
        self._pool: Any = None
        self._keys: Any = None
        self.raw_reads = False  # the key store's own connection reads keys, never envelopes
        if self.kind == "postgresql":
            import psycopg
            from psycopg.rows import dict_row
            from psycopg.types.string import StrDumper
            from psycopg_pool import ConnectionPool

            class _EnvelopeDumper(StrDumper):
                def dump(self, obj: Any) -> Any:
                    return super().dump(obj.envelope)

            psycopg.adapters.register_dumper(PersonalText, _EnvelopeDumper)
            self._pool = ConnectionPool(
                database.conninfo(),
                min_size=1,
                max_size=pool_size,
                kwargs={
                    "connect_timeout": 2,
                    "row_factory": dict_row,
                    "autocommit": True,
                    **({"options": f"-c search_path={database.schema}"} if database.schema else {}),
                },
                open=True,
                timeout=2,  # R-Z3: a request fails within 2 s rather than queueing for a dead server
            )

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.database.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = _dict_row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def check_reachable(self) -> None:
        """503 `unavailable` at once while the follower knows the database is away (R-Z3)."""
        if self.unreachable:
            raise DomainError("unavailable", "the database is unreachable; retry shortly")

    def recovered(self) -> None:
        """The database answers again: drop pooled connections that died with the old server, then serve."""
        if self._pool is not None:
            self._pool.check()
        self.unreachable = False

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: everything inside commits together or not at all."""
        self.check_reachable()
        try:
            if self.kind == "postgresql":
                with self._pool.connection() as conn, conn.transaction():
                    yield Tx(conn, self.kind)
            else:
                conn = self._sqlite()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(conn, self.kind)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except DomainError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "unable to open" in str(exc):
                raise DomainError("unavailable", f"database unavailable: {exc}") from exc
            raise

    @property
    def keys(self) -> Any:
        """The key store of this database (R-L6), opened on first use; the ledger shares it (api.runtime)."""
        if self._keys_from is not None:
            return self._keys_from.keys
        if self._keys is None:
            from projections.keystore import KeyStore

            self._keys = KeyStore(self.database, shared=self)
        return self._keys

    @contextmanager
    def reader(self, raw: bool = False) -> Iterator[Tx]:
        """A consistent read (one snapshot of the data for everything inside). Personal values read as their text
        (or `[erased]`, R-L6); `raw` keeps them sealed (verification compares what is stored)."""
        self.check_reachable()
        if self.kind == "postgresql":
            with self._pool.connection() as conn, _snapshot(conn), conn.transaction():
                yield self._reading(Tx(conn, self.kind), raw)
        else:
            conn = self._sqlite()
            conn.execute("BEGIN")
            try:
                yield self._reading(Tx(conn, self.kind), raw)
            finally:
                conn.execute("ROLLBACK")

    @contextmanager
    def autocommit(self, opened: bool = False) -> Iterator[Tx]:
        """One statement's worth of reading with no transaction around it (one round trip on PostgreSQL, where
        `reader` adds BEGIN and COMMIT); values stay as stored, or with `opened` read as `reader` reads them."""
        self.check_reachable()
        if self.kind == "postgresql":
            with self._pool.connection() as conn:
                tx = Tx(conn, self.kind)
                yield self._reading(tx, False) if opened else tx
        else:
            tx = Tx(self._sqlite(), self.kind)
            yield self._reading(tx, False) if opened else tx

    def _reading(self, tx: Tx, raw: bool) -> Tx:
        if not raw and not self.raw_reads:
            tx.keys = self.keys
        return tx

    def close(self) -> None:
        if self._keys is not None:
            self._keys.close()
            self._keys = None
        if self._pool is not None:
            self._pool.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
