"""Directory answers shaped as API.md's resources: Tenant, Member, Invitation, Addon, charges, Grant, assignments.

Each function takes an open reader; keyset pagination reads `limit + 1` rows after the cursor's key.
"""

from __future__ import annotations

from typing import Any

from domain.errors import validation
from projections.queries.access import closed_at
from projections.values import iso

MEMBER_STATUSES = ("active", "removed", "all")
INVITATION_STATUSES = ("pending", "accepted", "declined", "revoked", "expired")
GRANT_STATUSES = ("scheduled", "active", "revoked", "expired")


def choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    """A filter value from a fixed set; anything else is a validation error."""
    if value is not None and value not in allowed:
        raise validation(f"{name} must be one of {', '.join(allowed)}", ("query", name))
    return value


# ----------------------------------------------------------------------------------------- tenant


def tenant_status(row: dict[str, Any], now: str) -> str:
    """active | cancellation_scheduled | closed (closed from `closes_at`, before `SubscriptionEnded`)."""
    return "closed" if closed_at(row, now) else row["status"]


def addon_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "addon_id": row["addon_id"],
        "kind": row["kind"],
        "seats": row["seats"],
        "monthly_price": row["monthly_price"],
        "currency": row["currency"],
        "status": row["status"],
        "purchased_at": iso(row["purchased_at"]),
        "ends_at": iso(row["ends_at"]),
    }


def addons(tx: Any, tenant_id: str) -> list[dict[str, Any]]:
    rows = tx.all("SELECT * FROM dir_addons WHERE tenant_id = ? ORDER BY purchased_position", (tenant_id,))
    return [addon_dict(row) for row in rows]


def tenant_dict(tx: Any, row: dict[str, Any], now: str) -> dict[str, Any]:
    """API.md `Tenant` without `scheduled_removals` (the aggregate's preview, R-S5)."""
    tenant_id = row["tenant_id"]
    members = tx.scalar(
        "SELECT COUNT(*) AS n FROM dir_members WHERE tenant_id = ? AND status = 'active' AND user_id <> ?",
        (tenant_id, row["owner_id"]),
    )
    pending = tx.scalar(
        "SELECT COUNT(*) AS n FROM dir_invitations WHERE tenant_id = ? AND status = 'pending' AND expires_at > ?",
        (tenant_id, now),
    )
    live = addons(tx, tenant_id)
    capacity = row["included_seats"] + sum(a["seats"] for a in live if a["status"] != "ended")
    used = members + pending
    return {
        "tenant_id": tenant_id,
        "name": row["name"],
        "status": tenant_status(row, now),
        "plan": {
            "name": row["plan_name"],
            "included_seats": row["included_seats"],
            "billing_interval": row["billing_interval"],
            "currency": row["currency"],
        },
        "term_start": row["term_start"],
        "term_end": row["term_end"],
        "seats": {
            "capacity": capacity,
            "used": used,
            "members": members,
            "pending_invitations": pending,
            "free": capacity - used,
        },
        "addons": live,
        "min_admins": row["min_admins"],
        "cancellation_effective_at": iso(row["closes_at"]),
    }


def tenant_ids(tx: Any, due_before: str | None) -> list[str]:
    """Every tenant id; with `due_before`, only open tenants with something due by then (R-K1 sweep)."""
    if due_before is None:
        return [r["tenant_id"] for r in tx.all("SELECT tenant_id FROM dir_tenants ORDER BY tenant_id")]
    rows = tx.all(
        "SELECT t.tenant_id FROM dir_tenants t WHERE t.status <> 'closed' AND (t.term_end_at <= ? "
        "OR EXISTS (SELECT 1 FROM dir_invitations i WHERE i.tenant_id = t.tenant_id AND i.status = 'pending' "
        "AND i.expires_at <= ?) "
        "OR EXISTS (SELECT 1 FROM dir_grants g WHERE g.tenant_id = t.tenant_id AND g.status = 'active' "
        "AND (g.expires_at <= ? OR (g.starts_at <= ? AND g.started_position IS NULL))) "
        "OR EXISTS (SELECT 1 FROM dir_addons a WHERE a.tenant_id = t.tenant_id AND a.status <> 'ended' "
        "AND a.charged_through <= ?)) ORDER BY t.tenant_id",
        (due_before,) * 5,
    )
    return [r["tenant_id"] for r in rows]


# ----------------------------------------------------------------------------------------- members


