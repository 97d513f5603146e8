"""A changed catalog of custom roles for what-if and assertions (R-R3, R-R4): roles added, redefined or removed.

Built-in roles stay as they are. The change is laid over the tenant's own custom roles at every instant of its
history: a role the change defines replaces the recorded definition (or adds a role nobody defined), a removed
role gives nothing to anyone who holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import validation
from domain.permissions import CATALOG, NEVER_GRANTABLE, OWNER, SCOPES, Role, is_builtin_role, role_includes


@dataclass(frozen=True)
class CatalogChange:
    """Custom roles to lay over the recorded ones, and role ids to take away."""

    roles: Mapping[str, Role] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()

    @property
    def touched(self) -> frozenset[str]:
        """Every role id whose meaning this change may alter."""
        return frozenset(self.roles) | self.removed

    def apply(self, recorded: Mapping[str, Role]) -> dict[str, Role]:
        """The catalog of custom roles under this change, given the recorded one."""
        catalog = {role_id: role for role_id, role in recorded.items() if role_id not in self.removed}
        catalog.update(self.roles)
        return catalog

    def is_empty(self) -> bool:
        return not self.roles and not self.removed


def _role(index: int, definition: Mapping[str, Any]) -> Role:
    where = ("body", "roles", index)
    role_id = definition.get("role_id")
    if not isinstance(role_id, str) or is_builtin_role(role_id):
        raise validation(f"role {role_id!r} is built in; built-in roles stay as they are", (*where, "role_id"))
    includes = list(definition.get("includes") or [])
    if OWNER in includes:
        raise validation("no role may include the owner role", (*where, "includes"))
    pairs = []
    for entry in definition.get("permissions") or []:
        permission, scope = entry.get("permission"), entry.get("scope", "all")
        if permission not in CATALOG:
            raise validation(f"unknown permission {permission!r}", (*where, "permissions"))
        if permission in NEVER_GRANTABLE:
            raise validation(f"{permission} is never given", (*where, "permissions"))
        if scope not in SCOPES or scope == "resource":
            detail = f"a role gives permissions at all, team or assigned, not {scope!r}"
            raise validation(detail, (*where, "permissions"))
        if CATALOG[permission] is None and scope != "all":
            raise validation(f"{permission} applies to no resource: its scope is all", (*where, "permissions"))
        pairs.append((permission, scope))
    return Role(role_id, str(definition.get("name") or role_id), False, tuple(includes), tuple(pairs))


def catalog_change(
    roles: Iterable[Mapping[str, Any]], removed_roles: Iterable[str] = (), known: Iterable[str] = ()
) -> CatalogChange:
    """Validate a changed catalog (422 `validation_error` naming the field). `known`: the custom role ids the
    tenant ever defined, which the change may include or remove besides its own."""
    defined: dict[str, Role] = {}
    for index, definition in enumerate(roles):
        role = _role(index, definition)
        if role.role_id in defined:
            raise validation(f"role {role.role_id!r} is given twice", ("body", "roles", index, "role_id"))
        defined[role.role_id] = role
    removed = frozenset(removed_roles)
    known_ids = frozenset(known)
    for role_id in sorted(removed):
        if is_builtin_role(role_id):
            raise validation(f"{role_id} is built in; built-in roles cannot be removed", ("body", "removed_roles"))
        if role_id in defined:
            raise validation(f"role {role_id!r} is both redefined and removed", ("body", "removed_roles"))
        if role_id not in known_ids:
            raise validation(f"the tenant never defined a role {role_id!r}", ("body", "removed_roles"))
    available = (known_ids | frozenset(defined)) - removed
    for index, role in enumerate(defined.values()):
        for included in role.includes:
            if not is_builtin_role(included) and included not in available:
                raise validation(f"unknown role {included!r} in includes", ("body", "roles", index, "includes"))
        if any(role.role_id in role_includes(included, defined) for included in role.includes):
            raise validation(f"role {role.role_id!r} would include itself", ("body", "roles", index, "includes"))
    return CatalogChange(defined, removed)
