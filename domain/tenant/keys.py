"""R-X3 across crashes: the tenant remembers which idempotency keys its recorded commands carried.

Every event of a keyed command carries the key (scoped to the token that sent it); replaying the events rebuilds
this map, so a retry after a crash finds what was recorded whatever happened to the process that recorded it.
The aggregate's optimistic concurrency makes this exact: two runs of one key cannot both save, and the loser finds
the winner's key on its retry. Keys are remembered for a week (far beyond the 24 h the API promises).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

KEY_MEMORY = timedelta(days=7)
_PRUNE_EVERY = 256


def remember(tenant: Any, key: str, version: int, occurred_at: datetime) -> None:
    """Note that the event at `version` belongs to the command sent with `key` (first and last version kept)."""
    keys: dict[str, list[Any]] = tenant.__dict__.setdefault("command_keys", {})
    entry = keys.get(key)
    if entry is not None:
        entry[1] = version
        return
    keys[key] = [version, version, occurred_at.isoformat()]
    if len(keys) % _PRUNE_EVERY == 0:  # deterministic: the same events prune the same keys on every replay
        horizon = (occurred_at - KEY_MEMORY).isoformat()
        for old in [k for k, (_, _, at) in keys.items() if at < horizon]:
            del keys[old]


def recorded(tenant: Any, key: str | None) -> tuple[int, int] | None:
    """The first and last version of the command recorded with `key`, or None."""
    if key is None:
        return None
    entry = tenant.__dict__.get("command_keys", {}).get(key)
    return None if entry is None else (entry[0], entry[1])


class AlreadyRecorded(Exception):
    """The command's key is on recorded events: answer their outcome instead of running it again."""

    def __init__(self, tenant_id: str, versions: tuple[int, int]) -> None:
        super().__init__(tenant_id, versions)
        self.tenant_id = tenant_id
        self.versions = versions


# The value each kind of command answers, read back from the event that created it.
_CREATED = {
    "PermissionGranted": "grant_id",
    "InvitationSent": "invitation_id",
    "InvitationResent": "invitation_id",
    "AddOnPurchased": "addon_id",
    "RestrictionAdded": "restriction_id",
    "RoleDefined": "role_id",
    "TokenIssued": "token_id",
    "MemberAdded": "user_id",
}
_SECRET_BEARING = {"TokenIssued": "token", "InvitationSent": "token", "InvitationResent": "token"}


def outcome_of(events: list[Any]) -> dict[str, Any]:
    """The values a command answered, from its recorded events; secrets are None (only their hashes are kept)."""
    values: dict[str, Any] = {}
    for event in events:
        name = type(event).__name__
        if name in _CREATED:
            values.setdefault(_CREATED[name], getattr(event, _CREATED[name]))
        if name in _SECRET_BEARING:
            values[_SECRET_BEARING[name]] = None
        if name == "TenantOpened":
            values.update(owner_token=None, owner_token_id=event.owner_token_id, tenant_id=event.tenant_id)
        if name == "ResourcesAssigned":
            values["assigned"] = len(event.resource_ids)
        if name == "AddOnPurchased":
            values["charge"] = {"amount": event.prorated_charge, "currency": event.currency}
    if events:
        values.setdefault("tenant_id", events[0].tenant_id)
    return values
