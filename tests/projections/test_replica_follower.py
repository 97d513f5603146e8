"""R-Z6: the one replica follower of a process looks at the replica once per interval, however many requests wait,
is woken by the primary's progress, and wakes every waiter as soon as the replica has replayed their position.
The replica is simulated here (its reads are counted); tests/api/http/test_replica.py runs a real one."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

from projections.replica import ReplicaFollower
from projections.watch import PositionWatch


class CountingFollower(ReplicaFollower):
    """A follower whose replica is a number: `replayed`; every look is counted."""

    def __init__(self, primary: PositionWatch, idle: float = 1.0) -> None:
        replica = SimpleNamespace(unreachable=False, recovered=lambda: None)
        super().__init__(replica, PositionWatch(), primary, projection_names=[], idle=idle)  # type: ignore[arg-type]
        self.replayed = 0
        self.reads = 0
        self.lock = threading.Lock()

    def _read(self) -> None:
        with self.lock:
            self.reads += 1
        if self.replayed > self.watch.position:
            self.watch.advance(self.replayed, ["acme"])

    def _drop(self) -> None:
        pass


def _run(follower: CountingFollower, seconds: float) -> int:
    before = follower.reads
    time.sleep(seconds)
    return follower.reads - before


def test_R_Z6_an_idle_follower_reads_the_replica_once_a_second() -> None:
    primary = PositionWatch()
    follower = CountingFollower(primary).start()
    try:
        time.sleep(0.1)
        assert _run(follower, 1.5) <= 2
    finally:
        follower.close()


def test_R_Z6_waiting_requests_cost_one_read_per_interval_not_one_per_request() -> None:
    """A hundred requests wait for a position the replica has not replayed: the follower's reads stay bounded by
    its back-off (at most ten a second once the replica stands still), and all hundred wake once it replays."""
    primary = PositionWatch()
    follower = CountingFollower(primary).start()

    async def scenario() -> list[bool]:
        primary.advance(7, ["acme"])  # the projector reached 7 on the primary: the follower is kicked
        waiters = []
        for _ in range(100):
            follower.want(7)
            waiters.append(asyncio.ensure_future(follower.watch.wait_for(7, 5.0)))
        await asyncio.sleep(1.0)
        reads_while_behind = follower.reads
        assert reads_while_behind < 40, reads_while_behind
        started = time.monotonic()
        follower.replayed = 7
        results = await asyncio.gather(*waiters)
        assert time.monotonic() - started < 0.3  # woken by the next look (at most 0.1 s apart)
        return results

    try:
        assert asyncio.run(scenario()) == [True] * 100
        assert follower.lag() == 0
    finally:
        follower.close()


def test_R_Z6_the_primarys_progress_wakes_the_follower_at_once() -> None:
    primary = PositionWatch()
    follower = CountingFollower(primary, idle=30.0).start()
    try:
        time.sleep(0.1)
        follower.replayed = 3
        started = time.monotonic()
        primary.advance(3, ["acme"])
        assert follower.watch.wait_blocking(3, 5.0)
        assert time.monotonic() - started < 0.5  # not the 30 s idle interval
    finally:
        follower.close()
