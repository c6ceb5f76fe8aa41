"""The Lambda Runtime API 2018-06-01, served to one execution environment.

Each environment has its own listening socket (made by its sandbox), so a runtime
can only ever see its own environment's events. The server is an
``asyncio.Protocol`` with a small HTTP/1.1 parser: keep-alive, Content-Length and
chunked bodies, one request at a time per connection, and ``TCP_NODELAY`` — the
hot path of every invoke runs through here, so there is no framework and no
thread hop. Every response carries ``Content-Type`` (awslambdaric waits forever
for one that lacks it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from typing import Protocol, cast

log = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime/"
MAX_RESPONSE = 6 * 1024 * 1024
MAX_HEADER = 64 * 1024
# Bodies larger than this are never accepted (the response limit plus headroom).
MAX_BODY = MAX_RESPONSE + 1024 * 1024

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}
_STATUS_LINES = {code: f"HTTP/1.1 {code} {reason}\r\n" for code, reason in _REASONS.items()}
# The answer to every result a runtime posts, ready made: exactly what _write sends.
_OK = {"status": "OK"}
_ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    b'{"status": "OK"}'
)


class NextInvocation(Protocol):
    request_id: str
    payload: bytes

    def runtime_headers(self) -> list[tuple[str, str]]: ...


class RuntimeApiHandler(Protocol):
    """What the Runtime API asks of its environment."""

    async def next_invocation(self) -> NextInvocation: ...
    def post_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]: ...
    def post_error(
        self, request_id: str, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]: ...
    def post_init_error(
        self, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]: ...
    def response_too_large(self, request_id: str) -> None: ...


def _status_body(status: str) -> dict[str, str]:
    return {"status": status}


def _error_body(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "errorMessage": message}


class RuntimeApiProtocol(asyncio.Protocol):
    def __init__(self, handler: RuntimeApiHandler) -> None:
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop  # set by connection_made
        self.buffer = bytearray()
        self.busy = False
        self.pending: asyncio.Task[None] | None = None
        # The 202 to a posted result, held back while the runtime's next request is
        # already here (it pipelined it): it goes out with the next answer, in one write.
        self.held = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not asyncio.Transport subclasses).
        self.transport = cast(asyncio.Transport, transport)
        # Kept: asyncio.get_running_loop() makes a getpid() system call each time (3.11).
        self.loop = asyncio.get_running_loop()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pending is not None:
            self.pending.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.buffer:
            self.buffer += data
        else:
            # The common case: one whole request per read, parsed without a copy.
            self.buffer = bytearray(data)
        if len(self.buffer) > MAX_BODY + MAX_HEADER:
            self._close_with(413, _error_body("RequestEntityTooLarge", "Request too large"))
            return
        self._process()

    def _close_with(self, status: int, body: dict[str, str]) -> None:
        self._write(status, body, {})
        if self.transport is not None:
            self.transport.close()

    def _process(self) -> None:
        while not self.busy and self.transport is not None and self.buffer:
            request = self._parse()
            if request is None:
                return
            method, path, headers, body = request
            self._dispatch(method, path, headers, body)

    def _parse(self) -> tuple[str, str, dict[str, str], bytes] | None:
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEADER:
                self._close_with(400, _error_body("InvalidRequest", "Header too large"))
            return None
        lines = buf[:end].decode("latin-1").split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            self._close_with(400, _error_body("InvalidRequest", "Malformed request line"))
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "transfer-encoding" in headers and headers["transfer-encoding"].lower() == "chunked":
            parsed = _dechunk(buf, start)
            if parsed is None:
                return None
            body, consumed = parsed
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._close_with(400, _error_body("InvalidRequest", "Bad Content-Length"))
                return None
            if length > MAX_BODY:
                self._close_with(413, _error_body("RequestEntityTooLarge", "Request too large"))
                return None
            consumed = start + length
            if len(buf) < consumed:
                return None
            body = bytes(buf[start:consumed])
        if consumed == len(buf):
            self.buffer = bytearray()
        else:
            del buf[:consumed]
        if "?" in target:
            target = target.split("?", 1)[0]
        return method, target, headers, body

    def _dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        if not path.startswith(PREFIX):
            self._write(404, _error_body("NotFound", f"{path} not found"), {})
            return
        parts = path[len(PREFIX) :].split("/")
        h = self.handler
        if parts == ["invocation", "next"]:
            if method != "GET":
                self._write(405, _error_body("MethodNotAllowed", "Use GET"), {})
                return
            self.busy = True
            self.pending = self.loop.create_task(self._long_poll())
            return
        if method != "POST":
            self._write(405, _error_body("MethodNotAllowed", "Use POST"), {})
            return
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
            if len(body) > MAX_RESPONSE:
                h.response_too_large(parts[1])
                self._write(
                    413,
                    _error_body(
                        "Function.ResponseSizeTooLarge",
                        "Response payload size exceeded maximum allowed payload size "
                        f"({MAX_RESPONSE} bytes).",
                    ),
                    {},
                )
                return
            status, out = h.post_response(parts[1], body)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "error":
            error_type = headers.get("lambda-runtime-function-error-type")
            status, out = h.post_error(parts[1], error_type, body)
        elif parts == ["init", "error"]:
            error_type = headers.get("lambda-runtime-function-error-type")
            status, out = h.post_init_error(error_type, body)
        else:
            self._write(404, _error_body("NotFound", f"{path} not found"), {})
            return
        if status == 202 and out == _OK and self.transport is not None:
            if self.buffer.find(b"\r\n\r\n") >= 0:
                self.held += _ACCEPTED
            else:
                self.transport.write(self.held + _ACCEPTED)
                self.held = b""
        else:
            self._write(status, out, {})

    async def _long_poll(self) -> None:
        try:
            inv = await self.handler.next_invocation()
        except asyncio.CancelledError:
            return
        except Exception as exc:  # the environment is going away
            log.debug("next invocation failed: %s", exc)
            self._close_with(500, _error_body("ServiceException", "environment stopping"))
            return
        self._write_raw(200, inv.payload, inv.runtime_headers())
        self.busy = False
        self.pending = None
        self._process()

    def _write(self, status: int, body: dict[str, str], headers: dict[str, str]) -> None:
        self._write_raw(status, json.dumps(body).encode(), list(headers.items()))

    def _write_raw(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        if self.transport is None:
            return
        head = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n"
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        for k, v in headers:
            head += f"{k}: {v}\r\n"
        # One write: a response split over two segments costs the runtime a second read.
        data = (head + "\r\n").encode("latin-1") + body
        if self.held:
            data, self.held = self.held + data, b""
        self.transport.write(data)


def _dechunk(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    """(body, bytes consumed) of a complete chunked body at ``start``, else None."""
    out = bytearray()
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";")[0] or b"0", 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            return bytes(out), end + 2
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        pos += size + 2


async def serve(sock: socket.socket, handler: RuntimeApiHandler) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: RuntimeApiProtocol(handler), sock=sock)
