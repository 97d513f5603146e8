"""R-X3 the hard way: SIGKILL a real `accessledger serve` at random moments under concurrent keyed commands,
restart it, retry every key: each answers 2xx (never 409) and was recorded exactly once (finding 3 of issue 13).

Bounded: three kills, a few dozen commands; the random seed is printed so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from typing import Any

import httpx

from tests.api.http.test_serve_process import serve

OPERATOR = "operator-token-for-the-kill-test-0123456789"
TENANT = "killed"
KILLS = 3
PER_ROUND = 12


def request(url: str, token: str, method: str, path: str, body: dict[str, Any], key: str) -> httpx.Response | None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    try:
        return httpx.request(method, url + path, json=body, headers=headers, timeout=30)
    except httpx.TransportError:
        return None  # the server died under it: the client does not know what happened


def send(
    answered: threading.Event, url: str, token: str, method: str, path: str, body: dict[str, Any], key: str
) -> None:
    if request(url, token, method, path, body, key) is not None:
        answered.set()


def commands(round_no: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(key, method, path, body): members to add, and now and then a seat add-on to buy (charged!)."""
    out = []
    for n in range(PER_ROUND):
        key = f"r{round_no}-c{n}"
        if n % 4 == 3:
            out.append((key, "POST", f"/v1/tenants/{TENANT}/addons", {"kind": "user-seats"}))
        else:
            user = f"u{round_no}x{n}"
            body = {"user_id": user, "email": f"{user}@k.example", "name": user, "role": "broker"}
            out.append((key, "POST", f"/v1/tenants/{TENANT}/members", body))
    return out


def test_R_X3_finding3_sigkill_under_concurrent_keyed_commands_then_every_retry_answers_once(
    database_url: str,
) -> None:
    seed = random.randrange(1 << 30)
    print(f"kill test seed: {seed}")
    rng = random.Random(seed)
    env = {"ACCESSLEDGER_SECRET_KEY": "kill-test-secret"}
    sent: list[tuple[str, str, str, dict[str, Any]]] = []
    plan = {"name": "big", "included_seats": 200, "billing_interval": "monthly", "currency": "EUR"}
    owner = {"user_id": "olga", "email": "olga@k.example", "name": "Olga"}
    with serve(database_url, OPERATOR, **env) as server:
        opened = request(
            server.url,
            OPERATOR,
            "POST",
            "/v1/tenants",
            {"tenant_id": TENANT, "name": "K", "plan": plan, "owner": owner},
            "open",
        )
        assert opened is not None and opened.status_code == 201, opened and opened.text
        token = opened.json()["owner_token"]
    for round_no in range(KILLS):
        with serve(database_url, OPERATOR, **env) as server:
            batch = commands(round_no)
            sent += batch
            answered = threading.Event()

            threads = [
                threading.Thread(target=send, args=(answered, server.url, token, method, path, body, key), daemon=True)
                for key, method, path, body in batch
            ]
            for thread in threads:
                thread.start()
                time.sleep(rng.uniform(0, 0.03))
            answered.wait(timeout=30)  # the server is working through them: kill it somewhere in the middle
            time.sleep(rng.uniform(0.0, 0.15))
            os.kill(server.process.pid, signal.SIGKILL)  # mid-flight: some recorded, some answered, some neither
            server.process.wait(timeout=15)
            for thread in threads:
                thread.join(timeout=35)
    with serve(database_url, OPERATOR, **env) as server:
        answers: dict[str, httpx.Response | None] = {}

        def retry(key: str, method: str, path: str, body: dict[str, Any]) -> None:
            answers[key] = request(server.url, token, method, path, body, key)

        for attempt in range(2):  # the retry, and the retry of the retry (a stored answer by then)
            threads = [threading.Thread(target=retry, args=command) for command in sent]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            for key, *_ in sent:
                answer = answers[key]
                assert answer is not None, key
                assert answer.status_code in (200, 201), (key, answer.status_code, answer.text)
            if attempt == 0:  # what the kills left behind, for the log: stored, recovered from events, or run now
                kinds = Counter(
                    "ran now"
                    if "idempotent-replayed" not in a.headers
                    else "recovered (token null)"
                    if a.json().get("token", "") is None
                    else "stored answer"
                    for a in answers.values()
                    if a is not None
                )
                print(f"first retries: {dict(kinds)}")
        audit = httpx.get(
            f"{server.url}/v1/tenants/{TENANT}/audit",
            params={"limit": 1000, "type": ["MemberAdded", "AddOnPurchased"]},
            headers={"Authorization": f"Bearer {OPERATOR}"},
            timeout=30,
        ).json()["items"]
    added = Counter(e["data"]["user_id"] for e in audit if e["event_type"] == "MemberAdded")
    bought = sum(1 for e in audit if e["event_type"] == "AddOnPurchased")
    wanted_users = {body["user_id"] for _, _, path, body in sent if path.endswith("/members")}
    assert set(added) == wanted_users and set(added.values()) == {1}, added
    assert bought == sum(1 for _, _, path, _ in sent if path.endswith("/addons"))
