"""Hostile inputs the security suite replays against every route (R-X5, R-X6, R-X8).

Each is built to be refused (never a valid command), so replaying all of them must leave the event store's head
where it was; none may answer 5xx. Add what a new attack tries here: every route gets it.
"""

from __future__ import annotations

import json
from typing import Any

CONTROL = ["\x00", "\x07", "\x1b[2J", "\x7f", "\x85", "\u202e", "\u2066", "\r\n"]
NASTY_STRINGS = ["' OR '1'='1' --", "../../etc/passwd", "${jndi:ldap://x}", "<script>alert(1)</script>", "%00"]

RAW_BODIES: list[tuple[str, bytes]] = [
    ("deep-array", b"[" * 5000 + b"]" * 5000),
    ("deep-object", b'{"a":' * 200 + b"1" + b"}" * 200),
    ("invalid-utf8", b"\xff\xfe\xfd{}"),
    ("unparsable", b"{"),
    ("truncated", b'{"name": "x'),
    ("nul-escape", b'{"x": "\\u0000"}'),
    ("raw-nul", b'{"x": "\x00"}'),
    ("top-level-string", b'"just a string"'),
    ("top-level-number", b"12345"),
    ("top-level-null", b"null"),
    ("top-level-array", b"[1, 2, 3]"),
    ("top-level-true", b"true"),
    ("nan", b'{"min_admins": NaN, "included_seats": NaN}'),
    ("huge-float", b'{"min_admins": 1e309}'),
    ("lone-surrogate", b'{"name": "\\ud800"}'),
    ("bom", b"\xef\xbb\xbf{}"),
    ("too-large", b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'),
]


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return change(value)


UNKNOWN = {"__proto__": {"admin": True}}


def mutated_bodies(valid: dict[str, Any] | None) -> list[tuple[str, bytes]]:
    """A route's valid body (a stand-in for routes that take none), spoilt everywhere at once: control characters,
    wrong types, unknown fields. Where a spoilt value could still be valid (a label may read like SQL), an unknown
    field makes sure the body is refused, while every other field is still validated."""
    base = valid or {"x": "y"}
    bodies: list[tuple[str, Any]] = []
    for char in CONTROL:
        spoilt = _walk(base, lambda v, c=char: f"a{c}b" if isinstance(v, str) else v)
        bodies.append((f"control-{ord(char[0]):x}", spoilt))
    for nasty in NASTY_STRINGS:
        spoilt = _walk(base, lambda v, n=nasty: n if isinstance(v, str) else v)
        bodies.append((f"nasty-{nasty[:6]}", {**spoilt, **UNKNOWN}))
    bodies.append(("bool-for-everything", _walk(base, lambda v: True)))
    bodies.append(("float-for-everything", _walk(base, lambda v: 1.5)))
    bodies.append(("bigint-for-everything", _walk(base, lambda v: 10**100)))
    bodies.append(("null-for-everything", {**_walk(base, lambda v: None), **UNKNOWN}))
    bodies.append(("list-for-everything", _walk(base, lambda v: [v])))
    bodies.append(("unknown-field", {**base, **UNKNOWN}))
    long = _walk(base, lambda v: "x" * 100_000 if isinstance(v, str) else v)
    bodies.append(("long-strings", {**long, **UNKNOWN}))
    # A spoilt body identical to the valid one (no strings to spoil) is not hostile: left out.
    return [(name, json.dumps(body).encode()) for name, body in bodies if body != valid]


PATH_VALUES = [
    "%00",
    "%07",
    "%1B",
    "%7F",
    "%C2%85",
    "%E2%80%AE",
    "%FF",
    "%2e%2e",
    "..%2F..%2F",
    "x" * 300,
    "%27%20OR%201%3D1",
]

QUERY_VALUES = [
    "\x00",
    "\x1b",
    "\u202e",
    "-1",
    "1e999",
    "99999999999999999999999999",
    "x" * 5000,
    "' OR 1=1 --",
    "2026-13-45T99:99:99Z",
    "",
]

HEADERS: list[tuple[str, dict[str, Any]]] = [
    ("reason-too-long", {"X-Reason": "r" * 501}),
    ("reason-escape", {"X-Reason": b"a\x1bb"}),
    ("reason-bidi", {"X-Reason": "a\u202eb".encode()}),
    ("request-id-bad", {"X-Request-Id": "x" * 300}),
    ("idempotency-key-bad", {"Idempotency-Key": "has spaces and \xe9".encode("latin-1")}),
    ("idempotency-key-long", {"Idempotency-Key": "k" * 300}),
]
