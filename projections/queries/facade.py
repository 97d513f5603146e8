"""Every read the API and replay/ make, answered from the read models.

Answers are JSON-ready dicts shaped as the API's resources (docs/reference/). Checks, now and as of an instant
(R-C3), go through the in-memory access cache (`projections.queries.access_cache`); every other answer is one
consistent read of the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from domain.clock import utc_now
from domain.errors import not_found, validation
from projections.audit import projection as audit
from projections.audit.verify import verify_tenant
from projections.db import ReadStore
from projections.queries import directory as qd
from projections.queries.access import (
    access_position,
    access_report_at,
    as_of_text,
    check_at,
    permissions_at,
    role_at,
    tenant_row,
)
from projections.queries.access_cache import DEFAULT_MAX_BYTES, AccessCache
from projections.queries.catalog import CatalogQueries
from projections.queries.history import diff, explaining_positions
from projections.queries.integrations import IntegrationQueries
from projections.queries.listings import ListingQueries
from projections.values import (
    as_of_arg,
    decode_cursor,
    encode_cursor,
    instant_arg,
    instants,
    iso,
    limit_arg,
    permission_arg,
    ts,
)
from projections.watch import PositionWatch

Resource = tuple[str, str]


def _resource(resource: Any) -> Resource | None:
    if resource is None:
        return None
    if (
        not isinstance(resource, tuple | list)
        or len(resource) != 2
        or not all(isinstance(part, str) and part for part in resource)
    ):
        raise validation("a resource is a (type, id) pair of non-empty strings", ("query", "resource"))
    return (resource[0], resource[1])


def _asked(
    permission: str, resource: Any, as_of: datetime | None, now: datetime | None
) -> tuple[str, Resource | None, datetime, datetime | None]:
    """A check's arguments, checked: (permission, resource, now, the instant asked or None for now)."""
    permission, resource = permission_arg(permission), _resource(resource)
    return (permission, resource, *instants(as_of, now))


