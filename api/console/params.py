"""Form and query values as the console's fields send them, parsed with the API's own types.

A calendar field sends a bare date: `as_of` and `to` then mean the end of that day (UTC, 23:59:59.999999, never
after now), `from` its start (00:00 UTC); a `datetime-local` field's value is read as UTC; RFC 3339 instants with
a zone (the API's form) are taken as they are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from api.http.schemas.requests import Instant, Permission, ResourceId, ResourceType, UserId
from domain.errors import validation

_INSTANT = TypeAdapter(Instant)
_TYPES: dict[str, TypeAdapter[Any]] = {
    "user_id": TypeAdapter(UserId),
    "permission": TypeAdapter(Permission),
    "resource_type": TypeAdapter(ResourceType),
    "resource_id": TypeAdapter(ResourceId),
}


def text(value: Any) -> str | None:
    """A field's value with surrounding blanks removed; None when empty."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def instant(value: Any, name: str, now: datetime, start_of_day: bool = False) -> datetime | None:
    """None for an empty field, else an aware UTC instant (see the module's docstring); 422 in words otherwise."""
    raw = text(value)
    if raw is None:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if start_of_day:
                return datetime.combine(day, time(), UTC)
            return min(datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(microseconds=1), now)
        if len(raw) in (16, 19) and "T" in raw:  # datetime-local: no zone, read as UTC
            return datetime.fromisoformat(raw).replace(tzinfo=UTC)
        return _INSTANT.validate_python(raw.replace("z", "Z"))
    except (ValueError, ValidationError):
        raise validation(
            f"{name} must be a date (YYYY-MM-DD), a date and time, or an instant with a zone; got {raw!r}",
            ("query", name),
        ) from None


def checked(value: Any, name: str, required: bool = False) -> str | None:
    """A user id, permission, resource type or id validated as the API validates it."""
    raw = text(value)
    if raw is None:
        if required:
            raise validation(f"{name} is required", ("query", name))
        return None
    try:
        return _TYPES[name].validate_python(raw)
    except ValidationError:
        if name == "permission":
            raise validation(f"{raw!r} is not a known permission", ("query", name)) from None
        rule = "1-128 characters of A-Z a-z 0-9 . _ @ + : -"
        raise validation(f"{name} {raw!r} is not valid: {rule}", ("query", name)) from None


def field_value(value: datetime | None) -> str:
    """An instant as a `datetime-local` field shows it (UTC)."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def day_value(value: datetime | None) -> str:
    """An instant's day as a calendar field shows it."""
    return "" if value is None else value.astimezone(UTC).date().isoformat()
