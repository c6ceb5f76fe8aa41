"""A fake asyncio transport and uvicorn's server state, for protocol tests that feed
bytes in and read what was written (no sockets). Import with ``from transports import
...`` (``tests`` is on ``pythonpath``)."""

from __future__ import annotations

import asyncio
from typing import Any


class FakeTransport:
    """Records writes and closes; ``peer`` is the client address it reports."""

    def __init__(self, peer: str | None = None) -> None:
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.peer = peer

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername" and self.peer is not None:
            return (self.peer, 40000)
        return default


class Config:
    """The uvicorn settings the API port's protocol reads."""

    timeout_keep_alive = 5


class ServerState:
    """uvicorn's per-server state, as the API port's protocol uses it."""

    def __init__(self) -> None:
        self.total_requests = 0
        self.connections: set[Any] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.default_headers = [(b"date", b"Mon, 23 Nov 2026 03:00:00 GMT")]
