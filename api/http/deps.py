"""Annotated dependencies: the services, the caller (operator or member token), tenant access (R-X5, R-T5),
`min_position` waits, and the one helper that moves blocking work off the event loop."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.runtime import Services
from domain.application import INVITATION_TOKEN_PREFIX, Actor, hash_token
from domain.errors import DomainError, not_found
from domain.tenant.metadata import OPERATOR

T = TypeVar("T")
MIN_POSITION_WAIT_SECONDS = 5.0


async def blocking(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking (database) work in the thread pool so the event loop keeps serving other requests.

    A hop costs far more than a check answered from memory (GIL hand-offs between the loop and the worker), so
    the hot path first asks the `peek_*` queries, which answer without I/O or not at all."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain `def` dependency in the thread pool, a hop on every request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="The operator token (ACCESSLEDGER_OPERATOR_TOKEN) or a member token.",
)


def unauthenticated(detail: str = "a valid Bearer token is required") -> DomainError:
    return DomainError("unauthenticated", detail)


@dataclass(frozen=True)
class Principal:
    """The caller: the operator, or one member of one tenant (a token belongs to one membership)."""

    kind: str
    user_id: str
    tenant_id: str | None = None
    token_id: str | None = None
    token_hash: str | None = field(default=None, repr=False, compare=False)  # how the cache knows the token

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    @property
    def scope(self) -> str:
        """Whose idempotency keys these are: the token that sent them, never a user id a later member may reuse."""
        return OPERATOR if self.is_operator else f"token:{self.tenant_id}:{self.token_id}"


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def current_principal(services: ServicesDep, credentials: Credentials, request: Request) -> Principal:
    """401 unless the Bearer token is the operator's or an active member token (never an invitation token)."""
    principal = await authenticate(services, credentials)
    request.state.key_scope = principal.scope
    return principal


async def authenticate(services: Services, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The body of `current_principal`, callable without FastAPI resolving another dependency level."""
    if credentials is None or not credentials.credentials:
        raise unauthenticated()
    token = credentials.credentials
    if services.operator_token_matches(token):
        return Principal("operator", OPERATOR)
    if token.startswith(INVITATION_TOKEN_PREFIX + "."):
        raise unauthenticated("invitation tokens are accepted only by /v1/invitations/accept and /decline")
    token_hash = hash_token(token)
    found = services.queries.peek_principal(token_hash) or await blocking(
        services.queries.principal_for_token, token_hash
    )
    if not found:
        raise unauthenticated("unknown or revoked token")
    return Principal("member", found["user_id"], found["tenant_id"], found.get("token_id"), token_hash)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


@dataclass
class TenantAccess:
    """A caller admitted to one tenant: the operator (any tenant, closed ones included) or one of its members."""

    services: Services
    principal: Principal
    tenant_id: str
    status: str
    request: Request

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    def actor(self) -> Actor:
        """Who sends the command and the request's metadata, for the events (R-L1)."""
        return request_actor(self.request, self.principal.user_id)

    async def holds(self, permission: str) -> bool:
        """True if the caller holds `permission` at any scope: the same check the ledger serves (R-C1)."""
        if self.principal.is_operator:
            return False
        queries, now = self.services.queries, self.services.now()
        decision = queries.peek_check(self.tenant_id, self.user_id, permission, None, None, now) or await blocking(
            queries.check, self.tenant_id, self.user_id, permission, None, None, now
        )
        return bool(decision["allowed"])

    async def require(self, *permissions: str, itself: str | None = None) -> None:
        """Reads: the operator, the user `itself`, or a holder of any of `permissions`; else 403 naming the
        first permission (API.md)."""
        if self.principal.is_operator or (itself is not None and itself == self.user_id):
            return
        for permission in permissions:
            if await self.holds(permission):
                return
        raise DomainError(
            "forbidden",
            f"this needs {' or '.join(permissions)}",
            missing_permission=permissions[0] if permissions else None,
        )


def request_actor(request: Request, user_id: str) -> Actor:
    """An Actor carrying X-Request-Id, X-Reason and the Idempotency-Key, scoped to the token that sent it: the
    events carry it so that a retry finds them whatever happened to the process (R-X3)."""
    state = request.state
    key = request.headers.get("idempotency-key")
    scope = getattr(state, "key_scope", None)
    return Actor(
        user_id,
        state.request_id,  # both set by RequestMiddleware before any route runs
        state.reason,
        f"{scope}:{key}" if key is not None and scope is not None else None,
    )


async def tenant_access(tenant_id: str, request: Request, credentials: Credentials) -> TenantAccess:
    """404 for a tenant the member token does not belong to (R-X5); 409 `tenant_closed` for members of a closed
    tenant (R-T5); the operator reaches every tenant that exists.

    Flat on purpose (services from the app, the principal by a plain call): each nested dependency level costs
    FastAPI tens of microseconds per request, which the check endpoint cannot afford (issue 8)."""
    services: Services = request.app.state.services
    principal = await authenticate(services, credentials)
    return await admit(services, principal, tenant_id, request)


async def admit(services: Services, principal: Principal, tenant_id: str, request: Request) -> TenantAccess:
    """Admit an authenticated caller to one tenant (R-X5, R-T5); the console signs in differently, then comes here."""
    request.state.key_scope = principal.scope
    if not principal.is_operator and principal.tenant_id != tenant_id:
        raise not_found("tenant", tenant_id)
    now = services.now()
    status = services.queries.peek_tenant_status(tenant_id, now) or await blocking(
        services.queries.tenant_status, tenant_id, now
    )
    if status == "closed" and not principal.is_operator:
        raise DomainError("tenant_closed", "the tenant is closed; its history stays readable by the operator")
    return TenantAccess(services, principal, tenant_id, status, request)


async def read_access(
    tenant_id: str,
    request: Request,
    credentials: Credentials,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            description="Wait up to 5 s for the projections to reach this position (else 503 stale_read).",
        ),
    ] = None,
) -> TenantAccess:
    """Tenant access for queries, after waiting for `min_position`: the caller is admitted at that position too,
    so a token created at or before it is known (another process or a read replica may not have read it yet,
    R-Z1, R-Z6) and a tenant closed by then is closed."""
    services: Services = request.app.state.services
    try:
        principal = await authenticate(services, credentials)
    except DomainError as exc:
        if exc.code != "unauthenticated" or min_position is None or services.read_watch.position >= min_position:
            raise
        await wait_for_position(services, min_position)
        principal = await authenticate(services, credentials)
    await wait_for_position(services, min_position)
    return await admit(services, principal, tenant_id, request)


async def wait_for_position(services: Services, min_position: int | None) -> None:
    """503 `stale_read` (with Retry-After) when the projections do not reach `min_position` within 5 s."""
    if min_position is None:
        return
    if services.read_watch.position < min_position and min_position > await blocking(services.head_position):
        # R-X8: a position the store has not reached cannot be waited for; answered at once, holding nothing.
        raise DomainError(
            "position_ahead",
            f"min_position {min_position} is beyond the newest recorded position",
            errors=[{"loc": ["query", "min_position"], "msg": "beyond the newest recorded position"}],
        )
    if not await services.reach(min_position, MIN_POSITION_WAIT_SECONDS):
        raise DomainError("stale_read", f"the projections have not reached position {min_position} yet")


ReadAccess = Annotated[TenantAccess, Depends(read_access)]
WriteAccess = Annotated[TenantAccess, Depends(tenant_access)]
