"""What the permission history must know of custom roles (R-P7) to expand them: each tenant's current catalog, and
who holds a custom role (members by their role, role grants by theirs) so a redefinition reaches every holder.

Two small tables of the history projection, current state only (no intervals: the intervals are the history rows
themselves). Built-in roles never change and include no custom role, so only custom roles have holders here.
A batch loads a tenant's state on first need and then keeps it in memory, writing every change through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from domain.permissions import CATALOG, Role, is_builtin_role, role_includes, role_permissions
from projections.batch import BatchSql

ROLES = "history_roles"
HOLDERS = "history_holders"

SCHEMA = {
    ROLES: (
        "tenant_id TEXT NOT NULL, role_id TEXT NOT NULL, includes TEXT NOT NULL, permissions TEXT NOT NULL",
        "tenant_id, role_id",
        {},
    ),
    # kind `member` (holder_id = user_id) or `grant` (holder_id = grant id, a role grant on `resource`).
    HOLDERS: (
        """tenant_id TEXT NOT NULL, kind TEXT NOT NULL, holder_id TEXT NOT NULL, user_id TEXT NOT NULL,
        role TEXT NOT NULL, resource_type TEXT, resource_id TEXT, expires_at TEXT, starts_at TEXT""",
        "tenant_id, kind, holder_id",
        {"role": ("tenant_id, role", None)},
    ),
}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def definition_role(role_id: str, includes: list[str], permissions: list[dict[str, str]]) -> Role:
    """A `Role` from an event's definition (`permissions` as [{permission, scope}])."""
    pairs = tuple((p["permission"], p["scope"]) for p in permissions)
    return Role(role_id, role_id, False, tuple(includes), pairs)


def resource_typed(held: dict[str, str]) -> dict[str, str]:
    """What a role grant gives (R-P9): the role's resource-typed permissions, each on the granted resource."""
    return {permission: "resource" for permission in held if CATALOG.get(permission)}


@dataclass
class Holder:
    """A member holding a custom role, or a role grant of one."""

    kind: str
    holder_id: str
    user_id: str
    role: str
    resource: dict[str, str] | None = None
    expires_at: str | None = None
    starts_at: str | None = None  # a scheduled role grant (R-G3) gives nothing before it


@dataclass
class TenantRoles:
    """One tenant's custom roles and their holders, as the batch has reached them."""

    roles: dict[str, Role] = field(default_factory=dict)
    holders: dict[tuple[str, str], Holder] | None = None  # loaded on a redefinition only

    def gives(self, role_id: str, roles: dict[str, Role] | None = None) -> dict[str, str]:
        """Permission → scope a role gives under this catalog (or `roles`)."""
        return role_permissions(role_id, self.roles if roles is None else roles)


class RoleState:
    """The batch's view of the `history_roles` / `history_holders` tables."""

    def __init__(self, sql: BatchSql) -> None:
        self.sql = sql
        self.tenants: dict[str, TenantRoles] = {}

    def tenant(self, tenant_id: str) -> TenantRoles:
        state = self.tenants.get(tenant_id)
        if state is None:
            state = self.tenants[tenant_id] = TenantRoles()
            for row in self.sql.all(f"SELECT * FROM {ROLES}{{s}} WHERE tenant_id = ?", (tenant_id,)):
                state.roles[row["role_id"]] = definition_role(
                    row["role_id"], json.loads(row["includes"]), json.loads(row["permissions"])
                )
        return state

    def gives(self, tenant_id: str, role_id: str) -> dict[str, str]:
        """What a role gives in the tenant now; built-in roles need no read."""
        if is_builtin_role(role_id):
            return role_permissions(role_id)
        return self.tenant(tenant_id).gives(role_id)

    def holders(self, tenant_id: str) -> dict[tuple[str, str], Holder]:
        state = self.tenant(tenant_id)
        if state.holders is None:
            state.holders = {}
            for row in self.sql.all(f"SELECT * FROM {HOLDERS}{{s}} WHERE tenant_id = ?", (tenant_id,)):
                resource = None
                if row["resource_type"] is not None:
                    resource = {"type": row["resource_type"], "id": row["resource_id"]}
                holder = Holder(
                    row["kind"],
                    row["holder_id"],
                    row["user_id"],
                    row["role"],
                    resource,
                    row["expires_at"],
                    row["starts_at"],
                )
                state.holders[(holder.kind, holder.holder_id)] = holder
        return state.holders

    # ------------------------------------------------------------------------------ changes, written through

    def define(self, tenant_id: str, role_id: str, includes: list[str], permissions: list[dict[str, str]]) -> None:
        self.tenant(tenant_id).roles[role_id] = definition_role(role_id, includes, permissions)
        self.sql.run(f"DELETE FROM {ROLES}{{s}} WHERE tenant_id = ? AND role_id = ?", (tenant_id, role_id))
        self.sql.run(
            f"INSERT INTO {ROLES}{{s}} (tenant_id, role_id, includes, permissions) VALUES (?, ?, ?, ?)",
            (tenant_id, role_id, _dumps(list(includes)), _dumps([dict(p) for p in permissions])),
        )

    def delete(self, tenant_id: str, role_id: str) -> None:
        self.tenant(tenant_id).roles.pop(role_id, None)
        self.sql.run(f"DELETE FROM {ROLES}{{s}} WHERE tenant_id = ? AND role_id = ?", (tenant_id, role_id))

    def hold(self, tenant_id: str, holder: Holder) -> None:
        """`holder` holds a custom role from now on (release what it held first); built-in roles are not kept."""
        if is_builtin_role(holder.role):
            return
        state = self.tenants.get(tenant_id)
        if state is not None and state.holders is not None:
            state.holders[(holder.kind, holder.holder_id)] = holder
        resource = holder.resource or {}
        self.sql.run(
            f"INSERT INTO {HOLDERS}{{s}} (tenant_id, kind, holder_id, user_id, role, resource_type, resource_id, "
            "expires_at, starts_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                holder.kind,
                holder.holder_id,
                holder.user_id,
                holder.role,
                resource.get("type"),
                resource.get("id"),
                holder.expires_at,
                holder.starts_at,
            ),
        )

    def release(self, tenant_id: str, kind: str, holder_id: str) -> None:
        state = self.tenants.get(tenant_id)
        if state is not None and state.holders is not None:
            state.holders.pop((kind, holder_id), None)
        self.sql.run(
            f"DELETE FROM {HOLDERS}{{s}} WHERE tenant_id = ? AND kind = ? AND holder_id = ?",
            (tenant_id, kind, holder_id),
        )

    def redefine(
        self, tenant_id: str, role_id: str, includes: list[str], permissions: list[dict[str, str]]
    ) -> list[tuple[Holder, dict[str, str], dict[str, str]]]:
        """Apply a new definition; (holder, what it gave before, what it gives now) for every holder it reaches:
        holders of the role itself and of every role that includes it."""
        state = self.tenant(tenant_id)
        before = dict(state.roles)
        self.define(tenant_id, role_id, includes, permissions)
        after = state.roles
        reached = {r for r in after if role_id in role_includes(r, after)}
        out = []
        for holder in sorted(self.holders(tenant_id).values(), key=lambda h: (h.kind, h.holder_id)):
            if holder.role not in reached:
                continue
            old, new = state.gives(holder.role, before), state.gives(holder.role, after)
            if holder.kind == "grant":
                old, new = resource_typed(old), resource_typed(new)
            out.append((holder, old, new))
        return out
