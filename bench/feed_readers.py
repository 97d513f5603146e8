"""Issue 14: "100 SSE readers on one process add ≤ 10 % to command latency". A real `accessledger serve` process;
commands (add then remove a member, one client, one after the other) timed without readers and with 100
server-sent-event readers of the tenant's change feed connected, in alternating halves of the same run; every
reader must receive the last command's entries (the time that took is in the note, R-C5's "within 1 s").

The readers run on one asyncio loop in a child process (no thread per reader there either) and only count what
arrives, so the server does the work a real deployment would: wake, read and send to every reader.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.context import DbRun, log
from bench.harness import Row
from bench.server import Server, open_tenant

FIGURE = "change feed: 100 SSE readers, command p50"
GOAL = "≤ +10 % command latency"
READERS = 100
_ID = re.compile(rb"(?:^|\n)id: (\d+):")


class Readers:
    """`count` SSE readers of one tenant's feed, on one asyncio loop in a child process (so neither their parsing
    nor the GIL slows the commands timed here); `seen[n]` is reader n's last position."""

    def __init__(self, url: str, tenant: str, token: str, after: int, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.seen = context.Array("q", count, lock=False)
        self.connected = context.Value("i", 0)
        self.stop = context.Event()
        self.process = context.Process(
            target=_readers_main,
            args=(url, tenant, token, after, count, self.seen, self.connected, self.stop),
            daemon=True,
        )
        self.count = count

    def __enter__(self) -> Readers:
        self.process.start()
        deadline = time.monotonic() + 60
        while self.connected.value < self.count:
            if time.monotonic() > deadline or not self.process.is_alive():
                self.__exit__()
                raise RuntimeError(f"only {self.connected.value} of {self.count} SSE readers connected")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)

    def caught_up(self, position: int, timeout: float) -> float | None:
        """Seconds until every reader saw `position`, or None if one did not within `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if min(self.seen) >= position:
                return time.monotonic() - started
            time.sleep(0.002)
        return None


def _readers_main(
    url: str, tenant: str, token: str, after: int, count: int, seen: Any, connected: Any, stop: Any
) -> None:
    asyncio.run(_readers(url, tenant, token, after, count, seen, connected, stop))


async def _readers(
    url: str, tenant: str, token: str, after: int, count: int, seen: Any, connected: Any, stop: Any
) -> None:
    limits = httpx.Limits(max_connections=count + 5, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    timeout = httpx.Timeout(10, read=None)

    async def read(client: httpx.AsyncClient, n: int) -> None:
        path = f"/v1/tenants/{tenant}/changes"
        async with client.stream("GET", path, params={"after": after, "limit": 1000}) as answer:
            if answer.status_code != 200:
                raise RuntimeError(f"SSE reader answered {answer.status_code}")
            connected.value += 1
            tail = b""
            async for chunk in answer.aiter_raw():
                text = tail + chunk
                found = _ID.findall(text)
                if found:
                    seen[n] = int(found[-1])
                tail = text[-64:]

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as client:
        tasks = [asyncio.create_task(read(client, n)) for n in range(count)]
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _commands(client: httpx.Client, tenant: str, count: int, tag: str) -> tuple[list[float], int]:
    """`count` add+remove pairs: each command's latency (seconds) and the last answer's position."""
    spent, position = [], 0
    for i in range(count):
        user = f"r-{tag}-{i}"
        body = {"user_id": user, "email": f"{user}@bench.example", "name": "R", "role": "broker"}
        for method, path, kw in (
            ("POST", f"/v1/tenants/{tenant}/members", {"json": body}),
            ("DELETE", f"/v1/tenants/{tenant}/members/{user}", {}),
        ):
            started = time.perf_counter()
            answer = client.request(method, path, **kw)
            spent.append(time.perf_counter() - started)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"command answered {answer.status_code}: {answer.text[:200]}")
            position = int(answer.headers.get("X-Position", position))
    return spent, position


def run(db: DbRun, readers: int = READERS) -> Row:
    """The figure's row: command p50 with `readers` SSE readers against without, same process, same run."""
    pairs = {"full": 200, "quick": 100}.get(db.sizes.name, 20)  # tiny: the smoke test checks the output only
    tag = uuid.uuid4().hex[:6]
    tenant = f"sse-{tag}"
    without: list[float] = []
    with_readers: list[float] = []
    delivered: list[float] = []
    cpu = [0.0, 0.0]  # the server's CPU seconds while the commands ran: without readers, with them
    with Server(db) as server:
        token = open_tenant(server, tenant)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            _, head = _commands(client, tenant, 10, tag + "w")
            pid = server.process.pid if server.process else 0
            for half in range(4):  # without, with, without, with: drift in the machine's load hits both sides
                if half % 2 == 0:
                    used = cpu_seconds(pid)
                    without += _commands(client, tenant, pairs // 2, f"{tag}{half}")[0]
                    cpu[0] += cpu_seconds(pid) - used
                    continue
                with Readers(server.url, tenant, token, head, readers) as live:
                    used = cpu_seconds(pid)
                    spent, last = _commands(client, tenant, pairs // 2, f"{tag}{half}")
                    cpu[1] += cpu_seconds(pid) - used
                    with_readers += spent
                    took = live.caught_up(last, 10)
                    if took is None:
                        raise RuntimeError(f"SSE readers did not all receive position {last} within 10 s")
                    delivered.append(took)
                    head = last
    ours, base = statistics.median(with_readers), statistics.median(without)
    ratio = ours / base
    per_command = [cpu[0] / len(without) * 1e3, cpu[1] / len(with_readers) * 1e3]
    log(
        f"{db.kind}: command p50 {ours * 1e3:.2f} ms with {readers} SSE readers vs {base * 1e3:.2f} ms without "
        f"(+{(ratio - 1) * 100:.1f} %); every reader had the last entry {max(delivered) * 1e3:.0f} ms after its answer;"
        f" server CPU per command {per_command[1]:.2f} ms with readers, {per_command[0]:.2f} ms without"
    )
    return Row(
        FIGURE,
        "",
        ours,
        base,
        "s",
        "no reader connected",
        GOAL,
        ratio <= 1.10,
        ratio,
        f"{len(with_readers)} commands with, {len(without)} without, alternating; all {readers} readers had the last "
        f"entry ≤ {max(delivered) * 1e3:.0f} ms after the answer; server CPU per command {per_command[1]:.2f} ms "
        f"with, {per_command[0]:.2f} ms without",
    )
