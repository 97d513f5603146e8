"""Access answers from SQL at any instant (R-C1…R-C3, R-L5): interval queries on the permission history and the
directory's role and assignment intervals. Checks go through `projections.queries.access_cache` instead, which answers
from memory with the same `projections.queries.decide`; `check_at` here serves explain and members too long to hold.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.errors import not_found
from projections.history.rows import SOURCE_KINDS
from projections.queries.below import AT_INSTANT, plain, widen_listings
from projections.queries.decide import Holding, decide, decision, holding_of, listings
from projections.values import iso, ts

TRACKED = ("directory", "history")

_VALID = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?) AND (expires_at IS NULL OR expires_at > ?)"
_HOLDING_COLUMNS = "scope, resource_type, resource_id, source_kind, source_id, from_position"


def access_position(tx: Any) -> int:
    """The position both access read models (directory and history) have reached."""
    rows = tx.all(
        "SELECT name, position FROM projection_tracking WHERE name IN (?, ?)",
        TRACKED,
    )
    if len(rows) < len(TRACKED):
        return 0
    return min(row["position"] for row in rows)


def tenant_row(tx: Any, tenant_id: str) -> dict[str, Any]:
    """The directory's tenant row; `not_found` for a tenant never opened."""
    row = tx.one("SELECT * FROM dir_tenants WHERE tenant_id = ?", (tenant_id,))
    if row is None:
        raise not_found("tenant", tenant_id)
    return row


def closing(row: dict[str, Any]) -> tuple[str | None, int | None]:
    """When the tenant closes or closed (R-T5) and the event that recorded it, if it will or did."""
    if row["closed_at"] is not None:
        return row["closed_at"], row["closed_position"]
    if row["status"] == "cancellation_scheduled":
        return row["closes_at"], None
    return None, None


def closed_at(row: dict[str, Any], at: str) -> bool:
    """True if the tenant is closed at `at`: from its `closes_at`, even before `SubscriptionEnded` is recorded."""
    instant, _ = closing(row)
    return instant is not None and instant <= at


def _latest(row: dict[str, Any] | None, end: str, at: str) -> dict[str, Any] | None:
    """The row if its interval is still open at `at` (the latest interval started by then is the only one that
    can be: a member has one role, a resource one assignee at a time)."""
    return row if row is not None and (row[end] is None or row[end] > at) else None


def role_at(tx: Any, tenant_id: str, user_id: str, at: str) -> dict[str, Any] | None:
    """The member's role interval at `at` (role, from_position), or None if they were not a member then."""
    row = tx.one(
        "SELECT role, from_position, valid_to FROM dir_roles WHERE tenant_id = ? AND user_id = ? "
        "AND valid_from <= ? ORDER BY valid_from DESC, from_position DESC LIMIT 1",
        (tenant_id, user_id, at),
    )
    return _latest(row, "valid_to", at)


# One index seek finds where the rows valid at T can start (`open_since`, see projections.history.projection),
# then a short range scan reads them: the same cost at any history depth.
_KIND_AT = (
    f"SELECT {_HOLDING_COLUMNS} FROM permission_history WHERE tenant_id = ? AND user_id = ? AND permission = ? "
    "AND source_kind = ? AND valid_from <= ? AND valid_from >= (SELECT open_since FROM permission_history "
    "WHERE tenant_id = ? AND user_id = ? AND permission = ? AND source_kind = ? AND valid_from <= ? "
    "ORDER BY valid_from DESC LIMIT 1) AND (valid_to IS NULL OR valid_to > ?) "
    "AND (expires_at IS NULL OR expires_at > ?)"
)
_HOLDINGS_AT = " UNION ALL ".join([_KIND_AT] * len(SOURCE_KINDS))


def holdings_at(tx: Any, tenant_id: str, user_id: str, permission: str, at: str) -> list[Holding]:
    """Every source giving the member `permission` at `at`."""
    params: list[Any] = []
    for kind in SOURCE_KINDS:
        key = (tenant_id, user_id, permission, kind, at)
        params += [*key, *key, at, at]
    rows = tx.all(_HOLDINGS_AT, params)
    return sorted((holding_of(row) for row in rows), key=lambda h: h.from_position)


def user_holdings(tx: Any, tenant_id: str, user_id: str, at: str) -> list[tuple[str, Holding]]:
    """(permission, holding) for every permission the member holds at `at`."""
    rows = tx.all(
        f"SELECT permission, {_HOLDING_COLUMNS} FROM permission_history WHERE tenant_id = ? AND user_id = ? "
        f"AND {_VALID} ORDER BY from_position",
        (tenant_id, user_id, at, at, at),
    )
    return [(row["permission"], holding_of(row)) for row in rows]


def assignment_at(tx: Any, tenant_id: str, resource: tuple[str, str], at: str) -> dict[str, Any] | None:
    """The assignment interval of a resource at `at` (R-A1: at most one member at a time)."""
    row = tx.one(
        "SELECT user_id, from_position, unassigned_at FROM dir_assignments WHERE tenant_id = ? "
        "AND resource_type = ? AND resource_id = ? AND assigned_at <= ? "
        "ORDER BY assigned_at DESC, from_position DESC LIMIT 1",
        (tenant_id, resource[0], resource[1], at),
    )
    return _latest(row, "unassigned_at", at)


