"""In-process current check on SPEC.md's role matrix (1,000 members) beside pycasbin's FastEnforcer.

Ours: `Queries.check(...)` of the services the API builds (the in-memory access cache behind it), answering a full
Decision (allowed, scope, reason, via, position).

The baseline is the same matrix in casbin, modelled as RBAC with domains plus resource ownership, as cheaply for
casbin as we could make it while answering the same question:

    r = sub, dom, obj, act          (user, tenant, "lead:L-1" or "", permission)
    p = sub, dom, scope, act        (role, tenant, all|assigned, permission)
    g = _, _, _                     (user, role, tenant)
    g2 = _, _, _                    ("lead:L-1", assigned user, tenant)
    m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.act == p.act
        && (r.obj == "" || p.scope == "all" || (p.scope == "assigned" && g2(r.obj, r.sub, r.dom)))

Role inclusions and implications (R-P2, R-P5) are flattened into the policy (one `p` line per role, permission and
widest scope, from `domain.permissions.role_permissions`), so casbin needs no role hierarchy walk; the
FastEnforcer's policy filter keys on (tenant, permission), leaving a handful of lines per request. Both engines
answer every request of the same list, and the answers are compared: a mismatch is reported in the row's note.
"""

from __future__ import annotations

import random
from typing import Any

from bench.context import DbRun, log
from bench.harness import Row, Sizes, time_blocks
from bench.workload import History
from domain.permissions import BUILTIN_ROLES, CATALOG, role_permissions

CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, scope, act

[role_definition]
g = _, _, _
g2 = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.act == p.act && \
(r.obj == "" || p.scope == "all" || (p.scope == "assigned" && g2(r.obj, r.sub, r.dom)))
"""

Request = tuple[str, str, tuple[str, str] | None]


def requests(history: History, count: int, seed: int = 11) -> list[Request]:
    """A mix over every member and permission: lead permissions mostly on a lead (half of a broker's on one of
    their own), 1 % of the users not members at all."""
    rng = random.Random(seed)
    users = sorted(history.roles)
    leads = sorted(history.assignments)
    own: dict[str, list[str]] = {}
    for lead, user in history.assignments.items():
        own.setdefault(user, []).append(lead)
    permissions = sorted(CATALOG)
    out: list[Request] = []
    for _ in range(count):
        user = f"ghost-{rng.randrange(100)}" if rng.random() < 0.01 else rng.choice(users)
        permission = rng.choice(permissions)
        resource = None
        if CATALOG[permission] == "lead" and rng.random() < 0.6:
            mine = own.get(user)
            lead = rng.choice(mine) if mine and rng.random() < 0.5 else rng.choice(leads)
            resource = ("lead", lead)
        out.append((user, permission, resource))
    return out


def _fast_model(cache_key_order: list[int]) -> Any:
    """casbin's FastModel, whose `add_def` forgets to return True: without this only `g` of `g, g2` loads."""
    from casbin.model import FastModel, FastPolicy, Model

    class _FastModel(FastModel):
        def add_def(self, sec: str, key: str, value: Any) -> Any:
            added = Model.add_def(self, sec, key, value)
            if sec == "p" and key == "p":
                self.model[sec][key].policy = FastPolicy(self._cache_key_order)
            return added

    return _FastModel(cache_key_order)


def casbin_enforcer(history: History) -> Any:
    """A FastEnforcer holding the matrix tenant's roles, members and assignments."""
    import casbin

    model = _fast_model([1, 3])
    model.load_model_from_text(CASBIN_MODEL)
    enforcer = casbin.FastEnforcer(model, cache_key_order=[1, 3])
    dom = history.tenant_id
    policies = [[role, dom, scope, perm] for role in BUILTIN_ROLES for perm, scope in role_permissions(role).items()]
    enforcer.add_policies(policies)
    enforcer.add_named_grouping_policies("g", [[user, role, dom] for user, role in history.roles.items()])
    enforcer.add_named_grouping_policies(
        "g2", [[f"lead:{lead}", user, dom] for lead, user in history.assignments.items()]
    )
    return enforcer


def expected(sizes: Sizes) -> list[tuple[str, str, str]]:
    return [
        (f"check in-process p99 ({sizes.members:,} members)", "≤ 50 µs", "s"),
        ("check in-process mean vs casbin FastEnforcer", "ratio ≤ 0.5 (≥ 2× faster)", "s"),
    ]


def run(db: DbRun) -> None:
    s = db.sizes
    history = db.matrix()
    tenant = history.tenant_id
    reqs = requests(history, s.check_samples)
    check = db.queries.check

    def ours(user: str, permission: str, resource: tuple[str, str] | None) -> bool:
        return check(tenant, user, permission, resource)["allowed"]

    enforcer = casbin_enforcer(history)
    enforce = enforcer.enforce

    def theirs(user: str, permission: str, resource: tuple[str, str] | None) -> bool:
        return enforce(user, tenant, f"{resource[0]}:{resource[1]}" if resource else "", permission)

    compared = reqs[: min(len(reqs), 5000)]
    # Also the warm-up: casbin's first calls are slow (its role links), ours load members into the cache.
    mismatches = sum(1 for r in compared if ours(*r) != theirs(*r))
    for r in reqs:  # every member's holdings into the cache, as a serving process has them
        ours(*r)
    # Each engine on its own stream of the same requests (interleaving single calls would let casbin's heavy calls
    # evict ours from the CPU caches), in blocks taken in turn so the machine's noise falls on both alike.
    mine, base = time_blocks([ours, theirs], reqs)
    log(
        f"{db.kind}: check ours p50 {mine.p50 * 1e6:.1f} µs p99 {mine.p99 * 1e6:.1f} µs mean {mine.mean * 1e6:.1f} µs;"
        f" casbin p50 {base.p50 * 1e6:.1f} µs p99 {base.p99 * 1e6:.1f} µs mean {base.mean * 1e6:.1f} µs"
    )
    note = f"{len(reqs):,} checks, {len(history.roles):,} members; "
    note += f"answers that differ from casbin's: {mismatches} of {len(compared):,}"
    extra = {"ours": vars(mine), "casbin": vars(base), "mismatches": mismatches}
    db.add(
        Row(
            f"check in-process p99 ({len(history.roles):,} members)",
            "",
            mine.p99,
            base.p99,
            "s",
            "casbin p99",
            "≤ 50 µs",
            mine.p99 <= 50e-6,
            mine.p99 / base.p99,
            note,
            extra,
        )
    )
    db.add(
        Row(
            "check in-process mean vs casbin FastEnforcer",
            "",
            mine.mean,
            base.mean,
            "s",
            "casbin mean",
            "ratio ≤ 0.5 (≥ 2× faster)",
            mine.mean * 2 <= base.mean and mismatches == 0,
            mine.mean / base.mean,
            "same request list; not met if any answer differs" if mismatches else "",
        )
    )
