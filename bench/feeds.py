"""Lookups (R-C4) and the change feed (R-C5), each beside a baseline from the same run: a lookup's first page
against the checks one by one an integrator would make without it; the projection of a role redefinition held by
many members with the change feed against the same projection without it; reading the feed against the raw rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import feed_readers
from bench.context import DbRun, fail_row, log
from bench.harness import Latencies, Row, Sizes
from domain.application import Actor
from projections.changes.projection import ChangesProjection

RESOURCES = "lookup resources: a broker's first page of 100"
EVERYTHING = "lookup resources: an all-scope user's first page"
SUBJECTS = "lookup subjects on one lead"
FANOUT = "change feed: projecting a role redefinition"
READING = "change feed: reading pages"
TENANT = "bench-feeds"
OWNER = Actor("olga")


def _size(sizes: Sizes) -> tuple[int, int, int]:
    """(leads in the tenant, leads of the broker, members holding the custom role) for the run's size."""
    return {"full": (100_000, 1_000, 1_000), "quick": (20_000, 1_000, 300)}.get(sizes.name, (2_000, 200, 40))


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [
        (RESOURCES, "p99 ≤ 10 ms", "s"),
        (EVERYTHING, "p99 ≤ 10 ms", "s"),
        (SUBJECTS, "p99 ≤ 5 ms", "s"),
        (FANOUT, "rate ≥ 30 % of plain", "events/s"),
        (READING, "≥ 50,000 entries/s", "entries/s"),
        (feed_readers.FIGURE, feed_readers.GOAL, "s"),
    ]


def _timed(fn: Callable[[], Any], count: int) -> Latencies:
    spent = []
    for _ in range(count):
        start = time.perf_counter_ns()
        fn()
        spent.append((time.perf_counter_ns() - start) / 1e9)
    return Latencies.of(spent)


