"""The read side's checks (`projections.queries.decide`) against the aggregate's own rule
(`domain.effective_access.Access`) on random histories with custom roles, restrictions, role grants, reporting lines
and resource trees, now and as of every past instant sampled (R-C1, R-C3, R-P7…R-P9, R-H1, R-H2), on SQLite and
PostgreSQL.

`decide` restates over history rows what `Access.holds` / `Access.restriction_for` decide on the present state; this
test is what keeps the two copies of the rule equal.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from domain.effective_access import Access
from domain.permissions import CATALOG
from projections.queries.access import access_position, check_at, tenant_row
from projections.queries.facade import Queries
from tests.projections.random_history import CONTAINERS, LEADS, RandomHistory
from tests.projections.readside import read_side

RESOURCES: list[Any] = [None, *(("lead", lead) for lead in LEADS[::2]), *CONTAINERS[:2]]


def domain_answers(tenant: Any, users: list[str]) -> dict[tuple, tuple]:
    """(user, permission, resource) → (allowed, restriction id, widest scope) by the aggregate's rule."""
    access = Access(tenant)
    out = {}
    for user in users:
        held = access.held_scopes(user)
        for permission in CATALOG:
            for resource in RESOURCES:
                allowed = access.holds(user, permission, "resource", resource)
                restriction = None
                if permission in held:
                    found = access.restriction_for(user, permission, "resource", resource)
                    restriction = None if found is None else found.restriction_id
                scope = held.get(permission) if allowed and resource is None else None
                out[(user, permission, resource)] = (allowed, restriction, scope)
    return out


def read_answer(decision: dict[str, Any], resource: Any) -> tuple:
    scope = decision["scope"] if decision["allowed"] and resource is None else None
    return decision["allowed"], decision["restriction_id"], scope


@pytest.mark.parametrize("seed", [3, 8])
def test_R_C1_R_P8_R_P9_R_H1_R_H2_checks_equal_the_aggregates_rule_now_and_as_of(ledger, clock, seed) -> None:
    driver = RandomHistory(ledger, clock, seed=seed, tenants=2)
    # More reporting lines, assignments and scoped grants than the default mix, so teams are reached often.
    driver.ACTIONS = {**RandomHistory.ACTIONS, "set_manager": 6, "assign": 6, "role_grant": 3, "team_grant": 4}
    snapshots: list[tuple[Any, str, list[str], dict]] = []
    with read_side(ledger, clock) as rs:
        # Checks as the API makes them: the position from the runner, not a read per check.
        queries = Queries(rs.store, watch=rs.runner.watch)
        for _ in range(6):
            driver.run(70)
            ledger.sweep(driver.tenants)  # the state as of now, due changes included (R-K1)
            instant = clock.now()
            for tenant_id in driver.tenants:
                tenant = ledger.load(tenant_id)
                rs.sync()
                rows = rs.rows("SELECT user_id FROM dir_members WHERE tenant_id = ?", (tenant_id,))
                users = sorted({*(r["user_id"] for r in rows), "nobody"})
                expected = domain_answers(tenant, users)
                now = {k: read_answer(queries.check(tenant_id, *k, now=instant), k[2]) for k in expected}
                assert now == expected, _first_difference(now, expected)
                snapshots.append((instant, tenant_id, users, expected))
            clock.set(clock.now() + timedelta(seconds=1))  # later commands must not share the sampled instant
        rs.sync()
        kinds: Counter = Counter()
        for instant, tenant_id, _users, expected in snapshots:
            then = {}
            for key in expected:
                decision = queries.check(tenant_id, *key, as_of=instant, now=clock.now())
                kinds.update(v["kind"] for v in decision["via"])
                kinds[decision["reason"]] += 1
                then[key] = read_answer(decision, key[2])
            assert then == expected, _first_difference(then, expected)
        # The SQL path (explain, long histories) decides alike, on a sample.
        with rs.store.reader() as tx:
            for instant, tenant_id, _users, expected in snapshots[-4:]:
                tenant, position = tenant_row(tx, tenant_id), access_position(tx)
                for key in list(expected)[::5]:
                    decision = check_at(tx, tenant, *key, instant, None, position)
                    assert read_answer(decision, key[2]) == expected[key], key
    # The sampled histories reach every new kind of answer, so the comparison above means something.
    assert kinds["role_grant"] and kinds["team"] and kinds["restricted"] and kinds["assignment"], kinds


def _first_difference(got: dict, expected: dict) -> str:
    for key in expected:
        if got.get(key) != expected[key]:
            return f"{key}: read side {got.get(key)}, aggregate {expected[key]}"
    return "no difference"
