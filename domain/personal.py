"""Personal data under a key of its own per (tenant, person): crypto-shredding for erasure (R-L6).

A personal value (an e-mail, a name, the caller's reason on an event about the person) is stored as an
*envelope*: `pd1:<tenant>:<person>:<digest>:<sealed>`, where `sealed` is AES-GCM over `salt ‖ value` under
the person's key and `digest = SHA-256(salt ‖ value)`. The audit hashes the digest, never the value, so nothing
hashed depends on a key; destroying the key (erasure) leaves every hash as it was and every read shows `[erased]`.

In memory a value read back is a `PersonalText`: the clear text (or `[erased]`) that the domain compares and
shows, carrying its envelope so that whatever stores it again stores the envelope, never the text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pd1:"
ERASED = "[erased]"
DIGEST_PREFIX = "sha256:"
SALT_BYTES = 16
NONCE_BYTES = 12


class KeyProvider(Protocol):
    """Where person keys live (the key store): `key` answers None for a key that does not exist (erased).

    `opened` holds values opened (or sealed) under keys the provider holds, so reading one again is a look-up;
    whatever drops a key empties it, and `remember` keeps a value only if no key was dropped since `generation`."""

    opened: dict[str, PersonalText]
    generation: int

    def key(self, tenant_id: str, person: str, create: bool = False) -> bytes | None: ...

    def remember(self, envelope: str, value: PersonalText, generation: int) -> None: ...


class PersonalText(str):
    """A personal value as read: clear text (or `[erased]`), with the envelope it was stored as."""

    __slots__ = ("digest", "envelope")

    def __new__(cls, text: str, envelope: str, digest: str) -> PersonalText:
        value = super().__new__(cls, text)
        value.envelope = envelope
        value.digest = digest
        return value

    def __reduce__(self) -> Any:  # copies and pickles keep the envelope
        return (PersonalText, (str(self), self.envelope, self.digest))

    @property
    def erased(self) -> bool:
        return str(self) == ERASED


def person_of_user(user_id: str) -> str:
    """The key id of a member (or former member)."""
    return f"user:{user_id}"


def person_of_invitation(invitation_id: str) -> str:
    """The key id of an invitee, who is known by the invitation until they accept it."""
    return f"inv:{invitation_id}"


def seal(key: bytes, tenant_id: str, person: str, value: str) -> PersonalText:
    """`value` sealed under `key` (a fresh salt and nonce each time): the text with its new envelope."""
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    plain = salt + value.encode()
    sealed = _cipher(key).encrypt(nonce, plain, f"{tenant_id}:{person}".encode())
    digest = hashlib.sha256(plain).hexdigest()
    envelope = f"{PREFIX}{tenant_id}:{person}:{digest}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"
    return PersonalText(value, envelope, digest)


# What `seal` writes: a tenant id (no colon), a person (user ids may hold colons), a SHA-256 digest in hex, and
# base64url of nonce ‖ AES-GCM(salt ‖ value) ‖ tag (at least 56 characters). Text that starts with PREFIX but is
# not of this shape is clear text (a store written before the prefix was reserved may hold some): every reader
# treats it alike. Checked with bytes.translate rather than a regular expression: a third of the time, and the
# audit checks every envelope it hashes (a rebuild hashes every sealed event again).
_HEX = b"0123456789abcdef"
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def envelope_parts(value: Any) -> tuple[str, str, str, str] | None:
    """(tenant, person, digest, sealed) of an envelope; None for anything else, `pd1:`-prefixed clear text too."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    tenant_id, _, rest = value[len(PREFIX) :].partition(":")
    pieces = rest.rsplit(":", 2)
    if not tenant_id or len(pieces) != 3 or not pieces[0]:
        return None
    person, digest, sealed = pieces
    if len(digest) != 64 or not digest.isascii() or digest.encode().translate(None, _HEX):
        return None
    body = sealed.rstrip("=")
    if len(sealed) < 56 or len(sealed) % 4 or len(sealed) - len(body) > 2 or not body.isascii():
        return None
    if body.encode().translate(None, _BASE64URL):
        return None
    return tenant_id, person, digest, sealed


def is_envelope(value: Any) -> bool:
    """True for an envelope as `seal` writes it (not for clear text that merely starts with PREFIX)."""
    return envelope_parts(value) is not None


def parts(envelope: str) -> tuple[str, str, str, str]:
    """(tenant, person, digest, sealed) of an envelope; ValueError for anything else."""
    found = envelope_parts(envelope)
    if found is None:
        raise ValueError("not a personal-data envelope")
    return found


def hashed_text(value: str) -> str:
    """What the audit hashes for a string: `sha256:<digest>` of an envelope, any other text as it is."""
    envelope = envelope_parts(value)
    return value if envelope is None else DIGEST_PREFIX + envelope[2]