def member_dict(row: dict[str, Any], at: str | None = None) -> dict[str, Any]:
    """API.md `Member`; with `at`, as it was then (role then, removal only if it had happened)."""
    removed = row["removed_at"] is not None and (at is None or row["removed_at"] <= at)
    role, reports_to = row["role"], row["reports_to"]
    if at is not None and not removed:
        role = row.get("role_then") or role
        reports_to = row.get("reports_to_then")  # no reporting row then: the owner (R-H1)
    return {
        "user_id": row["user_id"],
        "email": row["email"],
        "name": row["name"],
        "role": role,
        "seat_order": row["seat_order"],
        "reports_to": reports_to,
        "status": "removed" if removed else "active",
        "joined_at": iso(row["joined_at"]),
        "removed_at": iso(row["removed_at"]) if removed else None,
        "removal_reason": row["removal_reason"] if removed else None,
    }


def members(
    tx: Any,
    tenant_id: str,
    role: str | None,
    status: str,
    at: str | None,
    after: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Members in seat order; with `at`, the memberships and roles as they were then (R-C3)."""
    params: list[Any] = []
    if at is None:
        sql = "SELECT m.*, NULL AS role_then, NULL AS reports_to_then FROM dir_members m"
        where = ["m.tenant_id = ?"]
        params.append(tenant_id)
        if status != "all":
            where.append("m.status = ?")
            params.append(status)
        role_column = "m.role"
    else:
        sql = (
            "SELECT m.*, r.role AS role_then, p.reports_to AS reports_to_then FROM dir_members m "
            "LEFT JOIN dir_roles r ON r.tenant_id = m.tenant_id "
            "AND r.user_id = m.user_id AND r.from_position >= m.joined_position AND r.valid_from <= ? "
            "AND (r.valid_to IS NULL OR r.valid_to > ?) "
            "LEFT JOIN dir_reporting p ON p.tenant_id = m.tenant_id AND p.user_id = m.user_id "
            "AND p.from_position >= m.joined_position AND p.valid_from <= ? AND (p.valid_to IS NULL OR p.valid_to > ?)"
        )
        params += [at, at, at, at, tenant_id, at]
        where = ["m.tenant_id = ?", "m.joined_at <= ?"]
        if status == "active":
            where.append("(m.removed_at IS NULL OR m.removed_at > ?)")
            params.append(at)
        elif status == "removed":
            where.append("m.removed_at <= ?")
            params.append(at)
        role_column = "COALESCE(r.role, m.role)"
    if role is not None:
        where.append(f"{role_column} = ?")
        params.append(role)
    if after is not None:
        where.append("m.seat_order > ?")
        params.append(after)
    params.append(limit + 1)
    rows = tx.all(f"{sql} WHERE {' AND '.join(where)} ORDER BY m.seat_order LIMIT ?", params)
    return [{**member_dict(row, at), "_key": [row["seat_order"]]} for row in rows]


def member(tx: Any, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    """The latest membership of a user id, active or removed."""
    row = tx.one(
        "SELECT * FROM dir_members WHERE tenant_id = ? AND user_id = ? ORDER BY joined_position DESC LIMIT 1",
        (tenant_id, user_id),
    )
    return None if row is None else member_dict(row)


# ----------------------------------------------------------------------------------------- invitations


def invitation_dict(row: dict[str, Any], now: str) -> dict[str, Any]:
    status = row["status"]
    if status == "pending" and row["expires_at"] <= now:
        status = "expired"  # honoured from its instant, before `InvitationExpired` is recorded
    return {
        "invitation_id": row["invitation_id"],
        "email": row["email"],
        "role": row["role"],
        "status": status,
        "invited_by": row["invited_by"],
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
    }


# Statuses the rows do not store: derived from the instant, before the due change is recorded (R-K1).
_INVITATION_STATUSES = {
    "pending": "status = 'pending' AND expires_at > ?",
    "expired": "(status = 'expired' OR (status = 'pending' AND expires_at <= ?))",
}
_GRANT_STATUSES = {
    "active": "status = 'active' AND (expires_at IS NULL OR expires_at > ?) AND (starts_at IS NULL OR starts_at <= ?)",
    "scheduled": "status = 'active' AND starts_at > ?",
    "expired": "(status = 'expired' OR (status = 'active' AND expires_at <= ?))",
}


def _status(asked: str | None, derived: dict[str, str], now: str) -> tuple[list[str], list[Any]]:
    """The condition of a status filter: a derived status is one on the instant `now`, any other the stored one."""
    if asked is None:
        return [], []
    if asked in derived:
        return [derived[asked]], [now] * derived[asked].count("?")
    return ["status = ?"], [asked]


def _keyset(
    tx: Any, table: str, order: str, where: list[str], params: list[Any], after: int | None, limit: int
) -> list[dict[str, Any]]:
    """`limit + 1` rows of `table` matching `where`, ordered by the position column `order`, after `after`."""
    if after is not None:
        where, params = [*where, f"{order} > ?"], [*params, after]
    return tx.all(f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?", [*params, limit + 1])


def invitations(
    tx: Any, tenant_id: str, status: str | None, now: str, after: int | None, limit: int
) -> list[dict[str, Any]]:
    where, params = _status(status, _INVITATION_STATUSES, now)
    rows = _keyset(
        tx, "dir_invitations", "created_position", ["tenant_id = ?", *where], [tenant_id, *params], after, limit
    )
    return [{**invitation_dict(row, now), "_key": [row["created_position"]]} for row in rows]


def invitation(tx: Any, tenant_id: str, invitation_id: str, now: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM dir_invitations WHERE tenant_id = ? AND invitation_id = ?", (tenant_id, invitation_id))
    return None if row is None else invitation_dict(row, now)


# ----------------------------------------------------------------------------------------- charges


def charges(tx: Any, tenant_id: str, after: int | None, limit: int) -> list[dict[str, Any]]:
    rows = _keyset(tx, "dir_charges", "position", ["tenant_id = ?"], [tenant_id], after, limit)
    return [
        {
            "charge_id": row["charge_id"],
            "addon_id": row["addon_id"],
            "kind": row["kind"],
            "period_start": row["period_start"],
            "period_end": row["period_end"],
            "amount": row["amount"],
            "currency": row["currency"],
            "charged_at": iso(row["charged_at"]),
            "_key": [row["position"]],
        }
        for row in rows
    ]


# ----------------------------------------------------------------------------------------- grants


def grant_dict(row: dict[str, Any], now: str) -> dict[str, Any]:
    status = row["status"]
    if status == "active" and row["expires_at"] is not None and row["expires_at"] <= now:
        status = "expired"  # honoured from its instant, before `GrantExpired` is recorded
    elif status == "active" and row["starts_at"] is not None and row["starts_at"] > now:
        status = "scheduled"  # R-G3: until its `starts_at`, whether or not `GrantStarted` is recorded
    resource = None
    if row["resource_type"] is not None:
        resource = {"type": row["resource_type"], "id": row["resource_id"]}
    return {
        "grant_id": row["grant_id"],
        "user_id": row["user_id"],
        "permission": row["permission"],
        "role": row["role"],
        "scope": row["scope"],
        "resource": resource,
        "starts_at": iso(row["starts_at"]),
        "expires_at": iso(row["expires_at"]),
        "granted_by": row["granted_by"],
        "granted_at": iso(row["granted_at"]),
        "status": status,
    }


def grants(
    tx: Any, tenant_id: str, user_id: str | None, status: str | None, now: str, after: int | None, limit: int
) -> list[dict[str, Any]]:
    where, params = _status(status, _GRANT_STATUSES, now)
    if user_id is not None:
        where, params = ["user_id = ?", *where], [user_id, *params]
    rows = _keyset(tx, "dir_grants", "granted_position", ["tenant_id = ?", *where], [tenant_id, *params], after, limit)
    return [{**grant_dict(row, now), "_key": [row["granted_position"]]} for row in rows]


def grant(tx: Any, tenant_id: str, grant_id: str, now: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM dir_grants WHERE tenant_id = ? AND grant_id = ?", (tenant_id, grant_id))
    return None if row is None else grant_dict(row, now)


# ----------------------------------------------------------------------------------------- assignments


def assignments(
    tx: Any,
    tenant_id: str,
    user_id: str | None,
    resource_type: str | None,
    at: str | None,
    after: list[str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Resources assigned now (or at `at`), by resource type and id."""
    where = ["tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if at is None:
        where.append("unassigned_at IS NULL")
    else:
        where.append("assigned_at <= ? AND (unassigned_at IS NULL OR unassigned_at > ?)")
        params += [at, at]
    if user_id is not None:
        where.append("user_id = ?")
        params.append(user_id)
    if resource_type is not None:
        where.append("resource_type = ?")
        params.append(resource_type)
    if after is not None:
        where.append("(resource_type > ? OR (resource_type = ? AND resource_id > ?))")
        params += [after[0], after[0], after[1]]
    params.append(limit + 1)
    rows = tx.all(
        "SELECT resource_type, resource_id, user_id, assigned_at FROM dir_assignments "
        f"WHERE {' AND '.join(where)} ORDER BY resource_type, resource_id LIMIT ?",
        params,
    )
    return [
        {
            "resource_type": row["resource_type"],
            "resource_id": row["resource_id"],
            "user_id": row["user_id"],
            "assigned_at": iso(row["assigned_at"]),
            "_key": [row["resource_type"], row["resource_id"]],
        }
        for row in rows
    ]


def tenant_page(tx: Any, status: str | None, after: int | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The tenants' directory rows, oldest first, after the opening position `after`; and whether more follow."""
    where, params = ("status = ? AND ", [status]) if status is not None else ("", [])
    rows = tx.all(
        f"SELECT * FROM dir_tenants WHERE {where}opened_position > ? ORDER BY opened_position LIMIT ?",
        (*params, after if after is not None else -1, limit + 1),
    )
    return rows[:limit], len(rows) > limit
