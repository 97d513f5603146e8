"""The reads integrating programs ask besides checks: lookups (R-C4) and the change feed (R-C5); a mixin of
`projections.queries.facade.Queries`, so the HTTP routes, the CLI and the console ask the same methods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.errors import validation
from projections.changes.read import changes_after
from projections.queries.access import as_of_text, tenant_row
from projections.queries.access_cache import AccessCache, TenantEntry
from projections.queries.lookup import lookup_resources, lookup_subjects
from projections.values import decode_cursor, encode_cursor, instants, limit_arg, permission_arg


def _name(value: str, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise validation(f"{field} is required", ("query", field))
    return value


class IntegrationQueries:
    """Lookups of resources and subjects, now or as of an instant, paged by cursor; the change feed."""

    store: Any
    cache: AccessCache

    def lookup_resources(
        self,
        tenant_id: str,
        user_id: str,
        permission: str,
        resource_type: str,
        as_of: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """R-C4: `{all, items [{resource, scope, via}], next_cursor, as_of, position}`; each item is what `check`
        allows, with its `via`."""
        permission = permission_arg(permission)
        resource_type = _name(resource_type, "resource_type")
        return self._lookup(
            as_of,
            cursor,
            limit,
            now,
            lambda entry, instant, after, size: lookup_resources(
                self.cache, entry, user_id, permission, resource_type, instant, after, size
            ),
            tenant_id,
        )

    def lookup_subjects(
        self,
        tenant_id: str,
        permission: str,
        resource_type: str,
        resource_id: str,
        as_of: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """R-C4: `{items [{user_id, role, scope, via}], next_cursor, as_of, position}`: the members `check` allows
        on the resource."""
        permission = permission_arg(permission)
        resource = (_name(resource_type, "resource_type"), _name(resource_id, "resource_id"))
        return self._lookup(
            as_of,
            cursor,
            limit,
            now,
            lambda entry, instant, after, size: (
                None,
                *lookup_subjects(self.cache, entry, permission, resource, instant, after, size),
            ),
            tenant_id,
        )

    def _lookup(
        self,
        as_of: datetime | None,
        cursor: str | None,
        limit: int,
        now: datetime | None,
        find: Callable[[TenantEntry, datetime, str | None, int], tuple[bool | None, list[dict[str, Any]], str | None]],
        tenant_id: str,
    ) -> dict[str, Any]:
        """One page of a lookup, at the position and instant a `check` would answer from (`all` when `find` says)."""
        now, at = instants(as_of, now)
        limit = limit_arg(limit)
        key = decode_cursor(cursor, (str,))
        position = self.cache.sync()
        everything, items, after = find(self.cache.tenant(tenant_id), at or now, key[0] if key else None, limit)
        answer = {} if everything is None else {"all": everything}
        return {
            **answer,
            "items": items,
            "next_cursor": None if after is None else encode_cursor([after]),
            "as_of": as_of_text(at),
            "position": position,
        }

    def changes(
        self,
        tenant_id: str,
        after: int = 0,
        user_id: str | None = None,
        permission: str | None = None,
        limit: int = 100,
        after_index: int | None = None,
    ) -> dict[str, Any]:
        """R-C5: `{items [Change], next_after}`: the feed's entries after position `after` (and, resuming a stream,
        after `after_index` within it), in order, whole events at a time; `next_after` is the position to pass next
        (the `after` given when there is nothing new)."""
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise validation("after is a position (an integer ≥ 0)", ("query", "after"))
        if permission is not None:
            permission = permission_arg(permission)
        limit = limit_arg(limit)
        # Raw: the feed holds no personal field (R-L6), so no row needs opening.
        with self.store.reader(raw=True) as tx:
            tenant_row(tx, tenant_id)
            items = changes_after(tx, tenant_id, after, after_index, user_id, permission, limit)
        return {"items": items, "next_after": items[-1]["position"] if items else after}
