"""What an unauthenticated client can make the API port hold: head size and header
count, slow heads and bodies, connections, and large bodies refused from their head
(a fake transport, no sockets; timers are fired by hand)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from lambdad.api.body_budget import BodyBudget
from lambdad.api.http import HttpProtocol
from lambdad.api.limits import ConnectionCount, Limits
from lambdad.model.front_door import BodyLimit
from transports import Config, FakeTransport, ServerState

Response = tuple[int, list[tuple[bytes, bytes]], bytes]
LIMITS = Limits(
    max_head_bytes=1024,
    max_headers=10,
    head_timeout=5.0,
    body_timeout=5.0,
    min_body_rate=100.0,
    max_connections=4,
    max_connections_per_client=2,
)


class App:
    """Records what reaches it; its gate refuses requests without ``authorization``
    and allows ``limit`` bytes of body to the others."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.seen: list[tuple[str, str, bytes]] = []
        self.gated: list[str] = []

    async def respond(
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        self.seen.append((method, path, body))
        return 200, [], b"ok"

    def refuse(self, headers: list[tuple[str, str]]) -> Response:
        return 413, [], b"too large"

    def gate(self, method: str, path: str, query: str, headers: list[tuple[str, str]]) -> Any:
        self.gated.append(path)
        if not any(k == "authorization" for k, _ in headers):
            return 403, [(b"x-amzn-errortype", b"MissingAuthenticationTokenException")], b"{}"
        return self.limit


def connect(
    app: App | None = None,
    count: ConnectionCount | None = None,
    peer: str = "192.0.2.1",
    budget: BodyBudget | None = None,
    limits: Limits = LIMITS,
) -> tuple[HttpProtocol, FakeTransport, App]:
    app = app or App()
    proto = HttpProtocol(
        app.respond,
        app.refuse,
        100_000,
        config=Config(),
        server_state=ServerState(),
        gate=app.gate,
        limits=limits,
        connections=count or ConnectionCount(limits),
        budget=budget,
        _loop=asyncio.get_running_loop(),
    )
    transport = FakeTransport(peer)
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport, app


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def status_of(transport: FakeTransport) -> int:
    return int(bytes(transport.written).split(b" ", 2)[1])


def test_a_head_over_the_size_limit_is_431_however_it_is_split() -> None:
    async def run() -> None:
        for piece in (10, 700, 5000):
            proto, transport, app = connect()
            data = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 3000
            for at in range(0, len(data), piece):
                proto.data_received(data[at : at + piece])
                if transport.closed:
                    break
            assert status_of(transport) == 431, piece
            assert transport.closed
            assert app.seen == []

    asyncio.run(run())


def test_a_head_within_the_limit_with_a_body_in_the_same_read_is_served() -> None:
    async def run() -> None:
        proto, transport, app = connect()
        head = b"POST /f HTTP/1.1\r\nX-Pad: " + b"p" * 900 + b"\r\nContent-Length: 500\r\n\r\n"
        proto.data_received(head + b"b" * 500)
        await settle()
        assert app.seen == [("POST", "/f", b"b" * 500)]
        assert status_of(transport) == 200

    asyncio.run(run())


def test_too_many_header_fields_is_400() -> None:
    async def run() -> None:
        proto, transport, app = connect()
        proto.data_received(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 11 + b"\r\n")
        assert status_of(transport) == 400
        assert transport.closed
        assert app.seen == []

    asyncio.run(run())


def test_a_port_with_line_limits_and_its_own_refusal_answers_every_bad_head_with_it() -> None:
    refusal = b"HTTP/1.1 400 Bad Request\r\nServer: balancer\r\nContent-Length: 0\r\n\r\n"
    limits = dataclasses.replace(LIMITS, max_line_bytes=100, head_refusal=refusal)
    bad_heads = (
        b"GET / HTTP/1.1\r\nX-Line: " + b"a" * 100 + b"\r\n\r\n",  # one header line
        b"GET /" + b"u" * 100 + b" HTTP/1.1\r\n\r\n",  # the request line
        b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 11 + b"\r\n",  # too many headers
        b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 90 + b"\r\n" * 1 + b"Y: " + b"z" * 2000,
        b"GARBAGE\r\n\r\n",
    )

    async def run() -> None:
        for head in bad_heads:
            proto, transport, app = connect(limits=limits)
            proto.data_received(head)
            assert bytes(transport.written) == refusal, head[:30]
            assert transport.closed
            assert app.seen == []
        proto, transport, app = connect(limits=limits)
        proto.data_received(b"GET /f HTTP/1.1\r\nX-Line: " + b"a" * 90 + b"\r\n\r\n")
        await settle()
        assert app.seen == [("GET", "/f", b"")]

    asyncio.run(run())


def test_a_head_that_never_completes_times_out_with_408() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        proto.data_received(b"GET / HTTP/1.1\r\nX-Slow: ")
        assert proto.read_timer is not None
        proto.read_timer.cancel()
        proto._check_read()  # early: the timer is set again
        assert not transport.closed
        assert proto.read_timer is not None
        proto.read_timer.cancel()
        assert proto.read_deadline is not None
        proto.read_deadline -= LIMITS.head_timeout + 1
        proto._check_read()
        assert status_of(transport) == 408
        assert transport.closed

    asyncio.run(run())


def test_a_body_slower_than_the_minimum_rate_times_out_and_a_steady_one_does_not() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        proto.data_received(b"PUT /f HTTP/1.1\r\nContent-Length: 10000\r\n\r\n")
        assert proto.read_deadline is not None
        # 6 s in, 1,000 bytes arrived: its due time is 5 s + 1,000 / 100 = 15 s.
        proto.data_received(b"x" * 1000)
        proto.read_deadline -= 6
        proto._check_read()
        assert not transport.closed
        # 16 s in, still 1,000 bytes: too slow.
        proto.read_deadline -= 10
        proto._check_read()
        assert status_of(transport) == 408
        assert transport.closed

    asyncio.run(run())


def test_a_request_being_answered_is_not_timed_out() -> None:
    async def run() -> None:
        release = asyncio.Event()
        app = App()

        async def slow(*args: Any) -> Response:
            await release.wait()
            return 200, [], b"done"

        app.respond = slow  # type: ignore[method-assign]
        proto, transport, _ = connect(app)
        proto.data_received(b"GET /a HTTP/1.1\r\n\r\n")
        await settle()
        assert proto.read_deadline is None  # the request is in: nothing to time
        proto._check_read()
        assert not transport.closed
        release.set()
        await settle()
        assert status_of(transport) == 200

    asyncio.run(run())


def test_connections_are_capped_per_client_and_in_all() -> None:
    async def run() -> None:
        count = ConnectionCount(LIMITS)
        first = [connect(count=count, peer="192.0.2.1") for _ in range(3)]
        assert [t.closed for _, t, _ in first] == [False, False, True]
        assert status_of(first[2][1]) == 503
        others = [connect(count=count, peer=f"192.0.2.{n}") for n in (2, 3, 4)]
        assert [t.closed for _, t, _ in others] == [False, False, True]  # 4 in all
        # One closes: its place is free again, and the refused ones never counted.
        first[0][0].connection_lost(None)
        first[2][0].connection_lost(None)
        assert not connect(count=count, peer="192.0.2.1")[1].closed
        assert count.total == 4
        assert count.by_client == {"192.0.2.1": 2, "192.0.2.2": 1, "192.0.2.3": 1}

    asyncio.run(run())


def test_a_large_unauthenticated_body_is_refused_from_its_head() -> None:
    async def run() -> None:
        proto, transport, app = connect()
        proto.data_received(b"POST /f HTTP/1.1\r\nContent-Length: 90000\r\n\r\n")
        await settle()
        assert app.gated == ["/f"]
        assert status_of(transport) == 403
        # The rest of the body is read and dropped, then the connection closes: closed
        # under a client still sending, it would reset, and the client never read the
        # answer.
        assert not transport.closed
        proto.data_received(b"x" * 60000)
        assert not transport.closed
        proto.data_received(b"x" * 30000)
        assert transport.closed
        assert app.seen == []

    asyncio.run(run())


def test_a_refused_body_that_never_ends_is_dropped_after_the_linger_time() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        proto.data_received(b"POST /f HTTP/1.1\r\nContent-Length: 90000\r\n\r\n" + b"x" * 10)
        await settle()
        assert status_of(transport) == 403
        assert not transport.closed
        assert proto.linger_timer is not None
        proto.linger_timer.cancel()
        proto._linger_expired()  # what its timer calls, LINGER_SECONDS later
        assert transport.closed

    asyncio.run(run())


def test_a_large_body_is_bounded_by_its_operations_limit() -> None:
    async def run() -> None:
        auth = b"Authorization: AWS4-HMAC-SHA256 ...\r\n"
        # Declared over the limit the gate gave: refused before the body.
        proto, transport, app = connect(App(limit=70_000))
        proto.data_received(b"POST /f HTTP/1.1\r\n" + auth + b"Content-Length: 80000\r\n\r\n")
        await settle()
        assert status_of(transport) == 413
        # Chunked: gated too, and refused once past it.
        proto, transport, app = connect(App(limit=70_000))
        proto.data_received(b"POST /f HTTP/1.1\r\n" + auth + b"Transfer-Encoding: chunked\r\n\r\n")
        assert app.gated == ["/f"]
        for _ in range(8):
            proto.data_received(b"2710\r\n" + b"c" * 10000 + b"\r\n")
        await settle()
        assert status_of(transport) == 413
        assert app.seen == []
        # Within it: served.
        proto, transport, app = connect(App(limit=70_000))
        proto.data_received(
            b"POST /f HTTP/1.1\r\n" + auth + b"Content-Length: 69000\r\n\r\n" + b"d" * 69000
        )
        await settle()
        assert status_of(transport) == 200
        assert [len(b) for _, _, b in app.seen] == [69000]

    asyncio.run(run())


def test_a_body_over_its_operations_limit_gets_the_operations_answer() -> None:
    over = (413, [(b"x-amzn-errortype", b"RequestEntityTooLargeException")], b"operation's")

    async def run() -> None:
        auth = b"Authorization: AWS4-HMAC-SHA256 ...\r\n"
        for head in (b"Content-Length: 80000\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\n"):
            app = App(limit=70_000)
            app.limit = BodyLimit(70_000, lambda: over)  # type: ignore[assignment]
            proto, transport, app = connect(app)
            proto.data_received(b"PUT /f/code HTTP/1.1\r\n" + auth + head)
            if b"chunked" in head:
                for _ in range(8):
                    proto.data_received(b"2710\r\n" + b"c" * 10000 + b"\r\n")
            await settle()
            assert status_of(transport) == 413
            assert bytes(transport.written).endswith(b"operation's")
            assert app.seen == []

    asyncio.run(run())


def test_small_bodies_skip_the_gate() -> None:
    async def run() -> None:
        proto, _, app = connect()
        proto.data_received(b"POST /f HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        await settle()
        assert app.gated == []
        assert app.seen == [("POST", "/f", b"{}")]

    asyncio.run(run())


def test_connect_is_405_and_an_unparseable_url_400() -> None:
    async def run() -> None:
        proto, transport, app = connect()
        proto.data_received(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        await settle()
        assert status_of(transport) == 405
        assert transport.closed
        proto, transport, app = connect()
        proto.data_received(b"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n")
        await settle()
        assert status_of(transport) == 400
        assert transport.closed
        assert app.seen == []

    asyncio.run(run())


# 250,000 body bytes held in all, 150,000 per client address.
BUDGET_LIMITS = dataclasses.replace(
    LIMITS, max_unverified_bytes=250_000, max_unverified_bytes_per_client=150_000
)
AUTH = b"Authorization: AWS4-HMAC-SHA256 ...\r\n"


def held_app() -> tuple[App, asyncio.Event]:
    """An app whose answers wait for the event (the bodies stay held until then)."""
    app, release = App(limit=100_000), asyncio.Event()

    async def slow(method: str, path: str, query: str, headers: Any, body: bytes) -> Response:
        app.seen.append((method, path, body))
        await release.wait()
        return 200, [], b"done"

    app.respond = slow  # type: ignore[method-assign]
    return app, release


def upload(size: int, body: bytes = b"") -> bytes:
    return b"POST /f HTTP/1.1\r\n" + AUTH + b"Content-Length: %d\r\n\r\n" % size + body


def test_a_body_that_would_go_over_the_clients_share_is_429_from_its_head() -> None:
    async def run() -> None:
        budget = BodyBudget(BUDGET_LIMITS)
        app, release = held_app()
        first, first_t, _ = connect(app, budget=budget)
        first.data_received(upload(90_000, b"a" * 90_000))
        await settle()
        assert budget.by_client == {"192.0.2.1": 90_000}
        # The same client: 90,000 + 70,000 is over its 150,000. Refused before its
        # body, which is then read and dropped (the connection closes once it is in).
        second, second_t, _ = connect(app, budget=budget)
        second.data_received(upload(70_000, b"b" * 1000))
        await settle()
        assert status_of(second_t) == 429
        assert not second_t.closed
        second.data_received(b"b" * 69_000)
        assert second_t.closed
        # Another client has its own share (and 160,000 left of the total).
        third, third_t, _ = connect(app, peer="192.0.2.9", budget=budget)
        third.data_received(upload(70_000, b"c" * 70_000))
        await settle()
        assert budget.total == 160_000
        assert [len(b) for _, _, b in app.seen] == [90_000, 70_000]
        # Answered: released.
        release.set()
        await settle()
        assert status_of(first_t) == status_of(third_t) == 200
        assert budget.total == 0
        assert budget.by_client == {}

    asyncio.run(run())


def test_a_chunked_or_concurrent_body_is_refused_once_it_would_go_over() -> None:
    async def run() -> None:
        budget = BodyBudget(BUDGET_LIMITS)
        app, release = held_app()
        first, _, _ = connect(app, budget=budget)
        second, second_t, _ = connect(app, budget=budget)
        # Both fit when their heads arrive; their bodies together do not.
        first.data_received(upload(80_000, b"a" * 40_000))
        second.data_received(b"POST /f HTTP/1.1\r\n" + AUTH + b"Transfer-Encoding: chunked\r\n\r\n")
        second.data_received(b"9c40\r\n" + b"b" * 40_000 + b"\r\n")
        assert budget.total == 80_000
        first.data_received(b"a" * 40_000)  # 120,000 held
        await settle()
        second.data_received(b"9c40\r\n" + b"b" * 40_000 + b"\r\n")  # would be 160,000
        await settle()
        assert status_of(second_t) == 429
        assert b"retry-after: 1" in bytes(second_t.written).lower()
        assert budget.total == 80_000  # the refused body's bytes are released at once
        assert [len(b) for _, _, b in app.seen] == [80_000]
        release.set()
        await settle()
        assert budget.total == 0

    asyncio.run(run())


def test_a_connection_closed_mid_body_releases_what_it_held() -> None:
    async def run() -> None:
        budget = BodyBudget(BUDGET_LIMITS)
        proto, _, app = connect(App(limit=90_000), budget=budget)
        proto.data_received(upload(80_000, b"a" * 20_000))
        assert budget.total == 20_000
        proto.connection_lost(None)
        assert budget.total == 0
        assert budget.by_client == {}
        assert app.seen == []

    asyncio.run(run())


def test_small_bodies_and_refused_ones_hold_nothing() -> None:
    async def run() -> None:
        budget = BodyBudget(BUDGET_LIMITS)
        app, release = held_app()
        proto, _, _ = connect(app, budget=budget)
        proto.data_received(b"POST /f HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        # Refused from its head by the gate (no authorization): nothing read.
        other, other_t, _ = connect(app, budget=budget)
        other.data_received(b"POST /f HTTP/1.1\r\nContent-Length: 90000\r\n\r\n" + b"x" * 9000)
        await settle()
        assert status_of(other_t) == 403
        assert budget.total == 0
        release.set()
        await settle()

    asyncio.run(run())
