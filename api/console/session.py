"""The console's session: a cookie signed with ACCESSLEDGER_SECRET_KEY that names the signed-in token by its hash,
expires after 8 h idle (renewed on every page), and carries the CSRF secret every changing form must echo."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

from api.http.deps import Principal, authenticate, blocking
from api.runtime import Services
from domain.application import hash_token
from domain.tenant.metadata import OPERATOR

COOKIE = "accessledger_console"
IDLE_SECONDS = 8 * 60 * 60
CSRF_FIELD = "csrf_token"
SALT = "accessledger.console.session"


class SignInRequired(Exception):
    """No session, an expired one, or one whose token was revoked since: the page answers 303 to the sign-in."""


class CsrfRefused(Exception):
    """A changing form without the session's CSRF token: 403, and nothing is recorded."""


@dataclass(frozen=True)
class Session:
    """Who is signed in (resolved again from the token's hash on every request) and the CSRF secret."""

    principal: Principal
    token_hash: str
    csrf: str


def signing_key(secret_key: str | None) -> str:
    """ACCESSLEDGER_SECRET_KEY; without it a random key for this process (sessions end when it restarts)."""
    return secret_key or secrets.token_urlsafe(32)


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.console_key, salt=SALT)


async def sign_in(services: Services, token: str) -> Session:
    """The API's own authentication (operator or active member token, never an invitation token)."""
    principal = await authenticate(services, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    return Session(principal, hash_token(token), secrets.token_urlsafe(32))


async def current(request: Request) -> Session:
    """The signed-in session, or SignInRequired (missing, forged, idle for 8 h, or its token revoked)."""
    services: Services = request.app.state.services
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignInRequired
    try:
        data = _serializer(request).loads(raw, max_age=IDLE_SECONDS)
        kind, token_hash, csrf = data["k"], data["h"], data["c"]
    except (BadSignature, KeyError, TypeError, ValueError):
        raise SignInRequired from None
    if kind == "operator":
        expected = services.settings.operator_token
        if not expected or not hmac.compare_digest(hash_token(expected), token_hash):
            raise SignInRequired
        principal = Principal("operator", OPERATOR)
    else:
        found = services.queries.peek_principal(token_hash) or await blocking(
            services.queries.principal_for_token, token_hash
        )
        if not found:
            raise SignInRequired
        principal = Principal("member", found["user_id"], found["tenant_id"], found.get("token_id"))
    session = Session(principal, token_hash, csrf)
    request.state.console_session = session
    return session


def keep(response: Response, request: Request, session: Session) -> Response:
    """Set (or renew: the 8 h are idle time) the session cookie on `response`."""
    value = _serializer(request).dumps({"k": session.principal.kind, "h": session.token_hash, "c": session.csrf})
    response.set_cookie(
        COOKIE,
        value,
        max_age=IDLE_SECONDS,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def end(response: Response) -> Response:
    """Sign-out: the browser forgets the cookie."""
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
    return response


def check_csrf(session: Session, form: FormData) -> None:
    """CsrfRefused unless the form carries the session's CSRF token."""
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfRefused
