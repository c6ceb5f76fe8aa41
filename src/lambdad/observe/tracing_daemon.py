"""The X-Ray daemon's UDP port: segments the X-Ray SDK and Powertools' Tracer send.

Each datagram is a header line and one segment document:
``{"format": "json", "version": 1}\\n{...segment or subsegment...}`` (``parse``, pure).
Whose segment it is comes from the trace it belongs to: lambdad knows which account
and region each trace of its own invocations belongs to (``TraceStore.owner``). A
datagram relayed out of an environment's namespace comes from its account's relay
address (``endpoints.relay_source``) and is kept only if that is the trace's account;
one from the host's loopback (the process backend) is kept under the trace's owner.
Segments of traces lambdad does not know are dropped: nobody could read them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any, cast

from lambdad.model.endpoints import is_relayed, relay_source
from lambdad.observe.tracing_store import TraceStore, problem

log = logging.getLogger(__name__)

MAX_DATAGRAM = 64 * 1024


def parse(data: bytes) -> dict[str, Any] | None:
    """The segment a datagram carries, or None if it is not one."""
    head, sep, body = data.partition(b"\n")
    if not sep or len(data) > MAX_DATAGRAM:
        return None
    try:
        header = json.loads(head)
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or header.get("format") != "json":
        return None
    if header.get("version") != 1 or problem(doc) is not None:
        return None
    return doc  # type: ignore[no-any-return]


class XRayDaemon(asyncio.DatagramProtocol):
    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self.sock: socket.socket | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.dropped = 0

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Bind the port now (its number goes in every environment's variables); it is
        read once ``start`` runs in the event loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, port))
        sock.setblocking(False)
        self.sock = sock
        return int(sock.getsockname()[1])

    async def start(self) -> None:
        if self.sock is not None and self.transport is None:
            loop = asyncio.get_running_loop()
            await loop.create_datagram_endpoint(lambda: self, sock=self.sock)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport is not an asyncio.DatagramTransport subclass, but is one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        elif self.sock is not None:
            self.sock.close()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
        doc = parse(data)
        owner = None if doc is None else self.store.owner(doc["trace_id"])
        sender = str(addr[0]) if addr else None
        if owner is not None and is_relayed(sender) and sender != relay_source(owner.account):
            owner = None  # another account's environment naming this trace
        if doc is None or owner is None:
            self.dropped += 1
            log.debug("X-Ray daemon: a datagram from %s dropped", sender)
            return
        self.store.put(owner, [doc])

    def error_received(self, exc: Exception) -> None:
        log.debug("X-Ray daemon: %s", exc)
