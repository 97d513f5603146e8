"""The audit trail's entries and their hash chain (R-L1, R-L2): what an event gives, and how it is hashed.

`hash = hex(SHA-256(bytes.fromhex(prev_hash) ‖ RFC 8785 canonical JSON of the entry without `hash`))`; a tenant's
first entry has `prev_hash` = 64 zeros. Canonical JSON takes a fast path (Python's sorted compact JSON) for the
shapes events have, which yields RFC 8785's bytes exactly (tests/domain/test_audit_hash.py), and RFC 8785 itself
for anything else. The fast path is orjson (C): for those shapes its sorted compact output is Python's byte for byte,
and hashing was the largest cost of a rebuild (issue 17).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import rfc8785

from domain.personal import DIGEST_PREFIX, PREFIX, PersonalText, envelope_parts, hashed_form, stored_form
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
_py_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode
_SORTED = orjson.OPT_SORT_KEYS


def _fast_dumps(value: Any) -> bytes:
    """Sorted compact JSON of a plain value (see `_plain`); a lone surrogate, which orjson refuses, fails as
    Python's encoder fails on it (UnicodeEncodeError): RFC 8785 refuses it too."""
    try:
        return orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError:
        return _py_dumps(value).encode()


def instant_text(value: datetime) -> str:
    """An instant as the API writes it: UTC, ISO 8601, `Z`."""
    return to_json_value(value.astimezone(UTC))


def micros(value: datetime) -> int:
    """Microseconds since the epoch (naive instants are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


_LEAVES = frozenset({str, bool, type(None)})


def _plain(value: Any) -> bool:
    """True when Python's sorted compact JSON is already RFC 8785 (no floats, ASCII keys, safe integers)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) not in _LEAVES and not _plain(item):
                return False
        return True
    if kind in _LEAVES:
        return True
    if kind is int:
        return -_SAFE_INT < value < _SAFE_INT
    if kind is list:
        return all(type(v) in _LEAVES or _plain(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON; the common shapes take a fast path that yields the same bytes."""
    if _plain(value):
        return _fast_dumps(value)
    return rfc8785.dumps(value)


# The entry's keys in RFC 8785 order (plain ASCII names sort by code unit as by code point).
_KEYS = tuple(sorted(FIELDS[:-1]))
_KEY_SET = frozenset(_KEYS)
_SCALAR_KEYS = tuple(key for key in _KEYS if key != "data")
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


_OPENING = f'"{PREFIX}'


def _canonical_int(digits: str) -> int | float:
    """An integer of canonical JSON read back: beyond ±2^53 it can only have been written for a float (RFC 8785
    refuses such integers), so it is read as the float it was, which writes the same digits again."""
    number = int(digits)
    return number if -_SAFE_INT < number < _SAFE_INT else float(number)


def hashed_json(data_json: str) -> str:
    """`canonical_json(hashed_form(json.loads(data_json)))` for the canonical JSON of an object: each envelope is
    replaced by its digest in the text, without parsing and writing the data again (issue 15: that was most of what
    sealing cost a rebuild)."""
    if PREFIX not in data_json:
        return data_json
    pieces = []
    done = 0
    start = data_json.find(_OPENING)
    while start >= 0:
        end = data_json.find('"', start + 1)
        text = data_json[start + 1 : end]
        # A string value of its own: its quote opens a string (inside a string every quote is escaped, and follows
        # a backslash), it is no key (no `:` after it), and it holds no escaped character.
        if data_json[start - 1] not in "{[,:" or data_json[end + 1] == ":" or "\\" in text:
            return canonical_json(hashed_form(json.loads(data_json, parse_int=_canonical_int))).decode()
        envelope = envelope_parts(text)
        if envelope is not None:  # else clear text that merely starts with the prefix: hashed as it is
            pieces += (data_json[done:start], '"', DIGEST_PREFIX, envelope[2], '"')
            done = end + 1
        start = data_json.find(_OPENING, end + 1)
    pieces.append(data_json[done:])
    return "".join(pieces)


def chain_hash(entry: dict[str, Any], data_json: str) -> str:
    """SHA-256 over prev_hash and the entry's canonical JSON, with the (canonical) data spliced in as text.

    Personal values (R-L6) are hashed in their hashed form, `sha256:<SHA-256(salt ‖ value)>`, never as the value
    or its envelope: the hash depends on no key, so it survives an erasure."""
    data_json = hashed_json(data_json)
    if isinstance(entry.get("reason"), str) and entry["reason"].startswith(PREFIX):
        entry = {**entry, "reason": hashed_form(entry["reason"])}
    scalars = {key: entry[key] for key in _SCALAR_KEYS}
    if _plain(scalars):
        scalars["data"] = orjson.Fragment(data_json)
        try:
            return hashlib.sha256(bytes.fromhex(entry["prev_hash"]) + orjson.dumps(scalars, option=_SORTED)).hexdigest()
        except orjson.JSONEncodeError:  # a lone surrogate: the path below fails as RFC 8785 does
            pass
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
        elif kind is datetime:
            out[name] = value.isoformat().replace("+00:00", "Z")  # as to_json_value writes it
        elif kind is list and all(type(item) is str for item in value):
            out[name] = list(value)  # to_json_value's copy, without a call per item (the ids a batch assigns)
        else:
            value = to_json_value(value)
            out[name] = stored_form(value) if kind is dict else value
    return out


def derive_entry(recorded: Recorded) -> dict[str, Any]:
    """The entry an event gives, without `prev_hash` and `hash`; secrets are left out (R-L1), personal values are
    their envelopes (R-L6: stored sealed, read open)."""
    event = recorded.event
    reason = event.caller_reason
    if reason is not None and type(reason) is not str:
        reason = stored_form(reason)
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
        "reason": reason,
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
