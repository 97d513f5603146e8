"""The audit chain's canonical JSON (R-L2): the fast path yields RFC 8785's bytes exactly, so anyone can check an
exported trail with an RFC 8785 library and SHA-256."""

from __future__ import annotations

import base64
import hashlib

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.personal import PREFIX, hashed_form, is_envelope, new_key, personal_paths, readable_form, seal
from projections.audit.chain import FIELDS, GENESIS_HASH, canonical_json, entry_hash, hashed_json

# Text a caller may have written before the prefix was reserved (R-L6): it starts like an envelope but is none, and
# is hashed as the text it is (a store may hold it; its chain must verify).
texts = st.text() | st.builds(lambda rest: PREFIX + rest, st.text(max_size=12))
scalars = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | texts | st.floats(allow_nan=False)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


def rfc8785_or_refusal(value):
    """RFC 8785's bytes, or the error it refuses the value with (integers beyond ±2^53, lone surrogates)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as refusal:
        return refusal


@settings(max_examples=400)
@given(values)
def test_R_L2_canonical_json_equals_rfc8785(value):
    """R-L2: whatever the shape (floats, non-ASCII keys, big integers), the bytes are RFC 8785's, and a value
    RFC 8785 refuses (an integer beyond ±2^53, a lone surrogate) is refused here too, never hashed some other way."""
    expected = rfc8785_or_refusal(value)
    if isinstance(expected, Exception):
        with pytest.raises(ValueError):  # CanonicalizationError, or UnicodeEncodeError on the fast path
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


@given(st.integers(2**53, 2**80) | st.integers(-(2**80), -(2**53)))
def test_R_L2_integers_beyond_2_53_are_refused_like_rfc8785(number):
    """R-L2: I-JSON has no exact integers beyond ±2^53; both the fast path and RFC 8785 refuse them."""
    with pytest.raises(rfc8785.IntegerDomainError):
        rfc8785.dumps({"n": number})
    with pytest.raises(ValueError):
        canonical_json({"n": number})


entries = st.fixed_dictionaries(
    {
        "position": st.integers(1, 2**40),
        "tenant_id": st.text(min_size=1, max_size=20),
        "sequence": st.integers(1, 2**40),
        "event_type": st.sampled_from(["MemberAdded", "TokenRevoked"]),
        "occurred_at": st.just("2026-11-16T09:30:00Z"),
        "recorded_at": st.just("2026-11-16T09:30:00.123456Z"),
        "actor": st.text(max_size=30),
        "subject": st.none() | st.text(max_size=10),
        "request_id": st.none() | st.text(max_size=10),
        "reason": st.none() | texts,
        "data": st.dictionaries(st.text(max_size=8), values, max_size=5),
        "prev_hash": st.just(GENESIS_HASH) | st.text("0123456789abcdef", min_size=64, max_size=64),
    }
)


@settings(max_examples=300)
@given(entries)
def test_R_L2_entry_hash_is_sha256_of_prev_hash_and_rfc8785_entry(entry):
    """R-L2: hash = SHA-256(bytes of prev_hash ‖ RFC 8785 JSON of the entry without `hash`)."""
    assert set(entry) == set(FIELDS) - {"hash"}
    canonical = rfc8785_or_refusal(entry)
    if isinstance(canonical, Exception):
        with pytest.raises(ValueError):
            entry_hash(entry)
        return
    expected = hashlib.sha256(bytes.fromhex(entry["prev_hash"]) + canonical).hexdigest()
    assert entry_hash(entry) == expected
    assert entry_hash({**entry, "hash": "ignored"}) == expected


envelopes = st.builds(
    lambda tenant, person, digest, sealed: (
        f"pd1:{tenant}:{person}:{digest}:{base64.urlsafe_b64encode(sealed).decode()}"
    ),
    st.text(min_size=1, max_size=6).filter(lambda t: ":" not in t),
    st.text(min_size=1, max_size=8),
    st.text("0123456789abcdef", min_size=64, max_size=64),
    st.binary(min_size=44, max_size=60),
)
# Strings that look like envelopes from inside: an escaped quote before `pd1:`, one after a `:` or `,`.
lookalikes = st.builds(
    lambda pre, envelope: f"{pre}{envelope}", st.sampled_from(['"', ',"', ':"', '\\"', "x"]), envelopes
)
sealed_values = st.recursive(
    scalars.filter(lambda v: not isinstance(v, float)) | envelopes | lookalikes,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | envelopes, inner, max_size=4),
)


@settings(max_examples=400)
@given(st.dictionaries(st.text(max_size=8) | envelopes, sealed_values, max_size=5))
def test_R_L2_R_L6_hashed_json_is_the_hashed_form_written_canonically(data):
    """R-L2, R-L6: the data a sealed entry is hashed with, made from its canonical JSON text, is byte for byte the
    canonical JSON of its hashed form (every envelope value replaced by its digest; keys and other text untouched)."""
    try:
        text = canonical_json(data).decode()
    except ValueError:  # beyond RFC 8785 (a big integer, a lone surrogate): refused before anything is hashed
        return
    assert hashed_json(text) == canonical_json(hashed_form(data)).decode()


@given(envelopes)
def test_R_L6_an_envelope_is_hashed_as_its_digest(envelope):
    """R-L6: what the strategies above call an envelope is one, so the property test replaces them."""
    assert is_envelope(envelope) and hashed_form(envelope) == "sha256:" + envelope.split(":")[-2]


LOOKALIKES = [
    "pd1:",
    "pd1:x",
    "pd1:acme:user:bea:digest:sealed",
    "pd1:acme:user:bea:" + "0" * 64 + ":" + "A" * 20,  # too short to hold a nonce, a salt and a tag
    "pd1:acme:user:bea:" + "0" * 63 + "g:" + "A" * 60,
    "pd1:acme:user:bea:" + "0" * 64 + ":" + "A" * 59 + "!",
    "pd1::user:bea:" + "0" * 64 + ":" + "A" * 60,
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_R_L6_R_L2_text_that_only_starts_like_an_envelope_is_clear_text_to_every_reader(text):
    """R-L6, R-L2: every reader of stored values takes such text as clear text alike (no error), so the audit
    hashes it as written when it projects an event and when it verifies or rebuilds the chain."""
    data = {"name": text, "nested": [{text: text}]}
    assert not is_envelope(text)
    assert hashed_form(data) == data and personal_paths(data) == {}
    assert readable_form(data, lambda envelope: "[opened]") == data
    assert hashed_json(canonical_json(data).decode()) == canonical_json(data).decode()
    entry = {name: None for name in FIELDS if name != "hash"} | {"reason": text, "data": data}
    entry |= {"position": 1, "sequence": 1, "prev_hash": GENESIS_HASH}
    assert entry_hash(entry) == hashlib.sha256(bytes.fromhex(GENESIS_HASH) + rfc8785.dumps(entry)).hexdigest()


def test_R_L6_a_sealed_value_is_an_envelope_whatever_its_text():
    """R-L6: `seal` writes what the readers take for an envelope, for any tenant, person and value."""
    for tenant, person, value in [("acme", "user:a:b", "pd1:x"), ("t", "inv:1", ""), ("x", "user:u", "Bea")]:
        envelope = seal(new_key(), tenant, person, value).envelope
        assert is_envelope(envelope) and hashed_form(envelope) == "sha256:" + envelope.split(":")[-2]
