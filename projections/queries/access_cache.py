"""Checks from memory, now and as of any instant (goal: p99 ≤ 50 µs in-process, as-of no slower than now).

Entries are loaded from the read models on first use: a tenant's closing instant, each member's whole history
(`projections.queries.access_history`), each resource's assignment intervals and ancestors (R-H2), and each assignee's
managers (R-H1): closures the directory precomputed, so no check walks a tree. They belong to the projection position
they were read at; when the position moves, only the tenants whose events moved it are dropped: as the process's
`PositionWatch` hears of them (the runner's batch, the projector's NOTIFY), else from `dir_tenants.last_position`.
Expiry and closing instants are compared with the instant asked, so a grant that expired or a tenant that closed a
moment ago is denied before its system event is recorded (validity windows).
A member whose history is too long to hold is answered from SQL instead (`projections.queries.access`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from projections.db import ReadStore
from projections.queries.access import access_position, closing, holdings_at, role_at, tenant_row
from projections.queries.access_history import Assignments, Chains, MemberHistory
from projections.queries.cache_budget import ENTRY_BYTES, TenantLru, weigh
from projections.queries.cache_place import CachedPlace, NotInMemory
from projections.queries.decide import Holding, Place, decide, decision
from projections.values import parse_ts, ts
from projections.watch import PositionWatch, Tenants

MAX_ENTRIES = 100_000  # members or resources per tenant entry before it starts over
DEFAULT_MAX_BYTES = 256 * 2**20  # ACCESSLEDGER_CACHE_MB (R-Z5)
MAX_MEMBER_ROWS = 20_000  # history rows of one member held in memory; beyond, SQL answers
TOO_LONG = object()
CHUNK = 500  # ids in one IN list
ResourceState = tuple[Assignments, Chains]  # a resource's assignment intervals and ancestors over time


@dataclass
class TenantEntry:
    """What the cache knows of one tenant: when it closes, its members' histories, its resources' assignees."""

    tenant_id: str
    state: str
    closes_at: datetime | None
    owner_id: str = ""
    members: dict[str, Any] = field(default_factory=dict)  # member → MemberHistory | TOO_LONG (never strangers)
    # Every user id that was ever a member, read when a stranger is first asked: later strangers are told apart in
    # memory (a PostgreSQL round trip each put them above the check's p99 goal) while none of them is kept (R-Z5).
    ever_members: frozenset[str] | None = None
    resources: dict[tuple[str, str], ResourceState] = field(default_factory=dict)
    managers: dict[str, Chains] = field(default_factory=dict)  # member → who is above them, over time
    principals: dict[str, dict[str, str]] = field(default_factory=dict)  # token hash → active member token
    bytes: int = ENTRY_BYTES  # estimated memory held (projections.queries.cache_budget)

    def closed(self, instant: datetime) -> bool:
        return self.closes_at is not None and self.closes_at <= instant

    def status(self, now: datetime) -> str:
        return "closed" if self.closed(now) else self.state


class AccessCache:
    """Per-tenant histories keyed by the access read models' position."""

    def __init__(
        self,
        store: ReadStore,
        position_source: Callable[[], int] | None = None,
        peek_source: Callable[[], int | None] | None = None,
        watch: PositionWatch | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """`peek_source` gives the position without any I/O, or None when it would need some: with it, `peek`
        and friends answer from memory on the event loop (no thread hop) whenever nothing moved. A `watch`
        replaces both: its advances drop the tenants that moved the moment they are heard of (R-Z1). `max_bytes`
        bounds the memory held, least recently used tenants dropped first (R-Z5)."""
        self.store = store
        if watch is not None:
            position_source = peek_source = lambda: watch.position  # noqa: E731
            watch.subscribe(self._moved)
        self.position_source = position_source
        self.peek_source = peek_source
        self._token_tenants: dict[str, str] = {}
        self._position: int | None = None
        self._tenants = TenantLru(max_bytes)
        self._generation = 0  # bumped whenever entries are dropped: a load that raced a drop is not kept
        self._lock = threading.Lock()

    def current_position(self) -> int:
        """The position the access read models reached (from the runner in-process, else from the database)."""
        if self.position_source is not None:
            return self.position_source()
        with self.store.reader() as tx:
            return access_position(tx)

    def sync(self) -> int:
        """Drop what moved since the last call; returns the position answers are computed at."""
        position = self.current_position()
        if position == self._position:
            return position
        with self._lock:
            previous = self._position
            self._generation += 1
            if previous is not None and self._tenants:
                if position < previous:
                    self._tenants.clear()  # tables were swapped in by a rebuild: start over
                else:
                    with self.store.reader() as tx:
                        moved = tx.all("SELECT tenant_id FROM dir_tenants WHERE last_position > ?", (previous,))
                    for row in moved:
                        self._tenants.pop(row["tenant_id"])
            self._position = position
        return position

    def _moved(self, position: int, tenants: Tenants) -> None:
        """The watch heard that `tenants` (None: any) moved and the projections reached `position`."""
        with self._lock:
            self._generation += 1
            if tenants is None:
                self._tenants.clear()
            else:
                for tenant_id in tenants:
                    self._tenants.pop(tenant_id)
            self._position = position

    def clear(self) -> None:
        """Forget everything (after a rebuild, or in tests)."""
        with self._lock:
            self._generation += 1
            self._tenants.clear()
            self._position = None

    def tenant(self, tenant_id: str) -> TenantEntry:
        """The tenant's entry; `not_found` for a tenant never opened."""
        entry = self._tenants.get(tenant_id)
        if entry is None:
            generation = self._generation
            with self.store.autocommit() as tx:  # one statement; the entry keeps no personal field
                row = tenant_row(tx, tenant_id)
            instant, _ = closing(row)
            entry = TenantEntry(tenant_id, row["status"], parse_ts(instant) if instant else None, row["owner_id"])
            with self._lock:
                if generation == self._generation:
                    self._tenants.put(entry)
        return entry

    def _keep(self, entry: TenantEntry, table: dict[Any, Any], key: Any, value: Any, nbytes: int) -> None:
        """Remember `value` in one of the entry's tables and count its bytes against the budget."""
        if len(table) >= MAX_ENTRIES:
            self._tenants.pop(entry.tenant_id)  # too many for one entry: it starts over on next use
            return
        table[key] = value
        self._tenants.grow(entry, nbytes)

    def member(self, entry: TenantEntry, user_id: str) -> Any:
        """The user's MemberHistory, None if never a member (not remembered: random ids must not fill the cache,
        R-Z5), or TOO_LONG."""
        if user_id in entry.members:
            return entry.members[user_id]
        if entry.ever_members is not None and user_id not in entry.ever_members:
            return None
        with self.store.reader() as tx:
            roles = tx.all(
                "SELECT role, valid_from, valid_to, from_position FROM dir_roles WHERE tenant_id = ? AND user_id = ? "
                "ORDER BY valid_from, from_position",
                (entry.tenant_id, user_id),
            )
            rows = []
            if roles:
                rows = tx.all(
                    "SELECT permission, scope, resource_type, resource_id, source_kind, source_id, valid_from, "
                    "valid_to, expires_at, from_position FROM permission_history WHERE tenant_id = ? AND user_id = ? "
                    "LIMIT ?",
                    (entry.tenant_id, user_id, MAX_MEMBER_ROWS + 1),
                )
        if not roles:
            self._know_members(entry)
            return None
        if len(rows) > MAX_MEMBER_ROWS or len(roles) > MAX_MEMBER_ROWS:
            history: Any = TOO_LONG
        else:
            history = MemberHistory(roles, rows)
        self._keep(entry, entry.members, user_id, history, weigh(roles) + (0 if history is TOO_LONG else weigh(rows)))
        return history

    def _know_members(self, entry: TenantEntry) -> None:
        """Read who was ever a member of the tenant into `entry.ever_members`, unless there are too many to hold."""
        if entry.ever_members is not None:
            return
        with self.store.reader() as tx:
            rows = tx.all(
                "SELECT DISTINCT user_id FROM dir_roles WHERE tenant_id = ? LIMIT ?", (entry.tenant_id, MAX_ENTRIES + 1)
            )
        if len(rows) > MAX_ENTRIES:
            return
        entry.ever_members = frozenset(row["user_id"] for row in rows)
        self._tenants.grow(entry, weigh(rows))

    def resource(self, entry: TenantEntry, resource: tuple[str, str]) -> ResourceState:
        """The resource's assignment intervals and ancestors over time."""
        found = entry.resources.get(resource)
        return found if found is not None else self.resources(entry, resource[0], [resource[1]])[resource[1]]

    def resources(self, entry: TenantEntry, resource_type: str, ids: list[str]) -> dict[str, ResourceState]:
        """`resource` for many resources of one type at once: what the entry lacks is read in two statements per
        `CHUNK` ids (lookups decide a page of resources together, R-C4)."""
        found = {i: entry.resources[(resource_type, i)] for i in ids if (resource_type, i) in entry.resources}
        missing = [i for i in ids if i not in found]
        if not missing:
            return found
        with self.store.reader() as tx:
            for start in range(0, len(missing), CHUNK):
                part = missing[start : start + CHUNK]
                marks = ", ".join("?" for _ in part)
                key = (entry.tenant_id, resource_type, *part)
                rows: dict[str, list[dict[str, Any]]] = {i: [] for i in part}
                parents: dict[str, list[dict[str, Any]]] = {i: [] for i in part}
                for row in tx.all(
                    "SELECT resource_id, user_id, assigned_at, unassigned_at, from_position FROM dir_assignments "
                    f"WHERE tenant_id = ? AND resource_type = ? AND resource_id IN ({marks}) "
                    "ORDER BY resource_id, assigned_at, from_position",
                    key,
                ):
                    rows[row["resource_id"]].append(row)
                for row in tx.all(
                    "SELECT resource_id, ancestors, valid_from, valid_to, from_position FROM dir_parents "
                    f"WHERE tenant_id = ? AND resource_type = ? AND resource_id IN ({marks}) "
                    "ORDER BY resource_id, valid_from, from_position",
                    key,
                ):
                    parents[row["resource_id"]].append(row)
                for i in part:
                    resource = (resource_type, i)
                    state = (Assignments(rows[i]), Chains(parents[i], "ancestors", frozenset({resource})))
                    self._keep(entry, entry.resources, resource, state, weigh(rows[i]) + weigh(parents[i]))
                    found[i] = state
        return found

    def assignee(self, entry: TenantEntry, resource: tuple[str, str], instant: datetime) -> str | None:
        """Who the resource is assigned to at `instant`."""
        return self.resource(entry, resource)[0].assignee_at(instant)

    def managers(self, entry: TenantEntry, user_id: str) -> Chains:
        """Who is above the member in the reporting lines, over time (the owner, above everyone, left out)."""
        found = entry.managers.get(user_id)
        if found is None:
            with self.store.reader() as tx:
                rows = tx.all(
                    "SELECT managers, valid_from, valid_to, from_position FROM dir_reporting WHERE tenant_id = ? "
                    "AND user_id = ? ORDER BY valid_from, from_position",
                    (entry.tenant_id, user_id),
                )
            found = Chains(rows, "managers")
            self._keep(entry, entry.managers, user_id, found, weigh(rows))
        return found

    def check(
        self,
        tenant_id: str,
        user_id: str,
        permission: str,
        resource: tuple[str, str] | None,
        instant: datetime,
        as_of: str | None,
    ) -> dict[str, Any]:
        """R-C1/R-C2 at `instant` (now, or the as-of instant already validated)."""
        position = self.sync()
        entry = self.tenant(tenant_id)
        return self._answer(entry, position, user_id, permission, resource, instant, as_of, memory_only=False)

    # ------------------------------------------------------------- from memory alone (no I/O, for the event loop)

    def _in_sync(self) -> int | None:
        """The position answers are at, if the source says so without I/O and nothing moved since the last sync."""
        position = self.peek_source() if self.peek_source is not None else None
        return position if position is not None and position == self._position else None

    def peek(
        self,
        tenant_id: str,
        user_id: str,
        permission: str,
        resource: tuple[str, str] | None,
        instant: datetime,
        as_of: str | None,
    ) -> dict[str, Any] | None:
        """`check` answered from memory alone, or None when that needs the database (then call `check`)."""
        position = self._in_sync()
        entry = self._tenants.get(tenant_id) if position is not None else None
        if entry is None:
            return None
        try:
            return self._answer(entry, position, user_id, permission, resource, instant, as_of, memory_only=True)
        except NotInMemory:
            return None

    def peek_status(self, tenant_id: str, now: datetime) -> str | None:
        """The tenant's status from memory, or None."""
        entry = self._tenants.get(tenant_id) if self._in_sync() is not None else None
        return None if entry is None else entry.status(now)

    def principal(self, token_hash: str, lookup: Callable[[str], dict[str, str] | None]) -> dict[str, str] | None:
        """`lookup(token_hash)` (the database), remembered in its tenant's entry: forgotten when the tenant moves,
        so a revoked token or a removed member is refused as soon as the event is projected."""
        self.sync()
        generation = self._generation
        found = lookup(token_hash)
        if found is not None:
            entry = self.tenant(found["tenant_id"])
            with self._lock:
                if generation == self._generation and self._tenants.get(found["tenant_id"]) is entry:
                    if len(self._token_tenants) >= MAX_ENTRIES:
                        self._token_tenants.clear()
                    entry.principals[token_hash] = found
                    self._token_tenants[token_hash] = found["tenant_id"]
                    self._tenants.grow(entry, weigh([found]))
        return found

    def peek_principal(self, token_hash: str) -> dict[str, str] | None:
        """The active member token's principal from memory, or None (unknown here: ask `principal`)."""
        if self._in_sync() is None:
            return None
        tenant_id = self._token_tenants.get(token_hash)
        entry = self._tenants.get(tenant_id) if tenant_id is not None else None
        return None if entry is None else entry.principals.get(token_hash)

    # ------------------------------------------------------------- the answer

    def standing(
        self, entry: TenantEntry, user_id: str, permission: str, instant: datetime, memory_only: bool = False
    ) -> tuple[str, list[Holding]] | None:
        """(role, every source giving or withdrawing `permission`) of the member at `instant`, as `check` reads
        them; None if they were not a member then. A history too long to hold is read from SQL."""
        if memory_only:
            history = entry.members.get(user_id, TOO_LONG)
            if history is TOO_LONG and entry.ever_members is not None and user_id not in entry.ever_members:
                return None
            if history is TOO_LONG:
                raise NotInMemory
        else:
            history = self.member(entry, user_id)
        if history is TOO_LONG:
            at = ts(instant)
            with self.store.reader() as tx:
                role = role_at(tx, entry.tenant_id, user_id, at)
                if role is None:
                    return None
                return role["role"], holdings_at(tx, entry.tenant_id, user_id, permission, at)
        role = None if history is None else history.role_at(instant)
        return None if role is None else (role, history.holdings_at(permission, instant))

    def place(self, entry: TenantEntry, resource: tuple[str, str], instant: datetime, state: Any = None) -> Place:
        """Where `resource` sits at `instant` (read when first asked, unless its ResourceState is given)."""
        return CachedPlace(self, entry, resource, instant, False, state)

    def _answer(
        self,
        entry: TenantEntry,
        position: int,
        user_id: str,
        permission: str,
        resource: tuple[str, str] | None,
        instant: datetime,
        as_of: str | None,
        memory_only: bool,
    ) -> dict[str, Any]:
        if entry.closed(instant):
            return decision(False, None, "tenant_closed", [], as_of, position)
        standing = self.standing(entry, user_id, permission, instant, memory_only)
        if standing is None:
            return decision(False, None, "not_a_member", [], as_of, position)
        place = None if resource is None else CachedPlace(self, entry, resource, instant, memory_only)
        allowed, scope, reason, via, restriction_id = decide(user_id, permission, resource, standing[1], place)
        return decision(allowed, scope, reason, via, as_of, position, restriction_id)
