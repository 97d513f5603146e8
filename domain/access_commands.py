"""The application service's commands on grants, assignments, roles, restrictions, hierarchies and erasure.

A mixin of `domain.application.AccessLedger`, like the aggregate's own mixins: each method is one use case that
runs one aggregate command through `AccessLedger._run` (load, due changes, R-P10, save, retry).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.actors import Actor, CommandResult
from domain.erasure import erase


class AccessCommands:
    """R-G1…R-G3, R-A1, R-P7…R-P9, R-H1, R-H2 and R-L6 as application commands."""

    # Provided by AccessLedger: load, apply due changes, run the aggregate command, judge R-P10, save, retry.
    _run: Callable[..., CommandResult]

    # ----------------------------------------------------------------- grants and assignments

    def grant(
        self,
        tenant_id: str,
        actor: Actor,
        *,
        user_id: str,
        permission: str | None = None,
        role: str | None = None,
        scope: str,
        resource: dict[str, str] | None = None,
        expires_at: datetime | None = None,
        starts_at: datetime | None = None,
    ) -> CommandResult:
        """R-G1 (a permission at a scope) or R-P9 (a role on one resource); R-G3 from `starts_at`."""
        return self._run(
            tenant_id,
            actor,
            lambda t: t.grant(
                user_id=user_id,
                permission=permission,
                role=role,
                scope=scope,
                resource=resource,
                expires_at=expires_at,
                starts_at=starts_at,
            ),
            key="grant_id",
        )

    def revoke_grant(self, tenant_id: str, actor: Actor, grant_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.revoke_grant(grant_id))

    def assign(
        self, tenant_id: str, actor: Actor, *, resource_type: str, resource_ids: list[str], user_id: str
    ) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.assign(resource_type, resource_ids, user_id), key="assigned")

    def unassign(self, tenant_id: str, actor: Actor, resource_type: str, resource_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.unassign(resource_type, resource_id))

    # ----------------------------------------------------------------- roles, restrictions, hierarchies

    def define_role(
        self,
        tenant_id: str,
        actor: Actor,
        *,
        role_id: str,
        name: str,
        includes: list[str],
        permissions: list[dict[str, str]],
    ) -> CommandResult:
        """R-P7: a custom role."""
        return self._run(
            tenant_id,
            actor,
            lambda t: t.define_role(role_id=role_id, name=name, includes=includes, permissions=permissions),
            key="role_id",
        )

    def redefine_role(
        self,
        tenant_id: str,
        actor: Actor,
        role_id: str,
        *,
        name: str,
        includes: list[str],
        permissions: list[dict[str, str]],
    ) -> CommandResult:
        return self._run(
            tenant_id, actor, lambda t: t.redefine_role(role_id, name=name, includes=includes, permissions=permissions)
        )

    def delete_role(self, tenant_id: str, actor: Actor, role_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.delete_role(role_id))

    def restrict(
        self,
        tenant_id: str,
        actor: Actor,
        *,
        user_id: str,
        permission: str,
        scope: str | None = None,
        resource: dict[str, str] | None = None,
    ) -> CommandResult:
        """R-P8: withdraw one permission (and what implies it) from one member."""
        return self._run(
            tenant_id,
            actor,
            lambda t: t.restrict(user_id=user_id, permission=permission, scope=scope or "all", resource=resource),
            key="restriction_id",
        )

    def lift_restriction(self, tenant_id: str, actor: Actor, restriction_id: str) -> CommandResult:
        return self._run(tenant_id, actor, lambda t: t.lift_restriction(restriction_id))

    def set_manager(self, tenant_id: str, actor: Actor, user_id: str, reports_to: str | None) -> CommandResult:
        """R-H1: who a member reports to (None: the owner)."""
        return self._run(tenant_id, actor, lambda t: t.set_manager(user_id, reports_to))

    def set_resource_parent(
        self, tenant_id: str, actor: Actor, resource_type: str, resource_id: str, parent: dict[str, str] | None
    ) -> CommandResult:
        """R-H2: a resource's parent (None: none)."""
        return self._run(tenant_id, actor, lambda t: t.set_resource_parent(resource_type, resource_id, parent))

    # ----------------------------------------------------------------- erasure (R-L6)

    def erase_person(
        self, tenant_id: str, actor: Actor, *, user_id: str | None = None, email: str | None = None
    ) -> CommandResult:
        """Record `PersonErased` (only for someone no longer active), then destroy the person's keys."""
        return erase(self, tenant_id, actor, user_id=user_id, email=email)
