"""Rebuild the read models from the events (R-R1), whole or for one tenant, all projections or one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import validation
from projections import all_projections
from projections import rebuild as rebuilding
from projections.db import ReadStore


def projection_names() -> list[str]:
    return [p.name for p in all_projections()]


def rebuild(
    app: Any,
    store: ReadStore,
    tenant: str | None = None,
    projection: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """projections.rebuild on the chosen projections: `{events, seconds, events_per_second, ok, first_mismatch}`."""
    chosen = all_projections()
    if projection is not None:
        chosen = [p for p in chosen if p.name == projection]
        if not chosen:
            names = ", ".join(projection_names())
            raise validation(f"unknown projection {projection!r} (one of: {names})", ("query", "projection"))
    result = rebuilding.rebuild(app, store, chosen, tenant=tenant, progress=progress)
    return {"tenant": tenant, "projections": [p.name for p in chosen], **result}
