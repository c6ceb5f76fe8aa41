"""Routes and rules in the calling thread's network namespace, over rtnetlink.

What ``listen_in_netns`` sets up in an environment's namespace before its Runtime API
socket listens: it waits for the namespace's loopback to come up, then adds
unreachable routes (the link-local network) and prohibit rules (outbound TCP ports
AWS blocks). The function has no CAP_NET_ADMIN, so it cannot take either away. Raw
netlink messages rather than ``ip``: no process per environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import socket
import struct
import time

LOOPBACK_TIMEOUT = 5.0

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
