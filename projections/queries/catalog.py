"""Roles (R-P2, R-P7), restrictions (R-P8), teams (R-H1) and resources (R-H2) from the directory's tables.

Built-in roles come from `domain.permissions`; custom roles from their definition intervals (`dir_role_defs`), so a
role can be answered now or as it was defined at any instant. Teams and ancestors come from the closures the
directory keeps (`dir_reporting`, `dir_parents`), now or as of an instant.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.clock import utc_now
from domain.errors import not_found
from domain.permissions import BUILTIN_ROLES, Role
from projections.queries import directory as qd
from projections.queries.access import lineage_at, tenant_row
from projections.values import as_of_arg, decode_cursor, encode_cursor, instant_arg, iso, limit_arg, paged, ts

RESTRICTION_STATUSES = ("active", "lifted")


def role_dict(role: Role) -> dict[str, Any]:
    """API.md's `Role`."""
    return {
        "role_id": role.role_id,
        "name": role.name,
        "builtin": role.builtin,
        "includes": list(role.includes),
        "permissions": [{"permission": p, "scope": s} for p, s in role.permissions],
    }


def _custom_role(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "role_id": row["role_id"],
        "name": row["name"],
        "builtin": False,
        "includes": json.loads(row["includes"]),
        "permissions": json.loads(row["permissions"]),
    }


def _definitions_at(at: str | None) -> tuple[str, list[Any]]:
    """The condition selecting each custom role's definition now (open rows) or at `at`."""
    if at is None:
        return "valid_to IS NULL", []
    return "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)", [at, at]


def restriction_dict(row: dict[str, Any]) -> dict[str, Any]:
    """API.md's `Restriction`."""
    resource = None
    if row["resource_type"] is not None:
        resource = {"type": row["resource_type"], "id": row["resource_id"]}
    return {
        "restriction_id": row["restriction_id"],
        "user_id": row["user_id"],
        "permission": row["permission"],
        "scope": row["scope"],
        "resource": resource,
        "created_by": row["created_by"],
        "created_at": iso(row["created_at"]),
        "status": row["status"],
    }


def _reporting_rows(tx: Any, tenant_id: str, at: str | None) -> list[dict[str, Any]]:
    if at is None:
        return tx.all(
            "SELECT user_id, managers FROM dir_reporting WHERE tenant_id = ? AND valid_to IS NULL", (tenant_id,)
        )
    return tx.all(
        "SELECT user_id, managers FROM dir_reporting WHERE tenant_id = ? AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?)",
        (tenant_id, at, at),
    )


class CatalogQueries:
    """Mixed into `Queries` (relies on its `store`, `members` and `_require_tenant`)."""

    # ------------------------------------------------------------------------------------- roles (R-P2, R-P7)

    def roles(self, tenant_id: str, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """Every role of the tenant: the built-in ones, then the custom ones by id (as defined at `as_of`)."""
        where, params = _definitions_at(ts(instant_arg(as_of, "as_of")))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            rows = tx.all(
                f"SELECT * FROM dir_role_defs WHERE tenant_id = ? AND {where} ORDER BY role_id", (tenant_id, *params)
            )
        return [role_dict(role) for role in BUILTIN_ROLES.values()] + [_custom_role(row) for row in rows]

    def role(self, tenant_id: str, role_id: str, as_of: datetime | None = None) -> dict[str, Any] | None:
        """A built-in role, or a custom one as defined now (or at `as_of`); None if there is none."""
        where, params = _definitions_at(ts(instant_arg(as_of, "as_of")))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            if role_id in BUILTIN_ROLES:
                return role_dict(BUILTIN_ROLES[role_id])
            row = tx.one(
                f"SELECT * FROM dir_role_defs WHERE tenant_id = ? AND role_id = ? AND {where}",
                (tenant_id, role_id, *params),
            )
        return None if row is None else _custom_role(row)

    # ------------------------------------------------------------------------------------- restrictions (R-P8)

    def restrictions(
        self,
        tenant_id: str,
        user_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Restrictions in the order they were added, optionally of one member or by status."""
        status = qd.choice(status, RESTRICTION_STATUSES, "status")
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (int,))
        where, params = ["tenant_id = ?"], [tenant_id]
        for column, value in (("user_id", user_id), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if key is not None:
            where.append("created_position > ?")
            params.append(key[0])
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            rows = tx.all(
                f"SELECT * FROM dir_restrictions WHERE {' AND '.join(where)} ORDER BY created_position LIMIT ?",
                (*params, limit + 1),
            )
        items = [restriction_dict(row) for row in rows[:limit]]
        next_cursor = encode_cursor([rows[limit - 1]["created_position"]]) if len(rows) > limit else None
        return items, next_cursor

    def restriction(self, tenant_id: str, restriction_id: str) -> dict[str, Any] | None:
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            row = tx.one(
                "SELECT * FROM dir_restrictions WHERE tenant_id = ? AND restriction_id = ?", (tenant_id, restriction_id)
            )
        return None if row is None else restriction_dict(row)

    # ------------------------------------------------------------------------------------- teams (R-H1)

    def team(
        self,
        tenant_id: str,
        user_id: str,
        as_of: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The members below `user_id`, transitively, in seat order, now or as of an instant (R-H1, R-C3): the
        owner's team is everyone; anyone else's, those whose chain of managers names them."""
        at = ts(as_of_arg(as_of, instant_arg(now, "now") or utc_now()))
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (int,))
        after = key[0] if key else None
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant = tenant_row(tx, tenant_id)
            if qd.member(tx, tenant_id, user_id) is None:
                raise not_found("member", user_id)
            everyone = qd.members(tx, tenant_id, None, "active", at, None, 10**9)
            if user_id == tenant["owner_id"]:
                below = {m["user_id"] for m in everyone} - {user_id}
            else:
                below = {
                    row["user_id"]
                    for row in _reporting_rows(tx, tenant_id, at)
                    if user_id in json.loads(row["managers"])
                }
        rows = [m for m in everyone if m["user_id"] in below and (after is None or m["_key"][0] > after)]
        return paged(rows, limit)

    # ------------------------------------------------------------------------------------- resources (R-H2)

    def resource(
        self,
        tenant_id: str,
        resource_type: str,
        resource_id: str,
        as_of: datetime | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """A resource with its parent and ancestors (nearest first), now or as of an instant; one never named
        has none."""
        at = ts(as_of_arg(as_of, instant_arg(now, "now") or utc_now()))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            if at is None:
                row = tx.one(
                    "SELECT parent_type, parent_id, ancestors FROM dir_parents WHERE tenant_id = ? "
                    "AND resource_type = ? AND resource_id = ? AND valid_to IS NULL",
                    (tenant_id, resource_type, resource_id),
                )
            else:
                row = lineage_at(tx, tenant_id, (resource_type, resource_id), at)
        if row is None:
            return {"type": resource_type, "id": resource_id, "parent": None, "ancestors": []}
        return {
            "type": resource_type,
            "id": resource_id,
            "parent": {"type": row["parent_type"], "id": row["parent_id"]},
            "ancestors": json.loads(row["ancestors"]),
        }
