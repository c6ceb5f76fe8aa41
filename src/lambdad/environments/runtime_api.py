"""The Lambda Runtime API 2018-06-01, served to one execution environment.

Each environment has its own listening socket (made by its sandbox), so a runtime
can only ever see its own environment's events. The server is an
``asyncio.Protocol`` over a small HTTP/1.1 reader (``runtime_http``): keep-alive,
one request at a time per connection, and ``TCP_NODELAY`` — the hot path of every
invoke runs through here, so there is no framework and no thread hop. Every
response carries ``Content-Type`` (awslambdaric waits forever for one that lacks
it).

Everything a runtime sends is hostile input: what the reader cannot parse closes
the connection after a 400; the connections, the bytes read ahead and the parsing
work per loop turn are bounded here. A result over the size limit fails the
invocation with ``Function.ResponseSizeTooLarge``; the rest of its body is read
and dropped, and the environment serves on.

A response posted in streaming mode (``Lambda-Runtime-Function-Response-Mode:
streaming``, chunked) is not read whole: its environment is told as soon as its head
is in (``begin_stream``), each piece of its body goes on as it arrives, and its end,
with the error the runtime may report in the trailers ``Lambda-Runtime-Function-Error-Type``
and ``Lambda-Runtime-Function-Error-Body`` (base64), settles the invocation
(``end_stream``). A reader slower than the runtime stops the reading (``pressure``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from lambdad.environments.runtime_http import (
    MAX_HEADER,
    BadRequest,
    Request,
    RequestReader,
    Sink,
)

log = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime/"
# The container credentials endpoint of SnapStart environments (GET, with the token of
# AWS_CONTAINER_AUTHORIZATION_TOKEN as Authorization).
CREDENTIALS_PATH = "/2021-04-23/credentials"
# AWS's limit for a synchronous result, the number its error message names.
MAX_RESPONSE = 6 * 1024 * 1024 + 100
# Bodies of other requests (init and invocation errors) are bounded by the same limit.
MAX_BODY = MAX_RESPONSE
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


class NextInvocation(Protocol):
    request_id: str
    payload: bytes

    def runtime_headers(self) -> list[tuple[str, str]]: ...


class RuntimeApiHandler(Protocol):
    """What the Runtime API asks of its environment."""

    def next_invocation(self) -> asyncio.Future[Any]:
        """The next event (a ``NextInvocation``), once there is one: a future (done at
        once when an event is waiting). Cancelled when the runtime goes away."""
        ...

    def post_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]: ...
    def post_error(
        self, request_id: str, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]: ...
    def post_init_error(
        self, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]: ...
    def response_too_large(self, request_id: str) -> None: ...
    def begin_stream(
        self, request_id: str, content_type: str | None, pressure: Callable[[bool], None]
    ) -> tuple[Sink, int] | None:
        """A response is being streamed: where its bytes go, and how many it may send
        (None: not for the current invocation; it is then read whole and refused)."""
        ...

    def end_stream(
        self, request_id: str, error_type: str | None, error_body: str | None
    ) -> tuple[int, dict[str, str]]: ...

    def container_credentials(self, authorization: str | None) -> tuple[int, dict[str, str]]:
        """The role's credentials, for the token the environment was given."""
        ...


