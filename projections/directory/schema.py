"""The directory's tables: what the API lists and looks up (tenants, members, invitations, tokens, add-ons,
charges, grants, assignments, custom roles, restrictions, reporting lines, resource parents), each row keyed by
tenant so one tenant can be rebuilt alone.

Index and constraint names are `<table><suffix>_<label>`: a rebuild that swaps `x_next` in for `x` renames them by
dropping the suffix, and the next rebuild's `_next` names are free again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from projections.db import Tx

TABLES = (
    "dir_tenants",
    "dir_members",
    "dir_roles",
    "dir_invitations",
    "dir_tokens",
    "dir_addons",
    "dir_charges",
    "dir_grants",
    "dir_assignments",
    "dir_role_defs",
    "dir_restrictions",
    "dir_reporting",
    "dir_parents",
    "dir_resources",
)

# table → (columns, primary key, {index label: (columns, partial condition | None)})
SCHEMA: dict[str, tuple[str, str, dict[str, tuple[str, str | None]]]] = {
    "dir_tenants": (
        """tenant_id TEXT NOT NULL, aggregate_id TEXT NOT NULL, name TEXT NOT NULL, owner_id TEXT NOT NULL,
        plan_name TEXT NOT NULL, included_seats INTEGER NOT NULL, billing_interval TEXT NOT NULL,
        currency TEXT NOT NULL, term_start TEXT NOT NULL, term_end TEXT NOT NULL, term_end_at TEXT NOT NULL,
        min_admins INTEGER NOT NULL, status TEXT NOT NULL, closes_at TEXT, cancel_position BIGINT,
        closed_at TEXT, closed_position BIGINT, opened_at TEXT NOT NULL, opened_position BIGINT NOT NULL,
        last_position BIGINT NOT NULL""",
        "tenant_id",
        {"moved": ("last_position", None)},
    ),
    "dir_members": (
        """tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, joined_position BIGINT NOT NULL, email TEXT NOT NULL,
        name TEXT NOT NULL, role TEXT NOT NULL, seat_order INTEGER NOT NULL, reports_to TEXT,
        status TEXT NOT NULL, joined_at TEXT NOT NULL, via TEXT NOT NULL, invitation_id TEXT,
        removed_at TEXT, removed_position BIGINT, removal_reason TEXT""",
        "tenant_id, user_id, joined_position",
        {"seat": ("tenant_id, seat_order", None)},
    ),
    # One row per role a member held, for as-of listings and checks (R-C3); a removal closes it.
    "dir_roles": (
        """tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, valid_from TEXT NOT NULL,
        valid_to TEXT, from_position BIGINT NOT NULL, to_position BIGINT""",
        "tenant_id, user_id, from_position",
        # "open": the current role interval in one step however many role changes came before (closing it).
        {"at": ("tenant_id, user_id, valid_from", None), "open": ("tenant_id, user_id", "valid_to IS NULL")},
    ),
    "dir_invitations": (
        """tenant_id TEXT NOT NULL, invitation_id TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
        status TEXT NOT NULL, invited_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
        token_hash TEXT NOT NULL, created_position BIGINT NOT NULL, ended_at TEXT, end_reason TEXT""",
        "tenant_id, invitation_id",
        {"order": ("tenant_id, created_position", None), "due": ("expires_at", "status = 'pending'")},
    ),
    "dir_tokens": (
        """token_hash TEXT NOT NULL, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, token_id TEXT NOT NULL,
        label TEXT, active INTEGER NOT NULL, issued_at TEXT NOT NULL, issued_position BIGINT NOT NULL,
        revoked_at TEXT""",
        "token_hash",
        {"id": ("tenant_id, token_id", None)},
    ),
    "dir_addons": (
        """tenant_id TEXT NOT NULL, addon_id TEXT NOT NULL, kind TEXT NOT NULL, seats INTEGER NOT NULL,
        monthly_price TEXT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, purchased_at TEXT NOT NULL,
        purchased_position BIGINT NOT NULL, ends_at TEXT, charged_through TEXT NOT NULL""",
        "tenant_id, addon_id",
        {"due": ("charged_through", "status <> 'ended'")},
    ),
    "dir_charges": (
        """tenant_id TEXT NOT NULL, charge_id TEXT NOT NULL, addon_id TEXT NOT NULL, kind TEXT NOT NULL,
        period_start TEXT NOT NULL, period_end TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL,
        charged_at TEXT NOT NULL, position BIGINT NOT NULL""",
        "tenant_id, charge_id",
        {"order": ("tenant_id, position", None)},
    ),
    "dir_grants": (
        """tenant_id TEXT NOT NULL, grant_id TEXT NOT NULL, user_id TEXT NOT NULL, permission TEXT, role TEXT,
        scope TEXT NOT NULL, resource_type TEXT, resource_id TEXT, starts_at TEXT, started_position BIGINT,
        expires_at TEXT, granted_by TEXT NOT NULL,
        granted_at TEXT NOT NULL, granted_position BIGINT NOT NULL, status TEXT NOT NULL, ended_at TEXT,
        end_reason TEXT""",
        "tenant_id, grant_id",
        {
            "order": ("tenant_id, granted_position", None),
            "user": ("tenant_id, user_id, granted_position", None),
            "due": ("expires_at", "status = 'active'"),
            "starting": ("starts_at", "started_position IS NULL"),
        },
    ),
    # One row per interval a resource was assigned to one member (R-A1); scope `assigned` reads it (R-C1).
    "dir_assignments": (
        """tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, user_id TEXT NOT NULL,
        assigned_at TEXT NOT NULL, unassigned_at TEXT, from_position BIGINT NOT NULL, to_position BIGINT,
        unassign_reason TEXT""",
        "tenant_id, resource_type, resource_id, from_position",
        {
            "at": ("tenant_id, resource_type, resource_id, assigned_at", None),
            "user": ("tenant_id, user_id, resource_type, resource_id", None),
            # The open interval of a resource, found in one step however long its history (closing it on reassign).
            "open": ("tenant_id, resource_type, resource_id", "unassigned_at IS NULL"),
        },
    ),
    # One row per interval a custom role had one definition (R-P7); deletion closes the last one.
    "dir_role_defs": (
        """tenant_id TEXT NOT NULL, role_id TEXT NOT NULL, name TEXT NOT NULL, includes TEXT NOT NULL,
        permissions TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT, from_position BIGINT NOT NULL,
        to_position BIGINT, to_event TEXT""",
        "tenant_id, role_id, from_position",
        {"open": ("tenant_id, role_id", "valid_to IS NULL")},
    ),
    "dir_restrictions": (
        """tenant_id TEXT NOT NULL, restriction_id TEXT NOT NULL, user_id TEXT NOT NULL, permission TEXT NOT NULL,
        scope TEXT NOT NULL, resource_type TEXT, resource_id TEXT, created_by TEXT NOT NULL,
        created_at TEXT NOT NULL, created_position BIGINT NOT NULL, status TEXT NOT NULL, lifted_at TEXT,
        lifted_position BIGINT, lift_reason TEXT""",
        "tenant_id, restriction_id",
        {"order": ("tenant_id, created_position", None), "user": ("tenant_id, user_id, created_position", None)},
    ),
    # Closures (R-H1, R-H2), so no check walks a tree: one row per interval during which a member had one
    # reporting line and one chain of managers above it (`managers`, JSON, nearest first, the owner left out:
    # everyone is below the owner), or a resource had one parent and one chain of ancestors (`ancestors`).
    # Moving a node closes and reopens the rows of everything below it. No row: no line, no parent.
    "dir_reporting": (
        """tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, reports_to TEXT NOT NULL, managers TEXT NOT NULL,
        valid_from TEXT NOT NULL, valid_to TEXT, from_position BIGINT NOT NULL, to_position BIGINT""",
        "tenant_id, user_id, from_position",
        {
            "at": ("tenant_id, valid_from", None),
            "below": ("tenant_id, reports_to", "valid_to IS NULL"),
        },
    ),
    "dir_parents": (
        """tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
        parent_type TEXT NOT NULL, parent_id TEXT NOT NULL, ancestors TEXT NOT NULL, valid_from TEXT NOT NULL,
        valid_to TEXT, from_position BIGINT NOT NULL, to_position BIGINT""",
        "tenant_id, resource_type, resource_id, from_position",
        {"below": ("tenant_id, parent_type, parent_id", "valid_to IS NULL")},
    ),
    # Every resource the history names (R-C4 lookups), from the first event that did (projections.directory.known).
    "dir_resources": (
        """tenant_id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, known_at TEXT NOT NULL,
        known_position BIGINT NOT NULL""",
        "tenant_id, resource_type, resource_id",
        {},
    ),
}


def create_tables(tx: Tx, schema: dict, suffix: str = "") -> None:
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
