"""Rendering: the Jinja2 environment (autoescaped), the security headers of every console answer, and `page`, the
wrapper that turns a missing session into 303, a refused CSRF token into 403, and every DomainError into a page."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.console.session import CSRF_FIELD, CsrfRefused, SignInRequired, keep
from domain.errors import DomainError
from replay.check import REASONS, via_text
from replay.timeline import resource_text, summary

HERE = Path(__file__).parent
SIGN_IN = "/console/sign-in"
# No inline script or style anywhere: every asset is a file of this package, served from /console/static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
TITLES = {
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    409: "Refused by a rule",
    413: "Too large",
    422: "Not understood",
    503: "Unavailable",
}

environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["resource"] = lambda r: resource_text(r) or "-"
environment.filters["via"] = via_text
environment.filters["summary"] = summary
environment.globals["REASONS"] = REASONS
environment.globals["CSRF_FIELD"] = CSRF_FIELD


def query(**params: Any) -> str:
    """`?a=1&b=2` from the parameters that have a value (lists repeat their name)."""
    pairs = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, str(v)) for v in values if v not in (None, ""))
    return "?" + urlencode(pairs) if pairs else ""


environment.globals["query"] = query


def secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page: the template with the session (for the navigation and the CSRF field) and `context`."""
    session = getattr(request.state, "console_session", None)
    html = environment.get_template(template).render(request=request, session=session, **context)
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status: int, message: str, code: str | None = None) -> HTMLResponse:
    return render(request, "error.html", status, title=TITLES.get(status, "Error"), message=message, code=code)


def words(error: DomainError) -> str:
    """The error as a sentence: the API's detail, and the permission a 403 names."""
    missing = error.fields.get("missing_permission")
    text = error.detail
    if missing and missing not in text:
        text += f" (needs {missing})"
    for item in error.fields.get("errors") or []:
        if item.get("msg") and item["msg"] not in text:
            text += f"; {item['msg']}"
    return text


def page(fn: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Every console endpoint: security headers, the idle session renewed, errors shown as pages."""

    @functools.wraps(fn)
    async def wrapper(**kwargs: Any) -> Response:
        request: Request = kwargs["request"]
        try:
            response = await fn(**kwargs)
        except SignInRequired:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(SIGN_IN + query(next=target), status_code=303)
        except CsrfRefused:
            message = "The form was not sent from this console (its CSRF token is missing or stale); nothing changed."
            response = error_page(request, 403, message, "csrf")
        except DomainError as error:
            response = error_page(request, error.status, words(error), error.code)
        session = getattr(request.state, "console_session", None)
        if session is not None and not getattr(request.state, "console_signed_out", False):
            keep(response, request, session)
        return secured(response)

    return wrapper
