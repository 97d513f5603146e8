"""The change feed (R-C5) against the access report (R-L5) on random histories: replaying a tenant's feed from
position 0 gives exactly the report as of its last event; every entry points at its event; on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from projections.changes.effective import entries
from projections.queries.access import access_report_at, tenant_row
from projections.queries.facade import Queries
from tests.projections.random_history import RandomHistory
from tests.projections.readside import read_side


def replayed(queries: Queries, tenant_id: str, limit: int) -> tuple[set[tuple], list[dict[str, Any]]]:
    """The feed from position 0, page by page, applied to an empty set; every step must be possible."""
    held: set[tuple] = set()
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = queries.changes(tenant_id, after=after, limit=limit)
        if not page["items"]:
            assert page["next_after"] == after
            return held, seen
        for item in page["items"]:
            resource = item["resource"] or {}
            key = (item["user_id"], item["permission"], item["scope"], resource.get("type"), resource.get("id"))
            if item["effect"] == "gained":
                assert key not in held, ("gained twice", item)
                held.add(key)
            else:
                assert key in held, ("lost what was not held", item)
                held.discard(key)
        seen += page["items"]
        assert page["next_after"] == page["items"][-1]["position"] > after
        after = page["next_after"]


def report_entries(report: list[dict[str, Any]]) -> set[tuple]:
    return {(m["user_id"], *entry) for m in report for entry in entries(m["permissions"])}


@pytest.mark.parametrize("seed", [2, 6])
def test_R_C5_replaying_the_feed_gives_the_access_report_at_its_last_position(ledger, clock, seed) -> None:
    driver = RandomHistory(ledger, clock, seed=seed, tenants=3)
    # Grants on containers and moves under them (R-H2): the report lists what a grant covers below it.
    driver.ACTIONS = {**RandomHistory.ACTIONS, "redefine_role": 3, "role_grant": 3, "restrict": 3}
    driver.ACTIONS |= {"container_grant": 3, "set_parent": 4}
    with read_side(ledger, clock) as rs:
        queries = Queries(rs.store, watch=rs.runner.watch)
        types: Counter = Counter()
        for round_ in range(3):
            driver.run(120)
            ledger.sweep(driver.tenants)
            rs.sync()
            for tenant_id in driver.tenants:
                audit = rs.rows(
                    "SELECT position, event_type, occurred_at FROM audit_entries WHERE tenant_id = ? ORDER BY position",
                    (tenant_id,),
                )
                last = audit[-1]
                with rs.store.reader() as tx:
                    report = access_report_at(tx, tenant_row(tx, tenant_id), last["occurred_at"])
                held, seen = replayed(queries, tenant_id, limit=(7, 50, 1000)[round_])
                assert held == report_entries(report), (tenant_id, round_)
                events = {a["position"]: a for a in audit}
                for item in seen:
                    event = events[item["position"]]
                    assert item["event_type"] == event["event_type"]
                    types[item["event_type"]] += 1
                positions = [(i["position"], i["index"]) for i in seen]
                assert positions == sorted(set(positions))
    # The common causes show up on these histories (the rarer ones: test_change_feed_causes.py); a move under (or
    # away from) a granted container gains (loses) the leads it carries.
    causes = ("MemberAdded", "MemberRoleChanged", "MemberRemoved", "PermissionGranted", "RoleRedefined")
    for cause in (*causes, "ResourceParentSet"):
        assert types[cause] > 0, (cause, types)
