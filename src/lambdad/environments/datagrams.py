"""A UDP relay out of an environment's network namespace (the X-Ray daemon's port).

The socket bound inside the namespace (``netns.listen_in_namespace``) receives the
function's datagrams; each is sent on, unchanged, from a host socket bound to the
account's relay address (``endpoints.relay_source``) to the forward's host port, so the
daemon knows which account's environment sent it. Nothing comes back: the X-Ray
protocol has no replies, and the host socket is connected, so nothing else can reach
the namespace through it. Datagrams that cannot be sent are dropped, as UDP does.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

from lambdad.model.endpoints import Forward


class Closable(Protocol):
    def close(self) -> None: ...


class _Inside(asyncio.DatagramProtocol):
    def __init__(self, out: asyncio.DatagramTransport) -> None:
        self.out = out

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.out.sendto(data)

    def error_received(self, exc: Exception) -> None:
        pass  # a datagram lost, nothing else


class _Pair:
    def __init__(self, inside: asyncio.DatagramTransport, out: asyncio.DatagramTransport) -> None:
        self.inside = inside
        self.out = out

    def close(self) -> None:
        self.inside.close()
        self.out.close()


async def relay(sock: socket.socket, forward: Forward, source: str | None) -> Closable:
    """Relay what arrives on ``sock`` (bound inside a namespace) to the forward's port."""
    loop = asyncio.get_running_loop()
    out, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol,
        local_addr=(source, 0) if source else None,
        remote_addr=(forward.host, forward.host_port),
    )
    try:
        inside, _ = await loop.create_datagram_endpoint(lambda: _Inside(out), sock=sock)
    except BaseException:
        out.close()
        raise
    return _Pair(inside, out)
