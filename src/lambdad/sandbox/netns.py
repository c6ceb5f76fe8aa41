"""Sockets inside another network namespace, and user-space NAT for it.

The Runtime API of an environment listens on 127.0.0.1:9001 *inside* the
environment's network namespace, so nothing else can reach it. The platform
creates that socket itself: a short-lived thread ``setns()``s into the
namespace, binds and listens, and exits; the socket stays in the namespace it was
made in and the event loop accepts on it. No helper process per environment.
Python 3.11 has no ``os.setns``, hence ``ctypes``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import socket
import threading

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int, nstype: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, nstype)
        return
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def listen_in_netns(pid: int, host: str = "127.0.0.1", port: int = 9001) -> socket.socket:
    """A listening TCP socket bound to host:port in the network namespace of ``pid``."""
    result: list[socket.socket | BaseException] = []

    def work() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(16)
            sock.setblocking(False)
            result.append(sock)
        except BaseException as exc:
            result.append(exc)

    # A fresh thread: it ends in the other namespace, so it must not be a pooled one.
    t = threading.Thread(target=work, name=f"netns-{pid}", daemon=True)
    t.start()
    t.join()
    out = result[0]
    if isinstance(out, BaseException):
        raise out
    return out


def nat_helper() -> str | None:
    """The user-space NAT program available here, if any."""
    for name in ("slirp4netns", "pasta"):
        path = shutil.which(name)
        if path:
            return path
    return None
