"""A byte-for-byte HTTP/1.1 router that splits one endpoint between lambdad and moto.

moto's tests in server mode send every AWS call to a single endpoint. This router
reads the service name from each request's SigV4 credential scope
(``Credential=AKID/DATE/REGION/SERVICE/aws4_request`` in ``Authorization``, or the
``X-Amz-Credential`` query parameter) and forwards Lambda and Logs calls to lambdad,
everything else (and ``/moto-api/...``) to ``moto_server``.

Requests and responses are relayed exactly as received: the raw request head (the
signed ``Host`` included), the raw body (chunked framing kept), the raw response. The
router only parses enough HTTP to know where each message ends.

Two hooks serve the harness:

* after ``POST /moto-api/reset`` reaches moto, ``reset_lambdad`` (if given) runs
  before the client gets its answer, so that lambdad starts each test empty as moto
  does; it returns lambdad's new address.
* ``POST /_conformance/test`` with a pytest node id as body names the test now
  running; the Lambda exchanges that follow are kept under that name (``exchanges``)
  for the report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import threading
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: Services whose requests go to lambdad; every other service goes to moto.
LAMBDAD_SERVICES = frozenset({"lambda", "logs"})
CONTROL_PATH = "/_conformance/test"

Address = tuple[str, int]
ResetHook = Callable[[], Awaitable[Address]]

# A request or response head larger than this is refused (the body has no limit).
_HEAD_LIMIT = 1 << 20
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_EXCERPT = 1500


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1 this router can frame."""


@dataclass(frozen=True, slots=True)
class Head:
    """The start line and headers of one HTTP message, with the raw bytes they came in."""

    start_line: tuple[str, str, str]
    headers: tuple[tuple[str, str], ...]
    raw: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def has_token(self, name: str, token: str) -> bool:
        """Whether the comma-separated header ``name`` lists ``token``."""
        value = self.header(name) or ""
        return token in (part.strip().lower() for part in value.split(","))

    def is_chunked(self) -> bool:
        return self.has_token("transfer-encoding", "chunked")

    def content_length(self) -> int | None:
        value = self.header("content-length")
        if value is None:
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise ProtocolError(f"bad Content-Length {value!r}") from exc


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request lambdad answered, shortened for the report."""

    method: str
    target: str
    status: int
    request: str
    response: str

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "target": self.target,
            "status": self.status,
            "request": self.request,
            "response": self.response,
        }


def parse_head(raw: bytes) -> Head:
    """Parse a head that ends with the blank line (``raw`` includes it)."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2:
        raise ProtocolError(f"bad start line {lines[0]!r}")
    start = (parts[0], parts[1], parts[2] if len(parts) > 2 else "")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return Head(start, tuple(headers), raw)


def credential_service(head: Head) -> str | None:
    """The service named in the request's SigV4 credential scope, if it is signed."""
    scope = None
    authorization = head.header("authorization")
    if authorization:
        match = _CREDENTIAL.search(authorization)
        scope = match.group(1) if match else None
    else:
        query = urllib.parse.urlsplit(head.start_line[1]).query
        values = urllib.parse.parse_qs(query).get("X-Amz-Credential")
        scope = values[0] if values else None
    if scope is None:
        return None
    parts = scope.split("/")
    return parts[3] if len(parts) == 5 else None


def wants_lambdad(head: Head, services: frozenset[str] = LAMBDAD_SERVICES) -> bool:
    """Whether the request belongs to lambdad rather than moto."""
    if urllib.parse.urlsplit(head.start_line[1]).path.startswith("/moto-api"):
        return False
    return credential_service(head) in services


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """The next message head, or None if the peer closed cleanly before sending one."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ProtocolError("connection closed inside a message head") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("message head too large") from exc
    return parse_head(raw)


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body exactly as sent: sizes, extensions, data and trailers."""
    out = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        out += line
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise ProtocolError(f"bad chunk size line {line!r}") from exc
        if size == 0:
            break
        out += await reader.readexactly(size + 2)
    while True:  # trailers, up to the blank line
        line = await reader.readuntil(b"\r\n")
        out += line
        if line == b"\r\n":
            return bytes(out)


async def read_request_body(head: Head, reader: asyncio.StreamReader) -> bytes:
    if head.is_chunked():
        return await read_chunked(reader)
    length = head.content_length()
    return await reader.readexactly(length) if length else b""


async def read_response_body(
    method: str, head: Head, reader: asyncio.StreamReader
) -> tuple[bytes, bool]:
    """The response body, and whether it was delimited by the connection closing."""
    status = int(head.start_line[1])
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b"", False
    if head.is_chunked():
        return await read_chunked(reader), False
    length = head.content_length()
    if length is not None:
        return await reader.readexactly(length), False
    return await reader.read(), True


def _excerpt(body: bytes) -> str:
    text = body[:_EXCERPT].decode("utf-8", "replace")
    return text + f"... ({len(body)} bytes)" if len(body) > _EXCERPT else text


