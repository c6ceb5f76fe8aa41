"""GETs to URLs a tenant names, kept off the host and its private networks.

A JWT authorizer's issuer (and the ``jwks_uri`` its discovery document names) is a URL
the API's owner chose; the server fetches it. For an account the operator does not
trust with the server's own position (``OutboundIdentities.uses_server_identity``),
``PublicWeb`` resolves the host once, refuses unless every address is a global one
(no loopback, private, link-local, shared or reserved range: not the host's own
ports, not a metadata service, not another machine of the operator's network), and
connects to the address it checked, so a second resolution cannot move the request
elsewhere. HTTPS still verifies the certificate for the URL's host name.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from lambdad.events.web_fetch import MAX_BYTES, TIMEOUT, FetchError

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def public_address(host: str, port: int, resolver: Resolver = resolve) -> str:
    """The address to connect to for ``host``: FetchError unless every address it
    resolves to is global (one private answer among public ones is refused too)."""
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"{host}: not resolved: {exc}") from None
    if not addresses:
        raise FetchError(f"{host}: not resolved")
    for text in addresses:
        for address in _meant(ipaddress.ip_address(text.split("%", 1)[0])):
            if not address.is_global or address.is_multicast:
                raise FetchError(f"{host}: {text} is not a public address")
    return addresses[0]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _meant(address: Address) -> list[Address]:
    """The address and any IPv4 address it carries (mapped, 6to4, NAT64, compatible),
    which a translating network would reach in its stead."""
    out: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            out.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            out.append(address.sixtofour)
        if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
            out.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return out


def _cut(held: list[socket.socket], late: threading.Event) -> None:
    """End a fetch past its deadline: its blocked read returns (short)."""
    late.set()
    for sock in held:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _PinnedHttps(http.client.HTTPSConnection):
    """HTTPS to a checked address, the certificate verified for the URL's host."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class PublicWeb:
    """``web_fetch.Web`` for tenant-named URLs: public addresses only, no redirects."""

    def __init__(
        self,
        timeout: float = TIMEOUT,
        max_bytes: int = MAX_BYTES,
        resolver: Resolver = resolve,
        deadline: float = 2 * TIMEOUT,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.resolver = resolver
        self.deadline = deadline

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"GET {url}: not an http(s) URL")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchError(f"GET {url}: bad port") from None
        address = public_address(parts.hostname, port, self.resolver)
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = _PinnedHttps(parts.hostname, address, port, self.timeout)
        else:
            connection = http.client.HTTPConnection(address, port, timeout=self.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {"Host": parts.netloc.rsplit("@", 1)[-1], **dict(headers or {})}
        # The socket's timeout bounds each read; this bounds the whole fetch, so an
        # issuer that answers a byte at a time cannot hold a worker thread for long.
        held: list[socket.socket] = []
        late = threading.Event()
        watchdog = threading.Timer(self.deadline, _cut, (held, late))
        watchdog.start()
        try:
            connection.connect()
            if connection.sock is not None:
                held.append(connection.sock)  # the response reads it after close()
            connection.request("GET", target, headers=sent)
            answer = connection.getresponse()
            body = answer.read(self.max_bytes + 1)
        except (OSError, http.client.HTTPException, ssl.SSLError, ValueError) as exc:
            raise FetchError(f"GET {url}: {exc}") from None
        finally:
            watchdog.cancel()
            connection.close()
        if late.is_set():
            raise FetchError(f"GET {url}: not answered within {self.deadline} s")
        if not 200 <= answer.status < 300:
            raise FetchError(f"GET {url}: HTTP {answer.status}")  # redirects included
        if len(body) > self.max_bytes:
            raise FetchError(f"GET {url}: more than {self.max_bytes} bytes")
        return body