def _setup(db: DbRun, leads: int, mine: int, holders: int) -> None:
    ledger = db.ledger
    plan = {"name": "bench", "included_seats": holders + 10, "billing_interval": "yearly", "currency": "EUR"}
    owner = {"user_id": "olga", "email": "olga@feeds.example", "name": "Olga"}
    ledger.open_tenant(Actor("operator"), tenant_id=TENANT, name=TENANT, plan=plan, owner=owner)
    ledger.define_role(
        TENANT,
        OWNER,
        role_id="helper",
        name="Helper",
        includes=[],
        permissions=[{"permission": "leads.view_details", "scope": "assigned"}],
    )
    for k in range(holders):
        user = f"h{k:05d}"
        ledger.add_member(TENANT, OWNER, user_id=user, email=f"{user}@feeds.example", name=user, role="helper")
    ledger.add_member(TENANT, OWNER, user_id="bea", email="bea@feeds.example", name="Bea", role="broker")
    ledger.add_member(TENANT, OWNER, user_id="fil", email="fil@feeds.example", name="Fil", role="broker")
    ids = [f"L-{k:06d}" for k in range(leads)]
    step = max(1, leads // mine)
    bea = set(ids[::step][:mine])
    rest = [i for i in ids if i not in bea]
    ledger.assign(TENANT, OWNER, resource_type="lead", resource_ids=sorted(bea), user_id="bea")
    for start in range(0, len(rest), 10_000):
        ledger.assign(TENANT, OWNER, resource_type="lead", resource_ids=rest[start : start + 10_000], user_id="fil")
    db.services.runner.catch_up()


def _checks_one_by_one(db: DbRun, user: str, items: list[str]) -> Callable[[], Any]:
    check = db.queries.check
    return lambda: [check(TENANT, user, "leads.view_details", ("lead", i)) for i in items]


def _redefine(db: DbRun, scope: str) -> None:
    permissions = [{"permission": "leads.view_details", "scope": scope}]
    db.ledger.redefine_role(TENANT, OWNER, "helper", name="Helper", includes=[], permissions=permissions)


def _projecting(db: DbRun, with_feed: bool, scope: str) -> float:
    """Seconds to project one redefinition, with or without the change feed among the projections."""
    runner = db.services.runner
    kept = runner.projections
    if not with_feed:
        runner.projections = [p for p in kept if not isinstance(p, ChangesProjection)]
    try:
        _redefine(db, scope)
        start = time.perf_counter()
        runner.catch_up()
        return time.perf_counter() - start
    finally:
        runner.projections = kept
        runner.catch_up()  # the feed catches up on what it skipped (outside the timing)


def run(db: DbRun) -> None:
    leads, mine, holders = _size(db.sizes)
    count = 200 if db.sizes.name == "full" else 50
    try:
        started = time.perf_counter()
        _setup(db, leads, mine, holders)
        seconds = time.perf_counter() - started
        log(f"{db.kind}: feeds: {leads:,} leads, {holders:,} role holders set up in {seconds:.0f} s")
    except Exception as exc:
        for figure, goal, unit in expected(db.sizes):
            db.add(fail_row(figure, goal, unit, exc))
        return
    q = db.queries
    _lookups(db, q, leads, mine, holders, count)
    _feed(db, q, holders)
    try:
        db.add(feed_readers.run(db))
    except Exception as exc:
        db.add(fail_row(feed_readers.FIGURE, feed_readers.GOAL, "s", exc))


def _lookups(db: DbRun, q: Any, leads: int, mine: int, holders: int, count: int) -> None:
    for figure, user, limit_ms in ((RESOURCES, "bea", 10), (EVERYTHING, "olga", 10)):
        try:
            page = q.lookup_resources(TENANT, user, "leads.view_details", "lead", limit=100)
            assert len(page["items"]) == 100, len(page["items"])
            ours = _timed(lambda u=user: q.lookup_resources(TENANT, u, "leads.view_details", "lead", limit=100), count)
            ids = [i["resource"]["id"] for i in page["items"]]
            base = _timed(_checks_one_by_one(db, user, ids), max(10, count // 10))
            note = f"{leads:,} leads, {mine:,} the broker's; {ours.samples} lookups, p50 {ours.p50 * 1e3:.2f} ms"
            db.add(
                Row(
                    figure,
                    "",
                    ours.p99,
                    base.p99,
                    "s",
                    "100 checks one by one p99",
                    f"p99 ≤ {limit_ms} ms",
                    ours.p99 <= limit_ms / 1000,
                    ours.p99 / base.p99,
                    note,
                )
            )
        except Exception as exc:
            db.add(fail_row(figure, "p99 ≤ 10 ms", "s", exc))
    try:
        lead = ("lead", "L-000000")
        answer = q.lookup_subjects(TENANT, "leads.view_details", *lead, limit=100)
        assert answer["items"], "no subject"
        ours = _timed(lambda: q.lookup_subjects(TENANT, "leads.view_details", *lead, limit=100), count)
        members = [f"h{k:05d}" for k in range(holders)]
        check = q.check
        base = _timed(lambda: [check(TENANT, m, "leads.view_details", lead) for m in members], max(5, count // 20))
        db.add(
            Row(
                SUBJECTS,
                "",
                ours.p99,
                base.p99,
                "s",
                f"{holders:,} checks one by one p99",
                "p99 ≤ 5 ms",
                ours.p99 <= 0.005,
                ours.p99 / base.p99,
                f"{holders + 3:,} members; {ours.samples} lookups, p50 {ours.p50 * 1e3:.2f} ms",
            )
        )
    except Exception as exc:
        db.add(fail_row(SUBJECTS, "p99 ≤ 5 ms", "s", exc))


def _feed(db: DbRun, q: Any, holders: int) -> None:
    try:
        ours, plain = [], []
        for round_ in range(3):
            ours.append(_projecting(db, True, "all"))
            plain.append(_projecting(db, False, "assigned"))
            del round_
        best, baseline = 1 / min(ours), 1 / min(plain)
        db.add(
            Row(
                FANOUT,
                "",
                best,
                baseline,
                "events/s",
                "without the feed",
                "rate ≥ 30 % of plain",
                best >= 0.3 * baseline,
                best / baseline,
                f"{holders:,} holders, {2 * holders:,} entries each",
            )
        )
    except Exception as exc:
        db.add(fail_row(FANOUT, "rate ≥ 30 % of plain", "events/s", exc))
    try:

        def read_all() -> int:
            after, total = 0, 0
            while True:
                page = q.changes(TENANT, after=after, limit=1000)
                if not page["items"]:
                    return total
                total += len(page["items"])
                after = page["next_after"]

        def raw() -> int:
            # The floor: every row in one SELECT, as tuples, nothing decoded or shaped.
            with db.services.store.reader(raw=True) as tx:
                sql = "SELECT * FROM access_changes WHERE tenant_id = ? ORDER BY position, idx"
                return len(tx.tuples(sql, (TENANT,)))

        def best(fn: Callable[[], int]) -> float:
            # Best of five whole reads: one read is a few tenths of a second, too short to outlast the machine's noise.
            spent = []
            for _ in range(5):
                start = time.perf_counter()
                fn()
                spent.append(time.perf_counter() - start)
            return min(spent)

        entries = read_all()
        ours = entries / best(read_all)
        baseline = entries / best(raw)
        db.add(
            Row(
                READING,
                "",
                ours,
                baseline,
                "entries/s",
                "one raw SELECT",
                "≥ 50,000 entries/s",
                ours >= 50_000,
                ours / baseline,
                f"{entries:,} entries, pages of 1,000, best of 5",
            )
        )
    except Exception as exc:
        db.add(fail_row(READING, "≥ 50,000 entries/s", "entries/s", exc))
