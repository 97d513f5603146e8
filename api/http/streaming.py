"""Stream a blocking iterator (e.g. an audit export reading a server-side cursor) from one dedicated thread.

The iterator stays on the thread that opened its database transaction; a small bounded queue keeps memory flat
(R-L4) and stops the producer when the client goes away.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from api.http.deps import blocking

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


async def stream_from_thread(make: Callable[[], Iterator[str]], buffer: int = 8) -> AsyncIterator[bytes]:
    """An async iterator of the chunks `make()` yields in its own thread; the first chunk (or the error raised
    before it) is fetched before this returns, so errors still become problem+json answers."""
    chunks: queue.Queue[object] = queue.Queue(maxsize=buffer)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in make():
                if not put(chunk):
                    return
        except BaseException as error:  # handed to the consumer, which raises it in the request
            put(_Failed(error))
            return
        put(_DONE)

    threading.Thread(target=produce, name="accessledger-stream", daemon=True).start()
    first = await blocking(chunks.get)
    if isinstance(first, _Failed):
        stop.set()
        raise first.error

    async def rest() -> AsyncIterator[bytes]:
        item = first
        try:
            while item is not _DONE:
                if isinstance(item, _Failed):
                    raise item.error
                yield str(item).encode()
                item = await blocking(chunks.get)
        finally:
            stop.set()

    return rest()
