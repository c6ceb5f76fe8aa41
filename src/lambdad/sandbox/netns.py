"""Sockets inside another network namespace, and user-space NAT for it.

The Runtime API of an environment listens on 127.0.0.1:9001 *inside* the
environment's network namespace, so nothing else can reach it. The platform
creates that socket itself: a short-lived thread ``setns()``s into the
namespace, binds and listens, and exits; the socket stays in the namespace it was
made in and the event loop accepts on it. No helper process per environment.
Python 3.11 has no ``os.setns``, hence ``ctypes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import fcntl
import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from lambdad.sandbox.child import ChildWatch

CLONE_NEWNET = 0x40000000
NAT_READY_TIMEOUT = 5.0
LOOPBACK_TIMEOUT = 5.0

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
) -> socket.socket:
    """A listening TCP socket bound to host:port in the network namespace of ``pid``;
    first, once the namespace's loopback is up, the IPv4 networks in ``unreachable``
    get an unreachable route there."""
    result: list[socket.socket | BaseException] = []

    def work() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            wait_loopback_up(pid)
            for network in unreachable:
                add_unreachable_route(network)
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


# rtnetlink, for the one route this module adds (linux/rtnetlink.h).
RTMGRP_LINK = 0x1
RTM_NEWROUTE = 24
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNREACHABLE = 254, 4, 0, 7
RTA_DST = 1


SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1


def _loopback_is_up() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0))
    return bool(struct.unpack_from("H", ifreq, 16)[0] & IFF_UP)


def wait_loopback_up(pid: int, timeout: float = LOOPBACK_TIMEOUT) -> None:
    """Wait, in the calling thread's network namespace, until its loopback is up.

    Whoever creates the namespace brings its loopback up (bwrap does so in its child,
    after it has told lambdad the child's pid). Until then 127.0.0.1 cannot be bound,
    and a NAT helper must not start: slirp4netns brings ``lo`` up itself, and bwrap's
    own loopback set-up then fails (its 127.0.0.1 exists already). Gives up when the
    process ``pid`` is gone or after ``timeout`` seconds.
    """
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        # Subscribed before the first look: a change in between is not missed.
        nl.bind((0, RTMGRP_LINK))
        deadline = time.monotonic() + timeout
        while not _loopback_is_up():
            left = deadline - time.monotonic()
            if left <= 0:
                raise OSError(f"the loopback of process {pid}'s network namespace is down")
            if not os.path.exists(f"/proc/{pid}"):
                raise ProcessLookupError(f"process {pid} exited before its loopback was up")
            nl.settimeout(min(left, 0.05))
            with contextlib.suppress(TimeoutError):
                nl.recv(65536)


def add_unreachable_route(network: str) -> None:
    """``ip route add unreachable NETWORK`` in the calling thread's network namespace.

    The function has no CAP_NET_ADMIN, so it cannot take the route away: connections
    to that network fail with EHOSTUNREACH whatever the default route says.
    """
    net = ipaddress.IPv4Network(network)
    rtmsg = struct.pack(
        "=BBBBBBBBI",
        socket.AF_INET,
        net.prefixlen,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_STATIC,
        RT_SCOPE_UNIVERSE,
        RTN_UNREACHABLE,
        0,
    )
    attr = struct.pack("=HH", 8, RTA_DST) + net.network_address.packed
    body = rtmsg + attr
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    message = struct.pack("=IHHII", 16 + len(body), RTM_NEWROUTE, flags, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        nl.sendall(message)
        reply = nl.recv(4096)
    kind = struct.unpack_from("=H", reply, 4)[0]
    error = -struct.unpack_from("=i", reply, 16)[0] if kind == NLMSG_ERROR else 0
    if error:
        raise OSError(error, f"cannot add an unreachable route to {network}: {os.strerror(error)}")


def nat_argv(helper: str, pid: int, ready_fd: int, exit_fd: int) -> list[str]:
    """The command line of the NAT helper ``helper`` for the network namespace of ``pid``.

    slirp4netns: ``--disable-host-loopback`` (the gateway is not the host's loopback,
    where lambdad's API listens); it says it is ready on ``ready_fd`` and ends when
    ``exit_fd`` reaches end of file. pasta: no port forwarded either way (its default
    forwards every port bound in the namespace from the host, and the host's loopback
    ports into the namespace), nor the gateway mapped to the host; it has neither fd.
    """
    if Path(helper).name == "pasta":
        argv = [helper, "--config-net", "--quiet", "--no-map-gw"]
        argv += ["-t", "none", "-u", "none", "-T", "none", "-U", "none"]
        return [*argv, "--netns", f"/proc/{pid}/ns/net"]
    argv = [helper, "--configure", "--mtu=65520", "--disable-host-loopback"]
    return [*argv, f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}", str(pid), "tap0"]


class Nat:
    """User-space NAT (slirp4netns or pasta) attached to one network namespace.

    The helper runs as a process of its own per environment, watched through a pidfd
    (no thread): ``ready`` is done once it says outbound networking is up, or once it
    exits before that (the environment then has no outbound access). slirp4netns
    would outlive the namespace's processes; it ends when its --exit-fd reaches EOF,
    i.e. when lambdad closes the other end or dies (a crash), so it never outlives
    the server.
    """

    def __init__(self, helper: str, pid: int) -> None:
        ready_r, ready_w = os.pipe()
        exit_r, self._exit_w = os.pipe()
        # pasta has neither fd: its ready pipe closes unwritten, which reads as ready.
        pasta = Path(helper).name == "pasta"
        keep = () if pasta else (ready_w, exit_r)
        try:
            self.process = subprocess.Popen(
                nat_argv(helper, pid, ready_w, exit_r),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=keep,
                start_new_session=True,
            )
        except BaseException:
            for fd in (ready_r, self._exit_w):
                os.close(fd)
            self._exit_w = -1
            raise
        finally:
            for fd in (ready_w, exit_r):
                os.close(fd)
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self._ready_r = ready_r
        loop.add_reader(ready_r, self._on_ready)
        self._watch = ChildWatch(self.process)
        self._watch.exited.add_done_callback(lambda _: self._on_ready())

    def _on_ready(self) -> None:
        if self._ready_r >= 0:
            asyncio.get_running_loop().remove_reader(self._ready_r)
            os.close(self._ready_r)
            self._ready_r = -1
        if not self.ready.done():
            self.ready.set_result(None)

    async def wait_ready(self) -> None:
        """Outbound networking is up; cheap when already so. A helper that never says
        so within NAT_READY_TIMEOUT leaves the environment without outbound access."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(NAT_READY_TIMEOUT):
                await asyncio.shield(self.ready)

    def close(self) -> None:
        """Stop the helper now (idempotent); the pidfd watch reaps it."""
        if self._exit_w >= 0:
            os.close(self._exit_w)
            self._exit_w = -1
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def aclose(self) -> None:
        """Stop the helper and wait until it is reaped."""
        self.close()
        self._on_ready()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._watch.wait()
