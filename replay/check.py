"""An explained decision (R-C2, R-C3): allowed or denied, why, each source, and the events that made it so."""

from __future__ import annotations

from typing import Any

from replay.timeline import line, resource_text

REASONS = {
    "not_a_member": "not (or no longer) a member of the tenant",
    "tenant_closed": "the tenant is closed (R-T5)",
    "not_permitted": "no role, grant or assignment gives this permission",
    "not_assigned": "held only on assigned (or team) resources, and this resource is not among them",
    "restricted": "withdrawn by a restriction (R-P8)",
}


def via_text(via: dict[str, Any]) -> str:
    """One source of a decision, resources as TYPE:ID."""
    kind = via["kind"]
    if kind == "role":
        return f"role {via['role']}"
    if kind == "grant":
        return f"grant {via['grant_id']}"
    if kind == "role_grant":
        return f"role grant {via['grant_id']} on {resource_text(via.get('resource'))}"
    if kind == "assignment":
        return f"assignment of {resource_text(via.get('resource'))}"
    if kind == "team":
        return f"team: assigned to {via.get('user_id')}"
    return ", ".join(f"{k}={v}" for k, v in via.items())


def decision_lines(
    answer: dict[str, Any], user_id: str, permission: str, resource: tuple[str, str] | None
) -> list[str]:
    """The human answer: `allowed` or `denied` first, then the question, the reason, each via, the events."""
    reason = answer.get("reason")
    out = ["allowed" if answer["allowed"] else "denied"]
    out.append(f"  user        {user_id}")
    out.append(f"  permission  {permission}")
    out.append(f"  resource    {resource_text(resource) or '(none: held at any scope?)'}")
    out.append(f"  as of       {answer.get('as_of') or 'now'}")
    if answer["allowed"]:
        out.append(f"  scope       {answer.get('scope')}")
        out.append("  reason      none: allowed")
    else:
        out.append(f"  reason      {reason}: {REASONS.get(reason, reason)}")
    if answer.get("restriction_id"):
        out.append(f"  restriction {answer['restriction_id']}")
    out.append(f"  position    {answer.get('position')} (the read models' position)")
    vias = answer.get("via") or []
    out.append("via")
    out.extend(f"  {via_text(v)}" for v in vias)
    if not vias:
        out.append("  (nothing)")
    events = answer.get("events") or []
    out.append("events that gave or took the access")
    out.extend(f"  {line(entry)}" for entry in events)
    if not events:
        out.append("  (none)")
    return out