class ExtensionReply(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...


class ExtensionRoutes(Protocol):
    """The other APIs an environment serves on its Runtime API's socket (extensions,
    telemetry): ``extension_host.ExtensionsHost``."""

    def serves(self, path: str) -> bool: ...
    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Awaitable[ExtensionReply]: ...


def _error_body(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "errorMessage": message}


def _too_large_body() -> dict[str, str]:
    return _error_body(
        "RequestEntityTooLarge",
        f"Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
    )


class RuntimeApiProtocol(asyncio.Protocol):
    def __init__(
        self,
        handler: RuntimeApiHandler,
        connections: set[RuntimeApiProtocol],
        extensions: ExtensionRoutes | None = None,
    ) -> None:
        self.handler = handler
        self.extensions = extensions
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop  # set by connection_made
        self.reader = RequestReader(MAX_BODY, self._over_limit, self._stream_head)
        self.closed = False
        self.stream_paused = False  # a streamed response's reader is behind
        self.busy = False
        self.pending: asyncio.Task[None] | None = None  # an extension call answered
        # A GET /invocation/next waiting for its event (no task per invoke: a callback).
        self.waiting: asyncio.Future[Any] | None = None
        self.reading = True
        self.write_paused = False
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
            self.closed = True
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
        if self.waiting is not None:
            self.waiting.remove_done_callback(self._handed)
            self.waiting.cancel()
            self.waiting = None
        self.transport = None
        self.closed = True
        self.reader.clear()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.reader.feed(data)
        if not self.yielding:
            self._process()

    def _end_yield(self) -> None:
        self.yielding = False
        if not self.closed:
            self._process()

    def pause_writing(self) -> None:
        # The runtime does not read its answers: read nothing more from it either.
        self.write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._process()

    # -- reading -------------------------------------------------------------------------

    def _process(self) -> None:
        reader = self.reader
        reader.work = WORK_PER_TURN
        try:
            while not self.busy and not self.write_paused and not self.closed:
                request = reader.next_request()
                if request is None:
                    if reader.out_of_work:
                        # This turn's work is done: parsing goes on at the loop's next.
                        reader.out_of_work = False
                        if not self.yielding:
                            self.yielding = True
                            self.loop.call_soon(self._end_yield)
                    break
                self._dispatch(request)
                reader.work -= REQUEST_WORK
        except BadRequest as exc:
            self._close_with(exc.status, _error_body("InvalidRequest", exc.message))
            return
        except Exception:
            # A bug here must cost this connection only, never the transport's loop.
            log.exception("runtime API: failure serving a request")
            self._close_with(500, _error_body("ServiceException", "Internal error"))
            return
        reader.compact()
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        backlog = self.reader.backlog()
        wanted = not (
            self.write_paused
            or self.yielding
            or self.stream_paused
            or (self.busy and backlog > MAX_READ_AHEAD)
        )
        if wanted != self.reading:
            self.reading = wanted
            if wanted:
                transport.resume_reading()
            else:
                transport.pause_reading()

    def _over_limit(self, path: str) -> None:
        """A body passed MAX_BODY: a result's or error's invocation fails now, not when
        the runtime is done sending."""
        invocation = _invocation_of(path)
        if invocation is not None:
            self.handler.response_too_large(invocation)

    def _stream_head(self, request: Request) -> None:
        """A request with a body: a response posted in streaming mode is streamed on."""
        mode = request.headers.get("lambda-runtime-function-response-mode")
        if mode is None or mode.lower() != "streaming" or request.method != "POST":
            return
        invocation = _invocation_of(request.path)
        if invocation is None or not request.path.endswith("/response"):
            return
        begun = self.handler.begin_stream(
            invocation, request.headers.get("content-type"), self._stream_pressure
        )
        if begun is not None:
            request.sink, request.limit = begun

    def _stream_pressure(self, paused: bool) -> None:
        self.stream_paused = paused
        self._update_reading()

    # -- requests ----------------------------------------------------------------------------

    def _close_with(self, status: int, body: dict[str, str]) -> None:
        self._write(status, body, {})
        self.closed = True
        self.reader.clear()
        if self.transport is not None:
            self.transport.close()

    def _dispatch(self, request: Request) -> None:
        method, path, headers = request.method, request.path, request.headers
        if path == CREDENTIALS_PATH and method == "GET":
            status, out = self.handler.container_credentials(headers.get("authorization"))
            self._write(status, out, {})
            return
        if not path.startswith(PREFIX):
            if self.extensions is not None and self.extensions.serves(path):
                if request.over:
                    self._write(413, _too_large_body(), {})
                    return
                self.busy = True
                self.pending = self.loop.create_task(self._extension_call(request))
                return
            self._write(404, _error_body("NotFound", f"{path[:200]} not found"), {})
            return
        parts = path[len(PREFIX) :].split("/")
        h = self.handler
        if parts == ["invocation", "next"]:
            if method != "GET":
                self._write(405, _error_body("MethodNotAllowed", "Use GET"), {})
                return
            self._long_poll()
            return
        if method != "POST":
            self._write(405, _error_body("MethodNotAllowed", "Use POST"), {})
            return
        if request.over:
            # The invocation already failed with Function.ResponseSizeTooLarge.
            self._write(413, _too_large_body(), {})
            return
        if request.sink is not None:
            trailers = request.trailers
            status, out = h.end_stream(
                parts[1],
                trailers.get("lambda-runtime-function-error-type"),
                trailers.get("lambda-runtime-function-error-body"),
            )
            request.sink = None
            self._write(status, out, {})
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
            if self.reader.head_waiting():
                self.held += _ACCEPTED
            else:
                self.transport.write(self.held + _ACCEPTED)
                self.held = b""
        else:
            self._write(status, out, {})

    def _long_poll(self) -> None:
        try:
            waiting = self.handler.next_invocation()
        except Exception as exc:  # the environment is going away
            self._stopping(exc)
            return
        if waiting.done():
            # An event was waiting: answered now (the reading loop this runs in goes on).
            self._hand_over(waiting)
            return
        self.busy = True
        self.waiting = waiting
        waiting.add_done_callback(self._handed)

    def _handed(self, waiting: asyncio.Future[Any]) -> None:
        self.waiting = None
        if self._hand_over(waiting):
            self.busy = False
            self._process()

    def _hand_over(self, waiting: asyncio.Future[Any]) -> bool:
        """Answer the GET with the event; False when there is none to give (the
        environment is stopping: cancelled, the runtime is left waiting)."""
        if waiting.cancelled() or self.closed:
            return False
        exc = waiting.exception()
        if exc is not None:
            self._stopping(exc)
            return False
        inv: NextInvocation = waiting.result()
        self._write_raw(200, inv.payload, inv.runtime_headers())
        return True

    def _stopping(self, exc: BaseException) -> None:
        log.debug("next invocation failed: %s", exc)
        self._close_with(500, _error_body("ServiceException", "environment stopping"))

    async def _extension_call(self, request: Request) -> None:
        assert self.extensions is not None
        try:
            reply = await self.extensions.handle(
                request.method, request.path, request.headers, bytes(request.body)
            )
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("runtime API: failure serving an extension request")
            self._close_with(500, _error_body("ServiceException", "Internal error"))
            return
        self._write_raw(reply.status, reply.body, list(reply.headers))
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


async def serve(
    sock: socket.socket, handler: RuntimeApiHandler, extensions: ExtensionRoutes | None = None
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    connections: set[RuntimeApiProtocol] = set()
    return await loop.create_server(
        lambda: RuntimeApiProtocol(handler, connections, extensions), sock=sock
    )
