"""Event metadata shared by every tenant event, and the context that fills it per command.

Events are the history audit, as-of checks and replay read for years, so each carries who caused it (`actor`),
why (`reason`), which request (`request_id`, `idempotency_key`) and when it took effect (`occurred_at`, R-K1);
`timestamp` (set by eventsourcing when triggered) is when it was recorded.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

OPERATOR = "operator"
SYSTEM = "system"

META_FIELDS = ("occurred_at", "actor", "request_id", "caller_reason", "idempotency_key")
_BASE_FIELDS = frozenset(
    {"originator_id", "originator_version", "originator_topic", "timestamp", "tenant_id", *META_FIELDS}
)


@dataclass(frozen=True)
class EventContext:
    """Who is acting and why; the application sets one per command, due changes derive a `system` one."""

    actor: str
    occurred_at: datetime
    request_id: str | None = None
    reason: str | None = None
    idempotency_key: str | None = None

    def as_system(self, occurred_at: datetime, reason: str | None = None) -> EventContext:
        """The context for a due change at its effective instant, keeping the request that triggered it."""
        return replace(self, actor=SYSTEM, occurred_at=occurred_at, reason=reason, idempotency_key=None)


_current: contextvars.ContextVar[EventContext | None] = contextvars.ContextVar("event_context", default=None)


def current_context() -> EventContext:
    """The context of the command being handled; triggering an event outside one is a programming error."""
    context = _current.get()
    if context is None:
        raise RuntimeError("no event context: events must be triggered inside `acting(...)`")
    return context


@contextmanager
def acting(context: EventContext) -> Iterator[EventContext]:
    """Make `context` the metadata of every event triggered inside the block."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def meta_of(context: EventContext) -> dict[str, Any]:
    """The metadata keyword arguments for an event (the caller's reason is `caller_reason` on the event, since
    several events have a `reason` of their own in their data, e.g. `MemberRemoved.reason`)."""
    return {
        "occurred_at": context.occurred_at,
        "actor": context.actor,
        "request_id": context.request_id,
        "caller_reason": context.reason,
        "idempotency_key": context.idempotency_key,
    }


def event_data(event: Any) -> dict[str, Any]:
    """The event's own fields (not identity, version or metadata), secrets included."""
    return {f.name: getattr(event, f.name) for f in fields(event) if f.name not in _BASE_FIELDS}


def public_data(event: Any) -> dict[str, Any]:
    """The event's own fields without the ones marked secret: what the audit shows (R-L1)."""
    secret = getattr(type(event), "SECRET_FIELDS", ())
    return {k: v for k, v in event_data(event).items() if k not in secret}


def to_json_value(value: Any) -> Any:
    """Plain JSON types for event values: ISO dates and times (UTC, `Z`), strings for money."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    return value
