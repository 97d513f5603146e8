"""Secrets the ledger hands out: member and invitation tokens, shown once and stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from domain.errors import DomainError

INVITATION_TOKEN_PREFIX = "inv"


def new_token() -> str:
    """A fresh secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hash under which a token is stored; the token itself never is."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_invitation_token(tenant_id: str) -> str:
    """An invitation token; it names its tenant so accept/decline find the tenant without a lookup table."""
    return f"{INVITATION_TOKEN_PREFIX}.{tenant_id}.{new_token()}"


def tenant_of_invitation_token(token: str) -> str:
    """The tenant an invitation token belongs to; `unauthenticated` for anything that is not one."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != INVITATION_TOKEN_PREFIX or not parts[1]:
        raise DomainError("unauthenticated", "unknown or replaced invitation token")
    return parts[1]


def new_token_id() -> str:
    """A public id for a member token (what `DELETE …/tokens/{id}` names)."""
    return "tok_" + secrets.token_hex(8)
