"""Per-request plumbing as one pure ASGI middleware: request id, reason, body limit, metrics, last-resort errors.

Pure ASGI (not BaseHTTPMiddleware) so streamed answers stay streamed and the body limit applies while the body is
read, also without Content-Length.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import problem, unexpected_problem
from api.metrics import Metrics

MAX_BODY_BYTES = 1024 * 1024
MAX_REASON_CHARS = 500
REQUEST_ID_PATTERN = re.compile(r"^[\x20-\x7e]{1,200}$")


class _TooLarge(HTTPException):
    """Raised while FastAPI reads the body; an HTTPException so FastAPI re-raises it instead of answering 400."""

    def __init__(self) -> None:
        super().__init__(413, f"the request body exceeds {MAX_BODY_BYTES} bytes (1 MiB)")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            raw: bytes = value
            try:
                return raw.decode("utf-8")  # clients send UTF-8 reasons although HTTP says latin-1
            except UnicodeDecodeError:
                return raw.decode("latin-1")
    return None


class RequestMiddleware:
    """X-Request-Id (echoed, generated when absent), X-Reason (≤ 500 characters), body ≤ 1 MiB, metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id")
        state = scope.setdefault("state", {})
        status_holder = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", state["request_id"].encode("latin-1", "replace")))
                message = {**message, "headers": headers}
            await send(message)

        if request_id is not None and not REQUEST_ID_PATTERN.match(request_id):
            state["request_id"] = uuid.uuid4().hex
            answer = problem(
                422,
                "validation_error",
                "X-Request-Id takes 1 to 200 printable ASCII characters",
                errors=[{"loc": ["header", "X-Request-Id"], "msg": "1 to 200 printable ASCII characters"}],
            )
            await self._finish(answer, scope, receive, send_with_id, started, status_holder)
            return
        state["request_id"] = request_id or uuid.uuid4().hex
        reason = _header(scope, b"x-reason")
        if reason is not None and (len(reason) > MAX_REASON_CHARS or "\x00" in reason):
            answer = problem(
                422,
                "validation_error",
                f"X-Reason takes at most {MAX_REASON_CHARS} characters, none of them NUL",
                errors=[{"loc": ["header", "X-Reason"], "msg": f"at most {MAX_REASON_CHARS} characters, no NUL"}],
            )
            await self._finish(answer, scope, receive, send_with_id, started, status_holder)
            return
        state["reason"] = reason or None
        refused = _nul_in_target(scope)
        if refused is not None:
            await self._finish(refused, scope, receive, send_with_id, started, status_holder)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            await self._finish(_too_large(), scope, receive, send_with_id, started, status_holder)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _TooLarge:
            if not status_holder["started"]:
                await _too_large()(scope, receive, send_with_id)
        except Exception as exc:
            if not status_holder["started"]:
                await unexpected_problem(exc)(scope, receive, send_with_id)
            else:
                raise
        finally:
            self._observe(scope, status_holder["status"], started)

    async def _finish(
        self, answer: Any, scope: Scope, receive: Receive, send: Send, started: float, holder: dict[str, Any]
    ) -> None:
        await answer(scope, receive, send)
        self._observe(scope, holder["status"], started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.observe(scope.get("method", "?"), template, status, time.perf_counter() - started)


def _nul_in_target(scope: Scope) -> Any:
    """PostgreSQL text cannot hold U+0000: a query carrying one is invalid (422), refused here rather than as a
    database error (500); control characters in paths, headers and bodies are refused by `input_guard` (R-X6)."""
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" not in query and "\x00" not in query:
        return None
    names = [name for name, value in parse_qsl(query, keep_blank_values=True) if "\x00" in name + value]
    return problem(
        422,
        "validation_error",
        "query parameters must not contain NUL characters (U+0000)",
        errors=[{"loc": ["query", name], "msg": "must not contain NUL characters"} for name in names or ["?"]],
    )


def _too_large() -> Any:
    return problem(413, "payload_too_large", f"the request body exceeds {MAX_BODY_BYTES} bytes (1 MiB)")
