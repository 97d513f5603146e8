"""`accessledger serve --workers N` on PostgreSQL: N uvicorn API processes and one projector, on one machine.

The API processes get the same operator token and secret key through the environment (a generated token would
otherwise differ per process, and a stored idempotent answer written by one could not be read by another), and
leave projecting to the one `accessledger project` child, which this process starts and stops by its pid.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from api.settings import Settings


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment every API process and the projector share."""
    env = dict(os.environ)
    env["ACCESSLEDGER_DATABASE_URL"] = settings.database_url
    env["ACCESSLEDGER_OPERATOR_TOKEN"] = settings.operator_token or ""
    env["ACCESSLEDGER_SECRET_KEY"] = settings.secret_key or secrets.token_urlsafe(32)
    env["ACCESSLEDGER_IN_PROCESS_PROJECTIONS"] = "false"
    return env


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Start the projector, then uvicorn with `workers` processes; stop the projector when uvicorn returns."""
    import uvicorn

    env = worker_environment(settings)
    program = str(Path(sys.executable).parent / "accessledger")
    command = [program, "project"] if os.path.exists(program) else [sys.executable, "-m", "api.cli.main", "project"]
    projector = subprocess.Popen(command, env=env)
    os.environ.update(env)  # uvicorn's worker processes inherit it and build their app from it
    try:
        uvicorn.run("api.http.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")
    finally:
        if projector.poll() is None:
            os.kill(projector.pid, signal.SIGTERM)
            try:
                projector.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(projector.pid, signal.SIGKILL)
                projector.wait()
