"""Waking change-feed readers (R-C5) without a thread or a query per reader: readers woken together share one read,
a read begun before an advance is never handed to a reader asking after it, and advances close together wake a
reader once (the settle window) and still within R-C5's second."""

from __future__ import annotations

import asyncio
import threading
import time

from projections.changes.signals import THROTTLE, FeedSignals
from projections.watch import PositionWatch


def _advance_from_another_thread(watch: PositionWatch, position: int, tenant: str) -> None:
    thread = threading.Thread(target=watch.advance, args=(position, [tenant]))
    thread.start()
    thread.join()


def test_R_C5_readers_woken_together_share_one_read() -> None:
    signals = FeedSignals(PositionWatch())
    reads = []

    async def read() -> str:
        reads.append(1)
        await asyncio.sleep(0.01)
        return "page"

    async def reader() -> str:
        with signals.watching("t"):
            return await signals.shared(("t", 0), read)

    async def main() -> list[str]:
        return await asyncio.gather(*(reader() for _ in range(100)))

    assert asyncio.run(main()) == ["page"] * 100
    assert len(reads) == 1
    assert signals.waiting() == 0


def test_R_C5_a_read_begun_before_the_tenant_moved_is_not_handed_to_a_reader_asking_after() -> None:
    watch = PositionWatch()
    signals = FeedSignals(watch)
    reads: list[int] = []

    def reading(n: int):
        async def read() -> int:
            reads.append(n)
            await asyncio.sleep(0.05)
            return n

        return read

    async def main() -> tuple[int, int, int]:
        with signals.watching("t"):
            first = asyncio.create_task(signals.shared(("t", 0), reading(1)))
            await asyncio.sleep(0.01)  # the first read is under way
            _advance_from_another_thread(watch, 1, "t")
            await asyncio.sleep(0.01)  # the advance reaches this loop
            second = await signals.shared(("t", 0), reading(2))
            other = await signals.shared(("u", 0), reading(3))  # another tenant, unaffected
            return await first, second, other

    assert asyncio.run(main()) == (1, 2, 3)
    assert reads == [1, 2, 3]


def test_R_C5_advances_close_together_wake_a_reader_once_and_within_a_second() -> None:
    watch = PositionWatch()
    signals = FeedSignals(watch)

    async def main() -> tuple[float, bool, float, bool]:
        with signals.watching("t") as moved, signals.watching("u") as elsewhere:
            started = time.monotonic()
            for position in (1, 2, 3):
                _advance_from_another_thread(watch, position, "t")
            assert await moved.wait(1)
            first = time.monotonic() - started  # after a quiet spell: at once
            again = await moved.wait(THROTTLE * 2)  # the three advances were one wake-up
            started = time.monotonic()
            _advance_from_another_thread(watch, 4, "t")
            assert await moved.wait(1)
            second = time.monotonic() - started  # soon after a wake-up: at the end of the window
            other = await elsewhere.wait(0.01)
            return first, again, second, other

    first, again, second, other = asyncio.run(main())
    assert first < THROTTLE, first
    assert again is False, "three advances close together woke the reader twice"
    assert second < 1, second
    assert other is False, "a reader of another tenant was woken"
