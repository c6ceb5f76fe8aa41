"""The upstream relay: a function's calls to an operator-mapped endpoint, signed again.

Where the operator gave upstream credentials for a function's role
(model/upstream.py), its relays (environments/forwards.py) speak HTTP instead of
copying bytes: each request the function sends is read whole; if it is signed with a
role session's key (``ASIA...``) whose role has credentials for the service it is
signed for, the session's signature is checked (environments/upstream_sigv4.py) and
the request goes upstream signed with the operator's keys instead, the session's
token gone. Any other request (unsigned, a long-term key of the function's own, a
service without credentials) goes as it came. The response comes back as the
upstream sent it, streamed. A request the relay refuses is answered as S3 (XML) or
the JSON protocols answer errors.

Only the relays of endpoints the role has credentials for speak HTTP
(``Forward.signed``); lambdad's own never do. The function's connection is kept alive,
and so is the upstream connection behind it while the upstream keeps it (one closed
before it answers is opened again, the request sent once more). A request's body is
held whole (its hash is checked before it is signed again): at most ``MAX_BODY``
bytes, and that much in all for one environment's connections at once (its
``BodyBudget``); beyond, the relay answers S3's 503 ``SlowDown`` (the SDKs retry it).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from xml.sax.saxutils import escape

import h11

from lambdad.environments.upstream_sigv4 import (
    S3_SERVICES,
    Claim,
    Refused,
    Request,
    check,
    claim_of,
    resigned,
)
from lambdad.model.endpoints import Forward
from lambdad.model.session import Session, is_session_key
from lambdad.model.upstream import UpstreamCredential

log = logging.getLogger(__name__)

# The largest request body held, and the most one environment's requests hold at once
# (S3's single PUT takes up to 5 GB: larger objects go in parts, which the SDKs make of
# 5-8 MB).
MAX_BODY = 64 * 1024 * 1024
_CHUNK = 64 * 1024
# After refusing a request whose body is still coming: how long, and how much of it,
# the relay reads and drops before closing, so the close does not reset the
# connection before the client has read the refusal.
LINGER_SECONDS = 2.0
LINGER_BYTES = MAX_BODY
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"content-length"}
)


class BodyBudget:
    """The request body bytes one environment's relay connections hold at once."""

    def __init__(self, limit: int = MAX_BODY) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


@dataclass(frozen=True, slots=True)
class UpstreamSigning:
    """What a relay needs to sign requests again: the account whose environments it
    serves, how a session's token is opened, the operator's credentials by (role,
    service), and the time."""

    account: str
    open_session: Callable[[str, str], Session | None]
    credentials: Callable[[str, str], UpstreamCredential | None]
    now: Callable[[], datetime]
    budget: BodyBudget = field(default_factory=BodyBudget)


async def serve(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    forward: Forward,
    signing: UpstreamSigning,
    source: str | None,
) -> None:
    """Answer the function's requests on one connection until either side ends it."""
    _no_delay(writer)
    conn = h11.Connection(h11.SERVER)
    upstream = _Upstream(forward, source)
    try:
        while True:
            try:
                request = await _read_request(conn, reader, writer, signing.budget)
            except h11.RemoteProtocolError:
                return
            except Refused as exc:
                # Refused with its body still coming: the connection ends here, and says
                # so, so that the client sends its next request on another.
                await _refuse(conn, writer, exc, exc.service, close=True)
                await _linger(reader, writer)
                return
            if request is None:
                return
            try:
                if not await _answer(conn, writer, request, upstream, signing):
                    return
            finally:
                signing.budget.give(len(request.body))
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
    finally:
        upstream.close()


async def _answer(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    request: Request,
    upstream: _Upstream,
    signing: UpstreamSigning,
) -> bool:
    """One request upstream (or refused); False when the connection cannot go on."""
    claim = None
    try:
        claim = claim_of(request)
        headers = _upstream_headers(request, claim, upstream.forward, signing)
    except Refused as exc:
        await _refuse(conn, writer, exc, claim.service if claim is not None else "")
        return True
    return await _forward(conn, writer, request, headers, upstream)


