"""The Lambda Runtime API 2018-06-01, served to one execution environment.

Each environment has its own listening socket (made by its sandbox), so a runtime
can only ever see its own environment's events. The server is an
``asyncio.Protocol`` with a small HTTP/1.1 parser: keep-alive, Content-Length and
chunked bodies, one request at a time per connection, and ``TCP_NODELAY`` — the
hot path of every invoke runs through here, so there is no framework and no
thread hop. Every response carries ``Content-Type`` (awslambdaric waits forever
for one that lacks it).

Everything a runtime sends is hostile input: the parser is incremental (each byte
is looked at a bounded number of times, however the request is split or chunked),
a body is bounded while it arrives, not after, and anything it cannot parse closes
the connection after a 400 (no guessing, so no desynchronised stream). A result
over the size limit fails the invocation with ``Function.ResponseSizeTooLarge``;
the rest of its body is read and dropped, and the environment serves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from typing import Protocol, cast

log = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime/"
# AWS's limit for a synchronous result, the number its error message names.
MAX_RESPONSE = 6 * 1024 * 1024 + 100
MAX_HEADER = 64 * 1024
# Bodies of other requests (init and invocation errors) are bounded by the same limit.
MAX_BODY = MAX_RESPONSE
# One chunk-size line (hex digits and any extensions) or trailer line, at most.
MAX_CHUNK_LINE = 1024
# Bytes read ahead while a request waits for its answer (a pipelined next request
# fits; more waits in the socket).
MAX_READ_AHEAD = MAX_HEADER
# Parsing work done for one connection before the event loop takes a turn (a chunk
# costs 1, a request REQUEST_WORK): the loop reads a busy socket many times per turn,
# and a runtime flooding its Runtime API with tiny chunks or requests would otherwise
# hold it for hundreds of milliseconds at a time. 4096 chunks are a few milliseconds.
WORK_PER_TURN = 4096
REQUEST_WORK = 16
# Connections one environment may hold open to its Runtime API at once.
MAX_CONNECTIONS = 16

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}
_STATUS_LINES = {code: f"HTTP/1.1 {code} {reason}\r\n" for code, reason in _REASONS.items()}
# The answer to every result a runtime posts, ready made: exactly what _write sends.
_OK = {"status": "OK"}
_ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    b'{"status": "OK"}'
)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?")
# Whitespace before a header's colon, or a line folded onto the one before: refused
# (RFC 9112), so that no header is read otherwise than its sender meant.
_MALFORMED_HEAD = (" :", "\t:", "\n ", "\n\t")

# Where the parser is in the request it reads.
_HEAD, _BODY, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _CLOSED = range(7)


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


def _error_body(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "errorMessage": message}


def _too_large_body() -> dict[str, str]:
    return _error_body(
        "RequestEntityTooLarge",
        f"Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
    )


class BadRequest(Exception):
    """What the runtime sent is not HTTP/1.1 this server reads: answered, then closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Request:
    __slots__ = ("body", "headers", "method", "over", "path", "received")

    def __init__(self, method: str, path: str, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body: bytes | bytearray = b""
        self.received = 0  # body bytes so far, kept or not
        self.over = False  # the body passed MAX_BODY: counted and dropped, not kept


class RuntimeApiProtocol(asyncio.Protocol):
    def __init__(self, handler: RuntimeApiHandler, connections: set[RuntimeApiProtocol]) -> None:
        self.handler = handler
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop  # set by connection_made
        # Unparsed input is buffer[pos:]; the head's end is searched from `scanned` on.
        self.buffer: bytes | bytearray = b""
        self.pos = 0
        self.scanned = 0
        self.state = _HEAD
        self.request: _Request | None = None
        self.remaining = 0  # bytes left of the body (Content-Length) or of the chunk
        self.busy = False
        self.pending: asyncio.Task[None] | None = None
        self.reading = True
        self.write_paused = False
        self.work = 0  # what is left of this turn's WORK_PER_TURN
        self.yielding = False  # parsing and reading stopped until the loop's next turn
        # The 202 to a posted result, held back while the runtime's next request is
        # already here (it pipelined it): it goes out with the next answer, in one write.
        self.held = b""

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not asyncio.Transport subclasses).
        self.transport = cast(asyncio.Transport, transport)
        # Kept: asyncio.get_running_loop() makes a getpid() system call each time (3.11).
        self.loop = asyncio.get_running_loop()
        if len(self.connections) >= MAX_CONNECTIONS:
            log.debug("runtime API: over %d connections, one refused", MAX_CONNECTIONS)
            self.state = _CLOSED
            transport.close()
            return
        self.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self.pending is not None:
            self.pending.cancel()
        self.transport = None
        self.state = _CLOSED
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        if self.state == _CLOSED:
            return
        if self.pos >= len(self.buffer):
            # The common case: one whole request per read, parsed without a copy.
            self.buffer, self.pos, self.scanned = data, 0, 0
        else:
            if not isinstance(self.buffer, bytearray):
                self.buffer = bytearray(self.buffer)
            self.buffer += data
        if not self.yielding:
            self._process()

    def _out_of_work(self) -> bool:
        """True once this turn's work is done: parsing goes on at the loop's next turn."""
        if self.work > 0:
            return False
        if not self.yielding:
            self.yielding = True
            self.loop.call_soon(self._end_yield)
        return True

    def _end_yield(self) -> None:
        self.yielding = False
        if self.state != _CLOSED:
            self._process()

    def pause_writing(self) -> None:
        # The runtime does not read its answers: read nothing more from it either.
        self.write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._process()

    # -- parsing -------------------------------------------------------------------------

    def _process(self) -> None:
        self.work = WORK_PER_TURN
        try:
            while not self.busy and not self.write_paused and self.state != _CLOSED:
                request = self._parse()
                if request is None:
                    break
                self._dispatch(request)
                self.work -= REQUEST_WORK
        except BadRequest as exc:
            self._close_with(exc.status, _error_body("InvalidRequest", exc.message))
            return
        except Exception:
            # A bug here must cost this connection only, never the transport's loop.
            log.exception("runtime API: failure serving a request")
            self._close_with(500, _error_body("ServiceException", "Internal error"))
            return
        self._compact()
        self._update_reading()

    def _compact(self) -> None:
        """Drop what was parsed: once per read, never once per request or chunk."""
        if self.pos == 0:
            return
        if self.pos >= len(self.buffer):
            self.buffer = b""
        else:
            self.buffer = bytearray(memoryview(self.buffer)[self.pos :])
        self.scanned = max(0, self.scanned - self.pos)
        self.pos = 0

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.state == _CLOSED:
            return
        backlog = len(self.buffer) - self.pos
        wanted = not (
            self.write_paused or self.yielding or (self.busy and backlog > MAX_READ_AHEAD)
        )
        if wanted != self.reading:
            self.reading = wanted
            if wanted:
                transport.resume_reading()
            else:
                transport.pause_reading()

    def _parse(self) -> _Request | None:
        """The next complete request, or None until more bytes arrive."""
        buf = self.buffer
        while True:
            state = self.state
            if state == _HEAD and self.pos >= len(buf):
                return None  # nothing more sent: the common case after a request
            if state in (_HEAD, _CHUNK_LINE) and self._out_of_work():
                return None
            if state == _HEAD:
                if not self._parse_head(buf):
                    return None
            elif state == _BODY:
                if not self._take(buf):
                    return None
                return self._complete()
            elif state == _CHUNK_LINE:
                self._whole_chunks(buf)
                line = self._line(buf)
                if line is None:
                    return None
                self.work -= 1
                match = _CHUNK_SIZE.fullmatch(line)
                if match is None:
                    raise BadRequest(400, "Malformed chunk size")
                size = int(match.group(1), 16)
                if size == 0:
                    self.state = _TRAILER
                else:
                    self._count(size)
                    self.remaining = size
                    self.state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if not self._take(buf):
                    return None
                self.state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) - self.pos < 2:
                    return None
                if buf[self.pos : self.pos + 2] != b"\r\n":
                    raise BadRequest(400, "Malformed chunked body")
                self.pos += 2
                self.state = _CHUNK_LINE
            elif state == _TRAILER:
                line = self._line(buf)
                if line is None:
                    return None
                if not line:
                    return self._complete()
            else:
                return None

    def _whole_chunks(self, buf: bytes | bytearray) -> None:
        """Consume every complete data chunk at ``pos`` in one tight loop (the state
        machine takes over at a partial or last chunk): a runtime may send a body in
        as many one-byte chunks as it likes, each costs the same few steps."""
        request = self.request
        assert request is not None
        pos, end_of_data = self.pos, len(buf)
        find, match, startswith = buf.find, _CHUNK_SIZE.fullmatch, buf.startswith
        view = memoryview(buf)
        kept = request.body if isinstance(request.body, bytearray) else bytearray(request.body)
        received, over, work = request.received, request.over, self.work
        try:
            while work > 0:
                eol = find(b"\r\n", pos, pos + MAX_CHUNK_LINE + 2)
                if eol < 0:
                    break
                size_match = match(buf, pos, eol)
                if size_match is None:
                    break  # the state machine reports it
                size = int(size_match.group(1), 16)
                data_end = eol + 2 + size
                if size == 0 or data_end + 2 > end_of_data:
                    break
                if received + size > MAX_BODY >= received:  # _count fails the invocation
                    break
                if not startswith(b"\r\n", data_end):
                    break
                if not over:
                    kept += view[eol + 2 : data_end]
                received += size
                pos = data_end + 2
                work -= 1
        finally:
            view.release()
        request.body, request.received, self.pos, self.work = kept, received, pos, work

    def _line(self, buf: bytes | bytearray) -> bytes | None:
        # Searched within one line's bound: a runtime that never ends a line costs a
        # bounded search per read, and a 400 once it passes the bound.
        pos = self.pos
        eol = buf.find(b"\r\n", pos, pos + MAX_CHUNK_LINE + 2)
        if eol < 0:
            if len(buf) - pos > MAX_CHUNK_LINE:
                raise BadRequest(400, "Chunk line too long")
            return None
        self.pos = eol + 2
        return bytes(buf[pos:eol])

    def _take(self, buf: bytes | bytearray) -> bool:
        """Move up to ``remaining`` body bytes out of the buffer; True once all arrived."""
        request = self.request
        assert request is not None
        n = min(self.remaining, len(buf) - self.pos)
        if n and not request.over:
            if not request.body and n == self.remaining and self.state == _BODY:
                request.body = buf[self.pos : self.pos + n]  # the whole body at once
            else:
                if not isinstance(request.body, bytearray):
                    request.body = bytearray(request.body)
                request.body += memoryview(buf)[self.pos : self.pos + n]
        self.pos += n
        self.remaining -= n
        return self.remaining == 0

    def _count(self, size: int) -> None:
        """Account for ``size`` more body bytes: past the limit, the body is dropped
        and the invocation fails now (not when the runtime is done sending)."""
        request = self.request
        assert request is not None
        request.received += size
        if request.received > MAX_BODY and not request.over:
            request.over = True
            request.body = b""
            invocation = _invocation_of(request.path)
            if invocation is not None:
                self.handler.response_too_large(invocation)

    def _parse_head(self, buf: bytes | bytearray) -> bool:
        end = buf.find(b"\r\n\r\n", max(self.pos, self.scanned))
        if end < 0 or end - self.pos > MAX_HEADER:
            if len(buf) - self.pos > MAX_HEADER:
                raise BadRequest(431, "Request header too large")
            # Next time the search starts where this one stopped (less a partial match).
            self.scanned = max(self.pos, len(buf) - 3)
            return False
        head = bytes(buf[self.pos : end]).decode("latin-1")
        self.pos = end + 4
        self.scanned = self.pos
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        method = parts[0]
        if len(parts) != 3 or not (method.isalpha() and method.isascii()):
            raise BadRequest(400, "Malformed request line")
        if not parts[2].startswith("HTTP/1."):
            raise BadRequest(400, "Malformed request line")
        if any(bad in head for bad in _MALFORMED_HEAD):
            raise BadRequest(400, "Malformed header")
        target = parts[1]
        headers: dict[str, str] = {}
        lengths: set[str] = set()
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name:
                raise BadRequest(400, "Malformed header")
            key = name.lower()
            value = value.strip(" \t")
            if key == "content-length":
                lengths.add(value)
            headers[key] = value
        request = _Request(method, target.split("?", 1)[0], headers)
        self.request = request
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if lengths:
                raise BadRequest(400, "Both Content-Length and Transfer-Encoding")
            if encoding.lower() != "chunked":
                raise BadRequest(501, "Unsupported Transfer-Encoding")
            self.state = _CHUNK_LINE
            return True
        if not lengths:
            length = 0
        elif len(lengths) == 1 and (value := lengths.pop()).isdigit() and value.isascii():
            if len(value) > 15:
                raise BadRequest(413, "Request too large")
            length = int(value)
        else:
            raise BadRequest(400, "Bad Content-Length")
        self._count(length)
        self.remaining = length
        self.state = _BODY
        return True

    def _complete(self) -> _Request:
        request = self.request
        assert request is not None
        self.request = None
        self.state = _HEAD
        return request

    # -- requests ----------------------------------------------------------------------------

    def _close_with(self, status: int, body: dict[str, str]) -> None:
        self._write(status, body, {})
        self.state = _CLOSED
        self.buffer, self.pos = b"", 0
        if self.transport is not None:
            self.transport.close()

    def _dispatch(self, request: _Request) -> None:
        method, path, headers = request.method, request.path, request.headers
        if not path.startswith(PREFIX):
            self._write(404, _error_body("NotFound", f"{path[:200]} not found"), {})
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
        if request.over:
            # The invocation already failed with Function.ResponseSizeTooLarge.
            self._write(413, _too_large_body(), {})
            return
        body = bytes(request.body)
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
            status, out = h.post_response(parts[1], body)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "error":
            error_type = headers.get("lambda-runtime-function-error-type")
            status, out = h.post_error(parts[1], error_type, body)
        elif parts == ["init", "error"]:
            error_type = headers.get("lambda-runtime-function-error-type")
            status, out = h.post_init_error(error_type, body)
        else:
            self._write(404, _error_body("NotFound", f"{path[:200]} not found"), {})
            return
        if status == 202 and out == _OK and self.transport is not None:
            if self.buffer.find(b"\r\n\r\n", self.pos, self.pos + MAX_HEADER) >= 0:
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


def _invocation_of(path: str) -> str | None:
    """The request id a result or error is posted for (None: another path)."""
    if not path.startswith(PREFIX):
        return None
    parts = path[len(PREFIX) :].split("/")
    if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
        return parts[1]
    return None


async def serve(sock: socket.socket, handler: RuntimeApiHandler) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    connections: set[RuntimeApiProtocol] = set()
    return await loop.create_server(lambda: RuntimeApiProtocol(handler, connections), sock=sock)
