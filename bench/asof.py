"""As-of checks (R-C3) on tenants with short, long and very long histories, beside the current check of the same
requests on the same tenant; and the deepest beside the shallowest, to show whether the cost stays flat."""

from __future__ import annotations

import random
from datetime import timedelta

from bench.context import DbRun, log
from bench.harness import Latencies, Row, Sizes, count_label, time_interleaved
from bench.workload import History

PERMISSIONS = (
    "leads.view_details",
    "leads.list",
    "leads.booster",
    "leads.assign",
    "contacts.create",
    "billing.view",
    "marketing.ai_studio",
)


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    rows = [(f"as-of check p99 at {count_label(d)} events", "ratio ≤ 2", "s") for d in sizes.depths]
    return [*rows, ("as-of check p99 flat across depths", "ratio ≤ 1.5", "s")]


def samples(history: History, count: int, seed: int) -> list[tuple]:
    """(user, permission, resource, as_of) over the tenant's team and lead pool, at instants across its history."""
    rng = random.Random(seed)
    users = sorted(history.roles)
    leads = sorted(history.extra.get("leads") or history.assignments)
    span = (history.last_at - history.first_at).total_seconds()
    out = []
    for _ in range(count):
        permission = rng.choice(PERMISSIONS)
        resource = ("lead", rng.choice(leads)) if permission.startswith("leads.") and rng.random() < 0.7 else None
        as_of = history.first_at + timedelta(seconds=rng.uniform(0, span))
        out.append((rng.choice(users), permission, resource, as_of))
    return out


def run(db: DbRun) -> None:
    """Every depth's current and as-of checks timed in turn, sample by sample, once every answer is warm."""
    s = db.sizes
    histories = [db.history(depth) for depth in s.depths]
    check = db.queries.check
    series = []
    for history in histories:
        reqs = samples(history, s.asof_samples, seed=history.events)
        now = [(history.tenant_id, u, p, r) for u, p, r, _ in reqs]
        past = [(history.tenant_id, u, p, r, t) for u, p, r, t in reqs]
        for args in now + past:  # every member's history and every lead's intervals in memory, as when serving
            check(*args)
        series += [now, past]
    timed = time_interleaved(check, *series)
    results: list[tuple[int, History, Latencies, Latencies]] = []
    for n, (depth, history) in enumerate(zip(s.depths, histories, strict=True)):
        current, as_of = timed[2 * n], timed[2 * n + 1]
        log(
            f"{db.kind}: as-of at {history.events:,} events p50 {as_of.p50 * 1e6:.0f} µs p99 {as_of.p99 * 1e6:.0f} µs;"
            f" current p99 {current.p99 * 1e6:.1f} µs"
        )
        results.append((depth, history, as_of, current))
    mode = "" if s.name == "full" else f" ({s.name} run: depths {'/'.join(count_label(d) for d in s.depths)})"
    for depth, history, as_of, current in results:
        db.add(
            Row(
                f"as-of check p99 at {count_label(depth)} events",
                "",
                as_of.p99,
                current.p99,
                "s",
                "current check p99",
                "ratio ≤ 2",
                as_of.p99 <= 2 * current.p99,
                as_of.p99 / current.p99,
                f"{as_of.samples:,} checks at random instants of a {history.events:,}-event history{mode}",
                {"as_of": vars(as_of), "current": vars(current)},
            )
        )
    deepest, shallowest = results[-1], results[0]
    db.add(
        Row(
            "as-of check p99 flat across depths",
            "",
            deepest[2].p99,
            shallowest[2].p99,
            "s",
            f"at {count_label(shallowest[0])}",
            "ratio ≤ 1.5",
            deepest[2].p99 <= 1.5 * shallowest[2].p99,
            deepest[2].p99 / shallowest[2].p99,
            f"p99 at {count_label(deepest[0])} events against {count_label(shallowest[0])}{mode}",
        )
    )
