"""Roles, restrictions, reporting lines and resource trees as the read side answers them today.

The events that define custom roles (R-P7), restrictions (R-P8), reporting lines (R-H1) and resource parents (R-H2)
come with issue 6; until then the answers below are exact for every history that can be recorded: the built-in
roles only, no restriction, everyone reporting to the owner, no resource with a parent. Issue 6 replaces each
method with a projection-backed one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.errors import not_found
from domain.permissions import BUILTIN_ROLES, OWNER, Role


def role_dict(role: Role) -> dict[str, Any]:
    """API.md's `Role`."""
    return {
        "role_id": role.role_id,
        "name": role.name,
        "builtin": role.builtin,
        "includes": list(role.includes),
        "permissions": [{"permission": p, "scope": s} for p, s in role.permissions],
    }


class CatalogQueries:
    """Mixed into `Queries`; relies on its `tenant`, `member` and `members`."""

    def roles(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every role of the tenant: the built-in ones (R-P2)."""
        self._require_tenant(tenant_id)  # type: ignore[attr-defined]
        return [role_dict(role) for role in BUILTIN_ROLES.values()]

    def role(self, tenant_id: str, role_id: str) -> dict[str, Any] | None:
        self._require_tenant(tenant_id)  # type: ignore[attr-defined]
        role = BUILTIN_ROLES.get(role_id)
        return None if role is None else role_dict(role)

    def restrictions(
        self,
        tenant_id: str,
        user_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        self._require_tenant(tenant_id)  # type: ignore[attr-defined]
        return [], None

    def restriction(self, tenant_id: str, restriction_id: str) -> dict[str, Any] | None:
        self._require_tenant(tenant_id)  # type: ignore[attr-defined]
        return None

    def team(
        self,
        tenant_id: str,
        user_id: str,
        as_of: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The members below `user_id`, transitively (R-H1): with no reporting line recorded, everyone but the
        owner is below the owner, and nobody below anyone else."""
        member = self.member(tenant_id, user_id)  # type: ignore[attr-defined]
        if member is None:
            raise not_found("member", user_id)
        if member["role"] != OWNER:
            return [], None
        items, next_cursor = self.members(  # type: ignore[attr-defined]
            tenant_id, status="active", as_of=as_of, cursor=cursor, limit=limit, now=now
        )
        return [m for m in items if m["user_id"] != user_id], next_cursor

    def resource(
        self, tenant_id: str, resource_type: str, resource_id: str, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """A resource with its parent and ancestors (R-H2); one never named has none."""
        self._require_tenant(tenant_id)  # type: ignore[attr-defined]
        return {"type": resource_type, "id": resource_id, "parent": None, "ancestors": []}
