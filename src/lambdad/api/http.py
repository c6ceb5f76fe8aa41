"""HTTP/1.1 on the API port: the connection protocol uvicorn runs for lambdad.

uvicorn keeps what it is good at (the listening socket, signals, lifespan, graceful
shutdown, the ``Date`` header); this protocol replaces its generic ASGI cycle, which
costs more per request than a warm invoke spends anywhere else. It parses with
httptools, hands each complete request to ``App.respond`` (no ASGI messages in
between) and writes each response with one ``write`` (its bytes: ``http_response``).

Per connection: keep-alive (idle connections close after ``timeout_keep_alive``),
pipelined requests answered in order (a streamed body, ``api/http_stream.py``, as it
is produced), ``Expect: 100-continue``, bodies bounded by
``MAX_BODY`` (a larger one is answered with AWS's error and the connection closed),
and flow control on the write side (a reader slower than a 50 MB code download).

What an unauthenticated client can make the port hold is bounded by ``api/limits.py``
(enforced here), and a large body's signature is checked from its head (``Gate``)
before any of the body is read, which is then bounded by its operation's limit rather
than the largest any operation takes; what they hold is budgeted (``api/body_budget.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, Protocol, cast

import httptools

from lambdad.api.body_budget import THROTTLED, BodyBudget
from lambdad.api.http_request import Request
from lambdad.api.http_response import (
    BAD_REQUEST,
    CONTINUE,
    SERVER_ERROR,
    DateLine,
    Response,
    encode,
)
from lambdad.api.http_stream import send_streamed
from lambdad.api.http_upgrade import claim, keep_rest, upgrade
from lambdad.api.limits import (
    BUSY,
    HEAD_TOO_LARGE,
    TIMEOUT,
    TOO_MANY_HEADERS,
    ConnectionCount,
    Limits,
)
from lambdad.model import peer
from lambdad.model.front_door import BodyLimit
from lambdad.model.streamed_body import StreamedBody
from lambdad.model.upgrade import Upgrader

log = logging.getLogger(__name__)

# (method, raw path, raw query string, (lower-case name, value) pairs, body) -> response
Responder = Callable[[str, str, str, list[tuple[str, str]], bytes], Awaitable[Response]]
# The answer to a request whose declared or actual body exceeds the limit, by its headers
Refusal = Callable[[list[tuple[str, str]]], Response]
# Called with (method, raw path, raw query string, headers) once the head of a request
# with a large or chunked body is in, before any of the body is read: the answer that
# refuses it now (it cannot authenticate), or the most body its operation takes.
Gate = Callable[[str, str, str, list[tuple[str, str]]], "Response | int | BodyLimit"]

# Pipelined requests queued beyond this stop the reading until the queue drains.
MAX_QUEUED = 16
# How long the rest of a refused request's body is read and dropped before the
# connection closes anyway.
LINGER_SECONDS = 5.0
# A body at most this large is read before its signature is checked (as every small
# request is: one verification, after the body); a larger one goes through the Gate.
EARLY_CHECK = 64 * 1024


class _Refused(Exception):
    """Raised from a parser callback: the request head broke a limit (its answer set)."""


class ServerState(Protocol):
    """What uvicorn shares with every connection (``uvicorn.server.ServerState``)."""

    total_requests: int
    connections: set[Any]
    tasks: set[asyncio.Task[None]]
    default_headers: list[tuple[bytes, bytes]]


class HttpProtocol(asyncio.Protocol):
    """One client connection. Built by uvicorn with its ``config`` and ``server_state``;
    ``respond`` and ``refuse`` come from ``protocol_for``."""

    def __init__(
        self,
        respond: Responder,
        refuse: Refusal,
        max_body: int,
        *,
        config: Any,
        server_state: ServerState,
        app_state: Any = None,
        gate: Gate | None = None,
        limits: Limits | None = None,
        connections: ConnectionCount | None = None,
        budget: BodyBudget | None = None,
        throttle: Refusal | None = None,
        upgrader: Upgrader | None = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.respond = respond
        self.refuse = refuse
        self.max_body = max_body
        self.gate = gate
        self.limits = limits or Limits()
        self.connections = connections or ConnectionCount(self.limits)
        self.budget = budget or BodyBudget(self.limits)
        self.throttle = throttle or (lambda headers: THROTTLED)
        self.upgrader = upgrader
        self.client: str | None = None  # the address counted in `connections`
        self.peer = ""  # the client's address, as the budget counts it
        self.loop = _loop or asyncio.get_event_loop()
        self.state = server_state
        self.keep_alive_timeout = float(config.timeout_keep_alive)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Request] = deque()
        self.last: Request | None = None  # the request parsed last
        self.request = Request(max_body)
        self.body_size = 0
        # Reading a request head (from its first byte, or awaiting one): its bytes so
        # far, its header fields so far, and when it must be complete.
        self.in_head = True
        self.head_bytes = 0
        self.header_count = 0
        self.failure = b""  # the answer of a _Refused head
        # Reading a body: when it began (its deadline grows with what arrives).
        self.body_started: float | None = None
        self.read_deadline: float | None = None
        self.read_timer: asyncio.TimerHandle | None = None
        self.linger_timer: asyncio.TimerHandle | None = None
        self.busy = False
        self.task: asyncio.Task[None] | None = None
        self.closing = False
        self.reading_paused = False
        self.writable: asyncio.Future[None] | None = None
        self.idle_since: float | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.date_line = DateLine()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not asyncio.Transport subclasses).
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
        if not self.connections.admit(client):
            log.warning("connection from %s refused: over the connection limit", client)
            self.transport.write(BUSY)
            self.transport.close()
            self.transport = None
            return
        self.client = self.peer = client
        self.state.connections.add(self)
        self._become_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client is not None:
            self.connections.release(self.client)
            self.client = None
        self.state.connections.discard(self)
        self.transport = None
        for req in (*self.queue, *(() if self.request.queued else (self.request,))):
            self._release(req)  # bodies held; the one being answered ends on its own
        self.queue.clear()
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self.read_timer is not None:
            self.read_timer.cancel()
            self.read_timer = None
        if self.linger_timer is not None:
            self.linger_timer.cancel()
            self.linger_timer = None
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        # A request in flight runs to its end (an invocation is not abandoned half
        # way); its answer has nowhere to go and is dropped.

    def data_received(self, data: bytes) -> None:
        self.idle_since = None
        try:
            self._feed(data)
        except httptools.HttpParserUpgrade:
            # Unclaimed (http_upgrade.py), answered as plain HTTP/1.1 as uvicorn does. The
            # parser drops what followed, so nothing more is read on this connection: it
            # closes after that answer (a later request would get the wrong one).
            if self.last is not None:
                self.last.keep_alive = False
            if self.transport is not None:
                self.reading_paused = True
                self.transport.pause_reading()
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Refused) and self.failure:
                self._fail(self.failure)
            else:
                self._fail()
        except _Refused:
            self._fail(self.failure)

    def _feed(self, data: bytes) -> None:
        """Feed the parser, never more than the head limit while a head is incomplete
        (the parser itself buffers a header field until it ends)."""
        limit = self.limits.max_head_bytes
        while data and self.transport is not None:
            if not self.in_head:
                self.parser.feed_data(data)  # an upgrade's head is never split here
                return
            room = limit - self.head_bytes
            if room <= 0:
                self._refuse_head(HEAD_TOO_LARGE)
            piece, data = data[:room], data[room:]
            # Counted before feeding: the parser's callbacks reset it when the head ends.
            self.head_bytes += len(piece)
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade as exc:
                keep_rest(self.last, exc, piece + data)
                raise

    def eof_received(self) -> bool | None:
        return None

    def pause_writing(self) -> None:
        if self.writable is None or self.writable.done():
            self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    # -- uvicorn ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Graceful shutdown: close now if idle, else after the answer in flight."""
        self.closing = True
        if not self.busy and self.transport is not None:
            self.transport.close()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.request = Request(self.max_body)
        self.body_size = 0
        self.header_count = 0
        self._read_by(self.loop.time() + self.limits.head_timeout)

    def on_url(self, url: bytes) -> None:
        self.request.url += url
        longest = self.limits.max_line_bytes
        if longest is not None and len(self.request.url) > longest:
            self._refuse_head(HEAD_TOO_LARGE)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.limits.max_headers:
            self._refuse_head(TOO_MANY_HEADERS)
        longest = self.limits.max_line_bytes
        if longest is not None and len(name) + len(value) > longest:
            self._refuse_head(HEAD_TOO_LARGE)
        raw = name.decode("latin-1")
        key = raw.lower()
        self.request.headers.append((key, value.decode("latin-1")))
        self.request.names.append(raw)
        if key == "expect" and value.lower() == b"100-continue":
            self.request.expect_continue = True

    def on_headers_complete(self) -> None:
        req = self.request
        self.in_head = False
        self.head_bytes = 0
        now = self.loop.time()
        self.body_started = now
        self._read_by(now + self.limits.body_timeout)
        req.upgrade = claim(self.upgrader, req, self.parser)
        if self.parser.get_method() == b"CONNECT":
            # No tunnels here; the parser reads nothing after one (as after an Upgrade).
            req.refusal = (405, [(b"allow", b"GET, HEAD, POST, PUT, DELETE, PATCH")], b"")
            self._refuse(req)
            return
        declared = None
        chunked = False
        for key, value in req.headers:
            if key == "content-length":
                # The parser has refused any that is not digits; a huge one is too large.
                digits = value.strip()
                fits = digits.isdigit() and len(digits) <= 18
                declared = int(digits) if fits else self.max_body + 1
            elif key == "transfer-encoding":
                chunked = True
        if self.gate is not None and (chunked or (declared or 0) > EARLY_CHECK):
            url = req.url
            path, _, query = url.partition(b"?") if url[:1] == b"/" else (b"", b"", b"")
            verdict = self.gate(
                self.parser.get_method().decode("ascii", "replace"),
                path.split(b"#", 1)[0].decode("latin-1"),
                query.split(b"#", 1)[0].decode("latin-1"),
                req.headers,
            )
            if isinstance(verdict, BodyLimit):
                req.over, verdict = verdict.over, verdict.most
            if not isinstance(verdict, int):
                req.refusal = verdict
                req.linger = True
                self._refuse(req)
                return
            req.limit = min(verdict, self.max_body)
            req.budgeted = True
        if declared is not None and declared > req.limit:
            req.too_large = True
            req.linger = True
            self._refuse(req)
            return
        if req.budgeted and (declared or 0) > self.budget.room(self.peer):
            self._throttle(req)
            return
        if req.expect_continue and not self.busy and not self.queue:
            # Only now may the client send the body; any later and it would wait forever.
            req.expect_continue = False
            self._write(CONTINUE)

    def on_body(self, body: bytes) -> None:
        req = self.request
        if req.too_large or req.refusal is not None:
            return
        self.body_size += len(body)
        if self.body_size > req.limit:
            req.too_large = True
            req.linger = True
            self._release(req)
            self._refuse(req)
        elif req.budgeted and not self.budget.take(self.peer, len(body)):
            self._throttle(req)
        else:
            req.held += len(body) if req.budgeted else 0
            req.body.append(body)

    def on_message_complete(self) -> None:
        self.in_head = True
        self.head_bytes = 0
        self.body_started = None
        self.read_deadline = None
        req = self.request
        req.complete = True
        if req.queued:
            if req.linger and not self.busy and self.transport is not None:
                self.transport.close()  # answered already: the client has sent it all
            return
        req.method = self.parser.get_method().decode("ascii")
        req.keep_alive = self.parser.should_keep_alive()
        self._enqueue(req)

    def _refuse(self, req: Request) -> None:
        # Answered before the rest of the body arrives; the connection closes after.
        req.method = self.parser.get_method().decode("ascii")
        req.keep_alive = False
        self._enqueue(req)

    def _throttle(self, req: Request) -> None:
        log.warning("request from %s refused: over the body budget", self.peer)
        self._release(req)
        req.refusal = self.throttle(req.headers)
        req.linger = True
        self._refuse(req)

    def _release(self, req: Request) -> None:
        req.body.clear()
        if req.held:
            self.budget.release(self.peer, req.held)
            req.held = 0

    def _enqueue(self, req: Request) -> None:
        req.queued = True
        self.last = req
        self.queue.append(req)
        self.state.total_requests += 1
        if not self.busy:
            self._next()
        elif len(self.queue) >= MAX_QUEUED and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    # -- requests -----------------------------------------------------------------------------

    def _next(self) -> None:
        if not self.queue or self.transport is None:
            return
        req = self.queue.popleft()
        if self.reading_paused and len(self.queue) < MAX_QUEUED // 2:
            self.reading_paused = False
            self.transport.resume_reading()
        self.busy = True
        # Known to uvicorn until _run ends (it waits for these at shutdown); _run itself
        # takes it out, which costs less than a done callback.
        self.task = self.loop.create_task(self._run(req))
        self.state.tasks.add(self.task)

    async def _run(self, req: Request) -> None:
        try:
            if req.refusal is not None:
                status, headers, body = req.refusal
            elif req.too_large:
                status, headers, body = req.over() if req.over else self.refuse(req.headers)
            else:
                url = req.url
                if url[:1] != b"/":
                    try:
                        parsed = httptools.parse_url(url)
                    except httptools.HttpParserInvalidURLError:
                        req.keep_alive = False
                        self._write(self.limits.head_refusal or BAD_REQUEST)
                        return
                    path, query = parsed.path or b"/", parsed.query or b""
                else:
                    if b"#" in url:
                        url = url.split(b"#", 1)[0]
                    path, _, query = url.partition(b"?")
                peer.CLIENT.set(self.client)  # this request's task only
                peer.HEADER_NAMES.set(req.names)
                if req.upgrade is not None:
                    return await upgrade(self, req, path, query)
                status, headers, body = await self.respond(
                    req.method,
                    path.decode("latin-1"),
                    query.decode("latin-1"),
                    req.headers,
                    b"".join(req.body) if len(req.body) != 1 else req.body[0],
                )
            if type(body) is StreamedBody:
                req.keep_alive &= await send_streamed(
                    self, status, headers, body, self.date_line.of(self.state.default_headers),
                    close=not req.keep_alive or self.closing, head_only=req.method == "HEAD",
                )  # fmt: skip
            else:
                self._send(status, headers, body, req)
            if self.writable is not None:
                await self.writable
        except Exception:
            log.exception("failure serving an HTTP request")
            req.keep_alive = False
            self._write(SERVER_ERROR)
        finally:
            self._release(req)
            self.busy = False
            if self.task is not None:
                self.state.tasks.discard(self.task)
                self.task = None
            if self.transport is not None:
                if req.linger and not req.complete and not self.closing:
                    self._linger()
                elif not req.keep_alive or self.closing:
                    self.transport.close()
                elif self.queue:
                    self._next()
                else:
                    self._continue_waiting()
                    self._become_idle()

    def _linger(self) -> None:
        """The answer is out; read and drop the rest of the refused body until it is in
        (``on_message_complete`` closes) or for ``LINGER_SECONDS`` at most."""
        transport = self.transport
        if transport is None:
            return
        if self.reading_paused:
            self.reading_paused = False
            transport.resume_reading()
        self.linger_timer = self.loop.call_later(LINGER_SECONDS, self._linger_expired)

    def _linger_expired(self) -> None:
        self.linger_timer = None
        if self.transport is not None:
            self.transport.close()

    def _continue_waiting(self) -> None:
        """The request being parsed may be one whose 100 Continue was held while the
        connection was busy (its head in, its body not): its turn is now."""
        waiting = self.request
        if waiting.expect_continue and not waiting.queued:
            waiting.expect_continue = False
            self._write(CONTINUE)

    def _send(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, req: Request
    ) -> None:
        if self.transport is None:
            return
        writes = encode(
            status,
            headers,
            body,
            self.date_line.of(self.state.default_headers),
            close=not req.keep_alive or self.closing,
            head_only=req.method == "HEAD",
        )
        for data in writes:
            self.transport.write(data)

    def _write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def _refuse_head(self, answer: bytes) -> NoReturn:
        self.failure = self.limits.head_refusal or answer
        raise _Refused()

    def _fail(self, answer: bytes | None = None) -> None:
        if answer is None:
            answer = self.limits.head_refusal or BAD_REQUEST
        self._write(answer)
        if self.transport is not None:
            self.transport.close()

    # -- slow clients ------------------------------------------------------------------------

    def _read_by(self, deadline: float) -> None:
        """The request being read must be in (its head, or its body at the minimum rate
        after a grace period) by ``deadline``."""
        self.read_deadline = deadline
        if self.read_timer is None:
            self.read_timer = self.loop.call_at(deadline, self._check_read)

    def _check_read(self) -> None:
        self.read_timer = None
        deadline = self.read_deadline
        if self.transport is None or deadline is None:
            return
        if self.body_started is not None:
            deadline += self.body_size / self.limits.min_body_rate
        now = self.loop.time()
        if now < deadline:
            self.read_timer = self.loop.call_at(deadline, self._check_read)
        elif self.busy or self.request.queued:
            # Answering the request before it (a pipelined client waits for that), or
            # this one was refused already: its time starts once the answer is out.
            self.read_deadline = now + self.limits.body_timeout
            self.read_timer = self.loop.call_at(self.read_deadline, self._check_read)
        else:
            log.info("closing a connection from %s: request not in after its timeout", self.client)
            self._fail(TIMEOUT)

    # -- keep-alive --------------------------------------------------------------------------

    def _become_idle(self) -> None:
        self.idle_since = self.loop.time()
        if self.idle_timer is None:
            self.idle_timer = self.loop.call_later(self.keep_alive_timeout, self._check_idle)

    def _check_idle(self) -> None:
        self.idle_timer = None
        if self.transport is None or self.busy or self.idle_since is None:
            return  # in use: the timer is set again when the connection next goes idle
        left = self.idle_since + self.keep_alive_timeout - self.loop.time()
        if left <= 0:
            self.transport.close()
        else:
            self.idle_timer = self.loop.call_later(left, self._check_idle)


def protocol_for(
    respond: Responder,
    refuse: Refusal,
    max_body: int,
    gate: Gate | None = None,
    limits: Limits | None = None,
    throttle: Refusal | None = None,
    upgrader: Upgrader | None = None,
) -> Callable[..., HttpProtocol]:
    """The ``http`` protocol class for ``uvicorn.Config``, bound to one app; its
    connections share one count and one body budget."""
    limits = limits or Limits()
    connections = ConnectionCount(limits)
    budget = BodyBudget(limits)

    def build(**kwargs: Any) -> HttpProtocol:
        return HttpProtocol(
            respond,
            refuse,
            max_body,
            gate=gate,
            limits=limits,
            connections=connections,
            budget=budget,
            throttle=throttle,
            upgrader=upgrader,
            **kwargs,
        )

    return build
