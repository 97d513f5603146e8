"""R-L6 with R-Z1: an erasure is honoured by every process within 0.5 s, not at their next restart. Each process
caches person keys; the one that erases drops them at once, the others hear it: on PostgreSQL by `NOTIFY
accessledger_erased` (sent in the transaction that deletes the keys), on SQLite (one `serve` process, but
`accessledger erase` runs beside it) by the erasure count their follower polls every 0.1 s. Every process is
started on a free port and stopped by its pid."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx

from tests.api.http.test_multiprocess import _open, _require_postgresql, _until, api_process, projector
from tests.api.http.test_serve_process import OPERATOR_TOKEN, accessledger, bearer, environment, serve

ERASED = "[erased]"


def _join_and_leave(writer: str, owner: str, user_id: str, readers: list[str]) -> None:
    """`user_id` joins (through `writer`) and leaves; every reader has shown their e-mail (so caches their key)."""
    body = {"user_id": user_id, "email": f"{user_id}@acme.example", "name": user_id.title(), "role": "broker"}
    added = httpx.post(f"{writer}/v1/tenants/acme/members", json=body, headers=bearer(owner), timeout=30)
    assert added.status_code == 201, added.text
    for url in readers:
        seen = httpx.get(
            f"{url}/v1/tenants/acme/members/{user_id}",
            params={"min_position": added.json()["position"]},
            headers=bearer(owner),
            timeout=10,
        )
        assert seen.json()["email"] == body["email"], seen.text
    left = httpx.delete(f"{writer}/v1/tenants/acme/members/{user_id}", headers=bearer(owner), timeout=10)
    assert left.status_code == 200, left.text


def _email(url: str, owner: str, user_id: str) -> str:
    answer = httpx.get(f"{url}/v1/tenants/acme/members/{user_id}", headers=bearer(owner), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["email"]


def _erase_by_command_line(database_url: str, user_id: str) -> None:
    env = environment(database_url, OPERATOR_TOKEN)
    done = subprocess.run(
        [accessledger(), "erase", "--tenant", "acme", "--user", user_id, "--reason", "Antrag", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_r_l6_r_z1_an_erasure_by_the_command_line_reaches_the_serving_process(database_url: str) -> None:
    """R-L6, R-Z1: `accessledger erase` in a process of its own; the serving process, which had shown the
    member's e-mail, shows `[erased]` within 0.5 s of the command's exit (SQLite and PostgreSQL)."""
    with serve(database_url, OPERATOR_TOKEN) as server:
        owner = _open(server.url)
        _join_and_leave(server.url, owner, "ex", [server.url])
        _erase_by_command_line(database_url, "ex")
        waited = _until(lambda: _email(server.url, owner, "ex") == ERASED, timeout=10)
        assert waited < 0.5, f"the serving process showed the erased e-mail for {waited:.3f} s"


def test_r_l6_r_z1_an_erasure_on_one_api_process_reaches_the_others(database_url: str) -> None:
    """R-L6, R-Z1 on PostgreSQL: two API processes and a projector; both have shown the member's e-mail; an
    erasure over HTTP on one process, and one by `accessledger erase`, make the other show `[erased]` within 0.5 s."""
    _require_postgresql(database_url)
    with ExitStack() as stack:
        stack.enter_context(projector(database_url))
        a = stack.enter_context(api_process(database_url, "al-api-a"))
        b = stack.enter_context(api_process(database_url, "al-api-b"))
        owner = _open(a.url)
        _join_and_leave(a.url, owner, "ex", [a.url, b.url])
        _join_and_leave(a.url, owner, "ey", [a.url, b.url])

        erased = httpx.post(
            f"{a.url}/v1/tenants/acme/erasures", json={"user_id": "ex", "reason": "Antrag"}, headers=bearer(owner)
        )
        assert erased.status_code == 201, erased.text
        waited = _until(lambda: _email(b.url, owner, "ex") == ERASED, timeout=10)
        assert waited < 0.5, f"process b showed the erased e-mail for {waited:.3f} s"
        assert _email(a.url, owner, "ex") == ERASED
        assert _email(b.url, owner, "ey") == "ey@acme.example"  # only the erased person's key went

        _erase_by_command_line(database_url, "ey")
        with ThreadPoolExecutor(2) as pool:  # both processes asked at once, each until it shows [erased]
            waits = list(pool.map(lambda url: _until(lambda: _email(url, owner, "ey") == ERASED, 10), [a.url, b.url]))
        assert max(waits) < 0.5, f"the API processes showed the erased e-mail for {waits} s"
