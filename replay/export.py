"""R-L4 for the command line: every matching audit entry as JSON Lines or CSV, streamed in constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any


def export(
    queries: Any,
    tenant_id: str,
    fmt: str,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    subject: str | None = None,
    types: list[str] | None = None,
) -> Iterator[str]:
    """Chunks of text to write out as they come (`since` inclusive, `until` exclusive, on occurred_at)."""
    return queries.audit_export(
        tenant_id, fmt, since=since, until=until, actor=actor, subject=subject, types=types or None
    )
