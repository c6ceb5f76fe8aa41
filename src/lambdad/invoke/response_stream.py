"""The bytes a runtime streams for one invocation, on their way to one reader.

A runtime that posts its response in the Runtime API's streaming mode
(``Lambda-Runtime-Function-Response-Mode: streaming``) sends it in pieces; the
Runtime API hands each piece to the invocation's ``ResponseStream`` as it arrives
(``write``), and the front end that asked for a streamed answer (``InvokeWithResponseStream``,
a ``RESPONSE_STREAM`` function URL) reads them (``read``) while the function still runs.

Flow control both ways: past ``HIGH_WATER`` bytes waiting for a slow reader, the
Runtime API stops reading the runtime (``pressure(True)``) until the reader has taken
them down to ``LOW_WATER``; a reader whose client went away ``discard``s, and the
stream then drops what comes (the function runs on to its end, as on AWS).

It is the ``environments.stream_sink.ResponseSink`` the invoke path hands an
environment for a caller that reads the response as it comes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

# The content type a streamed response has when its runtime names none.
DEFAULT_CONTENT_TYPE = "application/octet-stream"
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
# One read hands over at most this much (joined from what waits).
MAX_READ = 256 * 1024
# What one waiting piece costs beyond its bytes (a runtime sending one-byte chunks must
# reach the high water as soon as by its memory, not only by its bytes).
PIECE_COST = 64

Pressure = Callable[[bool], None]


class ResponseStream:
    """One invocation's streamed response: one writer (the Runtime API), one reader."""

    def __init__(self) -> None:
        # Settled once the runtime starts streaming or the invocation ends, whichever first.
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.streaming = False  # the runtime answered in streaming mode
        self.executed_version: str | None = None  # told before the invocation runs
        self.content_type = DEFAULT_CONTENT_TYPE
        self.size = 0  # bytes written so far
        self._chunks: deque[bytes] = deque()
        self._waiting = 0
        self._ended = False
        self._discarding = False
        self._waiter: asyncio.Future[None] | None = None
        self._pressure: Pressure | None = None
        self._paused = False

    # -- the writer -------------------------------------------------------------------------

    def open(self, content_type: str | None, pressure: Pressure | None = None) -> None:
        """The runtime began streaming (``pressure``: how to stop and resume reading it)."""
        self.streaming = True
        if content_type:
            self.content_type = content_type
        self._pressure = pressure
        if not self.started.done():
            self.started.set_result(None)

    def write(self, data: bytes) -> None:
        if self._ended or not data:
            return
        self.size += len(data)
        if self._discarding:
            return
        self._chunks.append(data)
        self._waiting += len(data) + PIECE_COST
        if self._waiting > HIGH_WATER and not self._paused and self._pressure is not None:
            self._paused = True
            self._pressure(True)
        self._wake()

    def end(self) -> None:
        """No more bytes (idempotent): the reader gets what waits, then the end."""
        self._ended = True
        self._release()
        self._wake()
        if not self.started.done():
            self.started.set_result(None)

    # -- the reader -------------------------------------------------------------------------

    async def read(self) -> bytes | None:
        """The bytes that arrived since the last read (waiting for some); None at the end."""
        while not self._chunks:
            if self._ended:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        parts = [self._chunks.popleft()]
        size = len(parts[0])
        while self._chunks and size + len(self._chunks[0]) <= MAX_READ:
            chunk = self._chunks.popleft()
            parts.append(chunk)
            size += len(chunk)
        self._waiting -= size + PIECE_COST * len(parts)
        if self._paused and self._waiting <= LOW_WATER:
            self._release()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def discard(self) -> None:
        """The reader is gone: drop what waits and whatever comes."""
        self._discarding = True
        self._chunks.clear()
        self._waiting = 0
        self._release()

    @property
    def ended(self) -> bool:
        return self._ended

    def _release(self) -> None:
        if self._paused:
            self._paused = False
            if self._pressure is not None:
                self._pressure(False)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
