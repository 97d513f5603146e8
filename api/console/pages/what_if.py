"""What-if (R-R3): paste a changed catalog of custom roles (YAML or JSON, as `replay what-if --roles` takes it) and
see who would have gained or lost what between two dates. It records nothing, so the form is a GET: the question
is in the URL, to bookmark or to send."""

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
        raise validation("the catalog is longer than 64 KiB", ("query", "catalog"))
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise validation(f"the catalog is not YAML or JSON{where}", ("query", "catalog")) from None
    if not isinstance(value, dict):
        raise validation("the catalog is a mapping: {roles: [...], removed_roles: [...]}", ("query", "catalog"))
    return value


@router.get("/console/t/{tenant_id}/what-if")
@page
async def what_if(
    request: Request,
    tenant_id: str,
    catalog: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Response:
    """Through the API's what-if route (audit.read, permissions.manage, operator); the empty form asks the same."""
    access = await tenant_access(request, tenant_id)
    await access.require("audit.read", "permissions.manage")
    now = access.services.now()
    start, end = instant(from_, "from", now, start_of_day=True), instant(to, "to", now)
    by_member: dict[str, list[dict[str, Any]]] = defaultdict(list)
    answer = None
    if text(catalog):
        if start is None or end is None:
            raise validation("give both from and to", ("query", "from" if start is None else "to"))
        document = _catalog(catalog or "")
        question = parsed(
            WhatIfIn,
            roles=document.get("roles") or [],
            removed_roles=document.get("removed_roles") or [],
            **{"from": start, "to": end},
        )
        answer = await body(compliance_routes.what_if(question, access))
        for change in answer["changes"]:
            by_member[change["user_id"]].append(change)
    return render(
        request,
        "what_if.html",
        tenant_id=tenant_id,
        catalog=catalog if catalog is not None else EXAMPLE,
        from_day=text(from_) or "",
        to_day=text(to) or "",
        answer=answer,
        by_member=dict(sorted(by_member.items())),
    )
