"""WebSocket upgrades on the API port's protocol: a claimed upgrade is handed to the
protocol that takes the connection over (with the bytes sent after it), or refused as
plain HTTP; an unclaimed one is answered as before."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lambdad.api.http import HttpProtocol
from lambdad.api.limits import ConnectionCount, Limits
from lambdad.model.upgrade import Headers, Response, Takeover
from transports import Config, FakeTransport, ServerState

UPGRADE = (
    b"GET /prod HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class Transport(FakeTransport):
    def __init__(self) -> None:
        super().__init__("10.0.0.1")
        self.protocol: Any = None

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol


class Taken(asyncio.Protocol):
    def __init__(self, rest: bytes, gone: Callable[[], None]) -> None:
        self.rest = rest
        self.gone = gone

        self.shut = False

    def shutdown(self) -> None:
        self.shut = True


class Upgrader:
    def __init__(self, claims: bool = True, refuse: bool = False, pause: bool = False) -> None:
        self.claims = claims
        self.refuse = refuse
        self.pause = pause
        self.asked: list[tuple[Any, str, str]] = []
        self.taken: list[Taken] = []

    def claim(self, path: str, headers: Headers) -> Any | None:
        return ("api", path) if self.claims else None

    async def accept(
        self, claim: Any, path: str, query: str, headers: Headers, client: str | None
    ) -> Response | Takeover:
        self.asked.append((claim, path, query))
        if self.refuse:
            return 403, [(b"content-type", b"application/json")], b'{"message":"Forbidden"}'

        def takeover(transport: Any, rest: bytes, gone: Callable[[], None]) -> Any:
            transport.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
            if self.pause:  # the bytes after the request filled it up already
                transport.pause_reading()
            self.taken.append(Taken(rest, gone))
            return self.taken[-1]

        return takeover


async def plain(*args: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return 200, [], b"plain"


def _connect(
    upgrader: Upgrader, count: ConnectionCount | None = None
) -> tuple[HttpProtocol, Transport, ServerState, ConnectionCount]:
    state = ServerState()
    count = count or ConnectionCount(Limits())
    proto = HttpProtocol(
        plain,
        lambda headers: (413, [], b""),
        100,
        config=Config(),
        server_state=state,
        connections=count,
        upgrader=upgrader,  # type: ignore[arg-type]
        _loop=asyncio.get_running_loop(),
    )
    transport = Transport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport, state, count


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_claimed_upgrade_is_handed_over_with_the_bytes_after_it() -> None:
    async def run() -> None:
        upgrader = Upgrader()
        proto, transport, state, count = _connect(upgrader)
        proto.data_received(UPGRADE.replace(b"/prod", b"/prod?x=1") + b"\x81\x85frame")
        await _settle()
        assert upgrader.asked == [(("api", "/prod"), "/prod", "x=1")]
        (taken,) = upgrader.taken
        assert transport.protocol is taken
        assert taken.rest == b"\x81\x85frame"
        assert bytes(transport.written) == b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
        assert transport.reading
        assert not transport.closed
        assert state.connections == {taken}
        assert count.total == 0  # the port's place is freed at the hand-over
        assert count.upgraded.by_client == {"10.0.0.1": 1}
        taken.gone()
        taken.gone()
        proto.connection_lost(None)
        assert state.connections == set()
        assert count.total == 0
        assert count.upgraded.total == 0

    asyncio.run(run())


def test_upgrades_past_their_own_count_are_answered_429_and_free_their_place() -> None:
    async def run() -> None:
        limits = Limits(max_upgraded=5, max_upgraded_per_client=1)
        upgrader = Upgrader()
        proto, _, _, count = _connect(upgrader, ConnectionCount(limits))
        proto.data_received(UPGRADE)
        await _settle()
        assert count.total == 0
        second, transport2, _, _ = _connect(upgrader, count)
        second.data_received(UPGRADE)
        await _settle()
        written = bytes(transport2.written)
        assert written.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
        assert written.endswith(b'{"message":"Too Many Requests"}')
        assert transport2.closed
        assert len(upgrader.taken) == 1  # never accepted: no $connect
        second.connection_lost(None)
        assert (count.total, count.upgraded.total) == (0, 1)
        refused = Upgrader(refuse=True)
        third, _, _, _ = _connect(refused, ConnectionCount(limits))
        third.data_received(UPGRADE)
        await _settle()
        assert third.connections.upgraded.total == 0  # a refusal gives its place back

    asyncio.run(run())


def test_an_upgrade_accepted_after_shutdown_began_is_shut_down_at_once() -> None:
    async def run() -> None:
        upgrader = Upgrader()
        proto, _, _, _ = _connect(upgrader)
        proto.data_received(UPGRADE)
        proto.closing = True  # uvicorn's shutdown() while $connect runs
        await _settle()
        (taken,) = upgrader.taken
        assert taken.shut

    asyncio.run(run())


def test_a_new_protocol_that_pauses_reading_at_the_hand_over_stays_paused() -> None:
    async def run() -> None:
        upgrader = Upgrader(pause=True)
        proto, transport, _, _ = _connect(upgrader)
        proto.data_received(UPGRADE + b"\x81\x85frame")
        await _settle()
        assert upgrader.taken
        assert not transport.reading

    asyncio.run(run())


def test_an_upgrade_without_connection_upgrade_or_with_a_body_is_answered_400() -> None:
    async def run() -> None:
        chunked = b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        for request in (
            UPGRADE.replace(b"Connection: Upgrade\r\n", b""),
            UPGRADE.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\nhello"),
            UPGRADE.replace(b"\r\n\r\n", chunked),
        ):
            upgrader = Upgrader()
            proto, transport, _, count = _connect(upgrader)
            proto.data_received(request)
            await _settle()
            assert bytes(transport.written).startswith(b"HTTP/1.1 400 Bad Request\r\n")
            assert upgrader.asked == []
            assert count.upgraded.total == 0

    asyncio.run(run())


def test_a_refused_upgrade_is_answered_and_the_connection_closes() -> None:
    async def run() -> None:
        upgrader = Upgrader(refuse=True)
        proto, transport, _, _ = _connect(upgrader)
        proto.data_received(UPGRADE)
        await _settle()
        written = bytes(transport.written)
        assert written.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert written.endswith(b'{"message":"Forbidden"}')
        assert transport.closed
        assert transport.protocol is None
        assert upgrader.taken == []

    asyncio.run(run())


def test_unclaimed_and_other_upgrades_are_plain_http() -> None:
    async def run() -> None:
        for upgrader, request in (
            (Upgrader(claims=False), UPGRADE),
            (Upgrader(), UPGRADE.replace(b"Upgrade: websocket", b"Upgrade: h2c")),
            (Upgrader(), UPGRADE.replace(b"GET", b"POST")),
        ):
            proto, transport, _, _ = _connect(upgrader)
            proto.data_received(request)
            await _settle()
            assert bytes(transport.written).startswith(b"HTTP/1.1 200 OK")
            assert bytes(transport.written).endswith(b"plain")
            assert upgrader.asked == []
            assert transport.protocol is None
            assert transport.closed

    asyncio.run(run())
