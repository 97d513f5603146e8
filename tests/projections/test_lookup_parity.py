"""Lookups agree with `check` (R-C4) on random histories: at random instants, for every member, permission with a
resource type and known resource, a resource is in the member's lookup exactly when `check` allows it (with the same
`via`), and a member is among the resource's subjects exactly when `check` allows them; pages put together give
the whole answer. On SQLite and PostgreSQL.

Lookups only choose candidates (assignments of the member and those below them, resource grants and what is below
the granted resource, holders at scope `all`, an assignee's managers) and leave the decision to `check`'s function;
the test counts the answers that came through each kind of source (team, role grants on an ancestor, restrictions)
so a history that never reaches one fails instead of passing for nothing. Lookups and checks use separate caches,
so neither reads what the other loaded."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from domain.permissions import CATALOG
from projections.queries.facade import Queries
from tests.projections.random_history import LEADS, RandomHistory
from tests.projections.readside import read_side

TYPED = sorted(p for p, t in CATALOG.items() if t)


class NarrowHistory(RandomHistory):
    """A random history with more of what lookups choose candidates by: brokers (scope `assigned`) with leads
    assigned, reporting lines between them and `team` grants (R-H1), role grants on containers with leads moved
    under them (R-P9, R-H2), restrictions (R-P8)."""

    ACTIONS = {  # noqa: RUF012
        **RandomHistory.ACTIONS,
        "add_broker": 5,
        "assign_broker": 6,
        "broker_reports": 4,
        "team_grant": 4,
        "role_grant": 3,
        "set_parent": 4,
        "restrict": 6,
    }

    def _brokers(self, tenant_id: str) -> list[str]:
        return sorted(u for u, m in self.ledger.load(tenant_id).members.items() if m.role == "broker")

    def add_broker(self, tenant_id: str) -> None:
        user = self._next("b")
        self.ledger.add_member(
            tenant_id, self.owner(), user_id=user, email=f"{user}@x.example", name=user.title(), role="broker"
        )

    def assign_broker(self, tenant_id: str) -> None:
        ids = self.rng.sample(list(LEADS), self.rng.randint(1, 3))
        user = self._pick(self._brokers(tenant_id))
        self.ledger.assign(tenant_id, self.owner(), resource_type="lead", resource_ids=ids, user_id=user)

    def broker_reports(self, tenant_id: str) -> None:
        """A broker reports to another member, often another broker (who may then get a `team` grant)."""
        brokers = self._brokers(tenant_id)
        above = self._pick(brokers if self.rng.random() < 0.7 else self._others(tenant_id))
        self.ledger.set_manager(tenant_id, self.owner(), self._pick(brokers), above)


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
    driver = NarrowHistory(ledger, clock, seed=seed, tenants=2)
    instants = []
    with read_side(ledger, clock) as rs:
        for _ in range(5):
            driver.run(60)
            instants.append(clock.now() - timedelta(minutes=rng.choice((0, 0, 30, 90))))
            clock.set(clock.now() + timedelta(seconds=1))
        ledger.sweep(driver.tenants)
        rs.sync()
        queries = Queries(rs.store, watch=rs.runner.watch)
        checks = Queries(rs.store, watch=rs.runner.watch)
        now = clock.now()
        compared = allowed_seen = 0
        seen: Counter[str] = Counter()
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
                                decision = checks.check(tenant_id, user, permission, resource, as_of=instant, now=now)
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
                                seen.update(_kinds(decision, resource))
                                compared += 1
                            assert set(by_id) <= {i for _, i in of_type}
                        for resource in rng.sample(of_type, min(6, len(of_type))):
                            subjects = _all_pages(
                                partial(
                                    queries.lookup_subjects, tenant_id, permission, *resource, as_of=instant, now=now
                                ),
                                limit=rng.choice((1, 2, 100)),
                            )
                            names = [s["user_id"] for s in subjects]
                            assert names == sorted(set(names))
                            by_user = {s["user_id"]: s for s in subjects}
                            for user in members:
                                decision = checks.check(tenant_id, user, permission, resource, as_of=instant, now=now)
                                assert decision["allowed"] == (user in names), (
                                    tenant_id,
                                    user,
                                    permission,
                                    resource,
                                    instant,
                                )
                                if user in by_user:
                                    subject = by_user[user]
                                    assert (subject["scope"], subject["via"]) == (decision["scope"], decision["via"])
                                seen.update(f"subject {kind}" for kind in _kinds(decision, resource))
    assert compared > 1000 and allowed_seen > 50, (compared, allowed_seen)
    # Every kind of source a lookup narrows its candidates by was decided both ways, on resources and on subjects.
    for kind in ("team", "assignment", "role_grant above", "all", "restricted"):
        assert seen[kind] > 0 and seen[f"subject {kind}"] > 0, (kind, seen)


def _kinds(decision: dict[str, Any], resource: tuple[str, str]) -> list[str]:
    """What gave (or withdrew) the access `decision` answers: its sources' kinds, `role_grant above` for a role
    grant on an ancestor of the resource, `all` for scope all, `restricted` for a denial by a restriction."""
    if decision["reason"] == "restricted":
        return ["restricted"]
    kinds = []
    for via in decision["via"]:
        if via["kind"] == "role_grant" and via["resource"] != {"type": resource[0], "id": resource[1]}:
            kinds.append("role_grant above")
        elif via["kind"] in ("team", "assignment"):
            kinds.append(via["kind"])
    if decision["scope"] == "all":
        kinds.append("all")
    return kinds


def test_R_C4_lookups_of_members_too_long_to_hold_answer_from_sql_alike(ledger, clock, monkeypatch) -> None:
    """A member whose history is too long for the cache is read from SQL (as `check` does): lookups answer the
    same from there, resources and subjects, now and as of an earlier instant."""
    driver = NarrowHistory(ledger, clock, seed=3, tenants=1)
    with read_side(ledger, clock) as rs:
        driver.run(150)
        earlier = clock.now() - timedelta(hours=1)
        ledger.sweep(driver.tenants)
        rs.sync()
        tenant_id, now = driver.tenants[0], clock.now()

        def answers(queries: Queries) -> list[Any]:
            members = rs.rows("SELECT DISTINCT user_id FROM dir_members WHERE tenant_id = ?", (tenant_id,))
            out: list[Any] = []
            for instant in (earlier, None):
                for permission in ("leads.view_details", "leads.assign"):
                    for user in sorted(r["user_id"] for r in members):
                        out.append(queries.lookup_resources(tenant_id, user, permission, "lead", instant, now=now))
                    for lead in LEADS[:6]:
                        out.append(queries.lookup_subjects(tenant_id, permission, "lead", lead, instant, now=now))
            return out

        held = answers(Queries(rs.store, watch=rs.runner.watch))
        monkeypatch.setattr("projections.queries.access_cache.MAX_MEMBER_ROWS", 1)
        assert answers(Queries(rs.store, watch=rs.runner.watch)) == held
        assert sum(len(a["items"]) for a in held) > 50
