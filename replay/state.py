"""A tenant as it was at an instant or a global position (R-R2), folded from its own events.

The audit trail maps instants and global positions to the tenant's sequence numbers; the event store then rebuilds
the aggregate at that version (snapshots keep it cheap), and changes that were already due at the instant are
applied in memory, never saved, so the answer matches an as-of check (R-C3).

Instants are compared on the trail's `occurred_us` (microseconds since the epoch), not on its `occurred_at` text:
`…T00:00:00Z` and `…T00:00:00.5Z` do not sort as the instants do, and neither do texts in other zones.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from typing import Any

from domain.application import project_tenant
from domain.due import apply_due_changes
from domain.errors import DomainError, not_found
from domain.tenant.aggregate import Tenant, tenant_uuid
from domain.tenant.metadata import SYSTEM, EventContext, to_json_value
from projections.audit.projection import TABLE, instant_text, micros
from projections.db import ReadStore


def sequence_at(store: ReadStore, tenant_id: str, at: datetime | None = None, position: int | None = None) -> int:
    """The tenant's last sequence number at or before `at` / global `position` (0 if none yet)."""
    where, params = "tenant_id = ?", [tenant_id]
    if at is not None:
        where += " AND occurred_us <= ?"
        params.append(micros(at))
    if position is not None:
        where += " AND position <= ?"
        params.append(position)
    with store.reader() as tx:
        if tx.one(f"SELECT 1 AS found FROM {TABLE} WHERE tenant_id = ? LIMIT 1", (tenant_id,)) is None:
            raise not_found("tenant", tenant_id)
        return tx.scalar(f"SELECT MAX(sequence) AS last FROM {TABLE} WHERE {where}", params) or 0


def position_of(store: ReadStore, tenant_id: str, sequence: int) -> int | None:
    """The global position of the tenant's event `sequence`."""
    with store.reader() as tx:
        return tx.scalar(f"SELECT position FROM {TABLE} WHERE tenant_id = ? AND sequence = ?", (tenant_id, sequence))


def tenant_at(
    app: Any, store: ReadStore, tenant_id: str, at: datetime | None = None, position: int | None = None
) -> Tenant:
    """The aggregate as it was; `not_found` if the tenant did not exist yet then."""
    return _fold(app, tenant_id, sequence_at(store, tenant_id, at, position), at, position)


def _fold(app: Any, tenant_id: str, sequence: int, at: datetime | None, position: int | None) -> Tenant:
    if sequence == 0:
        moment = f"at {instant_text(at)}" if at is not None else f"at position {position}"
        raise DomainError("not_found", f"tenant {tenant_id!r} did not exist yet {moment}")
    tenant = app.repository.get(tenant_uuid(tenant_id), version=sequence, projector_func=project_tenant)
    if at is not None:
        apply_due_changes(tenant, at, EventContext(actor=SYSTEM, occurred_at=at))
    return tenant


def natural_key(text: str) -> list[Any]:
    """Sort `L-9` before `L-10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _custom_roles(tenant: Tenant) -> list[dict[str, Any]]:
    """Custom roles (R-P7), in id order."""
    return [{"role_id": role_id, **asdict(role)} for role_id, role in sorted(tenant.custom_roles.items())]


def describe(tenant: Tenant, as_of: datetime | None, sequence: int, position: int | None) -> dict[str, Any]:
    """What `replay state` prints: members, roles, seats, add-ons, grants, assignments."""
    members = sorted(tenant.members.values(), key=lambda m: m.seat_order)
    assignments: dict[str, list[str]] = {}
    for key, user_id in tenant.assignments.items():
        assignments.setdefault(user_id, []).append(key)
    capacity, used = tenant.capacity, tenant.used
    return to_json_value(
        {
            "tenant_id": tenant.tenant_id,
            "name": tenant.name,
            "status": tenant.status,
            "as_of": as_of,
            "sequence": sequence,
            "position": position,
            "plan": tenant.plan,
            "term_start": tenant.term_start,
            "term_end": tenant.term_end,
            "cancellation_effective_at": tenant.cancellation_effective_at,
            "min_admins": tenant.min_admins,
            "seats": {
                "capacity": capacity,
                "used": used,
                "members": len(tenant.members) - 1,
                "pending_invitations": len(tenant.pending_invitations),
                "free": capacity - used,
            },
            "members": [
                {
                    "user_id": m.user_id,
                    "email": m.email,
                    "name": m.name,
                    "role": m.role,
                    "seat_order": m.seat_order,
                    "reports_to": m.reports_to,
                    "joined_at": m.joined_at,
                }
                for m in members
            ],
            "roles": _custom_roles(tenant),
            "invitations": [
                {
                    "invitation_id": i.invitation_id,
                    "email": i.email,
                    "role": i.role,
                    "invited_by": i.invited_by,
                    "created_at": i.created_at,
                    "expires_at": i.expires_at,
                }
                for i in tenant.pending_invitations
            ],
            "addons": [
                {
                    "addon_id": a.addon_id,
                    "kind": a.kind,
                    "seats": a.seats,
                    "monthly_price": a.monthly_price,
                    "currency": a.currency,
                    "status": a.status,
                    "purchased_at": a.purchased_at,
                    "ends_at": a.ends_at,
                }
                for a in tenant.addons.values()
            ],
            "grants": [
                {
                    "grant_id": g.grant_id,
                    "user_id": g.user_id,
                    "permission": g.permission,
                    "role": g.role,
                    "scope": g.scope,
                    "resource": f"{g.resource_type}:{g.resource_id}" if g.resource_type else None,
                    "expires_at": g.expires_at,
                    "granted_by": g.granted_by,
                    "granted_at": g.granted_at,
                }
                for g in sorted(tenant.grants.values(), key=lambda g: natural_key(g.grant_id))
            ],
            "assignments": {user_id: sorted(keys, key=natural_key) for user_id, keys in sorted(assignments.items())},
        }
    )


def state(
    app: Any, store: ReadStore, tenant_id: str, at: datetime | None = None, position: int | None = None
) -> dict[str, Any]:
    """The tenant at an instant (due changes included) or right after a global position."""
    if at is not None and position is not None:
        raise DomainError("validation_error", "give an instant or a position, not both")
    sequence = sequence_at(store, tenant_id, at, position)
    tenant = _fold(app, tenant_id, sequence, at, position)
    return describe(tenant, at, sequence, position_of(store, tenant_id, sequence))
