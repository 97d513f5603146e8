"""The audit trail's entries and their hash chain (R-L1, R-L2): what an event gives, and how it is hashed.

`hash = hex(SHA-256(bytes.fromhex(prev_hash) ‖ RFC 8785 canonical JSON of the entry without `hash`))`; a tenant's
first entry has `prev_hash` = 64 zeros. Canonical JSON takes a fast path (Python's sorted compact JSON) for the
shapes events have, which yields RFC 8785's bytes exactly (tests/domain/test_audit_hash.py), and RFC 8785 itself
for anything else.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785

from domain.personal import PREFIX, PersonalText, hashed_form, stored_form
from domain.tenant.events import subject_of
from domain.tenant.metadata import public_data, to_json_value
from projections.eventstore import Recorded

GENESIS_HASH = "0" * 64
FIELDS = (
    "position",
    "tenant_id",
    "sequence",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor",
    "subject",
    "request_id",
    "reason",
    "data",
    "prev_hash",
    "hash",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAFE_INT = 2**53
_fast_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def instant_text(value: datetime) -> str:
    """An instant as the API writes it: UTC, ISO 8601, `Z`."""
    return to_json_value(value.astimezone(UTC))


def micros(value: datetime) -> int:
    """Microseconds since the epoch (naive instants are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def _plain(value: Any) -> bool:
    """True when Python's sorted compact JSON is already RFC 8785 (no floats, ASCII keys, safe integers)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT < value < _SAFE_INT
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON; the common shapes take a fast path that yields the same bytes."""
    if _plain(value):
        return _fast_dumps(value).encode()
    return rfc8785.dumps(value)


# The entry's keys in RFC 8785 order (plain ASCII names sort by code unit as by code point).
_KEYS = tuple(sorted(FIELDS[:-1]))
_KEY_SET = frozenset(_KEYS)
_quote = json.encoder.encode_basestring  # C-coded; for a str RFC 8785 writes the same bytes


def _scalar_json(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _quote(value)
    if value is None:
        return "null"
    if kind is int and -_SAFE_INT < value < _SAFE_INT:
        return str(value)
    return canonical_json(value).decode()


def chain_hash(entry: dict[str, Any], data_json: str) -> str:
    """SHA-256 over prev_hash and the entry's canonical JSON, with the (canonical) data spliced in as text.

    Personal values (R-L6) are hashed in their hashed form, `sha256:<SHA-256(salt ‖ value)>`, never as the value
    or its envelope: the hash depends on no key, so it survives an erasure."""
    if PREFIX in data_json:
        data_json = canonical_json(hashed_form(json.loads(data_json))).decode()
    if isinstance(entry.get("reason"), str) and entry["reason"].startswith(PREFIX):
        entry = {**entry, "reason": hashed_form(entry["reason"])}
    body = ",".join(f'"{key}":{data_json if key == "data" else _scalar_json(entry[key])}' for key in _KEYS)
    return hashlib.sha256(bytes.fromhex(entry["prev_hash"]) + ("{" + body + "}").encode()).hexdigest()


def entry_hash(entry: dict[str, Any]) -> str:
    """The entry's hash from its `prev_hash` and every other field but `hash`."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    if body.keys() == _KEY_SET:
        return chain_hash(body, canonical_json(body["data"]).decode())
    body = hashed_form(body)
    return hashlib.sha256(bytes.fromhex(body["prev_hash"]) + canonical_json(body)).hexdigest()


_public_names: dict[type, tuple[str, ...]] = {}
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def _public_json(event: Any) -> dict[str, Any]:
    """`to_json_value(public_data(event))`, with each class's public field names worked out once."""
    names = _public_names.get(type(event))
    if names is None:
        names = _public_names[type(event)] = tuple(public_data(event))
    out = {}
    for name in names:
        value = getattr(event, name)
        kind = type(value)
        if kind in _PLAIN_TYPES:
            out[name] = value
        elif kind is PersonalText:
            out[name] = value.envelope
        else:
            value = to_json_value(value)
            out[name] = stored_form(value) if kind is dict else value
    return out


def derive_entry(recorded: Recorded) -> dict[str, Any]:
    """The entry an event gives, without `prev_hash` and `hash`; secrets are left out (R-L1), personal values are
    their envelopes (R-L6: stored sealed, read open)."""
    event = recorded.event
    return {
        "position": recorded.position,
        "tenant_id": event.tenant_id,
        "sequence": event.originator_version,
        "event_type": type(event).__name__,
        "occurred_at": instant_text(event.occurred_at),
        "recorded_at": instant_text(recorded.recorded_at),
        "actor": event.actor,
        "subject": subject_of(event),
        "request_id": event.request_id,
        "reason": stored_form(event.caller_reason),
        "data": _public_json(event),
    }


def chained(entry: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    """The entry with `prev_hash` and its `hash`."""
    entry["prev_hash"] = prev_hash
    entry["hash"] = entry_hash(entry)
    return entry


def entry_of(row: dict[str, Any]) -> dict[str, Any]:
    """An `AuditEntry` (API.md) from a stored row."""
    entry = {name: row[name] for name in FIELDS}
    entry["data"] = json.loads(entry["data"])
    return entry
