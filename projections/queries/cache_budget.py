"""The access cache's memory bound (R-Z5): tenant entries kept least recently used first within a byte budget.

Sizes are estimates made when rows are loaded (Python object overheads plus the text they hold), close enough to
keep a process near `ACCESSLEDGER_CACHE_MB` without measuring objects on the hot path.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

ENTRY_BYTES = 1_000  # a tenant entry with nothing loaded yet: the object, its dicts, the status and owner
ROW_BYTES = 180  # a row's dict or tuple and the objects built from it, before the values it holds
VALUE_BYTES = 40  # a small object (int, datetime, None) or the header of a string


def weigh(rows: Iterable[Mapping[str, Any]]) -> int:
    """The estimated memory of objects built from `rows`."""
    total = 0
    for row in rows:
        total += ROW_BYTES
        for value in row.values():
            total += VALUE_BYTES + (len(value) if isinstance(value, str) else 0)
    return total


class TenantLru:
    """Entries (anything with `tenant_id` and `bytes`) by tenant, evicted least recently used first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, tenant_id: str) -> bool:
        return tenant_id in self._entries

    def get(self, tenant_id: str) -> Any:
        """The entry (now the most recently used) or None; safe on the event loop (no I/O, no waiting)."""
        entry = self._entries.get(tenant_id)
        if entry is not None:
            # Dropped by another thread in between: the caller still holds a valid entry.
            with contextlib.suppress(KeyError):
                self._entries.move_to_end(tenant_id)
        return entry

    def put(self, entry: Any) -> None:
        with self._lock:
            old = self._entries.pop(entry.tenant_id, None)
            if old is not None:
                self.bytes -= old.bytes
            self._entries[entry.tenant_id] = entry
            self.bytes += entry.bytes
            self._evict()

    def grow(self, entry: Any, nbytes: int) -> None:
        """`entry` now holds `nbytes` more (a member, resource or manager chain was loaded into it)."""
        with self._lock:
            entry.bytes += nbytes
            if self._entries.get(entry.tenant_id) is entry:
                self.bytes += nbytes
                self._evict()

    def pop(self, tenant_id: str) -> None:
        with self._lock:
            old = self._entries.pop(tenant_id, None)
            if old is not None:
                self.bytes -= old.bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def _evict(self) -> None:
        # The newest entry stays even when it alone is over budget: the check that loaded it needs it now.
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            _, old = self._entries.popitem(last=False)
            self.bytes -= old.bytes