def lineage_at(tx: Any, tenant_id: str, resource: tuple[str, str], at: str) -> dict[str, Any] | None:
    """The resource's parent interval at `at` (parent, ancestors, from_position), or None: no parent then."""
    row = tx.one(
        "SELECT parent_type, parent_id, ancestors, from_position, valid_to FROM dir_parents WHERE tenant_id = ? "
        "AND resource_type = ? AND resource_id = ? AND valid_from <= ? "
        "ORDER BY valid_from DESC, from_position DESC LIMIT 1",
        (tenant_id, resource[0], resource[1], at),
    )
    return _latest(row, "valid_to", at)


def managers_at(tx: Any, tenant_id: str, user_id: str, at: str) -> dict[str, Any] | None:
    """The member's reporting interval at `at` (reports_to, managers, from_position), or None: the owner then."""
    row = tx.one(
        "SELECT reports_to, managers, from_position, valid_to FROM dir_reporting WHERE tenant_id = ? "
        "AND user_id = ? AND valid_from <= ? ORDER BY valid_from DESC, from_position DESC LIMIT 1",
        (tenant_id, user_id, at),
    )
    return _latest(row, "valid_to", at)


class SqlPlace:
    """Where a resource sits at an instant, from SQL (`projections.queries.decide.Place`)."""

    def __init__(self, tx: Any, tenant: dict[str, Any], resource: tuple[str, str], at: str) -> None:
        self.tx = tx
        self.tenant = tenant
        self.resource = resource
        self.at = at

    def assignee(self) -> str | None:
        row = assignment_at(self.tx, self.tenant["tenant_id"], self.resource, self.at)
        return None if row is None else row["user_id"]

    def lineage(self) -> frozenset:
        row = lineage_at(self.tx, self.tenant["tenant_id"], self.resource, self.at)
        above = [] if row is None else json.loads(row["ancestors"])
        return frozenset([self.resource, *((a["type"], a["id"]) for a in above)])

    def manages(self, user_id: str, member_id: str) -> bool:
        if user_id in (member_id, self.tenant["owner_id"]):
            return True
        row = managers_at(self.tx, self.tenant["tenant_id"], member_id, self.at)
        return row is not None and user_id in json.loads(row["managers"])


def check_at(
    tx: Any,
    tenant: dict[str, Any],
    user_id: str,
    permission: str,
    resource: tuple[str, str] | None,
    instant: datetime,
    as_of: str | None,
    position: int,
) -> dict[str, Any]:
    """R-C1/R-C2 at `instant`, from SQL."""
    at = ts(instant)
    tenant_id = tenant["tenant_id"]
    if closed_at(tenant, at):
        return decision(False, None, "tenant_closed", [], as_of, position)
    if role_at(tx, tenant_id, user_id, at) is None:
        return decision(False, None, "not_a_member", [], as_of, position)
    holdings = holdings_at(tx, tenant_id, user_id, permission, at)
    place = None if resource is None else SqlPlace(tx, tenant, resource, at)
    allowed, scope, reason, via, restriction_id = decide(user_id, permission, resource, holdings, place)
    return decision(allowed, scope, reason, via, as_of, position, restriction_id)


def permissions_at(tx: Any, tenant: dict[str, Any], user_id: str, at: str) -> list[dict[str, Any]]:
    """The member's effective permissions at `at` (none while the tenant is closed: every check is denied)."""
    if closed_at(tenant, at):
        return []
    listed = listings(user_holdings(tx, tenant["tenant_id"], user_id, at))
    widen_listings(plain(tx), tenant["tenant_id"], [listed], AT_INSTANT, at)
    return listed


def access_report_at(tx: Any, tenant: dict[str, Any], at: str) -> list[dict[str, Any]]:
    """R-L5: every member active at `at`, in seat order, with their role and effective permissions; a resource
    grant's `resources` are the named resources and their descendants of the permission's type then (R-H2)."""
    tenant_id = tenant["tenant_id"]
    members = tx.all(
        "SELECT m.user_id, m.email, m.name, r.role FROM dir_members m JOIN dir_roles r "
        "ON r.tenant_id = m.tenant_id AND r.user_id = m.user_id AND r.from_position >= m.joined_position "
        "AND r.valid_from <= ? AND (r.valid_to IS NULL OR r.valid_to > ?) "
        "WHERE m.tenant_id = ? AND m.joined_at <= ? AND (m.removed_at IS NULL OR m.removed_at > ?) "
        "ORDER BY m.seat_order",
        (at, at, tenant_id, at, at),
    )
    pairs: dict[str, list[tuple[str, Holding]]] = {}
    if not closed_at(tenant, at):
        rows = tx.all(
            f"SELECT user_id, permission, {_HOLDING_COLUMNS} FROM permission_history WHERE tenant_id = ? "
            f"AND {_VALID} ORDER BY from_position",
            (tenant_id, at, at, at),
        )
        for row in rows:
            pairs.setdefault(row["user_id"], []).append((row["permission"], holding_of(row)))
    report = [
        {
            "user_id": m["user_id"],
            "email": m["email"],
            "name": m["name"],
            "role": m["role"],
            "permissions": listings(pairs.get(m["user_id"], [])),
        }
        for m in members
    ]
    # A resource grant lists what it covers below the named resource then (R-H2), as the change feed does.
    widen_listings(plain(tx), tenant_id, [m["permissions"] for m in report], AT_INSTANT, at)
    return report


def as_of_text(instant: datetime | None) -> str | None:
    """The `as_of` field of an answer: the instant asked, or null for now."""
    return iso(ts(instant)) if instant is not None else None
