"""Seed 000's story end to end over HTTP, on the manual clock (R-S1…R-S5, R-A1, R-K1, R-L1, R-L4).

A brokerage on a 5-seat plan buys one seat add-on (15 seats), adds 10 brokers and gives each of them leads. The
add-on is cancelled; when the term ends the five brokers created last lose their accounts and their leads become
unassigned (the leads themselves stay), and the audit trail says why: `seat_capacity_reduced`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.http.client import TENANT, Api, assert_problem

BASE = f"/v1/tenants/{TENANT}"
BROKERS = [f"broker-{n:02d}" for n in range(1, 11)]
OLDER, NEWER = BROKERS[:5], BROKERS[5:]
LEADS_EACH = 3


def leads_of(broker: str) -> list[str]:
    return [f"lead-{broker.removeprefix('broker-')}-{k}" for k in range(1, LEADS_EACH + 1)]


def next_16_november(after: datetime) -> datetime:
    """The seed's purchase day (16 Nov, 09:30 UTC) in the first year it still lies ahead of the clock."""
    year = after.year
    while (candidate := datetime(year, 11, 16, 9, 30, tzinfo=UTC)) <= after:
        year += 1
    return candidate


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def set_clock(api: Api, instant: datetime) -> int:
    answer = api.post("/v1/clock", "operator", json={"now": iso(instant)})
    assert answer.status_code == 200, answer.text
    return answer.json()["position"]


