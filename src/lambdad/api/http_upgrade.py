"""A WebSocket upgrade on an API port connection (``api/http.py``): the request an
``Upgrader`` claimed (model/upgrade.py) is accepted, and either refused as plain HTTP
(the connection closes after the answer) or handed to the protocol that takes it over.

An upgrade takes a place in the port's count of upgraded connections (``limits``;
429 past it) before it is accepted. On a hand-over the HTTP protocol lets go of the
transport (its timers find none) and its place in the port's connection count; the
new protocol releases its upgraded place and its place in uvicorn's shutdown list
when it is gone; it reads on from the bytes the client sent after the request.
"""

from __future__ import annotations

from typing import Any

from lambdad.api.http_request import Request
from lambdad.api.limits import UPGRADES_BUSY, Count
from lambdad.model.upgrade import Headers, Takeover, Upgrader, wants_websocket

NOT_AN_UPGRADE = (400, [(b"content-type", b"application/json")], b'{"message":"Bad Request"}')


def claim(upgrader: Upgrader | None, req: Request, parser: Any) -> object | None:
    """What a ``GET`` with ``Upgrade: websocket`` addresses behind ``upgrader``, if
    anything (asked once its head is in). One that is not an upgrade to the parser
    (``Connection: Upgrade`` too, RFC 6455 4.2.1) or carries a body is refused 400."""
    if upgrader is None or parser.get_method() != b"GET" or not wants_websocket(req.headers):
        return None
    target = req.url.split(b"?", 1)[0].split(b"#", 1)[0].decode("latin-1")
    claimed = upgrader.claim(target, req.headers)
    if claimed is not None and (not parser.should_upgrade() or _has_body(req.headers)):
        req.refusal = NOT_AN_UPGRADE
        return None
    return claimed


def _has_body(headers: Headers) -> bool:
    return any(
        name == "transfer-encoding" or (name == "content-length" and value.strip() != "0")
        for name, value in headers
    )


async def upgrade(conn: Any, req: Request, path: bytes, query: bytes) -> None:
    """Answer or hand over ``req`` (claimed) on ``conn`` (an ``HttpProtocol``)."""
    upgraded: Count = conn.connections.upgraded
    client = conn.client
    if client is None or not upgraded.admit(client):
        accepted: Any = UPGRADES_BUSY
    else:
        try:
            accepted = await conn.upgrader.accept(
                req.upgrade, path.decode("latin-1"), query.decode("latin-1"), req.headers, client
            )
        except BaseException:
            upgraded.release(client)
            raise
        if callable(accepted) and hand_over(conn, accepted, req.upgraded_rest, upgraded, client):
            return
        upgraded.release(client)
    if not callable(accepted):
        status, headers, body = accepted
        req.keep_alive = False
        conn._send(status, headers, body, req)


def keep_rest(req: Request | None, exc: Exception, fed: bytes) -> None:
    """Keep what the client sent after a claimed upgrade request (``fed``: what the
    parser was given, from which ``exc`` says where the request ended)."""
    if req is not None and req.upgrade is not None:
        offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        req.upgraded_rest = fed[offset:]


def hand_over(conn: Any, takeover: Takeover, rest: bytes, upgraded: Count, client: str) -> bool:
    """Give the connection to the protocol ``takeover`` makes (False: it is gone)."""
    transport = conn.transport
    if transport is None or conn.client is None:
        return False  # the client went away meanwhile
    conn.transport = None
    for name in ("idle_timer", "read_timer", "linger_timer"):
        timer = getattr(conn, name)
        if timer is not None:
            timer.cancel()
            setattr(conn, name, None)
    state = conn.state
    state.connections.discard(conn)
    conn.connections.release(conn.client)
    conn.client = None
    protocols: list[Any] = []
    released: list[bool] = []

    def gone() -> None:  # once, however often it is called
        if released:
            return
        released.append(True)
        upgraded.release(client)
        for protocol in protocols:
            state.connections.discard(protocol)

    # Reading resumes first: the new protocol may pause it again while it takes ``rest``.
    conn.reading_paused = False
    transport.resume_reading()
    try:
        protocol = takeover(transport, rest, gone)
    except BaseException:
        gone()
        transport.close()
        raise
    protocols.append(protocol)
    state.connections.add(protocol)
    transport.set_protocol(protocol)
    if conn.closing:  # the server began shutting down while $connect ran
        getattr(protocol, "shutdown", transport.close)()
    return True
