"""Sockets inside another network namespace, and user-space NAT for it.

The Runtime API of an environment listens on 127.0.0.1:9001 *inside* the
environment's network namespace, so nothing else can reach it. The platform
creates that socket itself: a short-lived thread ``setns()``s into the
namespace, binds and listens, and exits; the socket stays in the namespace it was
made in and the event loop accepts on it. No helper process per environment for
that. Python 3.11 has no ``os.setns``, hence ``ctypes``.

With network ``isolated``, ``Nat`` attaches a user-space NAT helper (slirp4netns, or
pasta) to the namespace: started off the event loop, waited for only before the
runtime runs (sandboxes attach it while their root is built, spares when parked).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import fcntl
import functools
import ipaddress
import logging
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from lambdad.sandbox.child import ChildWatch

log = logging.getLogger(__name__)
Popen = subprocess.Popen[bytes]

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


def nat_helper() -> str | None:
    """The user-space NAT program available here, if any."""
    for name in ("slirp4netns", "pasta"):
        path = shutil.which(name)
        if path:
            return path
    return None


# rtnetlink, for the routes and rules this module adds (linux/rtnetlink.h,
# linux/fib_rules.h).
RTMGRP_LINK = 0x1
RTM_NEWROUTE = 24
RTM_NEWRULE = 32
FRA_PRIORITY, FRA_IP_PROTO, FRA_DPORT_RANGE = 6, 22, 24
FR_ACT_PROHIBIT = 8
# Before the main table (32766), after the local one (0).
PROHIBIT_RULE_PRIORITY = 100
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNREACHABLE = 254, 4, 0, 7
RTA_DST = 1


SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1


def _loopback_is_up(inet: socket.socket) -> bool:
    ifreq = fcntl.ioctl(inet.fileno(), SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0))
    return bool(struct.unpack_from("H", ifreq, 16)[0] & IFF_UP)


def wait_loopback_up(pid: int, inet: socket.socket, timeout: float = LOOPBACK_TIMEOUT) -> None:
    """Wait, in the calling thread's network namespace, until its loopback is up.

    Whoever creates the namespace brings its loopback up (bwrap does so in its child,
    after it has told lambdad the child's pid). Until then 127.0.0.1 cannot be bound,
    and a NAT helper must not start: slirp4netns brings ``lo`` up itself, and bwrap's
    own loopback set-up then fails (its 127.0.0.1 exists already). Gives up when the
    process ``pid`` is gone or after ``timeout`` seconds. ``inet`` is any AF_INET
    socket of that namespace (to ask about ``lo`` through).
    """
    if _loopback_is_up(inet):  # nearly always, at once
        return
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        # Subscribed before the first look: a change in between is not missed.
        nl.bind((0, RTMGRP_LINK))
        deadline = time.monotonic() + timeout
        while not _loopback_is_up(inet):
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
    error = _rtnetlink(RTM_NEWROUTE, rtmsg + attr)
    if error:
        raise OSError(error, f"cannot add an unreachable route to {network}: {os.strerror(error)}")


def add_prohibit_rule(tcp_port: int) -> None:
    """``ip rule add ipproto tcp dport PORT prohibit`` in the calling thread's network
    namespace: connecting to that port anywhere fails with EACCES (as AWS blocks
    outbound port 25). The function has no CAP_NET_ADMIN to take the rule away."""
    header = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, FR_ACT_PROHIBIT, 0)
    body = header + _attr(FRA_PRIORITY, struct.pack("=I", PROHIBIT_RULE_PRIORITY))
    body += _attr(FRA_IP_PROTO, bytes([socket.IPPROTO_TCP]))
    body += _attr(FRA_DPORT_RANGE, struct.pack("=HH", tcp_port, tcp_port))
    error = _rtnetlink(RTM_NEWRULE, body)
    if error:
        raise OSError(error, f"cannot prohibit TCP port {tcp_port}: {os.strerror(error)}")


def _attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _rtnetlink(message_type: int, body: bytes) -> int:
    """Send one create request; the errno of its acknowledgement (0: done)."""
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    message = struct.pack("=IHHII", 16 + len(body), message_type, flags, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        nl.sendall(message)
        reply = nl.recv(4096)
    kind = struct.unpack_from("=H", reply, 4)[0]
    return -struct.unpack_from("=i", reply, 16)[0] if kind == NLMSG_ERROR else 0


def nat_argv(helper: str, pid: int, ready_fd: int, exit_fd: int) -> list[str]:
    """The command line of the NAT helper ``helper`` for the network namespace of ``pid``.

    slirp4netns: ``--disable-host-loopback`` (the gateway is not the host's loopback,
    where lambdad's API listens); it says it is ready on ``ready_fd`` and ends when
    ``exit_fd`` reaches end of file. It parses what the function sends, as root: once
    the tap device is open it confines itself (``--enable-sandbox``: an empty root,
    capabilities dropped; ``--enable-seccomp``: no exec, mount, ptrace, setns...),
    about 1-2 ms more before it is ready, off a cold start's critical path (without
    the sandbox where the host's resolv.conf lies outside /etc and /run).

    pasta: no port forwarded either way (its default forwards every port bound in the
    namespace from the host, and the host's loopback ports into the namespace), nor the
    gateway mapped to the host; it has neither fd.
    """
    if Path(helper).name == "pasta":
        argv = [helper, "--config-net", "--quiet", "--no-map-gw"]
        argv += ["-t", "none", "-u", "none", "-T", "none", "-U", "none"]
        return [*argv, "--netns", f"/proc/{pid}/ns/net"]
    argv = [helper, "--configure", "--mtu=65520", "--disable-host-loopback"]
    if _resolv_conf_in_sandbox():
        argv.append("--enable-sandbox")  # its new root keeps only /etc and /run
    argv.append("--enable-seccomp")
    return [*argv, f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}", str(pid), "tap0"]


# The helpers are started from these threads, not the event loop's: Popen's vfork()
# holds its caller until the helper's exec is done (a few milliseconds on a busy
# machine), which on the event loop is time no other environment or request gets.
_STARTER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="nat-start")


def _start_helper(argv: list[str], keep: tuple[int, ...], ours: tuple[int, ...]) -> Popen:
    try:
        return subprocess.Popen(
            argv,
            # It runs as root and parses what functions send: none of the server's
            # variables (credentials among them) and no loader settings.
            env={"PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=keep,
            start_new_session=True,
        )
    finally:
        for fd in ours:
            os.close(fd)


class Nat:
    """User-space NAT (slirp4netns or pasta) attached to one network namespace.

    The helper runs as a process of its own per environment, started in a thread of
    ``_STARTER`` and watched through a pidfd: ``ready`` is done once it says outbound
    networking is up, or once it has failed to start or exited before that (the
    environment then has no outbound access). slirp4netns would outlive the
    namespace's processes; it ends when its --exit-fd reaches EOF, i.e. when lambdad
    closes the other end or dies (a crash), so it never outlives the server.
    """

    def __init__(self, helper: str, pid: int) -> None:
        self.pid = pid
        self.process: Popen | None = None
        self._watch: ChildWatch | None = None
        self._closed = False
        ready_r, ready_w = os.pipe()
        exit_r, self._exit_w = os.pipe()
        # pasta has neither fd: its ready pipe closes unwritten, which reads as ready.
        pasta = Path(helper).name == "pasta"
        keep = () if pasta else (ready_w, exit_r)
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self._ready_r = ready_r
        loop.add_reader(ready_r, self._on_ready)
        argv = nat_argv(helper, pid, ready_w, exit_r)
        self._started = loop.run_in_executor(_STARTER, _start_helper, argv, keep, (ready_w, exit_r))
        self._started.add_done_callback(self._on_started)

    def _on_started(self, started: asyncio.Future[Popen]) -> None:
        failure = "cancelled" if started.cancelled() else started.exception()
        if failure is not None:
            log.warning("no NAT for the namespace of process %d: %s", self.pid, failure)
            self._on_ready()
            return
        self.process = started.result()
        self._watch = ChildWatch(self.process)
        self._watch.exited.add_done_callback(lambda _: self._on_ready())
        if self._closed:
            self.close()

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
        """Stop the helper now (idempotent; one still starting is stopped once it has);
        the pidfd watch reaps it."""
        self._closed = True
        if self._exit_w >= 0:
            os.close(self._exit_w)
            self._exit_w = -1
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def aclose(self) -> None:
        """Stop the helper and wait until it is reaped."""
        self.close()
        self._on_ready()
        with contextlib.suppress(Exception):
            await asyncio.shield(self._started)
        if self._watch is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._watch.wait()


@functools.cache
def _resolv_conf_in_sandbox() -> bool:
    """Whether slirp4netns's sandbox (a root of the host's /etc and /run) still sees the
    host's resolv.conf, which its DNS forwarder reads."""
    real = os.path.realpath("/etc/resolv.conf")
    return real.startswith(("/etc/", "/run/"))
