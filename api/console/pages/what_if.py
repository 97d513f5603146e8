"""What-if (R-R3): paste a changed catalog of custom roles (YAML or JSON, as `replay what-if --roles` takes it) and
see who would have gained or lost what between two dates. It records nothing; the form is posted all the same,
because a catalog's line breaks are control characters that no query string may carry (R-X6)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Query, Request, Response

from api.console.guard import body, parsed, tenant_access
from api.console.params import instant, text
from api.console.render import page, render
from api.http.routes import compliance as compliance_routes
from api.http.schemas.compliance import WhatIfIn
from domain.errors import validation

router = APIRouter(include_in_schema=False)
MAX_CATALOG_CHARS = 64 * 1024
EXAMPLE = """roles:
  - role_id: assistant
    name: Assistant
    includes: [marketing]
    permissions:
      - {permission: leads.list, scope: all}
removed_roles: []
"""


def _catalog(raw: str) -> dict[str, Any]:
    """The pasted document: a mapping with `roles` and optionally `removed_roles` (422 in words otherwise)."""
    if len(raw) > MAX_CATALOG_CHARS:
        raise validation("the catalog is longer than 64 KiB", ("form", "catalog"))
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise validation(f"the catalog is not YAML or JSON{where}", ("form", "catalog")) from None
    if not isinstance(value, dict):
        raise validation("the catalog is a mapping: {roles: [...], removed_roles: [...]}", ("form", "catalog"))
    return value


@router.get("/console/t/{tenant_id}/what-if")
@page
async def what_if_form(
    request: Request, tenant_id: str, from_: Annotated[str | None, Query(alias="from")] = None, to: str | None = None
) -> Response:
    """The form (dates may come in the URL); the same permissions as the API's what-if route."""
    access = await tenant_access(request, tenant_id)
    await access.require("audit.read", "permissions.manage")
    return _page(request, tenant_id, EXAMPLE, text(from_) or "", text(to) or "", None)


@router.post("/console/t/{tenant_id}/what-if")
@page
async def what_if(request: Request, tenant_id: str) -> Response:
    """Through the API's what-if route (audit.read, permissions.manage, operator)."""
    access = await tenant_access(request, tenant_id)
    form = await request.form()
    catalog, from_, to = (form.get(name) for name in ("catalog", "from", "to"))
    now = access.services.now()
    start, end = instant(from_, "from", now, start_of_day=True), instant(to, "to", now)
    if start is None or end is None:
        raise validation("give both from and to", ("form", "from" if start is None else "to"))
    document = _catalog(catalog if isinstance(catalog, str) else "")
    question = parsed(
        WhatIfIn,
        roles=document.get("roles") or [],
        removed_roles=document.get("removed_roles") or [],
        **{"from": start, "to": end},
    )
    answer = await body(compliance_routes.what_if(question, access))
    return _page(request, tenant_id, str(catalog), text(from_) or "", text(to) or "", answer)


def _page(
    request: Request, tenant_id: str, catalog: str, from_day: str, to_day: str, answer: dict[str, Any] | None
) -> Response:
    by_member: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in (answer or {}).get("changes", []):
        by_member[change["user_id"]].append(change)
    return render(
        request,
        "what_if.html",
        tenant_id=tenant_id,
        catalog=catalog,
        from_day=from_day,
        to_day=to_day,
        answer=answer,
        by_member=dict(sorted(by_member.items())),
    )
