"""The directory projection: the tenant's current lists (and their intervals) from its events.

Every handler only writes (no reads, but for moves in a tree: `projections.directory.trees`), so a batch can be
pipelined on PostgreSQL; states that are honoured from an
instant before their event is recorded (invitation and grant expiry, tenant closing) keep that instant in the row
and the queries compare it with `now`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from domain.tenant import events as ev
from domain.tenant.aggregate import midnight
from domain.tenant.events import TenantEvent
from projections.batch import batch_sql, create_tables
from projections.db import Tx
from projections.directory import known
from projections.directory import trees as directory_trees
from projections.directory.schema import SCHEMA, TABLES
from projections.directory.writer import Writer, first_unpaid
from projections.eventstore import Recorded
from projections.values import day, ts


class DirectoryProjection:
    """Tenants, members, role intervals, invitations, tokens, add-ons, charges, grants, assignment intervals,
    custom role definitions, restrictions, reporting lines and resource parents (with their closures)."""

    name = "directory"
    tables = TABLES

    def create(self, tx: Tx, suffix: str = "") -> None:
        create_tables(tx, SCHEMA, suffix)

    def process(self, tx: Tx, batch: Sequence[Recorded], suffix: str = "") -> None:
        moved: dict[str, int] = {}
        with batch_sql(tx, suffix) as sql:
            writer = Writer(sql)
            resources = known.KnownResources()
            for recorded in batch:
                handler = self.HANDLERS.get(type(recorded.event))
                if handler is not None:
                    handler(writer, recorded, recorded.event)
                resources.record(recorded)
                moved[recorded.event.tenant_id] = recorded.position
            resources.flush(sql)
            # The access cache drops only tenants that moved (see projections.queries.access_cache).
            sql.many(
                "UPDATE dir_tenants{s} SET last_position = ? WHERE tenant_id = ?",
                [(position, tenant_id) for tenant_id, position in moved.items()],
            )
        writer.flush(tx, suffix)

    # Keyed by event class: a renamed or removed event fails at import, not silently at run time.
    HANDLERS: dict[type[TenantEvent], Callable[[Writer, Recorded, Any], None]] = {}


def _handles(*events: type[TenantEvent]) -> Callable[[Callable[[Writer, Recorded, Any], None]], Any]:
    def register(handler: Callable[[Writer, Recorded, Any], None]) -> Any:
        for event in events:
            DirectoryProjection.HANDLERS[event] = handler
        return handler

    return register


# ----------------------------------------------------------------------------------------- tenant and subscription


@_handles(ev.TenantOpened)
def _tenant_opened(w: Writer, r: Recorded, e: ev.TenantOpened) -> None:
    plan = e.plan
    w.run(
        "INSERT INTO dir_tenants{s} (tenant_id, aggregate_id, name, owner_id, plan_name, included_seats, "
        "billing_interval, currency, term_start, term_end, term_end_at, min_admins, status, closes_at, "
        "cancel_position, closed_at, closed_position, opened_at, opened_position, last_position) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL, NULL, NULL, NULL, ?, ?, ?)",
        (
            e.tenant_id,
            str(e.originator_id),
            e.name,
            e.user_id,
            plan["name"],
            int(plan["included_seats"]),
            plan["billing_interval"],
            plan["currency"],
            day(e.term_start),
            day(e.term_end),
            ts(midnight(e.term_end)),
            e.min_admins,
            ts(e.occurred_at),
            r.position,
            r.position,
        ),
    )
    owner = {"email": e.owner["email"], "name": e.owner["name"], "role": "owner", "seat_order": 0, "via": "opening"}
    w.add_member(e, r.position, e.user_id, owner)
    w.add_token(e, r.position, e.owner_token_id, e.user_id, "owner", e.owner_token_hash)


@_handles(ev.PolicyChanged)
def _policy(w: Writer, r: Recorded, e: ev.PolicyChanged) -> None:
    w.tenant(e.tenant_id, "min_admins = ?", (e.min_admins,))


@_handles(ev.SubscriptionCancellationScheduled)
def _cancellation(w: Writer, r: Recorded, e: ev.SubscriptionCancellationScheduled) -> None:
    w.tenant(
        e.tenant_id,
        "status = 'cancellation_scheduled', closes_at = ?, cancel_position = ?",
        (ts(e.effective_at), r.position),
    )


@_handles(ev.SubscriptionCancellationWithdrawn)
def _withdrawn(w: Writer, r: Recorded, e: ev.SubscriptionCancellationWithdrawn) -> None:
    w.tenant(e.tenant_id, "status = 'active', closes_at = NULL, cancel_position = NULL", ())


@_handles(ev.TermRenewed)
def _renewed(w: Writer, r: Recorded, e: ev.TermRenewed) -> None:
    w.tenant(
        e.tenant_id,
        "term_start = ?, term_end = ?, term_end_at = ?",
        (day(e.term_start), day(e.term_end), ts(midnight(e.term_end))),
    )


@_handles(ev.SubscriptionEnded)
def _ended(w: Writer, r: Recorded, e: ev.SubscriptionEnded) -> None:
    w.tenant(e.tenant_id, "status = 'closed', closed_at = ?, closed_position = ?", (ts(e.ended_at), r.position))


# ----------------------------------------------------------------------------------------- members and tokens


@_handles(ev.MemberAdded)
def _member_added(w: Writer, r: Recorded, e: ev.MemberAdded) -> None:
    info = {
        "email": e.email,
        "name": e.name,
        "role": e.role,
        "seat_order": e.seat_order,
        "via": e.via,
        "invitation_id": e.invitation_id,
    }
    w.add_member(e, r.position, e.user_id, info)


@_handles(ev.MemberRoleChanged)
def _role_changed(w: Writer, r: Recorded, e: ev.MemberRoleChanged) -> None:
    w.run(
        "UPDATE dir_members{s} SET role = ? WHERE tenant_id = ? AND user_id = ? AND status = 'active'",
        (e.new_role, e.tenant_id, e.user_id),
    )
    w.close_role(e, e.user_id, r.position)
    w.open_role(e, e.user_id, e.new_role, r.position)


@_handles(ev.MemberRemoved)
def _member_removed(w: Writer, r: Recorded, e: ev.MemberRemoved) -> None:
    w.run(
        "UPDATE dir_members{s} SET status = 'removed', removed_at = ?, removed_position = ?, removal_reason = ? "
        "WHERE tenant_id = ? AND user_id = ? AND status = 'active'",
        (ts(e.occurred_at), r.position, e.reason, e.tenant_id, e.user_id),
    )
    w.close_role(e, e.user_id, r.position)
    directory_trees.close_reporting(w, r, e)


@_handles(ev.TokenIssued)
def _token_issued(w: Writer, r: Recorded, e: ev.TokenIssued) -> None:
    w.add_token(e, r.position, e.token_id, e.user_id, e.label, e.token_hash)


@_handles(ev.TokenRevoked)
def _token_revoked(w: Writer, r: Recorded, e: ev.TokenRevoked) -> None:
    w.revoke_token(e)


# ----------------------------------------------------------------------------------------- invitations


@_handles(ev.InvitationSent)
def _invitation_sent(w: Writer, r: Recorded, e: ev.InvitationSent) -> None:
    w.run(
        "INSERT INTO dir_invitations{s} (tenant_id, invitation_id, email, role, status, invited_by, created_at, "
        "expires_at, token_hash, created_position, ended_at, end_reason) "
        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, NULL, NULL)",
        (
            e.tenant_id,
            e.invitation_id,
            e.email,
            e.role,
            e.actor,
            ts(e.occurred_at),
            ts(e.expires_at),
            e.token_hash,
            r.position,
        ),
    )


@_handles(ev.InvitationResent)
def _invitation_resent(w: Writer, r: Recorded, e: ev.InvitationResent) -> None:
    w.invitation(e, "expires_at = ?, token_hash = ?", (ts(e.expires_at), e.token_hash))


@_handles(ev.InvitationAccepted, ev.InvitationDeclined, ev.InvitationRevoked, ev.InvitationExpired)
def _invitation_ended(
    w: Writer,
    r: Recorded,
    e: ev.InvitationAccepted | ev.InvitationDeclined | ev.InvitationRevoked | ev.InvitationExpired,
) -> None:
    status = type(e).STATUS
    w.invitation(
        e,
        "status = ?, ended_at = ?, end_reason = ?",
        (status, ts(e.occurred_at), e.reason if isinstance(e, ev.InvitationRevoked) else None),
    )


# ----------------------------------------------------------------------------------------- add-ons and charges


@_handles(ev.AddOnPurchased)
def _addon_purchased(w: Writer, r: Recorded, e: ev.AddOnPurchased) -> None:
    w.run(
        "INSERT INTO dir_addons{s} (tenant_id, addon_id, kind, seats, monthly_price, currency, status, "
        "purchased_at, purchased_position, ends_at, charged_through) "
        "VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, NULL, ?)",
        (
            e.tenant_id,
            e.addon_id,
            e.kind,
            e.seats,
            e.monthly_price,
            e.currency,
            ts(e.occurred_at),
            r.position,
            first_unpaid(e.period_end, e.occurred_at),
        ),
    )
    w.charge(e, r.position, "prorated", e.prorated_charge)


@_handles(ev.AddOnCharged)
def _addon_charged(w: Writer, r: Recorded, e: ev.AddOnCharged) -> None:
    w.charge(e, r.position, "monthly", e.amount)
    w.addon(e, "charged_through = ?", (first_unpaid(e.period_end, e.occurred_at),))


@_handles(ev.AddOnCancellationScheduled)
def _addon_cancellation(w: Writer, r: Recorded, e: ev.AddOnCancellationScheduled) -> None:
    w.addon(e, "status = 'cancellation_scheduled', ends_at = ?", (ts(e.effective_at),))


@_handles(ev.AddOnCancellationWithdrawn)
def _addon_withdrawn(w: Writer, r: Recorded, e: ev.AddOnCancellationWithdrawn) -> None:
    w.addon(e, "status = 'active', ends_at = NULL", ())


@_handles(ev.AddOnEnded)
def _addon_ended(w: Writer, r: Recorded, e: ev.AddOnEnded) -> None:
    w.addon(e, "status = 'ended', ends_at = ?", (ts(e.occurred_at),))


# ----------------------------------------------------------------------------------------- grants and assignments


@_handles(ev.PermissionGranted)
def _granted(w: Writer, r: Recorded, e: ev.PermissionGranted) -> None:
    resource = e.resource or {}
    w.run(
        "INSERT INTO dir_grants{s} (tenant_id, grant_id, user_id, permission, role, scope, resource_type, "
        "resource_id, starts_at, expires_at, granted_by, granted_at, granted_position, status, ended_at, end_reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL, NULL)",
        (
            e.tenant_id,
            e.grant_id,
            e.user_id,
            e.permission,
            e.role,
            e.scope,
            resource.get("type"),
            resource.get("id"),
            ts(e.starts_at),
            ts(e.expires_at),
            e.actor,
            ts(e.occurred_at),
            r.position,
        ),
    )


@_handles(ev.PermissionRevoked)
def _revoked(w: Writer, r: Recorded, e: ev.PermissionRevoked) -> None:
    w.end_grant(e, "revoked", e.reason)


@_handles(ev.GrantStarted)
def _started(w: Writer, r: Recorded, e: ev.GrantStarted) -> None:
    # R-G3: the sweep stops finding it due; the change feed counts its rows from here (projections.changes).
    w.run(
        "UPDATE dir_grants{s} SET started_position = ? WHERE tenant_id = ? AND grant_id = ?",
        (r.position, e.tenant_id, e.grant_id),
    )


@_handles(ev.GrantExpired)
def _expired(w: Writer, r: Recorded, e: ev.GrantExpired) -> None:
    w.end_grant(e, "expired", None)


@_handles(ev.ResourcesAssigned)
def _assigned(w: Writer, r: Recorded, e: ev.ResourcesAssigned) -> None:
    # Re-assigning a resource to the member who has it changes nothing: their interval goes on.
    moved = [rid for rid in e.resource_ids if e.previous_assignees.get(rid) != e.user_id]
    held = [rid for rid in moved if e.previous_assignees.get(rid) is not None]
    w.close_assignment(e, r.position, e.resource_type, held, "reassigned")
    w.open_assignment(e, r.position, e.resource_type, moved, e.user_id)


@_handles(ev.ResourceUnassigned)
def _unassigned(w: Writer, r: Recorded, e: ev.ResourceUnassigned) -> None:
    w.close_assignment(e, r.position, e.resource_type, [e.resource_id], e.reason)


DirectoryProjection.HANDLERS.update(directory_trees.HANDLERS)
