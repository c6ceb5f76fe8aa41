"""Listeners on their own ports: a socket on ``127.0.0.1:<Port>`` for every port some
balancer listens on, opened and closed as listeners come and go (``sync``, after each
control-plane change and at start-up), closed at shutdown.

How a port is served (the HTTP protocol, the door) is the caller's ``open_port``; this
module only decides which ports should be open. ``bind_error`` tells ``CreateListener``
why a port cannot be bound (in use by another program, privileged), so that it can
refuse the listener with that reason instead of leaving it silent.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from lambdad.events.alb.store import LB, ElbStore

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"


class Closable(Protocol):
    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


OpenPort = Callable[[int], Awaitable[Closable]]


def listening_ports(store: ElbStore) -> set[int]:
    """Every port some balancer, of any account, has a listener on."""
    ports: set[int] = set()
    for _, _, _, _, doc in store.store.find_children(LB, "Listening", "yes"):
        ports.update(int(li["Port"]) for li in doc["Listeners"].values())
    return ports


class ListenerPorts:
    def __init__(self, store: ElbStore) -> None:
        self.store = store
        self.open: dict[int, Closable] = {}
        self._lock = asyncio.Lock()

    def bind_error(self, port: int) -> str | None:
        """Why ``port`` cannot be bound on loopback (None: it can, or it is ours)."""
        if port in self.open:
            return None
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError as error:
                reason = errno.errorcode.get(error.errno or 0, "")
                return f"{HOST}:{port} cannot be bound ({reason or error.strerror})"
        return None

    async def sync(self, open_port: OpenPort) -> None:
        async with self._lock:
            wanted = listening_ports(self.store)
            for port in sorted(set(self.open) - wanted):
                server = self.open.pop(port)
                server.close()
                await server.wait_closed()
                log.info("load balancer listener on port %d closed", port)
            for port in sorted(wanted - set(self.open)):
                try:
                    self.open[port] = await open_port(port)
                except OSError as error:
                    log.error("load balancer listener on port %d cannot open: %s", port, error)
                    continue
                log.info("load balancer listener on %s:%d", HOST, port)

    async def close(self) -> None:
        async with self._lock:
            for server in self.open.values():
                server.close()
            for server in self.open.values():
                await server.wait_closed()
            self.open.clear()
