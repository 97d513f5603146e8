"""The web console (/console): server-rendered pages on the API's own queries and commands, for the people who
would rather look than type. `install` mounts it on the app the factory builds."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console.pages import auth, feeds, members, records, tenants, what_if
from api.console.render import HERE
from api.console.session import signing_key
from api.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """The console's routes (kept out of the OpenAPI schema: they answer HTML) and its packaged assets."""
    app.state.console_key = signing_key(settings.secret_key)
    for module in (auth, tenants, members, records, feeds, what_if):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
