"""Operations: liveness, readiness, Prometheus metrics, and the manual clock (R-K2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.http.commands import execute, json_answer
from api.http.deps import PrincipalDep, ServicesDep, blocking
from api.http.errors import is_database_down, problem
from api.http.routing import problems
from api.http.schemas.requests import ClockIn
from api.http.schemas.resources import ClockSet
from api.runtime import Services
from domain.application import CommandResult
from domain.errors import DomainError
from projections.follow import read_position

router = APIRouter(tags=["operations"])
clock_router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


STALL_SECONDS = 10.0


def _readiness(services: Services) -> dict[str, Any]:
    services.store.check_reachable()
    head = services.head_position()
    position = services.runner.position()
    waited = services.projections_stall.seconds(head, position)
    ready = {
        "status": "ready",
        "database": "reachable",
        "position": position,
        "projection_lag": max(0, head - position),
        "stalled_seconds": round(waited, 1),
    }
    if services.replica is not None:
        ready["replica"] = _replica_readiness(services, position)
    return ready


def _replica_readiness(services: Services, primary: int) -> dict[str, Any]:
    """R-Z6: where the replica's projections stand, read from the replica now (a probe is worth one query)."""
    try:
        with services.reads.reader() as tx:
            replayed = read_position(tx, services.runner.names)
    except Exception as exc:  # DomainError `unavailable` included: say why, readiness fails below
        detail = getattr(exc, "detail", None) or " ".join(str(exc).split())
        return {"database": "unreachable", "error": detail}
    waited = services.replica_stall.seconds(primary, replayed)
    return {
        "database": "reachable",
        "position": replayed,
        "lag": max(0, primary - replayed),
        "stalled_seconds": round(waited, 1),
    }


@router.get("/readyz", summary="Readiness", responses=problems(503))
async def readyz(services: ServicesDep) -> Response:
    """The database is reachable and the projections advance; the answer says how far they lag behind the events.
    503 when the database is unreachable or events have waited more than 10 s without the projections advancing
    (R-Z3), and 503 naming the position and the error when a projection stopped at an event it cannot apply (R-X8).
    With a read replica (R-Z6), `replica` says how far it has replayed; 503 when it is unreachable or has stood
    behind the primary for more than 10 s."""
    try:
        ready = await blocking(_readiness, services)
    except Exception as exc:
        if is_database_down(exc) and services.store.kind == "postgresql":
            # R-Z3: the probe found the database away before the listening connection noticed: from now on
            # requests fail at once instead of each waiting for a connection; the follower clears it when it
            # reaches the database (within a second if it never went away). SQLite has no server to lose.
            services.store.unreachable = True
        raise
    stopped = list(services.runner.stopped.values())
    if stopped:
        first = min(stopped, key=lambda s: s.position)
        return problem(
            503,
            "unavailable",
            f"projection {first.projection} stopped at position {first.position}: {first.error}",
            position=first.position,
            error=first.error,
            stopped=[{"projection": s.projection, "position": s.position, "error": s.error} for s in stopped],
            projection_lag=ready["projection_lag"],
        )
    if ready["stalled_seconds"] > STALL_SECONDS:
        detail = f"events have waited {ready['stalled_seconds']} s at position {ready['position']} without projecting"
        return problem(503, "unavailable", detail, position=ready["position"], projection_lag=ready["projection_lag"])
    replica = ready.get("replica")
    if replica is not None and replica["database"] != "reachable":
        return problem(503, "unavailable", f"the read replica is unreachable: {replica['error']}", replica=replica)
    if replica is not None and replica["stalled_seconds"] > STALL_SECONDS:
        detail = (
            f"the read replica has stood at position {replica['position']} for {replica['stalled_seconds']} s while"
            f" the primary's projections reached {ready['position']}"
        )
        return problem(503, "unavailable", detail, replica=replica)
    return json_answer(200, ready, None)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    """Requests by route and status, latency, events appended, projection lag (Prometheus text format)."""
    text = await blocking(generate_latest, services.metrics.registry)
    return Response(text, media_type=CONTENT_TYPE_LATEST)


def set_clock(services: Services, now: Any) -> CommandResult:
    """Move the manual clock forward, then apply every change that became due, for every tenant (R-K1, R-K2)."""
    assert services.manual_clock is not None
    services.manual_clock.set(now)
    services.sweep()
    return CommandResult(services.head_position())


@clock_router.post(
    "/v1/clock",
    response_model=ClockSet,
    responses=problems(401, 403, 409, 413, 422, 503),
    summary="Set the manual clock (operator)",
)
async def post_clock(body: ClockIn, principal: PrincipalDep, services: ServicesDep, request: Request) -> Response:
    """Only with ACCESSLEDGER_CLOCK=manual: moves time forward (409 clock_backwards otherwise) and applies every
    due change of every tenant before answering."""
    if not principal.is_operator:
        raise DomainError("forbidden", "only the operator sets the clock")
    if services.manual_clock is None:
        raise DomainError(
            "not_found",
            "this server runs on the system clock, which nobody sets: POST /v1/clock moves a manual clock only; "
            "start the server with ACCESSLEDGER_CLOCK=manual (for tests and demonstrations) to use it",
        )
    return await execute(
        services,
        request,
        principal.scope,
        lambda: set_clock(services, body.now),
        lambda _: {"now": services.now()},
    )
