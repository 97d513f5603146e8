"""The FastAPI application factory: services, routers, middleware, errors and background work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from api import console
from api.http.deps import blocking
from api.http.errors import install_error_handlers
from api.http.input_guard import InputGuard
from api.http.middleware import RequestMiddleware
from api.http.openapi import install_openapi
from api.http.routes import (
    access,
    audit,
    billing,
    changes,
    compliance,
    grants,
    invitations,
    lookups,
    members,
    ops,
    resources,
    roles,
    tenants,
)
from api.metrics import Metrics
from api.runtime import build_services, start_background
from api.settings import Settings

DESCRIPTION = """Event-sourced access management for many tenants: members, roles, seats, grants, audit, replay.

Authenticate with `Authorization: Bearer <token>` (the operator token or a member token). Every command answers with
`position` (and `X-Position`); every query accepts `?min_position=N`. Send `Idempotency-Key` on POST, PUT and DELETE
to make retries safe. Errors are `application/problem+json` with a machine-readable `code`."""


def operation_id(route: APIRoute) -> str:
    """A route's operationId is its function's name, so generated clients get methods such as `open_tenant`,
    `check` and `lookup_resources`, stable across releases."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """An app on the configured database; background sweeps and projections run while it is served."""
    settings = settings or Settings()
    # Metrics outlive one Services: a served app that is stopped and started again (lifespan) opens new ones.
    metrics = Metrics(
        lambda: app.state.services.head_position(),
        lambda: app.state.services.runner.position(),
        lambda: app.state.services.runner.stopped,
        lambda: app.state.services.replica_position(),
    )
    services = build_services(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.services.closed:
            app.state.services = await blocking(build_services, settings, metrics)
        running = app.state.services
        start_background(running)
        try:
            yield
        finally:
            await blocking(running.close)

    # Swagger UI and ReDoc from files shipped in the fastapi-offline package: /docs works without a network.
    app = FastAPIOffline(
        title="accessledger",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # One schema per model, for requests and answers alike (generated clients refuse duplicates).
        separate_input_output_schemas=False,
    )
    app.state.services = services
    # FastAPI tries included routers in this order, each costing a match: the check (the hot path) comes first.
    for module in (
        access,
        tenants,
        members,
        invitations,
        billing,
        grants,
        roles,
        resources,
        lookups,
        changes,
        audit,
        compliance,
        ops,
    ):
        app.include_router(module.router, generate_unique_id_function=operation_id)
    for router in (roles.commands, grants.restriction_commands, members.manager_commands, resources.parent_commands):
        app.include_router(router, generate_unique_id_function=operation_id)
    app.include_router(ops.clock_router, generate_unique_id_function=operation_id)
    console.install(app, settings)  # last: the API's routes are matched first
    install_error_handlers(app)
    install_openapi(app)
    # Added first, so it runs inside RequestMiddleware (whose body limit applies while the guard reads the body).
    app.add_middleware(InputGuard, openapi=app.openapi)
    app.add_middleware(RequestMiddleware, metrics=metrics)
    return app
