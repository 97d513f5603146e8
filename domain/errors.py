"""The one error family of the domain; its codes are API.md's."""

from __future__ import annotations

from typing import Any

# code → HTTP status, so adapters map errors without a second table of rules.
STATUS: dict[str, int] = {
    "unauthenticated": 401,
    "forbidden": 403,
    "escalation": 403,
    "not_found": 404,
    "seat_limit_reached": 409,
    "owner_immutable": 409,
    "min_admins": 409,
    "already_member": 409,
    "invitation_pending": 409,
    "invitation_not_pending": 409,
    "tenant_closed": 409,
    "assignee_cannot_access": 409,
    "not_grantable": 409,
    "role_cycle": 409,
    "role_in_use": 409,
    "hierarchy_cycle": 409,
    "addon_not_active": 409,
    "cancellation_not_scheduled": 409,
    "cancellation_already_scheduled": 409,
    "clock_backwards": 409,
    "conflict": 409,
    "still_active": 409,
    "tenant_exists": 409,
    "payload_too_large": 413,
    "validation_error": 422,
    "idempotency_key_reused": 422,
    "position_ahead": 422,
    "stale_read": 503,
    "unavailable": 503,
}


class DomainError(Exception):
    """A rejected command or query: a machine-readable `code`, a human `detail` and optional extra fields."""

    def __init__(self, code: str, detail: str, **fields: Any) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.fields = fields

    @property
    def status(self) -> int:
        """The HTTP status API.md gives this code."""
        return STATUS[self.code]


def not_found(what: str, ident: str) -> DomainError:
    """A `not_found` error for a named thing."""
    return DomainError("not_found", f"no {what} {ident!r}")


def validation(detail: str, loc: tuple[str, ...] = ("body",)) -> DomainError:
    """A `validation_error` with one entry in `errors`."""
    return DomainError("validation_error", detail, errors=[{"loc": list(loc), "msg": detail}])
