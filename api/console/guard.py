"""What every tenant page does first: the session, then the API's own admission to the tenant (R-X5, R-T5); and
how the console reads the API's route functions, so each page honours the token's permissions as the API does."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api.console.session import Session, check_csrf, current
from api.http.deps import TenantAccess, admit
from api.http.input_guard import has_control
from api.http.middleware import MAX_REASON_CHARS
from domain.errors import DomainError, validation

T = TypeVar("T", bound=BaseModel)


async def tenant_access(request: Request, tenant_id: str) -> TenantAccess:
    """The signed-in caller admitted to `tenant_id`: 404 for another tenant, 409 for a member of a closed one."""
    session = await current(request)
    return await admit(request.app.state.services, session.principal, tenant_id, request)


async def changing_form(request: Request) -> tuple[Session, FormData]:
    """A form that changes something: the session, then its CSRF token (403 before anything is recorded)."""
    session = await current(request)
    form = await request.form()
    check_csrf(session, form)
    return session, form


def reason_of(request: Request, form: FormData) -> None:
    """The form's reason becomes the request's X-Reason, checked as the API checks the header."""
    raw = form.get("reason")
    reason = raw.strip() if isinstance(raw, str) else ""
    if len(reason) > MAX_REASON_CHARS or has_control(reason):
        raise validation(
            f"the reason takes at most {MAX_REASON_CHARS} characters, none of them a control character",
            ("form", "reason"),
        )
    request.state.reason = reason or None


async def body(answer: Awaitable[Response]) -> Any:
    """The JSON body a route function answered (its errors are raised as DomainError)."""
    response = await answer
    return json.loads(bytes(response.body))


async def allowed(answer: Awaitable[Response]) -> Any:
    """Like `body`, but None when the caller may not read this part of a page (403 forbidden)."""
    try:
        return await body(answer)
    except DomainError as error:
        if error.code == "forbidden":
            return None
        raise


def parsed(model: type[T], **fields: Any) -> T:
    """A request body built from form fields, validated as the API validates it (422 in words)."""
    try:
        return model(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "form"
        raise validation(f"{where}: {first['msg']}", ("form", where)) from None
