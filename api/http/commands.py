"""How every command is answered: idempotency (R-X3), one ledger call off the event loop, read-your-writes,
`position` in the body and in `X-Position`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from api.http.deps import TenantAccess, blocking
from api.http.errors import problem, unexpected_problem
from api.http.idempotency import StoredAnswer, fingerprint
from api.runtime import Services
from domain.application import Actor, CommandResult
from domain.errors import DomainError
from domain.tenant.metadata import to_json_value

log = logging.getLogger("accessledger.api")
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

Shape = Callable[[CommandResult], dict[str, Any]]
COMMAND_WAIT_SECONDS = 5.0


def json_answer(status: int, body: dict[str, Any], position: int | None, replayed: bool = False) -> JSONResponse:
    """A JSON answer with X-Position (and Idempotent-Replayed when it is a stored first answer)."""
    headers = {}
    if position is not None:
        headers["X-Position"] = str(position)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(to_json_value(body), status_code=status, headers=headers)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise DomainError(
            "validation_error",
            "Idempotency-Key takes 1 to 255 visible ASCII characters",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "1 to 255 visible ASCII characters"}],
        )
    return key


async def execute(
    services: Services,
    request: Request,
    scope: str,
    call: Callable[[], CommandResult],
    shape: Shape,
    status: int = 200,
    token_hash: str | None = None,
) -> Response:
    """Claim the Idempotency-Key, run `call`, catch the read side up, shape the answer and remember it.
    `token_hash`: the caller's member token, looked up again for the cache once the command is projected.

    A recorded command is answered from its own result; when the read side cannot confirm it in time, the answer is
    503 `stale_read` with the command's `position`, which is never stored as the key's answer (R-X3, R-Z2)."""
    key = _idempotency_key(request)
    services.store.check_reachable()
    services.reads.check_reachable()  # a replica that is away could not confirm the answer (R-Z6): record nothing
    if services.runner.stopped:
        # R-X8: a projection stopped at an event it cannot apply; nothing new is recorded until it is fixed.
        halt = min(services.runner.stopped.values(), key=lambda s: s.position)
        raise DomainError(
            "stale_read", f"projection {halt.projection} stopped at position {halt.position}; see /readyz"
        )
    if key is not None:
        print_ = fingerprint(request.method, request.url.path, await request.body())
        stored = await blocking(services.idempotency.claim, scope, key, print_)
        if stored is not None:
            return json_answer(stored.status, stored.body, stored.position, replayed=True)
    try:
        result, shaped = await blocking(_run_and_shape, services, call, shape, token_hash)
    except BaseException:
        if key is not None:
            await _settle(services.idempotency.release, scope, key)  # nothing was recorded (R-X2): retry runs it
        raise
    try:
        body, position = await _finish(services, result, shape, shaped)
    except Exception as exc:
        # Recorded, but not answerable now: never stored as the key's answer; a retry asks the ledger at once.
        if key is not None:
            await _settle(services.idempotency.recorded, scope, key)
        if not isinstance(exc, DomainError):
            return unexpected_problem(exc)
        position = await blocking(services.command_position, result)
        return problem(
            503,
            "stale_read",
            f"the command was recorded at position {position}; its answer needs the read side, which has not"
            " caught up: retry (with the same Idempotency-Key) to read it",
            headers={"X-Position": str(position)},
            position=position,
        )
    if key is not None:
        await _settle(services.idempotency.complete, scope, key, StoredAnswer(status, body, position))
    return json_answer(status, body, position, replayed=result.recovered)


def _run_and_shape(
    services: Services, call: Callable[[], CommandResult], shape: Shape, token_hash: str | None = None
) -> tuple[CommandResult, tuple[int, dict[str, Any] | None] | Exception]:
    """Run the command, then bring the read side to it and shape the answer, in one thread hop (each hop costs the
    event loop and the worker a GIL hand-off). An error after the command ran is handed back, not raised: the
    command was recorded, so it is answered as such (R-Z2).

    Projecting the command dropped its tenant from the access cache, with the caller's token: it is read again
    here, after the projection (a token the command revoked is not found), so the caller's next request is
    admitted from memory instead of taking another hop for it."""
    result = call()
    try:
        shaped = _project_and_shape(services, result, shape)
    except Exception as exc:
        return result, exc
    queries = services.queries
    if token_hash is not None and shaped[1] is not None and queries.peek_principal(token_hash) is None:
        try:
            queries.principal_for_token(token_hash)
        except Exception as exc:  # only a cache left cold: the next request looks the token up itself
            log.debug("could not look the caller's token up again: %s", exc)
    return result, shaped


async def _finish(
    services: Services, result: CommandResult, shape: Shape, shaped: tuple[int, dict[str, Any] | None] | Exception
) -> tuple[dict[str, Any], int]:
    """The answer from the read side brought to the command's position (`shaped`, or the error that prevented it);
    out of process the projector's NOTIFY is awaited without a thread.

    A read side that does not get there in time answers 503 `stale_read` with the position (R-Z2), never an
    answer shaped from a read model that has not seen the command."""
    if isinstance(shaped, Exception):
        raise shaped
    position, body = shaped
    if body is None:
        if not await services.reach(position, COMMAND_WAIT_SECONDS):
            detail = f"recorded at position {position}; the read side has not reached it yet"
            raise DomainError("stale_read", detail, position=position)
        body = to_json_value(await blocking(shape, result))
    body["position"] = position
    return body, position


def _project_and_shape(services: Services, result: CommandResult, shape: Shape) -> tuple[int, dict[str, Any] | None]:
    position = services.command_position(result)
    recorded = position if result.position is not None or result.recovered else None
    services.after_write(recorded)
    # The answer is read where queries read: on a replica (R-Z6), only once it has replayed the command.
    if recorded is not None and services.read_watch.position < recorded:
        return position, None
    return position, to_json_value(shape(result))


async def _settle(step: Callable[..., None], *args: Any) -> None:
    try:
        await blocking(step, *args)
    except Exception as exc:  # the database is down: the claim stays; a retry asks the ledger (never 409)
        log.warning("could not settle idempotency key: %s", exc)


async def tenant_command(
    access: TenantAccess,
    permission: str | None,
    call: Callable[[Actor], CommandResult],
    shape: Shape,
    status: int = 200,
) -> Response:
    """A command on a tenant by one of its members; the operator has none but opening tenants (403)."""
    if access.principal.is_operator:
        raise DomainError(
            "forbidden", "the operator has no command on a tenant other than opening it", missing_permission=permission
        )
    actor = access.actor()
    principal = access.principal
    return await execute(
        access.services, access.request, principal.scope, lambda: call(actor), shape, status, principal.token_hash
    )
