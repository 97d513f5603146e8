"""R-X6: bad input never causes a 5xx and never records anything. One pure ASGI middleware checks, before any route
runs, what every route shares:

- headers and query strings: no control characters (C0, DEL, C1, and the bidirectional overrides), valid UTF-8;
- path: the same (a path parameter is text too);
- JSON bodies of /v1 routes: valid UTF-8, parsable, at most `MAX_DEPTH` deep, no control character in any key or
  string; a route that takes no body accepts only an empty one or `{}`.

Each refusal is 422 `validation_error` naming the field (`errors[].loc`). Routes then validate their own fields
(types strictly: a boolean or a float is not an integer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import problem

MAX_DEPTH = 32
# C0 controls, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Refused(Exception):
    """Input refused with a location and a message."""

    def __init__(self, loc: list[Any], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


def has_control(text: str) -> bool:
    """True if `text` holds a character R-X6 refuses."""
    return CONTROL.search(text) is not None


def check_text(text: str, loc: list[Any]) -> None:
    if has_control(text):
        raise Refused(loc, "must not contain control or bidirectional-override characters")


def check_json(value: Any, loc: list[Any], depth: int = 0) -> None:
    """Depth and control characters of a parsed JSON value (iterative in spirit: bounded by MAX_DEPTH)."""
    if depth > MAX_DEPTH:
        raise Refused(loc, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        check_text(value, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, [*loc, key])
            check_json(item, [*loc, key], depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json(item, [*loc, index], depth + 1)


def parse_body(raw: bytes) -> Any:
    """The body as JSON, or Refused (invalid UTF-8, unparsable, too deep)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(["body"], "the body is not valid UTF-8") from None
    if _too_deep(text):
        raise Refused(["body"], f"nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(["body"], "the body is not valid JSON") from None


def _too_deep(text: str) -> bool:
    """Bracket depth outside strings beyond MAX_DEPTH (checked before parsing, so parsing cannot recurse deeply)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH + 1:
                return True
        elif char in "]}":
            depth -= 1
    return False


def check_target(scope: Scope) -> None:
    """Path, query string and headers."""
    check_text(scope.get("path", ""), ["path"])
    for pair in scope.get("query_string", b"").split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8", "replace")
        for part in (raw_name, raw_value):
            try:
                decoded = unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                raise Refused(["query", name], "not valid UTF-8") from None
            check_text(decoded, ["query", name])
    for key, value in scope.get("headers", ()):
        name = key.decode("latin-1")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(["header", name], "not valid UTF-8") from None
        check_text(text, ["header", name])


class InputGuard:
    """Refuses malformed input (R-X6) before routing; passes the body it read on to the app."""

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.openapi = openapi
        self._bodyless: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope)
        except Refused as refused:
            await _refuse(refused, scope, receive, send)
            return
        if scope.get("method") not in _BODY_METHODS or not scope.get("path", "").startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        raw, more = await _read(receive)
        try:
            if raw.strip():
                value = parse_body(raw)
                if not isinstance(value, dict):
                    raise Refused(["body"], "the body must be a JSON object")
                check_json(value, ["body"])
                if value != {} and not self._takes_body(scope):
                    raise Refused(["body"], "this route takes no body (send none, or {})")
        except Refused as refused:
            await _refuse(refused, scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await more()

        await self.app(scope, replay, send)

    def _takes_body(self, scope: Scope) -> bool:
        """False for an operation the OpenAPI document gives no request body (the routes' own declaration)."""
        if self._bodyless is None:
            self._bodyless = [
                (method.upper(), re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"))
                for path, operations in self.openapi().get("paths", {}).items()
                for method, operation in operations.items()
                if isinstance(operation, dict) and "requestBody" not in operation
            ]
        method, path = scope.get("method", ""), scope.get("path", "")
        return not any(m == method and pattern.match(path) for m, pattern in self._bodyless)


async def _read(receive: Receive) -> tuple[bytes, Receive]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), receive


async def _refuse(refused: Refused, scope: Scope, receive: Receive, send: Send) -> None:
    where = ".".join(str(p) for p in refused.loc)
    answer = problem(
        422, "validation_error", f"{where}: {refused.msg}", errors=[{"loc": refused.loc, "msg": refused.msg}]
    )
    await answer(scope, receive, send)
