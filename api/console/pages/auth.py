"""Sign-in with a token (the form field `token`), sign-out, and the console's front door."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.console.guard import changing_form
from api.console.render import SIGN_IN, page, render
from api.console.session import Session, current, end, keep, sign_in
from domain.errors import DomainError

router = APIRouter(include_in_schema=False)


def home(session: Session) -> str:
    """The operator starts at the tenants, a member at their tenant's overview."""
    principal = session.principal
    return "/console/tenants" if principal.is_operator else f"/console/t/{principal.tenant_id}"


def _safe_next(target: str | None) -> str | None:
    # Only pages of this console: never an absolute or protocol-relative URL (no open redirect).
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/console")
@page
async def front(request: Request) -> Response:
    return RedirectResponse(home(await current(request)), status_code=303)


@router.get("/console/sign-in")
@page
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return render(request, "sign_in.html", next=_safe_next(next), error=None)


@router.post("/console/sign-in")
@page
async def sign_in_post(request: Request) -> Response:
    """A wrong token shows the form again with the reason, 401; a good one starts the session."""
    form = await request.form()
    token = form.get("token")
    target = _safe_next(form.get("next") if isinstance(form.get("next"), str) else None)
    if not isinstance(token, str) or not token.strip():
        return render(request, "sign_in.html", 401, next=target, error="Enter a token.")
    try:
        session = await sign_in(request.app.state.services, token.strip())
    except DomainError as error:
        return render(request, "sign_in.html", 401, next=target, error=f"That token was not accepted: {error.detail}.")
    request.state.console_session = session
    return keep(RedirectResponse(target or home(session), status_code=303), request, session)


@router.post("/console/sign-out")
@page
async def sign_out(request: Request) -> Response:
    await changing_form(request)
    request.state.console_signed_out = True
    return end(RedirectResponse(SIGN_IN, status_code=303))