def _upstream_headers(
    request: Request, claim: Claim | None, forward: Forward, signing: UpstreamSigning
) -> tuple[tuple[str, str], ...]:
    """The headers the request goes upstream with: signed again, or as they came."""
    if claim is None or not is_session_key(claim.access_key_id):
        return request.headers
    token = request.header("x-amz-security-token")
    session = signing.open_session(claim.access_key_id, token) if token else None
    if session is None:
        raise Refused(403, "InvalidToken", "The provided token is malformed or otherwise invalid.")
    now = signing.now()
    if session.expired(now):
        raise Refused(400, "ExpiredToken", "The provided token has expired.")
    if session.account != signing.account:
        raise Refused(403, "AccessDenied", "The session is not of this environment's account.")
    upstream = signing.credentials(session.role_arn, claim.service)
    if upstream is None:
        return request.headers
    digest = check(request, claim, session.secret_access_key, now)
    return resigned(request, claim, digest, upstream, _host(forward), now)


def _host(forward: Forward) -> str:
    default = 443 if forward.tls else 80
    return forward.host if forward.host_port == default else f"{forward.host}:{forward.host_port}"


async def _read_request(
    conn: h11.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    budget: BodyBudget,
) -> Request | None:
    """The next request, its body taken from ``budget`` (given back by the caller);
    None at the end of the connection."""
    body = bytearray()
    try:
        return await _read_into(conn, reader, writer, budget, body)
    except BaseException:
        budget.give(len(body))
        raise


async def _read_into(
    conn: h11.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    budget: BodyBudget,
    body: bytearray,
) -> Request | None:
    head: h11.Request | None = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:
                # With its reason: botocore takes a bare "HTTP/1.1 100" for the answer.
                continuing = h11.InformationalResponse(
                    status_code=100, headers=[], reason=b"Continue"
                )
                writer.write(conn.send(continuing))
            conn.receive_data(await reader.read(_CHUNK))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            service = _signing_service(head.headers if head is not None else [])
            if len(body) + len(event.data) > MAX_BODY:
                message = "The request body is too large to relay."
                raise Refused(413, "EntityTooLarge", message, service)
            if not budget.take(len(event.data)):
                raise Refused(503, "SlowDown", "Please reduce your request rate.", service)
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            path, _, query = head.target.decode("latin-1").partition("?")
            headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers)
            return Request(head.method.decode("latin-1"), path, query, headers, bytes(body))
        elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
            return None


class _Stale(Exception):
    """A kept upstream connection closed before it answered: open another, send again."""


class _Upstream:
    """The upstream connection of one function connection, kept between its requests
    while the upstream keeps it."""

    def __init__(self, forward: Forward, source: str | None) -> None:
        self.forward = forward
        self.source = source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.client = h11.Connection(h11.CLIENT)

    @property
    def kept(self) -> bool:
        """Whether a connection is open and idle, ready for the next request."""
        return (
            self.writer is not None
            and not self.writer.is_closing()
            and self.reader is not None
            and not self.reader.at_eof()
            and self.client.our_state is h11.IDLE
        )

    async def connect(self) -> None:
        self.close()
        forward = self.forward
        self.reader, self.writer = await asyncio.open_connection(
            forward.host,
            forward.host_port,
            ssl=_tls_context() if forward.tls else None,
            # From the account's relay address where that can reach (the host's loopback).
            local_addr=(self.source, 0) if self.source and forward.host == "127.0.0.1" else None,
        )
        _no_delay(self.writer)
        self.client = h11.Connection(h11.CLIENT)

    def finish(self) -> None:
        """After a response: keep the connection if both sides may go on."""
        if self.client.our_state is h11.DONE and self.client.their_state is h11.DONE:
            self.client.start_next_cycle()
        else:
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _forward(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    request: Request,
    headers: tuple[tuple[str, str], ...],
    upstream: _Upstream,
) -> bool:
    """The request upstream, its response back; False when the function's
    connection cannot go on."""
    sent = [(k, v) for k, v in headers if k.lower().encode() not in _HOP_BY_HOP]
    if request.body or request.header("content-length") is not None:
        sent.append(("Content-Length", str(len(request.body))))
    target = request.path + (f"?{request.query}" if request.query else "")
    for attempt in range(2):
        reused = upstream.kept
        try:
            if not reused:
                await upstream.connect()
        except OSError as exc:
            log.debug("upstream relay to %s: %s", upstream.forward.host, exc)
            refused = Refused(502, "BadGateway", "The endpoint is unreachable.")
            await _refuse(conn, writer, refused, "")
            return True
        assert upstream.writer is not None
        assert upstream.reader is not None
        client = upstream.client
        try:
            head = client.send(h11.Request(method=request.method, target=target, headers=sent))
            body = client.send(h11.Data(data=request.body)) if request.body else b""
            end = client.send(h11.EndOfMessage())
            upstream.writer.write(b"".join((head or b"", body or b"", end or b"")))
            await upstream.writer.drain()
            done = await _respond(conn, writer, client, upstream.reader)
        except _Stale:
            upstream.close()
            if reused and attempt == 0:
                continue
            return False
        except (OSError, h11.ProtocolError) as exc:
            log.debug("upstream relay to %s: %s", upstream.forward.host, exc)
            upstream.close()
            return False
        if done:
            upstream.finish()
        else:
            upstream.close()
        return done
    return False


