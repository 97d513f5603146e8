"""R-X3: the first answer to a command sent with an `Idempotency-Key`, kept so that a retry records nothing new.

This module is the one place idempotent answers are stored (their secrets sealed), so that other concerns, such as
erasure, can reach every copy. What makes a retry exact is not this table but the event store: every event of a
keyed command carries its key (scoped to the token that sent it), and the ledger answers a key it finds there with
the recorded outcome instead of running the command again (`domain.tenant.keys`). The table adds the first answer
itself (with the secrets it created) and notices a key reused for a different request.

A key is claimed before the command runs. A second request with the key waits for the first one in this process;
a claim by another process (or by one that died: a crash never blocks a key) is waited for at most
`FOREIGN_CLAIM_SECONDS`, then the request runs, and the ledger answers from the event store if the command was
recorded. A rejected command frees its key; a recorded command whose answer could not be built (the read side had
not caught up: 503 `stale_read`) leaves the key `recorded`, so the next retry asks the ledger at once.

Secrets in stored answers (`token`, `owner_token`) are encrypted with Fernet under a key derived from
ACCESSLEDGER_SECRET_KEY; with a random per-process key, a replay after a restart answers `null` for them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.errors import DomainError
from projections.db import ReadStore

TABLE = "idempotency_keys"
# Personal fields (R-L6) are sealed like secrets, so the table never holds them in clear; an erasure deletes every
# stored answer that holds the erased person's data (`forget`).
SECRET_FIELDS = frozenset({"token", "owner_token", "email", "name"})
_SEALED = "$sealed"
LOCAL_WAIT_SECONDS = 30.0
FOREIGN_CLAIM_SECONDS = 5.0
_PENDING = "pending:"
_RECORDED = "recorded"
_DONE = "done"


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
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body.hex()  # not JSON (or too deep to compare by value): compared byte for byte
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
        self.instance = uuid.uuid4().hex  # who holds a pending claim: this process, or another (maybe dead) one
        self._inflight: set[tuple[str, str]] = set()
        self._settled = threading.Condition()
        if create:
            with store.transaction() as tx:
                create_table(tx)

    def claim(self, scope: str, key: str, print_: str) -> StoredAnswer | None:
        """None if this request now runs the command; the first answer if one is stored; 422
        `idempotency_key_reused` for a different request under the same key. Never 409: see the module doc."""
        deadline = time.monotonic() + FOREIGN_CLAIM_SECONDS
        while True:
            self._wait_for_local(scope, key)
            row = self._claim_once(scope, key, print_)
            if row is None:
                return None
            if row["fingerprint"] != print_:
                self._settle(scope, key)
                raise DomainError(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                    errors=[{"loc": ["header", "Idempotency-Key"], "msg": "used for a different request"}],
                )
            if row["state"] == _DONE:
                self._settle(scope, key)
                return StoredAnswer(int(row["status"]), self._open(json.loads(row["body"])), row["position"])
            foreign = row["state"].startswith(_PENDING) and row["state"] != _PENDING + self.instance
            if row["state"] == _RECORDED or not foreign or time.monotonic() > deadline:
                self._take_over(scope, key)
                return None
            self._settle(scope, key)
            time.sleep(0.05)

    def _wait_for_local(self, scope: str, key: str) -> None:
        deadline = time.monotonic() + LOCAL_WAIT_SECONDS
        with self._settled:
            while (scope, key) in self._inflight and time.monotonic() < deadline:
                self._settled.wait(0.5)
            self._inflight.add((scope, key))

    def _claim_once(self, scope: str, key: str, print_: str) -> dict[str, Any] | None:
        now = time.time()
        with self.store.transaction() as tx:
            tx.execute(
                f"DELETE FROM {TABLE} WHERE scope = ? AND idem_key = ? AND created_at < ?",
                (scope, key, now - self.retention_seconds),
            )
            cursor = tx.execute(
                f"INSERT INTO {TABLE} (scope, idem_key, fingerprint, state, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (scope, idem_key) DO NOTHING",
                (scope, key, print_, _PENDING + self.instance, now),
            )
            if cursor.rowcount == 1:
                return None
            return tx.one(
                f"SELECT fingerprint, state, status, body, position FROM {TABLE} WHERE scope = ? AND idem_key = ?",
                (scope, key),
            )

    def _take_over(self, scope: str, key: str) -> None:
        with self.store.transaction() as tx:
            tx.execute(
                f"UPDATE {TABLE} SET state = ? WHERE scope = ? AND idem_key = ? AND state <> ?",
                (_PENDING + self.instance, scope, key, _DONE),
            )

    def _settle(self, scope: str, key: str) -> None:
        with self._settled:
            self._inflight.discard((scope, key))
            self._settled.notify_all()

    def complete(self, scope: str, key: str, answer: StoredAnswer) -> None:
        """Store the first answer (its secrets sealed)."""
        body = json.dumps(self._seal(answer.body))
        try:
            with self.store.transaction() as tx:
                tx.execute(
                    f"UPDATE {TABLE} SET state = ?, status = ?, body = ?, position = ?"
                    " WHERE scope = ? AND idem_key = ? AND state <> ?",
                    (_DONE, answer.status, body, answer.position, scope, key, _DONE),
                )
        finally:
            self._settle(scope, key)

    def recorded(self, scope: str, key: str) -> None:
        """The command was recorded but its answer could not be built: the next retry asks the ledger at once."""
        try:
            with self.store.transaction() as tx:
                tx.execute(
                    f"UPDATE {TABLE} SET state = ? WHERE scope = ? AND idem_key = ? AND state <> ?",
                    (_RECORDED, scope, key, _DONE),
                )
        finally:
            self._settle(scope, key)

    def release(self, scope: str, key: str) -> None:
        """Forget a claim whose command recorded nothing, so the client may retry it."""
        try:
            with self.store.transaction() as tx:
                tx.execute(
                    f"DELETE FROM {TABLE} WHERE scope = ? AND idem_key = ? AND state = ?",
                    (scope, key, _PENDING + self.instance),
                )
        finally:
            self._settle(scope, key)

    def purge(self) -> int:
        """Drop keys older than the retention period; returns how many."""
        with self.store.transaction() as tx:
            cursor = tx.execute(f"DELETE FROM {TABLE} WHERE created_at < ?", (time.time() - self.retention_seconds,))
            return max(cursor.rowcount, 0)

    def forget(self, texts: set[str]) -> int:
        """Delete every stored answer that holds one of `texts` (an erased person's e-mail, name or user id)."""
        wanted = {t for t in texts if t}
        if not wanted:
            return 0
        doomed = []
        with self.store.transaction() as tx:
            for row in tx.all(f"SELECT scope, idem_key, body FROM {TABLE} WHERE body IS NOT NULL"):
                opened = json.dumps(self._open(json.loads(row["body"])), ensure_ascii=False)
                if any(json.dumps(text, ensure_ascii=False) in opened for text in wanted):
                    doomed.append((row["scope"], row["idem_key"]))
            for scope, key in doomed:
                tx.execute(f"DELETE FROM {TABLE} WHERE scope = ? AND idem_key = ?", (scope, key))
        return len(doomed)

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
