"""The directory's lists and lookups: members, invitations, add-ons and charges, grants and assignments, each
one consistent read, paged by an opaque cursor (`projections.values`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.clock import utc_now
from projections.queries import directory as qd
from projections.queries.access import tenant_row
from projections.values import as_of_arg, decode_cursor, instant_arg, limit_arg, paged, ts


class ListingQueries:
    """Mixed into `Queries` (relies on its `store`)."""

    # ------------------------------------------------------------------------------------- members

    def members(
        self,
        tenant_id: str,
        role: str | None = None,
        status: str = "active",
        as_of: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Members in seat order, filtered by role and status, now or as of an instant (R-C3)."""
        status = qd.choice(status, qd.MEMBER_STATUSES, "status") or "active"
        at = as_of_arg(as_of, instant_arg(now, "now") or utc_now())
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (int,))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            rows = qd.members(tx, tenant_id, role, status, ts(at), key[0] if key else None, limit)
        return paged(rows, limit)

    def member(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        """The latest membership of `user_id` (active or removed), or None; `not_found` for an unknown tenant.

        One statement when the member exists (a command's answer reads it: one round trip on PostgreSQL)."""
        with self.store.autocommit(opened=True) as tx:  # type: ignore[attr-defined]
            found = qd.member(tx, tenant_id, user_id)
            if found is None:
                tenant_row(tx, tenant_id)  # members are only ever stored for a tenant that exists
            return found

    # ------------------------------------------------------------------------------------- invitations

    def invitations(
        self,
        tenant_id: str,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Invitations in the order they were sent; `expired` from `expires_at` on."""
        status = qd.choice(status, qd.INVITATION_STATUSES, "status")
        at = ts(instant_arg(now, "now") or utc_now())
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (int,))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            rows = qd.invitations(tx, tenant_id, status, at, key[0] if key else None, limit)
        return paged(rows, limit)

    def invitation(self, tenant_id: str, invitation_id: str, now: datetime | None = None) -> dict[str, Any] | None:
        at = ts(instant_arg(now, "now") or utc_now())
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            return qd.invitation(tx, tenant_id, invitation_id, at)

    # ------------------------------------------------------------------------------------- add-ons and charges

    def addons(self, tenant_id: str) -> list[dict[str, Any]]:
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            return qd.addons(tx, tenant_id)

    def addon(self, tenant_id: str, addon_id: str) -> dict[str, Any] | None:
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            row = tx.one("SELECT * FROM dir_addons WHERE tenant_id = ? AND addon_id = ?", (tenant_id, addon_id))
        return None if row is None else qd.addon_dict(row)

    def charges(
        self, tenant_id: str, cursor: str | None = None, limit: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Charges in the order they were made: the prorated one of each purchase, then monthly ones (R-S2)."""
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (int,))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            rows = qd.charges(tx, tenant_id, key[0] if key else None, limit)
        return paged(rows, limit)

    # ------------------------------------------------------------------------------------- grants and assignments

    def grants(
        self,
        tenant_id: str,
        user_id: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Grants in the order they were given; `expired` from `expires_at` on (R-G2)."""
        status = qd.choice(status, qd.GRANT_STATUSES, "status")
        at = ts(instant_arg(now, "now") or utc_now())
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (int,))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            rows = qd.grants(tx, tenant_id, user_id, status, at, key[0] if key else None, limit)
        return paged(rows, limit)

    def grant(self, tenant_id: str, grant_id: str, now: datetime | None = None) -> dict[str, Any] | None:
        at = ts(instant_arg(now, "now") or utc_now())
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            return qd.grant(tx, tenant_id, grant_id, at)

    def assignments(
        self,
        tenant_id: str,
        user_id: str | None = None,
        resource_type: str | None = None,
        as_of: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Assignments now or as of an instant, by resource type and id (R-A1, R-C3)."""
        at = as_of_arg(as_of, instant_arg(now, "now") or utc_now())
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (str, str))
        with self.store.reader() as tx:  # type: ignore[attr-defined]
            tenant_row(tx, tenant_id)
            rows = qd.assignments(tx, tenant_id, user_id, resource_type, ts(at), key, limit)
        return paged(rows, limit)