async def _respond(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    client: h11.Connection,
    up_reader: asyncio.StreamReader,
) -> bool:
    answered = False
    # The response's head goes out with its first piece of body: one segment, not two.
    head = b""
    while True:
        try:
            event = client.next_event()
        except h11.RemoteProtocolError:
            if not answered:  # closed before any answer: a kept connection gone stale
                raise _Stale() from None
            raise
        if event is h11.NEED_DATA:
            client.receive_data(await up_reader.read(_CHUNK))
        elif isinstance(event, h11.InformationalResponse):
            continue
        elif isinstance(event, h11.Response):
            answered = True
            kept = [
                (k, v) for k, v in event.headers if k not in _HOP_BY_HOP or k == b"content-length"
            ]
            # A reason phrase always: botocore reads a status line without one as no
            # answer to its Expect: 100-continue, and the response after it as garbage.
            reason = event.reason or _phrase(event.status_code)
            response = h11.Response(status_code=event.status_code, headers=kept, reason=reason)
            head = conn.send(response) or b""
        elif isinstance(event, h11.Data):
            writer.write(head + (conn.send(h11.Data(data=event.data)) or b""))
            head = b""
            await writer.drain()
        elif isinstance(event, h11.EndOfMessage):
            writer.write(head + (conn.send(h11.EndOfMessage()) or b""))
            await writer.drain()
            return True
        elif not answered:
            raise _Stale()
        else:  # the upstream closed before its response ended
            return False


async def _refuse(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    refused: Refused,
    service: str,
    *,
    close: bool = False,
) -> None:
    if service in S3_SERVICES:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
            f"{escape(refused.code)}</Code><Message>{escape(refused.message)}</Message></Error>"
        ).encode()
        kind = "application/xml"
    else:
        body = json.dumps({"__type": refused.code, "message": refused.message}).encode()
        kind = "application/x-amz-json-1.1"
    headers = [
        ("Content-Type", kind),
        ("Content-Length", str(len(body))),
        ("x-amzn-ErrorType", refused.code),
    ]
    if close:
        headers.append(("Connection", "close"))
    try:
        if conn.our_state is h11.SEND_RESPONSE:
            reason = _phrase(refused.status)
            response = h11.Response(status_code=refused.status, headers=headers, reason=reason)
            writer.write(conn.send(response))
            writer.write(conn.send(h11.Data(data=body)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
    except (OSError, h11.ProtocolError):
        pass


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Stop writing, then drop what the client still sends of a refused body (for a
    while, up to a bound): closing with unread bytes would reset the connection, and
    a client still sending (the SDKs send the whole body before reading) could lose
    the answer it was given."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_SECONDS
    dropped = 0
    try:
        if writer.can_write_eof():
            writer.write_eof()
        while dropped < LINGER_BYTES and (left := deadline - loop.time()) > 0:
            data = await asyncio.wait_for(reader.read(_CHUNK), left)
            if not data:
                return
            dropped += len(data)
    except (OSError, TimeoutError):
        pass


def _no_delay(writer: asyncio.StreamWriter) -> None:
    # Heads, bodies and ends are written apart: Nagle's algorithm would hold each back.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once: upstream certificates are verified."""
    return ssl.create_default_context()


def _phrase(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Unknown"


def _signing_service(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The service a request's ``Authorization`` names (for the format of an answer
    refusing it before its signature is read), or ""."""
    for name, value in headers:
        if name == b"authorization":
            scope = value.decode("latin-1").partition("Credential=")[2].split(",")[0]
            parts = scope.split("/")
            return parts[3] if len(parts) == 5 else ""
    return ""
