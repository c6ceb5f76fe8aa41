"""The platform's end of a forked environment's control sockets.

A forked sandbox (``zygote_sandbox.py``) and a restored one (``restored.py``) talk to
their keeper, runtime, template and namespace factory over ``SOCK_SEQPACKET`` pairs:
one ``zygote_wire`` JSON message per packet, descriptors passed alongside (and, from a
restored environment, the sender's pid as the kernel's credentials). This module
sends and receives those messages on non-blocking sockets without blocking the event
loop, each wait bounded (``SETUP_TIMEOUT`` by default) and reported as a
``SandboxError`` naming what was not ready; received descriptors are either handed to
the caller or closed, never leaked.
"""

from __future__ import annotations

import array
import asyncio
import os
import socket
import struct
from typing import Any

from lambdad.errors import SandboxError
from lambdad.sandbox import zygote_wire

SETUP_TIMEOUT = 10.0

_UCRED = struct.Struct("iII")  # pid, uid, gid


def send(sock: socket.socket, doc: dict[str, Any], fds: list[int]) -> None:
    """Send one message and ``fds`` (still the caller's to close)."""
    socket.send_fds(sock, [zygote_wire.encode(doc)], fds)


async def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message from a request socket and its descriptors (None: the other end
    closed)."""
    await wait_readable(sock, SETUP_TIMEOUT, "the sandbox")
    data, fds, _, _ = socket.recv_fds(sock, 65536, 4)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return zygote_wire.decode(data), list(fds)


async def send_when_writable(sock: socket.socket, doc: dict[str, Any], fds: list[int]) -> None:
    """Send one message on a non-blocking socket, waiting while its buffer is full (a
    burst of requests on one channel)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            send(sock, doc, fds)
            return
        except BlockingIOError:
            writable: asyncio.Future[None] = loop.create_future()

            def ready(done: asyncio.Future[None] = writable) -> None:
                if not done.done():
                    done.set_result(None)

            loop.add_writer(sock.fileno(), ready)
            try:
                await writable
            finally:
                loop.remove_writer(sock.fileno())


async def wait_readable(sock: socket.socket, limit_s: float | None, what: str) -> None:
    """Until ``sock`` (non-blocking) can be read; ``SandboxError`` naming ``what`` past
    ``limit_s`` seconds (None: no limit)."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(sock.fileno(), ready)
    try:
        await asyncio.wait_for(readable, limit_s)
    except TimeoutError:
        raise SandboxError(f"{what} was not ready within {limit_s:.0f} s") from None
    finally:
        loop.remove_reader(sock.fileno())


async def receive_with_sender(
    sock: socket.socket,
    timeout: float | None = SETUP_TIMEOUT,  # noqa: ASYNC109
) -> tuple[dict[str, Any] | None, int]:
    """One message and its sender's pid (as this process sees it); (None, 0) at the end.
    Descriptors that came with it are closed."""
    doc, pid, fds = await receive_message(sock, timeout)
    for fd in fds:
        os.close(fd)
    return doc, pid


async def receive_message(
    sock: socket.socket,
    timeout: float | None = SETUP_TIMEOUT,  # noqa: ASYNC109
) -> tuple[dict[str, Any] | None, int, list[int]]:
    """One message, its sender's pid (as this process sees it) and the descriptors that
    came with it (the caller's to close); (None, 0, []) at the end."""
    while True:
        try:
            data, ancillary, _, _ = sock.recvmsg(
                65536, socket.CMSG_SPACE(_UCRED.size) + socket.CMSG_SPACE(4 * 8)
            )
            break
        except BlockingIOError:
            await wait_readable(sock, timeout, "the restored environment")
    pid = 0
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = _UCRED.unpack(payload[: _UCRED.size])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        for fd in fds:
            os.close(fd)
        return None, 0, []
    return zygote_wire.decode(data), pid, list(fds)
