"""Sockets inside another network namespace.

The Runtime API of an environment listens on 127.0.0.1:9001 *inside* the
environment's network namespace, so nothing else can reach it. The platform
creates that socket itself: a short-lived thread ``setns()``s into the
namespace, waits for its loopback, adds the routes and rules that keep the function
off the link-local network and prohibited ports (``rtnetlink``), binds and listens,
and exits; the socket stays in the namespace it was made in and the event loop
accepts on it. No helper process per environment for that. Python 3.11 has no
``os.setns``, hence ``ctypes``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import socket
import threading

from lambdad.sandbox.rtnetlink import add_prohibit_rule, add_unreachable_route, wait_loopback_up

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int, nstype: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, nstype)
        return
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def listen_in_netns(
    pid: int,
    host: str = "127.0.0.1",
    port: int = 9001,
    unreachable: tuple[str, ...] = (),
    prohibited_tcp_ports: tuple[int, ...] = (),
) -> socket.socket:
    """A listening TCP socket bound to host:port in the network namespace of ``pid``;
    first, once the namespace's loopback is up, the IPv4 networks in ``unreachable``
    get an unreachable route there, and connections to ``prohibited_tcp_ports`` a
    prohibit rule."""
    result: list[socket.socket | BaseException] = []

    def work() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                wait_loopback_up(pid, sock)
                for network in unreachable:
                    add_unreachable_route(network)
                for tcp_port in prohibited_tcp_ports:
                    add_prohibit_rule(tcp_port)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(16)
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
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


# ioctl: a socket's network namespace, as a file descriptor (Linux 4.9+).
SIOCGSKNS = 0x894C


def own_namespace_of(sock: socket.socket) -> int | None:
    """A descriptor of the network namespace ``sock`` lives in, if that is not this
    process's own (None: the host's, as with the process backend or network ``host``)."""
    fd = fcntl.ioctl(sock.fileno(), SIOCGSKNS)
    if os.fstat(fd).st_ino == os.stat("/proc/self/ns/net").st_ino:
        os.close(fd)
        return None
    return fd


def listen_in_namespace(
    ns_fd: int, ports: tuple[int, ...], host: str = "127.0.0.1", udp_ports: tuple[int, ...] = ()
) -> list[socket.socket]:
    """Listening TCP sockets on host:port for each of ``ports`` in the network
    namespace ``ns_fd`` (which is closed), then bound UDP sockets for each of
    ``udp_ports``, made by a thread that enters it and ends."""
    result: list[socket.socket] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            _setns(ns_fd, CLONE_NEWNET)
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                result.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(64)
                sock.setblocking(False)
            for port in udp_ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                result.append(sock)
                sock.bind((host, port))
                sock.setblocking(False)
        except BaseException as exc:
            failure.append(exc)

    try:
        t = threading.Thread(target=work, name="netns-listen", daemon=True)
        t.start()
        t.join()
    finally:
        os.close(ns_fd)
    if failure:
        for sock in result:
            sock.close()
        raise failure[0]
    return result


def connect_in_namespace(ns_fd: int, port: int, host: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to host:port as seen inside the network namespace ``ns_fd``
    (which stays open), made by a thread that enters it and ends; non-blocking."""
    result: list[socket.socket] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            _setns(ns_fd, CLONE_NEWNET)
            sock = socket.create_connection((host, port), timeout=5)
            sock.setblocking(False)
            result.append(sock)
        except BaseException as exc:
            failure.append(exc)

    t = threading.Thread(target=work, name="netns-connect", daemon=True)
    t.start()
    t.join()
    if failure:
        raise failure[0]
    return result[0]
