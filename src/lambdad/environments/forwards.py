"""Relays from inside an environment's network namespace to chosen host ports.

An environment whose sandbox has a network namespace of its own cannot reach the
host's loopback, where lambdad (and the operator's LocalStack, moto, MinIO...) listen.
For each ``Forward`` of its configuration (model/endpoints.py) lambdad listens on
127.0.0.1:port *inside* that namespace (the socket made by a thread that enters it, as
the Runtime API's is) and relays every connection accepted there to the forward's host
port; no other host port is reachable. An environment in the host's namespace (the
process backend, network ``host``) gets no relay: the URLs already work there.

Where the operator gave upstream credentials for the environment's role
(model/upstream.py), its relays speak HTTP and sign the function's requests again
(environments/upstream_proxy.py) instead of copying bytes.

Each relay holds at most ``MAX_CONNECTIONS`` connections at once, so that one
environment cannot take every connection the API port grants a loopback client.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from lambdad.environments import datagrams, upstream_proxy
from lambdad.environments.upstream_proxy import UpstreamSigning
from lambdad.model.endpoints import Forward
from lambdad.sandbox import netns

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 32
# How long a debugger's connection waits for the runtime to listen.
CONNECT_PATIENCE = 60.0
_CHUNK = 64 * 1024


class Relays:
    """An environment's relays (``open``), all closed with their connections by ``close``."""

    def __init__(
        self, env_id: str, source: str | None = None, signing: UpstreamSigning | None = None
    ) -> None:
        self.env_id = env_id
        # The loopback address its connections come from (endpoints.relay_source).
        self.source = source
        # Its role's upstream credentials are used (None: bytes copied as they come).
        self.signing = signing
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._namespaces: list[int] = []
        self._datagrams: list[datagrams.Closable] = []

    async def open(self, beside: socket.socket, forwards: tuple[Forward, ...]) -> None:
        """Relays for ``forwards`` in the network namespace of the socket ``beside`` (the
        Runtime API's); none if that namespace is the host's."""
        if not forwards:
            return
        ns_fd = netns.own_namespace_of(beside)
        if ns_fd is None:
            return
        tcp = tuple(f for f in forwards if not f.udp)
        udp = tuple(f for f in forwards if f.udp)
        socks = await asyncio.to_thread(
            netns.listen_in_namespace,
            ns_fd,
            tuple(f.port for f in tcp),
            udp_ports=tuple(f.port for f in udp),
        )
        for sock, forward in zip(socks, tcp + udp, strict=True):
            if forward.udp:
                self._datagrams.append(await datagrams.relay(sock, forward, self.source))
                continue
            signing = self.signing if forward.signed else None
            relay = _Relay(forward, self.env_id, self._writers, self.source, signing)
            self._servers.append(await asyncio.start_server(relay.handle, sock=sock))

    async def expose(self, beside: socket.socket, port: int) -> None:
        """The host's 127.0.0.1:``port`` relayed to 127.0.0.1:``port`` inside the
        network namespace of ``beside`` (a debugger reaching the runtime); nothing if
        that namespace is the host's (the runtime listens there itself)."""
        ns_fd = netns.own_namespace_of(beside)
        if ns_fd is None:
            return
        self._namespaces.append(ns_fd)
        relay = _Inward(ns_fd, port, self.env_id, self._writers)
        self._servers.append(await asyncio.start_server(relay.handle, "127.0.0.1", port))

    def close(self) -> None:
        for fd in self._namespaces:
            os.close(fd)
        self._namespaces.clear()
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for relay in self._datagrams:
            relay.close()
        self._datagrams.clear()
        self._servers.clear()
        self._writers.clear()


class _Relay:
    def __init__(
        self,
        forward: Forward,
        env_id: str,
        writers: set[asyncio.StreamWriter],
        source: str | None = None,
        signing: UpstreamSigning | None = None,
    ) -> None:
        self.forward = forward
        self.source = source
        self.signing = signing
        self.env_id = env_id
        self.writers = writers
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= MAX_CONNECTIONS:
            writer.close()
            return
        self.open += 1
        self.writers.add(writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            if self.signing is not None:
                await upstream_proxy.serve(reader, writer, self.forward, self.signing, self.source)
                return
            up_reader, up_writer = await asyncio.open_connection(
                self.forward.host,
                self.forward.host_port,
                local_addr=(self.source, 0) if self.source else None,
            )
            self.writers.add(up_writer)
            for w in (writer, up_writer):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        except (OSError, RuntimeError) as exc:
            port = self.forward.host_port
            log.debug("environment %s: relay to port %d: %s", self.env_id, port, exc)
        finally:
            self.open -= 1
            for end in (writer, up_writer):
                if end is not None:
                    self.writers.discard(end)
                    end.close()


class _Inward:
    """Connections to a host port, relayed into a namespace's loopback. A debugger may
    connect before the runtime listens (it is still starting): the relay tries again
    for ``CONNECT_PATIENCE`` seconds."""

    def __init__(
        self, ns_fd: int, port: int, env_id: str, writers: set[asyncio.StreamWriter]
    ) -> None:
        self.ns_fd = ns_fd
        self.port = port
        self.env_id = env_id
        self.writers = writers

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        inner: asyncio.StreamWriter | None = None
        try:
            sock = await self._connect()
            inner_reader, inner = await asyncio.open_connection(sock=sock)
            self.writers.add(inner)
            await asyncio.gather(_pump(reader, inner), _pump(inner_reader, writer))
        except OSError as exc:
            log.debug("environment %s: debugger relay: %s", self.env_id, exc)
        finally:
            for end in (writer, inner):
                if end is not None:
                    self.writers.discard(end)
                    end.close()

    async def _connect(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_PATIENCE
        while True:
            try:
                return await asyncio.to_thread(netns.connect_in_namespace, self.ns_fd, self.port)
            except ConnectionRefusedError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of file, then pass the end on (a half-close), or until either
    side fails."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.close()