def audit(api: Api, *types: str) -> list[dict[str, Any]]:
    answer = api.get(f"{BASE}/audit", "olga", params={"type": list(types), "limit": 1000})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def assignments(api: Api, **params: str) -> list[dict[str, Any]]:
    answer = api.get(f"{BASE}/assignments", "olga", params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_R_S4_seed_000_the_five_newest_brokers_go_when_the_addon_ends(api: Api) -> None:
    start = next_16_november(api.http.app.state.services.now())
    set_clock(api, start)

    # The operator opens the tenant: 5 included seats, monthly, EUR; the term runs from today for one month.
    opened = api.open_tenant(name="expert", included_seats=5)["tenant"]
    term_end = datetime.fromisoformat(opened["term_end"]).replace(tzinfo=UTC)
    assert opened["term_start"] == start.date().isoformat()
    assert opened["seats"]["capacity"] == 5

    # R-S2: the owner buys one add-on on 16 Nov; the month is prorated: 49.00 × 15/30 = 24.50.
    bought = api.post(f"{BASE}/addons", json={"kind": "user-seats"})
    assert bought.status_code == 201, bought.text
    addon = bought.json()["addon"]
    assert bought.json()["charge"] == {"amount": "24.50", "currency": "EUR"}
    assert (addon["seats"], addon["monthly_price"], addon["status"]) == (15, "49.00", "active")
    charges = api.get(f"{BASE}/charges").json()["items"]
    assert [(c["kind"], c["amount"]) for c in charges] == [("prorated", "24.50")]
    assert api.get(BASE).json()["seats"]["capacity"] == 20

    # Ten brokers, in this order (seat order), each with three leads assigned in one bulk call (R-A1).
    for broker in BROKERS:
        api.add_member(broker, "broker")
    members = api.get(f"{BASE}/members", params={"role": "broker"}).json()["items"]
    assert [m["user_id"] for m in sorted(members, key=lambda m: m["seat_order"])] == BROKERS
    for broker in BROKERS:
        body = {"resource_type": "lead", "resource_ids": leads_of(broker), "user_id": broker}
        answer = api.post(f"{BASE}/assignments", json=body)
        assert answer.status_code == 200 and answer.json()["assigned"] == LEADS_EACH, answer.text
    assert len(assignments(api)) == 10 * LEADS_EACH
    assert api.get(BASE).json()["seats"] == {
        "capacity": 20,
        "used": 10,
        "members": 10,
        "pending_invitations": 0,
        "free": 10,
    }

    # R-S3: the add-on is cancelled; it ends with the term.
    cancelled = api.post(f"{BASE}/addons/{addon['addon_id']}/cancellation")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["addon"]["status"] == "cancellation_scheduled"
    assert cancelled.json()["addon"]["ends_at"] == iso(term_end)

    # R-S5: users.manage sees beforehand whom it will remove: the five brokers created last. Brokers do not.
    tenant = api.get(BASE).json()
    removals = tenant["scheduled_removals"]
    assert {r["id"] for r in removals} == set(NEWER), removals
    assert {(r["kind"], r["effective_at"]) for r in removals} == {("member", iso(term_end))}
    assert "scheduled_removals" not in api.get(BASE, "broker-01").json()

    # R-K1: on 1 Dec the add-on is charged a full month; nobody is removed yet.
    set_clock(api, datetime(start.year, 12, 1, 0, 0, 1, tzinfo=UTC))
    charges = api.get(f"{BASE}/charges").json()["items"]
    assert [(c["kind"], c["amount"]) for c in charges] == [("prorated", "24.50"), ("monthly", "49.00")]
    assert api.get(BASE, "broker-10").status_code == 200

    # The clock passes the term end: the add-on ends and R-S4 removes the five newest brokers at that instant.
    position = set_clock(api, term_end + timedelta(seconds=1))
    tenant = api.get(BASE).json()
    assert tenant["seats"] == {"capacity": 5, "used": 5, "members": 5, "pending_invitations": 0, "free": 0}
    assert [a["status"] for a in tenant["addons"]] == ["ended"]
    assert tenant["scheduled_removals"] == []
    assert tenant["term_start"] == term_end.date().isoformat()  # the package itself renewed (R-T4)

    everyone = api.get(f"{BASE}/members", params={"status": "all", "role": "broker"}).json()["items"]
    by_id = {m["user_id"]: m for m in everyone}
    for broker in NEWER:
        assert by_id[broker]["status"] == "removed"
        assert by_id[broker]["removal_reason"] == "seat_capacity_reduced"
        assert by_id[broker]["removed_at"] == iso(term_end)
    assert all(by_id[broker]["status"] == "active" for broker in OLDER)

    # Their leads are unassigned, but the leads themselves stay; the older brokers keep theirs.
    for broker in NEWER:
        assert assignments(api, user_id=broker) == []
    remaining = assignments(api)
    assert sorted(a["resource_id"] for a in remaining) == sorted(lead for b in OLDER for lead in leads_of(b))
    assert api.get(f"{BASE}/resources/lead/{leads_of(NEWER[0])[0]}").status_code == 200

    # Removed members lose access at once: their tokens are refused; checks about them say not_a_member.
    for broker in NEWER:
        assert_problem(api.get(BASE, broker), 401, "unauthenticated")
        assert_problem(api.get(f"{BASE}/assignments", broker), 401, "unauthenticated")
    gone = api.get(f"{BASE}/check", params={"user_id": NEWER[0], "permission": "leads.list"}).json()
    assert (gone["allowed"], gone["reason"]) == (False, "not_a_member")

    # The audit trail shows every step, by the system, at the term end, with reason seat_capacity_reduced.
    ended = audit(api, "AddOnEnded")
    assert [e["data"]["addon_id"] for e in ended] == [addon["addon_id"]]
    removed = audit(api, "MemberRemoved")
    assert sorted(e["data"]["user_id"] for e in removed) == NEWER
    unassigned = audit(api, "ResourceUnassigned")
    assert sorted(e["data"]["resource_id"] for e in unassigned) == sorted(lead for b in NEWER for lead in leads_of(b))
    revoked = audit(api, "TokenRevoked")
    assert len(revoked) == len(NEWER)
    for entry in removed + unassigned + revoked:
        assert entry["data"]["reason"] == "seat_capacity_reduced", entry
        assert entry["actor"] == "system" and entry["occurred_at"] == iso(term_end), entry
        assert entry["position"] <= position
    assert {e["subject"] for e in removed + unassigned} == set(NEWER)
    combined = audit(api, "MemberRemoved", "ResourceUnassigned", "TokenRevoked", "AddOnEnded")
    assert len(combined) == len(ended + removed + unassigned + revoked)
    assert [e["position"] for e in combined] == sorted(e["position"] for e in combined)
    verified = api.get(f"{BASE}/audit/verify").json()
    assert verified["ok"] is True and verified["first_mismatch"] is None

    # The five older brokers still work, with their leads.
    for broker in OLDER:
        assert api.get(BASE, broker).status_code == 200
        own = api.get(f"{BASE}/assignments", broker).json()["items"]
        assert sorted(a["resource_id"] for a in own) == leads_of(broker)
        lead = leads_of(broker)[0]
        query = {"user_id": broker, "permission": "leads.view_details", "resource_type": "lead", "resource_id": lead}
        decision = api.get(f"{BASE}/check", broker, params=query).json()
        assert decision["allowed"] is True, decision
        assert {"kind": "assignment", "resource": {"type": "lead", "id": lead}} in [
            {k: v for k, v in via.items() if k in ("kind", "resource")} for via in decision["via"]
        ]
