"""Append-only protection in the database itself (R-L3): UPDATE and DELETE on the audit trail and on the event
store's stored-events and snapshots tables fail, whoever sends them.

SQLite gets BEFORE UPDATE / BEFORE DELETE triggers that RAISE(ABORT); PostgreSQL a statement trigger (UPDATE,
DELETE and TRUNCATE) calling one function that raises. eventsourcing only ever INSERTs into those tables; its
tracking tables and our `projection_tracking` are updated in place and stay unguarded. Dropping a table is not
refused: the rebuild swaps a rebuilt trail in that way (projections.rebuild), and the owner of a database can drop
a trigger anyway, which is what `verify` (R-L2) is for.
"""

from __future__ import annotations

from projections.db import ReadStore, Tx
from projections.eventstore import event_store_tables, table_columns

AUDIT_TABLE = "audit_entries"
FUNCTION = "accessledger_append_only"
_LOCK_KEY = 727_001  # serialises concurrent installs (two runners starting) on PostgreSQL


def protect(tx: Tx, table: str) -> None:
    """Make `table` refuse UPDATE and DELETE (idempotent)."""
    message = f"{table} is append-only: UPDATE and DELETE are refused"
    if tx.kind == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            tx.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        return
    tx.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
    # The function lives in the current schema: each `?schema=` of one database gets its own (a check by name
    # alone found another schema's and left this one's triggers pointing at nothing).
    exists = tx.scalar(
        "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname = ? AND n.nspname = current_schema()",
        (FUNCTION,),
    )
    if not exists:
        tx.execute(
            f"""CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                    MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' is refused';
            END $$"""
        )
    exists = tx.scalar(
        "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(?) AND tgname = ?", (table, f"{table}_append_only")
    )
    if not exists:
        tx.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def protected_tables(tx: Tx) -> list[str]:
    """The tables that should be guarded and exist now: the audit trail and the event store's."""
    tables = table_columns(tx)
    return [name for name in (AUDIT_TABLE, *event_store_tables(tx)) if name in tables]


def install(tx: Tx) -> list[str]:
    """Guard every protected table that exists; returns their names."""
    names = protected_tables(tx)
    for name in names:
        protect(tx, name)
    return names


def install_guards(store: ReadStore) -> list[str]:
    """Guard the audit trail and the event store's tables in their database (idempotent)."""
    with store.transaction() as tx:
        return install(tx)
