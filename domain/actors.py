"""Who sends a command, and what a command gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Actor:
    """Who sends a command, and the request's metadata (request id, reason, idempotency key)."""

    user_id: str
    request_id: str | None = None
    reason: str | None = None
    idempotency_key: str | None = None


@dataclass
class CommandResult:
    """What a command gives back: the global position of its last event and any values it created."""

    position: int | None
    values: dict[str, Any] = field(default_factory=dict)
    # Set when the command had already been recorded under its idempotency key (R-X3): the tenant versions of its
    # events; `values` then come from those events and secrets (tokens) are None: they are stored only as hashes.
    recorded_versions: tuple[int, int] | None = None

    @property
    def recovered(self) -> bool:
        return self.recorded_versions is not None
