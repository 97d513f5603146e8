"""Seat add-ons and their charges (R-S2, R-S3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.http.commands import json_answer, tenant_command
from api.http.deps import ReadAccess, TenantAccess, WriteAccess, blocking
from api.http.routing import COMMAND_ERRORS, READ_ERRORS, Cursor, Limit, found, page
from api.http.schemas.requests import AddonIn
from api.http.schemas.resources import Addon, AddonChanged, AddonPurchased, Charge, Page
from domain.application import CommandResult

router = APIRouter(tags=["add-ons and billing"])

CANCELLATION = "/v1/tenants/{tenant_id}/addons/{addon_id}/cancellation"


def addon_of(access: TenantAccess, addon_id: str) -> dict[str, Any]:
    return found(access.services.queries.addon(access.tenant_id, addon_id), "add-on", addon_id)


def purchased(access: TenantAccess, result: CommandResult) -> dict[str, Any]:
    """The add-on and the prorated first charge its purchase recorded."""
    return {"addon": addon_of(access, result.values["addon_id"]), "charge": result.values["charge"]}


@router.post(
    "/v1/tenants/{tenant_id}/addons",
    status_code=201,
    response_model=AddonPurchased,
    responses=COMMAND_ERRORS,
    summary="Buy a seat add-on",
)
async def purchase_addon(body: AddonIn, access: WriteAccess) -> Response:
    """R-S2 by addons.purchase: 15 seats for 49.00 a month; this month prorated."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "addons.purchase",
        lambda actor: ledger.purchase_addon(access.tenant_id, actor, body.kind),
        lambda result: purchased(access, result),
        201,
    )


@router.get("/v1/tenants/{tenant_id}/addons", response_model=Page[Addon], responses=READ_ERRORS, summary="Add-ons")
async def list_addons(access: ReadAccess) -> Response:
    """Every add-on the tenant bought, ended ones included. Any member."""
    items = await blocking(access.services.queries.addons, access.tenant_id)
    return json_answer(200, page(items), None)


@router.post(CANCELLATION, response_model=AddonChanged, responses=COMMAND_ERRORS, summary="Cancel an add-on")
async def cancel_addon(access: WriteAccess, addon_id: str) -> Response:
    """R-S3 by addons.cancel: it ends with the current term (R-S4 may then remove members: see R-S5)."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "addons.cancel",
        lambda actor: ledger.cancel_addon(access.tenant_id, actor, addon_id),
        lambda _: {"addon": addon_of(access, addon_id)},
    )


@router.delete(CANCELLATION, response_model=AddonChanged, responses=COMMAND_ERRORS, summary="Withdraw a cancellation")
async def withdraw_addon_cancellation(access: WriteAccess, addon_id: str) -> Response:
    """R-S3 by addons.cancel, until the term ends."""
    ledger = access.services.ledger
    return await tenant_command(
        access,
        "addons.cancel",
        lambda actor: ledger.withdraw_addon_cancellation(access.tenant_id, actor, addon_id),
        lambda _: {"addon": addon_of(access, addon_id)},
    )


@router.get("/v1/tenants/{tenant_id}/charges", response_model=Page[Charge], responses=READ_ERRORS, summary="Charges")
async def list_charges(access: ReadAccess, cursor: Cursor = None, limit: Limit = 100) -> Response:
    """Prorated and monthly add-on charges. Needs billing.view."""
    await access.require("billing.view")
    items, next_cursor = await blocking(access.services.queries.charges, access.tenant_id, cursor=cursor, limit=limit)
    return json_answer(200, page(items, next_cursor), None)
