"""Verify the audit trail (R-L2): recompute each tenant's chain and compare every entry with the event it came
from, naming the first entry that differs; and compare a rebuilt trail with the serving one (R-R1).

Only events up to the audit projection's tracked position are expected in the trail: later ones are simply not
projected yet. Problems are named the same way everywhere: "missing entry", "unexpected entry",
"<field> differs from event store" ("data differs from event store"), "broken chain", "hash mismatch".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from projections.audit.chain import FIELDS, GENESIS_HASH, derive_entry, entry_hash, entry_of
from projections.audit.projection import TABLE
from projections.db import ReadStore, Tx
from projections.eventstore import Recorded, all_events, tenant_events
from projections.runner import TRACKING_TABLE, tracked_position

NAME = "audit"
_CONTENT = FIELDS[:-2]  # every field the event store determines (all but prev_hash and hash)
_SELECT = ", ".join(FIELDS)


def audited_position(tx: Tx) -> int:
    """How far the audit trail has been projected (0 before the first run)."""
    if not (tx.has_table(TRACKING_TABLE) and tx.has_table(TABLE)):
        return 0
    return tracked_position(tx, NAME)


def content_problem(expected: dict[str, Any], stored: dict[str, Any]) -> str | None:
    """How a stored entry's own fields differ from the ones its event gives, if they do."""
    for field in _CONTENT:
        if stored[field] != expected[field]:
            return f"{field} differs from event store"
    return None


def entry_problem(expected: dict[str, Any], stored: dict[str, Any], prev_hash: str) -> str | None:
    """What is wrong with one stored entry, given its event and the previous entry's hash."""
    problem = content_problem(expected, stored)
    if problem:
        return problem
    if stored["prev_hash"] != prev_hash:
        return "broken chain: prev_hash is not the previous entry's hash"
    if entry_hash(stored) != stored["hash"]:
        return "hash mismatch"
    return None


def _mismatch(tenant_id: str, sequence: int, position: int, problem: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "sequence": sequence, "position": position, "problem": problem}


def _check(events: Iterator[Recorded], rows: Iterator[dict[str, Any]], stop_at_first: bool) -> dict[str, Any]:
    """Walk events and entries together by global position, keeping one chain per tenant."""
    chains: dict[str, str] = {}
    seen: set[str] = set()
    mismatches: dict[str, dict[str, Any]] = {}
    checked = 0
    event, row = next(events, None), next(rows, None)
    while event is not None or row is not None:
        if row is not None and (event is None or row["position"] < event.position):
            tenant_id, is_entry = row["tenant_id"], True
            problem = "unexpected entry: no such event in the event store"
            found = _mismatch(tenant_id, row["sequence"], row["position"], problem)
            row = next(rows, None)
        elif row is None or event.position < row["position"]:
            tenant_id, is_entry = event.event.tenant_id, False
            found = _mismatch(tenant_id, event.event.originator_version, event.position, "missing entry")
            event = next(events, None)
        else:
            stored, expected = entry_of(row), derive_entry(event)
            tenant_id, is_entry, found = stored["tenant_id"], True, None
            if tenant_id not in mismatches:
                problem = entry_problem(expected, stored, chains.get(tenant_id, GENESIS_HASH))
                chains[tenant_id] = stored["hash"]
                if problem:
                    found = _mismatch(tenant_id, stored["sequence"], stored["position"], problem)
            event, row = next(events, None), next(rows, None)
        seen.add(tenant_id)
        if tenant_id in mismatches:
            continue  # past a tenant's first mismatch its chain means nothing more
        checked += is_entry
        if found is not None:
            mismatches[tenant_id] = found
            if stop_at_first:
                break
    ordered = sorted(mismatches.values(), key=lambda m: m["position"])
    return {"entries": checked, "tenants": len(seen), "mismatches": ordered}


