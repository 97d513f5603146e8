"""R-Z5: the access cache stays within its byte budget, least recently used tenants first, and keeps no strangers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain.application import AccessLedger
from domain.clock import ManualClock
from projections.queries.cache_budget import TenantLru, weigh
from projections.queries.facade import Queries
from tests.projections.readside import read_side
from tests.support import add_member, open_tenant


@dataclass
class _Entry:
    tenant_id: str
    bytes: int


def test_r_z5_least_recently_used_tenants_are_dropped_first_within_the_budget() -> None:
    """R-Z5: the LRU keeps the total under its budget, dropping the tenant used longest ago."""
    lru = TenantLru(max_bytes=3_000)
    for name in ("a", "b", "c"):
        lru.put(_Entry(name, 1_000))
    assert lru.get("a") is not None  # a is now the most recently used
    lru.put(_Entry("d", 1_000))
    assert "b" not in lru and {"a", "c", "d"} == {t for t in "acd" if t in lru}
    entry = lru.get("c")
    lru.grow(entry, 1_500)
    assert lru.bytes <= 3_000 and "c" in lru
    lru.pop("c")
    assert lru.bytes == sum(e.bytes for e in (lru.get(t) for t in "abd") if e is not None)
    assert weigh([{"user_id": "bob", "n": 1}]) > weigh([])


def test_r_z5_checks_for_unknown_users_do_not_grow_the_cache(ledger: AccessLedger, clock: ManualClock) -> None:
    """R-Z5: checking random user ids answers not_a_member and keeps nothing about them (only, once, who the
    members are)."""
    open_tenant(ledger)
    add_member(ledger, "bob")
    with read_side(ledger, clock) as rs:
        rs.sync()
        queries = Queries(rs.store, watch=rs.runner.watch)
        assert queries.check("acme", "bob", "leads.list", None, None, rs.now)["allowed"]
        assert queries.check("acme", "first-stranger", "leads.list", None, None, rs.now)["reason"] == "not_a_member"
        held = queries.cache._tenants.bytes
        for _ in range(300):
            answer = queries.check("acme", uuid.uuid4().hex, "leads.list", None, None, rs.now)
            assert answer["reason"] == "not_a_member"
        assert queries.cache._tenants.bytes == held
        assert set(queries.cache.tenant("acme").members) == {"bob"}


def test_r_z5_r_c1_strangers_are_told_apart_in_memory_and_a_new_member_is_seen(
    ledger: AccessLedger, clock: ManualClock
) -> None:
    """R-Z5, R-C1: after the first stranger, others are answered without reading the database (also from memory
    alone, on the event loop); a stranger who then becomes a member is allowed once their event is projected."""
    open_tenant(ledger)
    add_member(ledger, "bob")
    with read_side(ledger, clock) as rs:
        rs.sync()
        queries = Queries(rs.store, watch=rs.runner.watch)
        assert queries.check("acme", "first-stranger", "leads.list", None, None, rs.now)["reason"] == "not_a_member"
        reads = []
        real_reader = rs.store.reader
        rs.store.reader = lambda *a, **k: reads.append(1) or real_reader(*a, **k)  # type: ignore[method-assign]
        try:
            for n in range(50):
                assert queries.check("acme", f"stranger-{n}", "leads.list", None, None, rs.now)["allowed"] is False
            peeked = queries.peek_check("acme", "carol", "leads.list", None, None, rs.now)
            assert peeked is not None and peeked["reason"] == "not_a_member"
            assert reads == []
        finally:
            rs.store.reader = real_reader  # type: ignore[method-assign]
        add_member(ledger, "carol")
        rs.sync()
        assert queries.check("acme", "carol", "leads.list", None, None, rs.now)["allowed"]
        assert queries.peek_check("acme", "carol", "leads.list", None, None, rs.now)["allowed"]


def test_r_z5_the_cache_stays_within_its_byte_budget(ledger: AccessLedger, clock: ManualClock) -> None:
    """R-Z5: with a budget of a few entries, checks over many tenants keep the cache under it, answers unchanged."""
    tenants = [f"t{n}" for n in range(12)]
    for tenant in tenants:
        open_tenant(ledger, tenant, owner_info={"user_id": "olga", "email": f"o@{tenant}.example", "name": "O"})
        add_member(ledger, "bob", tenant_id=tenant)
    with read_side(ledger, clock) as rs:
        rs.sync()
        unbounded = Queries(rs.store, watch=rs.runner.watch)
        bounded = Queries(rs.store, watch=rs.runner.watch, cache_bytes=40_000)
        for _ in range(2):
            for tenant in tenants:
                for user in ("olga", "bob"):
                    want = unbounded.check(tenant, user, "leads.list", None, None, rs.now)
                    assert bounded.check(tenant, user, "leads.list", None, None, rs.now) == want
                    assert bounded.cache._tenants.bytes <= 40_000 or len(bounded.cache._tenants) == 1
        assert 1 <= len(bounded.cache._tenants) < len(tenants) == len(unbounded.cache._tenants)
        assert tenants[-1] in bounded.cache._tenants  # the most recently used stays