class Queries(ListingQueries, CatalogQueries, IntegrationQueries):
    """Read-side answers; each method opens its own reader, checks go through the access cache."""

    def __init__(
        self,
        store: ReadStore,
        app: Any = None,
        position_source: Callable[[], int] | None = None,
        peek_source: Callable[[], int | None] | None = None,
        watch: PositionWatch | None = None,
        cache_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """`app` (the AccessLedger) is needed by `audit_verify` only, which compares with the event store.
        `position_source` (optional) says cheaply where the access projections are (e.g. from an in-process
        runner); without it a current check reads the position from the tracking table. `peek_source` says it
        without any I/O or not at all (None): it enables the `peek_*` answers from memory. A `watch` (the process's
        `PositionWatch`) replaces both and drops cached tenants as soon as their events are heard of.
        `cache_bytes` bounds the access cache's memory (R-Z5)."""
        self.store = store
        self.app = app
        self.cache = AccessCache(store, position_source, peek_source, watch, cache_bytes)

    # ------------------------------------------------------------------------------------- tenants

    def tenant(self, tenant_id: str, now: datetime | None = None) -> dict[str, Any]:
        """API.md `Tenant` (without scheduled_removals)."""
        at = ts(instant_arg(now, "now") or utc_now())
        with self.store.reader() as tx:
            return qd.tenant_dict(tx, tenant_row(tx, tenant_id), at)

    def tenants(
        self, status: str | None = None, cursor: str | None = None, limit: int = 100, now: datetime | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of `Tenant`s (oldest first) for the operator, and the cursor of the next page."""
        at = ts(instant_arg(now, "now") or utc_now())
        key = decode_cursor(cursor, (int,))
        with self.store.reader() as tx:
            rows, more = qd.tenant_page(tx, status, key[0] if key else None, limit_arg(limit))
            items = [qd.tenant_dict(tx, row, at) for row in rows]
        return items, encode_cursor([rows[-1]["opened_position"]]) if more else None

    def tenant_ids(self, due_before: datetime | None = None) -> list[str]:
        """All tenant ids; with `due_before`, only those with a due change by then (for the sweeper)."""
        with self.store.reader() as tx:
            return qd.tenant_ids(tx, ts(instant_arg(due_before, "due_before")))

    def tenant_status(self, tenant_id: str, now: datetime | None = None) -> str:
        """active | cancellation_scheduled | closed, from the access cache (R-T5 for authentication)."""
        self.cache.sync()
        return self.cache.tenant(tenant_id).status(instant_arg(now, "now") or utc_now())

    def principal_for_token(self, token_hash: str) -> dict[str, str] | None:
        """The membership an active member token belongs to; None for unknown or revoked tokens."""
        return self.cache.principal(token_hash, self._principal_row)

    def _principal_row(self, token_hash: str) -> dict[str, str] | None:
        # One statement of no personal field: autocommit, one round trip on PostgreSQL (a reader's are three).
        with self.store.autocommit() as tx:
            row = tx.one(
                "SELECT tenant_id, user_id, token_id FROM dir_tokens WHERE token_hash = ? AND active = 1",
                (token_hash,),
            )
        return None if row is None else dict(row)

    # ------------------------------------------------------------------------------------- checks (R-C1…R-C3)

    def check(
        self,
        tenant_id: str,
        user_id: str,
        permission: str,
        resource: Resource | None = None,
        as_of: datetime | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """API.md `Decision`: allowed or the reason not, with every source that gives it (R-C1, R-C2)."""
        permission, resource, now, at = _asked(permission, resource, as_of, now)
        return self.cache.check(tenant_id, user_id, permission, resource, at or now, as_of_text(at))

    # `peek_*`: the same answers from memory alone, or None when they need the database (then ask the method
    # without `peek_`). The API calls them on the event loop to spare the hot path a thread hop.

    def peek_principal(self, token_hash: str) -> dict[str, str] | None:
        return self.cache.peek_principal(token_hash)

    def peek_tenant_status(self, tenant_id: str, now: datetime) -> str | None:
        return self.cache.peek_status(tenant_id, now)

    def peek_check(
        self,
        tenant_id: str,
        user_id: str,
        permission: str,
        resource: Resource | None = None,
        as_of: datetime | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any] | None:
        permission, resource, now, at = _asked(permission, resource, as_of, now)
        return self.cache.peek(tenant_id, user_id, permission, resource, at or now, as_of_text(at))

    def check_many(
        self,
        tenant_id: str,
        checks: list[tuple[str, str, Resource | None]],
        as_of: datetime | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """One Decision per (user_id, permission, resource) in order; all of them at the same instant."""
        checks = [(user_id, permission_arg(p), _resource(r)) for user_id, p, r in checks]
        now, at = instants(as_of, now)
        return [self.cache.check(tenant_id, u, p, r, at or now, as_of_text(at)) for u, p, r in checks]

    def effective_permissions(
        self, tenant_id: str, user_id: str, as_of: datetime | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """The member's role and effective permissions with scopes, now or as of an instant (R-C3)."""
        now, at = instants(as_of, now)
        instant = ts(at or now)
        with self.store.reader() as tx:
            tenant = tenant_row(tx, tenant_id)
            if (
                tx.one("SELECT 1 AS x FROM dir_members WHERE tenant_id = ? AND user_id = ?", (tenant_id, user_id))
                is None
            ):
                raise not_found("member", user_id)
            role = role_at(tx, tenant_id, user_id, instant)
            return {
                "user_id": user_id,
                "role": None if role is None else role["role"],
                "permissions": [] if role is None else permissions_at(tx, tenant, user_id, instant),
                "as_of": as_of_text(at),
                "position": access_position(tx),
            }

    def explain(
        self,
        tenant_id: str,
        user_id: str,
        permission: str,
        resource: Resource | None = None,
        as_of: datetime | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """A Decision plus the audit entries of the events that gave or took the access (R-C2, R-C3)."""
        permission, resource, now, at = _asked(permission, resource, as_of, now)
        instant = at or now
        with self.store.reader() as tx:
            tenant = tenant_row(tx, tenant_id)
            answer = check_at(tx, tenant, user_id, permission, resource, instant, as_of_text(at), access_position(tx))
            positions = explaining_positions(tx, tenant, user_id, permission, resource, ts(instant))
            answer["events"] = audit.entries_at(tx, tenant_id, positions)
        return answer

    def diff(self, tenant_id: str, start: datetime, end: datetime, now: datetime | None = None) -> list[dict[str, Any]]:
        """Who gained or lost which permission (scope, resource) between two instants, and by which event."""
        now = instant_arg(now, "now") or utc_now()
        start_at = as_of_arg(start, now)
        end_at = as_of_arg(end, now)
        if start_at is None or end_at is None or start_at > end_at:
            raise validation("diff needs two instants, the first not after the second", ("query", "from"))
        with self.store.reader() as tx:
            return diff(tx, tenant_row(tx, tenant_id), ts(start_at), ts(end_at))

    def access_report(
        self, tenant_id: str, as_of: datetime | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """R-L5: every member active at the instant, with role and effective permissions."""
        now = instant_arg(now, "now") or utc_now()
        at = as_of_arg(as_of, now)
        instant = at or now
        with self.store.reader() as tx:
            tenant = tenant_row(tx, tenant_id)
            return {"as_of": iso(ts(instant)), "members": access_report_at(tx, tenant, ts(instant))}

    # ----------------------------------------------------------------------- audit (projections.audit.projection)

    def audit(
        self,
        tenant_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        subject: str | None = None,
        types: list[str] | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """R-L4: audit entries matching the filters, one page."""
        limit = limit_arg(limit)
        with self.store.reader() as tx:
            tenant_row(tx, tenant_id)
            return audit.audit_page(tx, tenant_id, since, until, actor, subject, types, cursor, limit)

    def audit_export(self, tenant_id: str, fmt: str = "jsonl", **filters: Any) -> Iterator[str]:
        """R-L4: every matching entry as JSON Lines or CSV, streamed in constant memory (filters: since, until,
        actor, subject, types)."""
        self._require_tenant(tenant_id)
        return audit.audit_export(self.store, tenant_id, fmt, filters)

    def audit_verify(self, tenant_id: str) -> dict[str, Any]:
        """R-L2: recompute the tenant's chain against the event store; the first mismatch, if any."""
        if self.app is None:
            raise RuntimeError("Queries needs the application (Queries(store, app=...)) to verify the audit trail")
        self._require_tenant(tenant_id)
        return verify_tenant(self.store, self.app, tenant_id)

    # ------------------------------------------------------------------------------------- positions

    def position(self) -> int:
        """The position every projection has reached."""
        from projections import all_projections

        names = [projection.name for projection in all_projections()]
        with self.store.reader() as tx:
            rows = tx.all("SELECT name, position FROM projection_tracking")
        reached = {row["name"]: row["position"] for row in rows}
        return min((reached.get(name, 0) for name in names), default=0)

    def _require_tenant(self, tenant_id: str) -> None:
        with self.store.reader() as tx:
            tenant_row(tx, tenant_id)


__all__ = ["Queries"]
