"""Seat add-ons and charges over HTTP (R-S2…R-S5)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.http.client import TENANT, Api, assert_problem
from tests.support import TickingClock

ADDONS = f"/v1/tenants/{TENANT}/addons"


def test_R_S2_purchase_answers_the_addon_and_its_prorated_charge(acme: Api) -> None:
    bought = acme.post(ADDONS, json={"kind": "user-seats"})
    assert bought.status_code == 201, bought.text
    addon, charge = bought.json()["addon"], bought.json()["charge"]
    assert addon["seats"] == 15 and addon["status"] == "active" and addon["monthly_price"] == "49.00"
    charges = acme.get(f"/v1/tenants/{TENANT}/charges").json()["items"]
    assert charges[0]["addon_id"] == addon["addon_id"] and charges[0]["kind"] == "prorated"
    assert charge == {"amount": charges[0]["amount"], "currency": "EUR"}
    assert acme.get(f"/v1/tenants/{TENANT}").json()["seats"]["capacity"] == 20
    assert_problem(acme.post(ADDONS, json={"kind": "gold"}), 422, "validation_error")


def test_R_S2_purchase_answers_the_charge_its_event_recorded(acme: Api) -> None:
    """R-S2, R-K2: the answer is the recorded prorated charge, not a second computation (here: across midnight)."""
    last_second = datetime(2026, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    assert acme.post("/v1/clock", "operator", json={"now": last_second.isoformat()}).status_code == 200
    services = acme.http.app.state.services
    services.ledger.clock = TickingClock(last_second)  # any second reading inside the command is a day later
    bought = acme.post(ADDONS, json={"kind": "user-seats"})
    assert bought.status_code == 201, bought.text
    [recorded] = acme.get(f"/v1/tenants/{TENANT}/charges").json()["items"]
    assert recorded["period_start"] == "2026-12-31"
    assert (
        bought.json()["charge"]
        == {"amount": recorded["amount"], "currency": "EUR"}
        == {
            "amount": "1.58",
            "currency": "EUR",
        }
    )


def test_addons_listed_for_members_and_charges_need_billing_view(acme: Api) -> None:
    acme.post(ADDONS, json={"kind": "user-seats"})
    acme.add_member("bob")
    assert len(acme.get(ADDONS, "bob").json()["items"]) == 1
    refused = assert_problem(acme.get(f"/v1/tenants/{TENANT}/charges", "bob"), 403, "forbidden")
    assert refused["missing_permission"] == "billing.view"
    assert_problem(acme.post(ADDONS, "bob", json={"kind": "user-seats"}), 403, "forbidden")


def test_R_S3_cancel_and_withdraw_an_addon(acme: Api) -> None:
    addon_id = acme.post(ADDONS, json={"kind": "user-seats"}).json()["addon"]["addon_id"]
    cancelled = acme.post(f"{ADDONS}/{addon_id}/cancellation")
    assert cancelled.status_code == 200 and cancelled.json()["addon"]["status"] == "cancellation_scheduled"
    assert_problem(acme.post(f"{ADDONS}/{addon_id}/cancellation"), 409, "cancellation_already_scheduled")
    withdrawn = acme.delete(f"{ADDONS}/{addon_id}/cancellation")
    assert withdrawn.status_code == 200 and withdrawn.json()["addon"]["status"] == "active"
    assert_problem(acme.delete(f"{ADDONS}/{addon_id}/cancellation"), 409, "cancellation_not_scheduled")
    assert_problem(acme.post(f"{ADDONS}/addon_999/cancellation"), 404, "not_found")


def test_R_S5_scheduled_removals_only_for_users_manage(api: Api) -> None:
    api.open_tenant(included_seats=1)
    addon_id = api.post(ADDONS, json={"kind": "user-seats"}).json()["addon"]["addon_id"]
    for user_id in ("bob", "carl", "dora"):
        api.add_member(user_id)
    api.post(f"{ADDONS}/{addon_id}/cancellation")
    removals = api.get(f"/v1/tenants/{TENANT}").json()["scheduled_removals"]
    assert [(r["kind"], r["id"]) for r in removals] == [("member", "dora"), ("member", "carl")]
    assert "scheduled_removals" not in api.get(f"/v1/tenants/{TENANT}", "bob").json()
