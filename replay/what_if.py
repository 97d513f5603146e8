"""What-if and assertions over a tenant's recorded history (R-R3, R-R4): the one entry point that the HTTP routes,
the command line and the console share.

Both only read: events come from the event store and are folded in memory (`domain.what_if`,
`domain.assertions`); instants are resolved through the audit trail as `replay state` does. Nothing is recorded and
no read model is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from domain.assertions import check_assertions, instant_of
from domain.catalog_change import CatalogChange, catalog_change
from domain.errors import DomainError, validation
from domain.tenant.metadata import to_json_value
from domain.what_if import what_if
from projections.db import ReadStore
from projections.eventstore import tenant_events
from replay.state import sequence_at, tenant_at


def known_roles(store: ReadStore, tenant_id: str) -> set[str]:
    """Every custom role id the tenant ever defined (from the directory's role definitions, R-P7)."""
    with store.reader() as tx:
        rows = tx.all("SELECT DISTINCT role_id FROM dir_role_defs WHERE tenant_id = ?", (tenant_id,))
    return {row["role_id"] for row in rows}


def change_for(
    store: ReadStore, tenant_id: str, roles: Iterable[Mapping[str, Any]] | None, removed_roles: Iterable[str] = ()
) -> CatalogChange:
    """A validated catalog change for this tenant (422 naming the field when it does not fit)."""
    return catalog_change(list(roles or []), list(removed_roles or []), known_roles(store, tenant_id))


def _not_after_now(instant: datetime, now: datetime, field: str) -> None:
    if instant > now:
        raise validation(f"{field} lies after the clock's now ({to_json_value(now)})", ("body", field))


def run_what_if(
    app: Any,
    store: ReadStore,
    tenant_id: str,
    *,
    roles: Iterable[Mapping[str, Any]],
    removed_roles: Iterable[str] = (),
    start: datetime,
    end: datetime,
    now: datetime,
) -> dict[str, Any]:
    """R-R3: `{from, to, changes [...]}` — who would have gained or lost what, from when until when."""
    if start >= end:
        raise validation("from must be before to", ("body", "from"))
    _not_after_now(end, now, "to")
    sequence_at(store, tenant_id)  # not_found for a tenant that does not exist
    change = change_for(store, tenant_id, roles, removed_roles)
    with store.reader(raw=True) as tx:  # events are opened by the ledger's mapper, not by the reader
        events = (recorded.event for recorded in tenant_events(tx, app, tenant_id))
        changes = what_if(events, change, start, end)
    return {"from": to_json_value(start), "to": to_json_value(end), "changes": changes}


def run_assertions(
    app: Any,
    store: ReadStore,
    tenant_id: str,
    assertions: list[Mapping[str, Any]],
    *,
    as_of: datetime | None,
    now: datetime,
    roles: Iterable[Mapping[str, Any]] | None = None,
    removed_roles: Iterable[str] = (),
) -> dict[str, Any]:
    """R-R4: `{passed, failed [{assertion (as given), actual}]}`, at each assertion's `at` (default `as_of`, else
    now), under the recorded catalog or, with `roles`/`removed_roles`, a changed one."""
    default_at = as_of or now
    _not_after_now(default_at, now, "as_of")
    for index, assertion in enumerate(assertions):
        at = instant_of(assertion.get("at"))
        if at is not None and at > now:
            raise validation(f"at lies after the clock's now ({to_json_value(now)})", ("body", "assertions", index))
    sequence_at(store, tenant_id)
    change = change_for(store, tenant_id, roles, removed_roles) if roles or removed_roles else None

    def tenant_then(instant: datetime) -> Any:
        try:
            return tenant_at(app, store, tenant_id, at=instant)
        except DomainError as error:
            if error.code == "not_found":
                return None  # the tenant did not exist yet: nobody was a member
            raise

    return check_assertions(assertions, tenant_then, default_at, change)
