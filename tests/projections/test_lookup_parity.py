"""Lookups agree with `check` (R-C4) on random histories: at random instants, for every member, permission with a
resource type and known resource, a resource is in the member's lookup exactly when `check` allows it (with the same
`via`), and a member is among the resource's subjects exactly when `check` allows them; pages put together give
the whole answer. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from domain.permissions import CATALOG
from projections.queries.facade import Queries
from tests.projections.random_history import RandomHistory
from tests.projections.readside import read_side

TYPED = sorted(p for p, t in CATALOG.items() if t)


def _all_pages(ask: Any, limit: int) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        answer = ask(cursor=cursor, limit=limit)
        items += answer["items"]
        cursor = answer["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize("seed", [5, 11])
def test_R_C4_lookups_and_checks_agree_both_ways_at_random_instants(ledger, clock, seed) -> None:
    rng = random.Random(seed)
    driver = RandomHistory(ledger, clock, seed=seed, tenants=2)
    driver.ACTIONS = {**RandomHistory.ACTIONS, "set_manager": 5, "assign": 6, "role_grant": 3, "team_grant": 3}
    instants = []
    with read_side(ledger, clock) as rs:
        for _ in range(5):
            driver.run(60)
            instants.append(clock.now() - timedelta(minutes=rng.choice((0, 0, 30, 90))))
            clock.set(clock.now() + timedelta(seconds=1))
        ledger.sweep(driver.tenants)
        rs.sync()
        queries = Queries(rs.store, watch=rs.runner.watch)
        now = clock.now()
        compared = allowed_seen = 0
        for tenant_id in driver.tenants:
            members = sorted(
                r["user_id"]
                for r in rs.rows("SELECT DISTINCT user_id FROM dir_members WHERE tenant_id = ?", (tenant_id,))
            )
            known = rs.rows("SELECT resource_type, resource_id FROM dir_resources WHERE tenant_id = ?", (tenant_id,))
            resources = sorted({(r["resource_type"], r["resource_id"]) for r in known})
            types = sorted({t for t, _ in resources})
            for instant in [*instants, None]:
                for permission in rng.sample(TYPED, 3):
                    for resource_type in types:
                        of_type = [r for r in resources if r[0] == resource_type]
                        for user in members:
                            listed = _all_pages(
                                partial(
                                    queries.lookup_resources,
                                    tenant_id,
                                    user,
                                    permission,
                                    resource_type,
                                    as_of=instant,
                                    now=now,
                                ),
                                limit=rng.choice((1, 3, 100)),
                            )
                            by_id = {i["resource"]["id"]: i for i in listed}
                            assert len(by_id) == len(listed), "a resource listed twice"
                            for resource in of_type:
                                decision = queries.check(tenant_id, user, permission, resource, as_of=instant, now=now)
                                item = by_id.get(resource[1])
                                assert decision["allowed"] == (item is not None), (
                                    tenant_id,
                                    user,
                                    permission,
                                    resource,
                                    instant,
                                )
                                if item is not None:
                                    assert (item["scope"], item["via"]) == (decision["scope"], decision["via"])
                                    allowed_seen += 1
                                compared += 1
                            assert set(by_id) <= {i for _, i in of_type}
                        for resource in rng.sample(of_type, min(3, len(of_type))):
                            subjects = _all_pages(
                                partial(
                                    queries.lookup_subjects, tenant_id, permission, *resource, as_of=instant, now=now
                                ),
                                limit=rng.choice((1, 2, 100)),
                            )
                            names = [s["user_id"] for s in subjects]
                            assert names == sorted(set(names))
                            for user in members:
                                decision = queries.check(tenant_id, user, permission, resource, as_of=instant, now=now)
                                assert decision["allowed"] == (user in names), (
                                    tenant_id,
                                    user,
                                    permission,
                                    resource,
                                    instant,
                                )
    assert compared > 1000 and allowed_seen > 50, (compared, allowed_seen)
