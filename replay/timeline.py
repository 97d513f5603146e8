"""A tenant's history as one readable line per event (R-R2): when, sequence, what, who, and a summary.

Entries come from the audit trail (Queries.audit), page by page, so a long history streams in constant memory.
`user` selects the events the user caused (actor) or that concern them (subject): two filtered walks merged by
sequence.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

PAGE = 1000


def _walk(queries: Any, tenant_id: str, **filters: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        items, cursor = queries.audit(tenant_id, cursor=cursor, limit=PAGE, **filters)
        yield from items
        if cursor is None:
            return


def entries(
    queries: Any,
    tenant_id: str,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Audit entries in sequence order (`since` inclusive, `until` exclusive), optionally for one user."""
    window = {"since": since, "until": until}
    if user is None:
        yield from _walk(queries, tenant_id, **window)
        return
    merged = heapq.merge(
        _walk(queries, tenant_id, actor=user, **window),
        _walk(queries, tenant_id, subject=user, **window),
        key=lambda entry: entry["sequence"],
    )
    last = None
    for entry in merged:
        if entry["sequence"] != last:
            last = entry["sequence"]
            yield entry


def resource_text(resource: Any) -> str | None:
    """`TYPE:ID` for a resource given as {type, id}, a (type, id) pair or already as text."""
    if resource is None:
        return None
    if isinstance(resource, dict):
        return f"{resource['type']}:{resource['id']}"
    if isinstance(resource, list | tuple):
        return f"{resource[0]}:{resource[1]}"
    return str(resource)


def _assigned(d: dict[str, Any]) -> str:
    kind, ids, user = d["resource_type"], d["resource_ids"], d["user_id"]
    previous = {p for p in (d.get("previous_assignees") or {}).values() if p}
    moved = f" (before: {', '.join(sorted(previous))})" if previous else ""
    if len(ids) == 1:
        return f"{kind}:{ids[0]} assigned to {user}{moved}"
    return f"{len(ids)} {kind} resources assigned to {user}{moved}: {', '.join(ids)}"


def _granted(d: dict[str, Any]) -> str:
    what = d.get("permission") or f"role {d.get('role')}"
    where = f" on {resource_text(d['resource'])}" if d.get("resource") else ""
    since = f" from {d['starts_at']}" if d.get("starts_at") else ""
    until = f" until {d['expires_at']}" if d.get("expires_at") else ""
    return f"{d['grant_id']}: {d['user_id']} granted {what} at scope {d['scope']}{where}{since}{until}"


def _permissions(items: Any) -> str:
    return ", ".join(f"{p['permission']}@{p['scope']}" if isinstance(p, dict) else str(p) for p in items or [])


def _removed(d: dict[str, Any]) -> str:
    return f"{d['user_id']} left" if d["reason"] == "left" else f"{d['user_id']} removed ({d['reason']})"


def _plan(d: dict[str, Any]) -> str:
    p = d["plan"]
    return (
        f'opened "{d["name"]}" for owner {d["user_id"]}: plan {p["name"]}, {p["included_seats"]} seats, '
        f"{p['billing_interval']}, {p['currency']}; term {d['term_start']} to {d['term_end']}"
    )


SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "TenantOpened": _plan,
    "PolicyChanged": lambda d: f"min_admins {d.get('old_min_admins', '?')} -> {d['min_admins']}",
    "SubscriptionCancellationScheduled": lambda d: f"subscription cancelled, effective {d['effective_at']}",
    "SubscriptionCancellationWithdrawn": lambda d: "subscription cancellation withdrawn",
    "TermRenewed": lambda d: f"term renewed: {d['term_start']} to {d['term_end']}",
    "SubscriptionEnded": lambda d: "subscription ended: the tenant is closed",
    "MemberAdded": lambda d: (
        f"{d['user_id']} ({d['name']}, {d['email']}) joined as {d['role']}, seat {d['seat_order']}, via {d['via']}"
    ),
    "MemberRoleChanged": lambda d: f"{d['user_id']}: role {d['old_role']} -> {d['new_role']}",
    "MemberRemoved": _removed,
    "InvitationSent": lambda d: f"{d['invitation_id']}: {d['email']} invited as {d['role']}, expires {d['expires_at']}",
    "InvitationResent": lambda d: f"{d['invitation_id']}: resent to {d['email']}, expires {d['expires_at']}",
    "InvitationAccepted": lambda d: f"{d['invitation_id']}: {d['email']} accepted as {d['user_id']}",
    "InvitationDeclined": lambda d: f"{d['invitation_id']}: {d['email']} declined",
    "InvitationRevoked": lambda d: f"{d['invitation_id']}: invitation of {d['email']} revoked ({d['reason']})",
    "InvitationExpired": lambda d: f"{d['invitation_id']}: invitation of {d['email']} expired",
    "AddOnPurchased": lambda d: (
        f"{d['addon_id']}: bought {d['kind']} (+{d['seats']} seats, {d['monthly_price']} {d['currency']} a month, "
        f"{d['prorated_charge']} {d['currency']} for this month)"
    ),
    "AddOnCharged": lambda d: (
        f"{d['addon_id']}: charged {d['amount']} {d.get('currency', '')} from {d['period_start']}".replace("  ", " ")
    ),
    "AddOnCancellationScheduled": lambda d: f"{d['addon_id']}: cancelled, effective {d['effective_at']}",
    "AddOnCancellationWithdrawn": lambda d: f"{d['addon_id']}: cancellation withdrawn",
    "AddOnEnded": lambda d: f"{d['addon_id']}: ended" + (f" (-{d['seats']} seats)" if "seats" in d else ""),
    "PermissionGranted": _granted,
    "PermissionRevoked": lambda d: f"{d['grant_id']}: grant of {d.get('user_id', '?')} revoked ({d['reason']})",
    "GrantExpired": lambda d: f"{d['grant_id']}: grant of {d.get('user_id', '?')} expired",
    "GrantStarted": lambda d: f"{d['grant_id']}: grant of {d.get('user_id', '?')} started",
    "ResourcesAssigned": _assigned,
    "ResourceUnassigned": lambda d: (
        f"{d['resource_type']}:{d['resource_id']} unassigned from {d['user_id']} ({d['reason']})"
    ),
    "TokenIssued": lambda d: (
        f"token {d['token_id']} issued to {d['user_id']}" + (f" ({d['label']})" if d.get("label") else "")
    ),
    "TokenRevoked": lambda d: f"token {d['token_id']} of {d.get('user_id', '?')} revoked ({d['reason']})",
    "RoleDefined": lambda d: (
        f'role {d["role_id"]} ("{d["name"]}") defined: includes [{", ".join(d.get("includes") or [])}], '
        f"permissions [{_permissions(d.get('permissions'))}]"
    ),
    "RoleRedefined": lambda d: f"role {d['role_id']} redefined",
    "RoleDeleted": lambda d: f"role {d['role_id']} deleted",
    "PersonErased": lambda d: (
        f"{d['erasure_id']}: {', '.join(d['fields'])} of {d['user_id'] or 'an invitee'} erased (R-L6)"
    ),
    "RestrictionAdded": lambda d: (
        f"{d['restriction_id']}: {d['user_id']} restricted from {d['permission']} at scope {d.get('scope', 'all')}"
        + (f" on {resource_text(d['resource'])}" if d.get("resource") else "")
    ),
    "RestrictionLifted": lambda d: f"{d['restriction_id']}: restriction lifted",
    "ReportingLineChanged": lambda d: f"{d['user_id']} now reports to {d.get('new_reports_to') or 'the owner'}",
    "ResourceParentSet": lambda d: (
        f"{d['resource_type']}:{d['resource_id']} now under {resource_text(d.get('new_parent')) or 'no parent'}"
    ),
}


def summary(entry: dict[str, Any]) -> str:
    """One line saying what the event did, with the caller's reason when one was given."""
    data = entry.get("data") or {}
    try:
        text = SUMMARIES[entry["event_type"]](data)
    except (KeyError, TypeError, IndexError):
        text = ", ".join(f"{k}={v}" for k, v in sorted(data.items()))
    reason = entry.get("reason")
    if reason and f"({reason})" not in text:
        text += f' - "{reason}"'
    return text


def line(entry: dict[str, Any]) -> str:
    """`occurred_at  #sequence  EventType  actor  summary`, never shortened."""
    return (
        f"{entry['occurred_at']:<20}  #{entry['sequence']:<6} {entry['event_type']:<26} "
        f"{entry['actor']:<14} {summary(entry)}"
    )
