"""Effective-dated changes (R-K1): expiries, grant starts, add-on and subscription ends, term renewals, monthly charges.

They are applied, in time order, before any command on a tenant and by the sweep; each event is stamped with
the instant it took effect and actor `system`, so no later event of the tenant can precede it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain import billing
from domain.tenant import events as ev
from domain.tenant.aggregate import Tenant, midnight
from domain.tenant.metadata import EventContext, acting

SEAT_CAPACITY_REDUCED = "seat_capacity_reduced"


def next_due_instant(tenant: Tenant, now: datetime) -> datetime | None:
    """The earliest instant ≤ now at which something is due, or None."""
    if tenant.closed:
        return None
    candidates = [i.expires_at for i in tenant.pending_invitations]
    candidates += [g.expires_at for g in tenant.grants.values() if g.expires_at is not None]
    candidates += [g.starts_at for g in tenant.grants.values() if g.starts_at is not None]
    candidates.append(midnight(tenant.term_end))
    candidates += [a.charged_through for a in tenant.addons.values() if a.status != "ended"]
    due = [instant for instant in candidates if instant <= now]
    return min(due) if due else None


def apply_due_changes(tenant: Tenant, now: datetime, context: EventContext) -> int:
    """Apply everything due up to `now`, in time order; returns how many instants were processed."""
    processed = 0
    while (instant := next_due_instant(tenant, now)) is not None:
        with acting(context.as_system(instant)):
            _apply_at(tenant, instant, context)
        processed += 1
    return processed


def _apply_at(tenant: Tenant, instant: datetime, context: EventContext) -> None:
    # Order at one instant (R-K1): expiries, grant starts (R-G3), ends, renewal, charges.
    for invitation in sorted(tenant.pending_invitations, key=lambda i: (i.created_at, i.invitation_id)):
        if invitation.expires_at == instant:
            tenant.trigger(ev.InvitationExpired, invitation_id=invitation.invitation_id, email=invitation.email)
    for grant in sorted(tenant.grants.values(), key=lambda g: g.grant_id):
        if grant.expires_at == instant:
            tenant.trigger(ev.GrantExpired, grant_id=grant.grant_id, user_id=grant.user_id)
    for grant in sorted(tenant.grants.values(), key=lambda g: g.grant_id):
        if grant.starts_at == instant:
            tenant.trigger(ev.GrantStarted, grant_id=grant.grant_id, user_id=grant.user_id)
    if midnight(tenant.term_end) == instant:
        if tenant.status == "cancellation_scheduled":
            # A closing tenant removes nobody (R-T5): its add-ons simply end with it.
            for addon in _live_addons(tenant):
                tenant.trigger(ev.AddOnEnded, addon_id=addon.addon_id, seats=addon.seats)
            tenant.trigger(ev.SubscriptionEnded, ended_at=instant)
            return
        ending = [a for a in _live_addons(tenant) if a.status == "cancellation_scheduled"]
        for addon in ending:
            tenant.trigger(ev.AddOnEnded, addon_id=addon.addon_id, seats=addon.seats)
        if ending:
            with acting(context.as_system(instant, SEAT_CAPACITY_REDUCED)):
                enforce_capacity(tenant)
        start = tenant.term_end
        end = billing.next_term_end(start, tenant.plan["billing_interval"], tenant.term_anchor_day)
        tenant.trigger(ev.TermRenewed, term_start=start, term_end=end)
    for addon in _live_addons(tenant):
        if addon.charged_through == instant:
            start, end = billing.month_period(instant.date())
            tenant.trigger(
                ev.AddOnCharged,
                addon_id=addon.addon_id,
                charge_id=f"chg_{addon.addon_id}_{start:%Y%m}",
                amount=addon.monthly_price,
                currency=addon.currency,
                period_start=start,
                period_end=end,
            )


def _live_addons(tenant: Tenant) -> list[Any]:
    return sorted((a for a in tenant.addons.values() if a.status != "ended"), key=lambda a: a.purchased_at)


def removal_order(tenant: Tenant, capacity: int, at: datetime | None = None) -> list[tuple[str, str]]:
    """Who R-S4 removes to fit `capacity`: pending invitations newest first, then members by highest seat order.

    With `at`, invitations that will have expired by then are not counted (R-S5 preview).
    """
    invitations = [i for i in tenant.pending_invitations if at is None or i.expires_at > at]
    invitations.sort(key=lambda i: (i.created_at, i.invitation_id), reverse=True)
    members = sorted(
        (m for m in tenant.members.values() if m.user_id != tenant.owner_id),
        key=lambda m: m.seat_order,
        reverse=True,
    )
    excess = len(members) + len(invitations) - capacity
    order: list[tuple[str, str]] = []
    for invitation in invitations:
        if len(order) >= excess:
            return order
        order.append(("invitation", invitation.invitation_id))
    for member in members:
        if len(order) >= excess:
            break
        order.append(("member", member.user_id))
    return order


def enforce_capacity(tenant: Tenant) -> None:
    """R-S4: revoke and remove until used ≤ capacity, each with reason `seat_capacity_reduced`."""
    for kind, ident in removal_order(tenant, tenant.capacity):
        if kind == "invitation":
            invitation = tenant.invitations[ident]
            tenant.trigger(
                ev.InvitationRevoked,
                invitation_id=ident,
                email=invitation.email,
                reason=SEAT_CAPACITY_REDUCED,
            )
        else:
            tenant.evict(ident, SEAT_CAPACITY_REDUCED)


def scheduled_removals(tenant: Tenant) -> list[dict[str, Any]]:
    """R-S5: what the scheduled add-on cancellations will remove at term end, if nothing changes before."""
    if tenant.closed or tenant.status == "cancellation_scheduled":
        return []
    ending = [a for a in tenant.addons.values() if a.status == "cancellation_scheduled"]
    if not ending:
        return []
    effective_at = midnight(tenant.term_end)
    capacity = tenant.capacity - sum(a.seats for a in ending)
    return [
        {"kind": kind, "id": ident, "effective_at": effective_at}
        for kind, ident in removal_order(tenant, capacity, at=effective_at)
    ]


def utc(instant: datetime) -> datetime:
    """`instant` in UTC (naive instants are rejected upstream)."""
    return instant.astimezone(UTC)
