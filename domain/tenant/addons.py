"""Seat add-on commands of the Tenant aggregate (R-S2, R-S3), a mixin of `domain.tenant.aggregate.Tenant`.

Kept apart only to keep modules short; the add-on's monthly charges and its end are due changes (`domain.due`).
"""

from __future__ import annotations

from typing import Any

from domain import billing
from domain.errors import DomainError, not_found, validation
from domain.tenant import events as ev


class AddonCommands:
    """Buy, cancel and withdraw the cancellation of seat add-ons."""

    def purchase_addon(self, kind: str) -> dict[str, Any]:
        """R-S2: the add-on's id and the prorated charge recorded for the purchase day (the command's instant)."""
        self.require("addons.purchase")
        if kind != billing.SEAT_ADDON_KIND:
            raise validation(f"unknown add-on kind {kind!r}", ("body", "kind"))
        addon_id = self.next_id("addon")
        today = self.now.date()
        start, end = billing.prorated_period(today)
        charge = {
            "amount": billing.format_money(billing.prorated_charge(billing.SEAT_ADDON_MONTHLY_PRICE, today)),
            "currency": self.plan["currency"],
        }
        self.trigger(
            ev.AddOnPurchased,
            addon_id=addon_id,
            kind=kind,
            seats=billing.SEAT_ADDON_SEATS,
            monthly_price=billing.format_money(billing.SEAT_ADDON_MONTHLY_PRICE),
            currency=charge["currency"],
            prorated_charge=charge["amount"],
            charge_id=f"chg_{addon_id}_{start:%Y%m}",
            period_start=start,
            period_end=end,
        )
        return {"addon_id": addon_id, "charge": charge}

    def addon(self, addon_id: str) -> Any:
        addon = self.addons.get(addon_id)
        if addon is None:
            raise not_found("add-on", addon_id)
        if addon.status == "ended":
            raise DomainError("addon_not_active", f"add-on {addon_id} has ended")
        return addon

    def cancel_addon(self, addon_id: str) -> None:
        self.require("addons.cancel")
        addon = self.addon(addon_id)
        if addon.status == "cancellation_scheduled":
            raise DomainError("cancellation_already_scheduled", f"add-on {addon_id} is already cancelled")
        self.trigger(ev.AddOnCancellationScheduled, addon_id=addon_id, effective_at=self.term_end_at)

    def withdraw_addon_cancellation(self, addon_id: str) -> None:
        self.require("addons.cancel")
        addon = self.addon(addon_id)
        if addon.status != "cancellation_scheduled":
            raise DomainError("cancellation_not_scheduled", f"add-on {addon_id} has no cancellation scheduled")
        self.trigger(ev.AddOnCancellationWithdrawn, addon_id=addon_id)
