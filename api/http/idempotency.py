"""R-X3: the first answer to a command sent with an `Idempotency-Key`, kept so that a retry records nothing new.

A key is claimed (inserted as `pending`) before the command runs, so two concurrent identical requests cannot
both execute: the second waits for the first answer. Secrets in stored answers (`token`, `owner_token`) are
encrypted with Fernet under a key derived from ACCESSLEDGER_SECRET_KEY; with a random per-process key, a replay
after a restart answers `null` for them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.errors import DomainError
from projections.db import ReadStore

TABLE = "idempotency_keys"
SECRET_FIELDS = frozenset({"token", "owner_token"})
_SEALED = "$sealed"
PENDING_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class StoredAnswer:
    """A first answer, ready to send again."""

    status: int
    body: dict[str, Any]
    position: int | None


def fernet_for(secret_key: str | None) -> Fernet:
    """Fernet under a key derived from `secret_key` (HKDF-SHA256), or a random key when there is none."""
    if not secret_key:
        return Fernet(Fernet.generate_key())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"accessledger", info=b"idempotent-answers").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body (JSON compared by value, not by spelling)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")) if body else ""
    except (ValueError, UnicodeDecodeError):
        canonical = body.hex()
    return hashlib.sha256(json.dumps([method.upper(), path, canonical]).encode()).hexdigest()


def create_table(tx: Any) -> None:
    """The keys' table (run by `accessledger migrate`)."""
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " scope TEXT NOT NULL, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL,"
        " status INTEGER, body TEXT, position BIGINT, created_at DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (scope, idem_key))"
    )


class IdempotencyStore:
    """Idempotency keys in their own table, in the same database as everything else."""

    def __init__(self, store: ReadStore, fernet: Fernet, retention_hours: float = 48, create: bool = True) -> None:
        self.store = store
        self.fernet = fernet
        self.retention_seconds = retention_hours * 3600
        if create:
            with store.transaction() as tx:
                create_table(tx)

    def claim(self, scope: str, key: str, print_: str) -> StoredAnswer | None:
        """None if this request now owns the key; the first answer if one is stored (waiting while it is being
        made); 422 `idempotency_key_reused` for a different request under the same key."""
        deadline = time.monotonic() + PENDING_WAIT_SECONDS
        while True:
            row = self._claim_once(scope, key, print_)
            if row is None:
                return None
            if row["fingerprint"] != print_:
                raise DomainError(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                    errors=[{"loc": ["header", "Idempotency-Key"], "msg": "used for a different request"}],
                )
            if row["state"] == "done":
                return StoredAnswer(int(row["status"]), self._open(json.loads(row["body"])), row["position"])
            if time.monotonic() > deadline:
                raise DomainError("conflict", "a request with this Idempotency-Key is still being processed")
            time.sleep(0.05)

    def _claim_once(self, scope: str, key: str, print_: str) -> dict[str, Any] | None:
        now = time.time()
        with self.store.transaction() as tx:
            tx.execute(
                f"DELETE FROM {TABLE} WHERE scope = ? AND idem_key = ? AND created_at < ?",
                (scope, key, now - self.retention_seconds),
            )
            cursor = tx.execute(
                f"INSERT INTO {TABLE} (scope, idem_key, fingerprint, state, created_at) VALUES (?, ?, ?, 'pending', ?)"
                " ON CONFLICT (scope, idem_key) DO NOTHING",
                (scope, key, print_, now),
            )
            if cursor.rowcount == 1:
                return None
            return tx.one(
                f"SELECT fingerprint, state, status, body, position FROM {TABLE} WHERE scope = ? AND idem_key = ?",
                (scope, key),
            )

    def complete(self, scope: str, key: str, answer: StoredAnswer) -> None:
        """Store the first answer (its secrets sealed)."""
        body = json.dumps(self._seal(answer.body))
        with self.store.transaction() as tx:
            tx.execute(
                f"UPDATE {TABLE} SET state = 'done', status = ?, body = ?, position = ?"
                " WHERE scope = ? AND idem_key = ?",
                (answer.status, body, answer.position, scope, key),
            )

    def release(self, scope: str, key: str) -> None:
        """Forget a claim whose command recorded nothing, so the client may retry it."""
        with self.store.transaction() as tx:
            tx.execute(f"DELETE FROM {TABLE} WHERE scope = ? AND idem_key = ? AND state = 'pending'", (scope, key))

    def purge(self) -> int:
        """Drop keys older than the retention period; returns how many."""
        with self.store.transaction() as tx:
            cursor = tx.execute(f"DELETE FROM {TABLE} WHERE created_at < ?", (time.time() - self.retention_seconds,))
            return max(cursor.rowcount, 0)

    def _seal(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: {_SEALED: self.fernet.encrypt(v.encode()).decode()}
                if k in SECRET_FIELDS and isinstance(v, str)
                else self._seal(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._seal(v) for v in value]
        return value

    def _open(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {_SEALED}:
                try:
                    return self.fernet.decrypt(value[_SEALED].encode()).decode()
                except InvalidToken:
                    return None
            return {k: self._open(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._open(v) for v in value]
        return value
