"""Where a resource sits at an instant, answered from an access cache entry (`projections.queries.decide.Place`),
and the signal that a memory-only answer would need the database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from projections.queries.access_cache import AccessCache, ResourceState, TenantEntry


class CachedPlace:
    """Where a resource sits at an instant, from the entry (`projections.queries.decide.Place`)."""

    def __init__(
        self,
        cache: AccessCache,
        entry: TenantEntry,
        resource: tuple[str, str],
        instant: datetime,
        memory_only: bool,
        state: ResourceState | None = None,
    ) -> None:
        self.cache = cache
        self.entry = entry
        self.key = resource
        self.instant = instant
        self.memory_only = memory_only
        self._state = state

    def _resource(self) -> ResourceState:
        if self._state is None:
            found = self.entry.resources.get(self.key)
            if found is None:
                if self.memory_only:
                    raise NotInMemory
                found = self.cache.resource(self.entry, self.key)
            self._state = found
        return self._state

    def assignee(self) -> str | None:
        return self._resource()[0].assignee_at(self.instant)

    def lineage(self) -> frozenset:
        return self._resource()[1].above_at(self.instant)

    def manages(self, user_id: str, member_id: str) -> bool:
        if user_id == member_id or user_id == self.entry.owner_id:
            return True
        chains = self.entry.managers.get(member_id)
        if chains is None:
            if self.memory_only:
                raise NotInMemory
            chains = self.cache.managers(self.entry, member_id)
        return user_id in chains.above_at(self.instant)


class NotInMemory(Exception):
    """A memory-only answer would need the database."""
