"""Tenant-named URLs fetched only from public addresses (``events.public_web``)."""

from __future__ import annotations

import http.server
import threading

import pytest

from lambdad.events import public_web
from lambdad.events.public_web import PublicWeb, public_address
from lambdad.events.web_fetch import FetchError


def _resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # a cloud's metadata service
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_private_loopback_and_reserved_addresses_are_refused(address: str) -> None:
    with pytest.raises(FetchError, match="not a public address"):
        public_address("issuer.example", 443, _resolver(address))


def test_one_private_answer_among_public_ones_is_refused() -> None:
    with pytest.raises(FetchError):
        public_address("issuer.example", 443, _resolver("93.184.216.34", "127.0.0.1"))


def test_a_public_address_is_the_one_connected_to() -> None:
    resolver = _resolver("93.184.216.34", "2606:2800:220:1::1")
    assert public_address("issuer.example", 443, resolver) == "93.184.216.34"


def test_an_unresolvable_host_is_a_fetch_error() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(FetchError, match="not resolved"):
        public_address("nowhere.example", 443, fail)
    with pytest.raises(FetchError, match="not resolved"):
        public_address("nowhere.example", 443, _resolver())


def test_a_server_on_the_hosts_loopback_is_never_asked() -> None:
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        for url in (f"http://127.0.0.1:{port}/x", f"http://localhost:{port}/x"):
            with pytest.raises(FetchError):
                PublicWeb().get(url)
        assert asked == []
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://issuer.example/", "http:///x"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(FetchError):
        PublicWeb().get(url)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::10.0.0.1",  # IPv4-compatible
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    ],
)
def test_a_private_ipv4_inside_an_ipv6_address_is_refused(address: str) -> None:
    with pytest.raises(FetchError, match="not a public address"):
        public_address("issuer.example", 443, _resolver(address))


def test_an_answer_dripped_a_byte_at_a_time_is_cut_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = threading.Event()

    class Drip(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            while not stop.wait(0.05):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # The test's own server is on loopback: taken for a public address here.
        monkeypatch.setattr(public_web, "public_address", lambda *args: "127.0.0.1")
        web = PublicWeb(timeout=5.0, deadline=0.5)
        with pytest.raises(FetchError):
            web.get(f"http://issuer.example:{server.server_address[1]}/keys")
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
