"""How read models store values and how queries hand them out: instants, cursors, limits.

Instants are stored as fixed-width UTC text (`2026-11-16T09:30:00.000000Z`) on both databases, so string order is
time order, indexes work the same on SQLite and PostgreSQL, and a rebuilt row equals the incremental one.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime
from typing import Any

from domain.clock import utc_now
from domain.errors import DomainError, validation
from domain.permissions import is_permission

MAX_LIMIT = 1000


def ts(instant: datetime | None) -> str | None:
    """The stored form of an aware instant (None stays None)."""
    if instant is None:
        return None
    if instant.tzinfo is not UTC:
        if instant.tzinfo is None:
            raise ValueError("read models store aware instants only")
        instant = instant.astimezone(UTC)
    return instant.isoformat(timespec="microseconds")[:26] + "Z"


def day(value: date | None) -> str | None:
    """The stored form of a plan date."""
    return None if value is None else value.isoformat()


def parse_ts(stored: str) -> datetime:
    """The instant a stored text stands for."""
    return datetime.fromisoformat(stored.replace("Z", "+00:00"))


def iso(stored: str | None) -> str | None:
    """A stored instant as API.md writes it: RFC 3339 with `Z`, microseconds only when there are some."""
    if stored is None:
        return None
    if stored.endswith(".000000Z"):
        return stored[:-8] + "Z"
    return stored


def instant_arg(value: datetime | None, name: str) -> datetime | None:
    """An instant argument of a query: aware, in UTC; a naive one is a validation error."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise validation(f"{name} needs a date-time with a time zone", ("query", name))
    return value.astimezone(UTC)


def as_of_arg(as_of: datetime | None, now: datetime) -> datetime | None:
    """R-C3: an `as_of` after the clock's now is a validation error."""
    as_of = instant_arg(as_of, "as_of")
    if as_of is not None and as_of > now:
        raise validation(f"as_of {ts(as_of)} is after now ({ts(now)})", ("query", "as_of"))
    return as_of


def instants(as_of: datetime | None, now: datetime | None) -> tuple[datetime, datetime | None]:
    """(now, as_of) of a query: its `now` (the clock's unless given) and the instant asked (None: now, R-C3)."""
    now = instant_arg(now, "now") or utc_now()
    return now, as_of_arg(as_of, now)


def permission_arg(permission: str) -> str:
    """A permission of the catalog (R-P3); anything else is a validation error."""
    if not isinstance(permission, str) or not is_permission(permission):
        raise validation(f"unknown permission {permission!r}", ("query", "permission"))
    return permission


def limit_arg(limit: int) -> int:
    """A page size between 1 and 1000."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise validation(f"limit must be between 1 and {MAX_LIMIT}", ("query", "limit"))
    return limit


def encode_cursor(key: list[Any]) -> str:
    """An opaque cursor: URL-safe base64 of the last item's sort key."""
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """The sort key a cursor carries; anything not made by `encode_cursor` for this list is a validation error."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (ValueError, UnicodeError, binascii.Error):
        key = None
    ok = isinstance(key, list) and len(key) == len(types)
    ok = ok and all(type(v) is t for v, t in zip(key, types, strict=False))  # type: ignore[arg-type]
    if not ok:
        raise DomainError(
            "validation_error", "malformed cursor", errors=[{"loc": ["query", "cursor"], "msg": "malformed cursor"}]
        )
    return key


def paged(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """A page of rows fetched `limit + 1` at a time: the items without their sort keys (`_key`), and the cursor of
    the next page (None on the last one)."""
    cursor = encode_cursor(rows[limit - 1]["_key"]) if len(rows) > limit else None
    items = rows[:limit]
    for item in items:
        del item["_key"]
    return items, cursor