@dataclass
class Router:
    """Relays each request to moto or lambdad; see the module docstring."""

    moto: Address
    lambdad: Address
    reset_lambdad: ResetHook | None = None
    # Empty sends everything to moto: a baseline that checks the harness, not lambdad.
    lambdad_services: frozenset[str] = LAMBDAD_SERVICES
    exchanges: dict[str, list[Exchange]] = field(default_factory=dict)
    current_test: str = ""
    # Whether lambdad has served anything since it last started empty.
    lambdad_dirty: bool = False
    # Set when the router can no longer do its job (lambdad would not restart).
    failure: str | None = None

    async def handle_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one client connection, one request after another (keep-alive)."""
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ProtocolError, asyncio.IncompleteReadError, ConnectionError) as exc:
            log.debug("client connection dropped: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await read_head(reader)
        if head is None:
            return False
        method, target, version = head.start_line
        if head.has_token("expect", "100-continue"):
            # The client holds the body back until told to go on; upstream's own
            # interim answer is dropped below.
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        body = await read_request_body(head, reader)
        keep_alive = version == "HTTP/1.1" and not head.has_token("connection", "close")

        if urllib.parse.urlsplit(target).path == CONTROL_PATH:
            self.current_test = body.decode("utf-8", "replace")
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
            return keep_alive

        to_lambdad = wants_lambdad(head, self.lambdad_services)
        if to_lambdad:
            self.lambdad_dirty = True
        upstream = self.lambdad if to_lambdad else self.moto
        try:
            response, response_body, closed = await self._forward(upstream, head, body)
        except (OSError, ProtocolError, asyncio.IncompleteReadError) as exc:
            which = "lambdad" if to_lambdad else "moto_server"
            log.warning("%s %s: %s at %s:%d unreachable: %s", method, target, which, *upstream, exc)
            await self._bad_gateway(writer, f"{which} unreachable: {exc}")
            return False

        if to_lambdad:
            self._record(head, body, response, response_body)
        if method == "POST" and urllib.parse.urlsplit(target).path == "/moto-api/reset":
            try:
                await self._reset_lambdad()
            except Exception as exc:
                # The harness is broken from here on; run.py reports ``failure``.
                log.exception("restarting lambdad failed")
                self.failure = f"restarting lambdad failed: {exc}"
                await self._bad_gateway(writer, self.failure)
                return False
        writer.write(response.raw + response_body)
        await writer.drain()
        return keep_alive and not closed and not response.has_token("connection", "close")

    @staticmethod
    async def _bad_gateway(writer: asyncio.StreamWriter, reason: str) -> None:
        message = f"conformance router: {reason}".encode()
        writer.write(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(message)}\r\nConnection: close\r\n\r\n".encode()
            + message
        )
        await writer.drain()

    async def _forward(
        self, upstream: Address, head: Head, body: bytes
    ) -> tuple[Head, bytes, bool]:
        # A fresh upstream connection per request: nothing can go stale between
        # requests, and loopback connects cost microseconds.
        reader, writer = await asyncio.open_connection(*upstream, limit=_HEAD_LIMIT)
        try:
            writer.write(head.raw)
            writer.write(body)
            await writer.drain()
            while True:
                response = await read_head(reader)
                if response is None:
                    raise ProtocolError("upstream closed without answering")
                status = int(response.start_line[1])
                if not (100 <= status < 200) or status == 101:
                    break
            response_body, closed = await read_response_body(head.start_line[0], response, reader)
            return response, response_body, closed
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _reset_lambdad(self) -> None:
        if self.reset_lambdad is None or not self.lambdad_dirty:
            return
        self.lambdad = await self.reset_lambdad()
        self.lambdad_dirty = False

    def _record(self, head: Head, body: bytes, response: Head, response_body: bytes) -> None:
        content_type = head.header("content-type") or ""
        request = _excerpt(body) if "json" in content_type or not body else f"({len(body)} bytes)"
        exchange = Exchange(
            method=head.start_line[0],
            target=head.start_line[1],
            status=int(response.start_line[1]),
            request=request,
            response=_excerpt(response_body),
        )
        self.exchanges.setdefault(self.current_test, []).append(exchange)


class RouterThread:
    """A router serving on a loopback port from its own thread and event loop."""

    def __init__(self, router: Router, host: str = "127.0.0.1", port: int = 0) -> None:
        self.router = router
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="router", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        """Bind and begin serving; ``port`` is the bound port afterwards."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._bind(), self._loop)
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _bind(self) -> asyncio.Server:
        return await asyncio.start_server(
            self.router.handle_client, self.host, self.port, limit=_HEAD_LIMIT
        )

    def stop(self) -> None:
        """Stop serving and end the thread; idempotent."""
        if not self._thread.is_alive():
            return
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def _address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> None:
    """Run the router alone, for poking at by hand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--moto", required=True, type=_address, help="HOST:PORT of moto_server")
    parser.add_argument("--lambdad", required=True, type=_address, help="HOST:PORT of lambdad")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    router = Router(moto=args.moto, lambdad=args.lambdad)

    async def serve() -> None:
        server = await asyncio.start_server(
            router.handle_client, "127.0.0.1", args.port, limit=_HEAD_LIMIT
        )
        print(f"routing on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
