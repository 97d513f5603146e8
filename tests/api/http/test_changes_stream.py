"""The change feed as server-sent events from a real `accessledger serve` (R-C5): events with id
`<position>:<index>`, resumed from Last-Event-ID, and a new entry reaching the open stream within 1 s of its
command's answer: on PostgreSQL also when the command went through another API process (NOTIFY). Servers are
stopped by pid."""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack

import httpx

from tests.api.http.test_serve_process import OPERATOR_TOKEN, bearer, open_tenant, serve

MEMBER = {"email": "bob@acme.example", "name": "Bob", "role": "broker"}


class Reader(threading.Thread):
    """Reads one SSE stream into `events` (id, data, time received) until `stop` is set."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.events: list[tuple[str, dict, float]] = []
        self.stop = threading.Event()
        self.opened = threading.Event()

    def run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            if not self.stop.is_set():  # the server going away at the end of the test is expected
                raise

    def _read(self) -> None:
        with httpx.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(5, read=None)) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            self.opened.set()
            event_id = None
            for line in answer.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    self.events.append((event_id, json.loads(line[6:]), time.monotonic()))

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.events) >= count


def test_R_C5_a_stream_resumes_from_Last_Event_ID_and_gets_entries_within_a_second(database_url: str) -> None:
    with ExitStack() as stack:
        reading = stack.enter_context(serve(database_url, OPERATOR_TOKEN))
        # On PostgreSQL the command goes through a second process: its NOTIFY must wake the first one's reader.
        writing = stack.enter_context(serve(database_url, OPERATOR_TOKEN)) if "postgresql" in database_url else reading
        owner = bearer(open_tenant(writing.url, OPERATOR_TOKEN, "acme")["owner_token"])
        feed = f"{reading.url}/v1/tenants/acme/changes"
        stream = {"Accept": "text/event-stream", **bearer(OPERATOR_TOKEN)}
        first = Reader(feed, stream)
        first.start()
        assert first.opened.wait(10) and first.wait_for(1, 10)
        opened = [e for e in first.events]
        assert all(data["event_type"] == "TenantOpened" for _, data, _ in opened)
        assert opened[0][0] == f"{opened[0][1]['position']}:{opened[0][1]['index']}"
        count = len(first.events)
        answered = None
        for n in range(3):
            body = {"user_id": f"bob{n}", **MEMBER, "email": f"bob{n}@acme.example"}
            added = httpx.post(f"{writing.url}/v1/tenants/acme/members", json=body, headers=owner, timeout=30)
            answered = time.monotonic()
            assert added.status_code == 201, added.text
            assert first.wait_for(count + 1, 5), "no entry reached the open stream"
            arrived = first.events[count][2]
            assert arrived - answered < 1.0, f"entry arrived {arrived - answered:.3f} s after the answer"
            count = len(first.events)
        first.stop.set()
        # Resuming from the id of the first member's first entry gives every later entry, none twice.
        resume_id = next(i for i, data, _ in first.events if data["user_id"] == "bob0")
        later = Reader(feed, {**stream, "Last-Event-ID": resume_id})
        later.start()
        expected = [i for i, _, _ in first.events]
        expected = expected[expected.index(resume_id) + 1 :]
        assert later.wait_for(len(expected), 10)
        assert [i for i, _, _ in later.events][: len(expected)] == expected
        later.stop.set()