def verify_tenant(store: ReadStore, app: Any, tenant_id: str) -> dict[str, Any]:
    """`{ok, entries, first_mismatch {sequence, position, problem} | null}` for one tenant."""
    with store.reader(raw=True) as tx:
        upto = audited_position(tx)
        rows = tx.stream(f"SELECT {_SELECT} FROM {TABLE} WHERE tenant_id = ? ORDER BY sequence", (tenant_id,))
        result = _check(tenant_events(tx, app, tenant_id, upto), rows if upto else iter(()), stop_at_first=True)
    first = result["mismatches"][0] if result["mismatches"] else None
    if first is not None:
        first = {k: first[k] for k in ("sequence", "position", "problem")}
    return {"ok": first is None, "entries": result["entries"], "first_mismatch": first}


def verify_every_tenant(store: ReadStore, app: Any) -> dict[str, Any]:
    """Every tenant at once, in one pass: `{ok, entries, tenants, first_mismatch, mismatches}`."""
    with store.reader(raw=True) as tx:
        upto = audited_position(tx)
        rows = tx.stream(f"SELECT {_SELECT} FROM {TABLE} ORDER BY position") if upto else iter(())
        result = _check(all_events(tx, app, upto), rows, stop_at_first=False)
    mismatches = result["mismatches"]
    return {
        "ok": not mismatches,
        "entries": result["entries"],
        "tenants": result["tenants"],
        "first_mismatch": mismatches[0] if mismatches else None,
        "mismatches": mismatches,
    }


def first_difference(tx: Tx, serving: str, rebuilt: str, after: int, upto: int) -> dict[str, Any] | None:
    """The first entry where two trails differ between positions `after` (exclusive) and `upto`, named as
    verify names it (`rebuilt` comes fresh from the event store). The database does the walk."""
    distinct = "IS DISTINCT FROM" if tx.kind == "postgresql" else "IS NOT"
    differs = " OR ".join(f"a.{c} {distinct} b.{c}" for c in FIELDS)
    position = tx.scalar(
        f"""SELECT min(p) AS p FROM (
            SELECT a.position AS p FROM {serving} a LEFT JOIN {rebuilt} b ON b.position = a.position
            WHERE a.position > ? AND a.position <= ? AND (b.position IS NULL OR {differs})
            UNION ALL
            SELECT b.position AS p FROM {rebuilt} b LEFT JOIN {serving} a ON a.position = b.position
            WHERE b.position > ? AND b.position <= ? AND a.position IS NULL) d""",
        (after, upto, after, upto),
    )
    if position is None:
        return None
    rows = [tx.all(f"SELECT {_SELECT} FROM {t} WHERE position = ?", (position,)) for t in (serving, rebuilt)]
    mismatch, _ = compare_rows(iter(rows[0]), iter(rows[1]))
    return mismatch


def compare_rows(
    serving: Iterator[dict[str, Any]], rebuilt: Iterator[dict[str, Any]]
) -> tuple[dict[str, Any] | None, int]:
    """Walk two position-ordered trails together; the first difference (as `verify` names it) and the count."""
    compared = 0
    old, new = next(serving, None), next(rebuilt, None)
    while old is not None or new is not None:
        if new is None or (old is not None and old["position"] < new["position"]):
            return _mismatch(old["tenant_id"], old["sequence"], old["position"], "unexpected entry"), compared
        if old is None or new["position"] < old["position"]:
            return _mismatch(new["tenant_id"], new["sequence"], new["position"], "missing entry"), compared
        compared += 1
        if old == new:
            old, new = next(serving, None), next(rebuilt, None)
            continue
        stored, expected = entry_of(old), entry_of(new)
        problem = content_problem(expected, stored)
        if problem is None and (stored["prev_hash"], stored["hash"]) != (expected["prev_hash"], expected["hash"]):
            problem = "hash mismatch"
        if problem:
            return _mismatch(stored["tenant_id"], stored["sequence"], stored["position"], problem), compared
        old, new = next(serving, None), next(rebuilt, None)
    return None, compared
