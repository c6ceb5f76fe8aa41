"""Delivers one Telemetry API subscription's records to its listener, in its sandbox.

Records are batched by ``telemetry.Batch``; each batch is POSTed as a JSON array, one
at a time and in order, over a connection made where the listener is: inside the
environment's network namespace (``connect``), so ``sandbox.localdomain`` means the
sandbox's own loopback and nothing of the host's is ever reached. A batch the listener
does not take (refused, no answer within ``POST_TIMEOUT_S``) is dropped, as AWS drops
what an extension cannot keep up with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable

from lambdad.environments import telemetry
from lambdad.environments.telemetry import Subscription
from lambdad.sandbox import netns

log = logging.getLogger(__name__)

# A socket connected to a port of the sandbox's loopback.
Connector = Callable[[int], Awaitable[socket.socket]]
POST_TIMEOUT_S = 5.0
# Batches waiting for a listener slower than the records come: past this many, the
# oldest is dropped.
MAX_OUTBOX = 32


def connector(beside: socket.socket) -> Connector:
    """How to reach a port of the sandbox's loopback: from inside the network namespace
    ``beside`` (its Runtime API's socket) lives in, or the host's loopback where the
    sandbox has none of its own (the process backend, network ``host``)."""

    async def connect(port: int) -> socket.socket:
        ns_fd = netns.own_namespace_of(beside)
        if ns_fd is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            except OSError:
                sock.close()
                raise
            return sock
        try:
            return await asyncio.to_thread(netns.connect_in_namespace, ns_fd, port)
        finally:
            os.close(ns_fd)

    return connect


class Delivery:
    """One subscription's records on their way to its destination."""

    def __init__(self, env_id: str, name: str, sub: Subscription, connect: Connector) -> None:
        self.env_id = env_id
        self.name = name
        self.sub = sub
        self._connect = connect
        self._batch = telemetry.Batch(sub.max_items, sub.max_bytes, sub.timeout_ms)
        self._loop = asyncio.get_running_loop()
        self._outbox: deque[list[bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._pump: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.delivered = 0  # records the listener took

    def add(self, kind: str, record: bytes) -> None:
        stream = "platform" if kind.startswith("platform.") else kind
        if stream not in self.sub.types:
            return
        for full in self._batch.add(record, self._loop.time()):
            self._send(full)
        due = self._batch.due_at()
        if due is not None and self._timer is None:
            self._timer = self._loop.call_at(due, self._timed_out)

    def flush(self) -> None:
        """Send what waits now (an invocation ended, the environment stops)."""
        if len(self._batch):
            self._send(self._batch.take())

    async def drain(self, within_s: float) -> None:
        """Send what waits and wait up to ``within_s`` for every batch to be delivered."""
        self.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within_s)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._pump is not None:
            self._pump.cancel()

    def _timed_out(self) -> None:
        self._timer = None
        self.flush()

    def _send(self, records: list[bytes]) -> None:
        if self._timer is not None and not len(self._batch):
            self._timer.cancel()
            self._timer = None
        self._outbox.append(records)
        if len(self._outbox) > MAX_OUTBOX:
            dropped = self._outbox.popleft()
            log.debug(
                "environment %s: %s too slow, %d records dropped",
                self.env_id,
                self.name,
                len(dropped),
            )
        self._idle.clear()
        if self._pump is None or self._pump.done():
            self._pump = self._loop.create_task(self._run())

    async def _run(self) -> None:
        while self._outbox:
            records = self._outbox.popleft()
            try:
                await asyncio.wait_for(self._post(telemetry.body(records)), POST_TIMEOUT_S)
                self.delivered += len(records)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.debug(
                    "environment %s: telemetry for %s dropped %d records: %s",
                    self.env_id,
                    self.name,
                    len(records),
                    exc,
                )
        self._idle.set()

    async def _post(self, payload: bytes) -> None:
        sock = await self._connect(self.sub.port)
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            head = (
                f"POST {self.sub.path} HTTP/1.1\r\nHost: {self.sub.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + payload)
            await writer.drain()
            await reader.readline()  # its status: whatever it answers, the batch is gone
        finally:
            writer.close()