_ciphers: dict[bytes, AESGCM] = {}


def _cipher(key: bytes) -> AESGCM:
    cipher = _ciphers.get(key)
    if cipher is None:
        if len(_ciphers) > 10_000:
            _ciphers.clear()
        cipher = _ciphers[key] = AESGCM(key)
    return cipher


def unseal(envelope: str, key: bytes | None) -> PersonalText:
    """The value of an envelope; `[erased]` when its key is gone."""
    tenant_id, person, digest, sealed = parts(envelope)
    if key is None:
        return PersonalText(ERASED, envelope, digest)
    raw = base64.urlsafe_b64decode(sealed)
    try:
        plain = _cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{tenant_id}:{person}".encode())
    except InvalidTag:
        # Sealed under a key that no longer exists: the person was erased and the user id later reused, so the
        # key store holds the new person's key. The old value is as gone as the old key.
        return PersonalText(ERASED, envelope, digest)
    return PersonalText(plain[SALT_BYTES:].decode(), envelope, digest)


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _walk(value: Any, leaf: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, leaf) for v in value]
    return leaf(value)


def stored_form(value: Any) -> Any:
    """`value` with each PersonalText replaced by its envelope (what may be written anywhere)."""
    return _walk(value, lambda v: v.envelope if isinstance(v, PersonalText) else v)


def hashed_form(value: Any) -> Any:
    """`value` with each personal value replaced by `sha256:<SHA-256(salt ‖ value)>`: what the audit hashes."""
    # `_walk` with the leaf written in: every sealed audit entry passes here when it is chained or verified.
    kind = type(value)
    if kind is str:
        return hashed_text(value) if value.startswith(PREFIX) else value
    if kind is dict:
        return {k: hashed_form(v) for k, v in value.items()}
    if kind is list:
        return [hashed_form(v) for v in value]
    if isinstance(value, PersonalText):
        return DIGEST_PREFIX + value.digest
    if isinstance(value, (dict, list)):
        return _walk(value, hashed_form)
    if isinstance(value, str):
        return hashed_text(value)
    return value


def open_with(keys: KeyProvider | None, envelope: str) -> PersonalText:
    """The value of any envelope, its tenant and person read from it; a value opened before is the provider's
    remembered one (dropped with its key: an erased person's values are never remembered past the erasure)."""
    if keys is None:
        return unseal(envelope, None)
    known = keys.opened.get(envelope)
    if known is not None:
        return known
    generation = keys.generation  # read before the key: a key dropped meanwhile must not leave its value behind
    tenant_id, person = parts(envelope)[:2]
    key = keys.key(tenant_id, person)
    value = unseal(envelope, key)
    if key is not None:
        keys.remember(envelope, value, generation)
    return value


class OpenedValues(dict[str, PersonalText]):
    """The values a key provider remembers (`KeyProvider.opened`), bounded."""

    LIMIT = 100_000

    def keep(self, envelope: str, value: PersonalText) -> None:
        if len(self) >= self.LIMIT:
            self.clear()
        self[envelope] = value


def readable_form(value: Any, opener: Callable[[str], str]) -> Any:
    """`value` with each envelope opened (clear text, or `[erased]`)."""
    return _walk(value, lambda v: str(opener(v)) if is_envelope(v) else v)


def personal_paths(value: Any, prefix: str = "") -> dict[str, str]:
    """`{dotted path: sha256 digest}` of each envelope in a JSON value (what an exported entry's `sealed` lists)."""
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            found.update(personal_paths(v, f"{prefix}{k}."))
    elif (envelope := envelope_parts(value)) is not None:
        found[prefix[:-1]] = DIGEST_PREFIX + envelope[2]
    return found


def loads_readable(text: str, opener: Callable[[str], str]) -> Any:
    return readable_form(json.loads(text), opener)


class MemoryKeys:
    """Person keys in memory (the in-memory event store of unit tests)."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], bytes] = {}
        self.opened = OpenedValues()
        self.generation = 0

    def key(self, tenant_id: str, person: str, create: bool = False) -> bytes | None:
        if create and (tenant_id, person) not in self._keys:
            self._keys[(tenant_id, person)] = new_key()
        return self._keys.get((tenant_id, person))

    def remember(self, envelope: str, value: PersonalText, generation: int) -> None:
        if generation == self.generation:
            self.opened.keep(envelope, value)

    def destroy(self, tenant_id: str, persons: list[str]) -> int:
        gone = sum(1 for p in persons if self._keys.pop((tenant_id, p), None) is not None)
        self.forget()
        return gone

    def forget(self, tenant_id: str | None = None, persons: list[str] | None = None) -> None:
        """Drop the values opened so far (the keys themselves are the store)."""
        self.generation += 1
        self.opened.clear()

    def close(self) -> None:
        self._keys.clear()
        self.forget()
