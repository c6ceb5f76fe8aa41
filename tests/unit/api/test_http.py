"""The API port's HTTP/1.1 protocol, driven through a fake transport (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from lambdad.api.http import HttpProtocol
from transports import Config, FakeTransport, ServerState

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


Seen = list[tuple[str, str, str, list[tuple[str, str]], bytes]]


def refuse(headers: list[tuple[str, str]]) -> Response:
    return 413, [(b"content-type", b"application/json")], b'{"message":"too large"}'


async def echo_path(
    method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
) -> Response:
    return 200, [(b"content-type", b"text/plain")], f"{method} {path}?{query}".encode()


def connect(
    respond: Callable[..., Awaitable[Response]] = echo_path, max_body: int = 100
) -> tuple[HttpProtocol, FakeTransport, ServerState]:
    state = ServerState()
    proto = HttpProtocol(
        respond,
        refuse,
        max_body,
        config=Config(),
        server_state=state,
        _loop=asyncio.get_running_loop(),
    )
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport, state


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_request_is_answered_in_one_write_with_length_and_date() -> None:
    async def run() -> None:
        seen: Seen = []

        async def respond(*args: Any) -> Response:
            seen.append(args)  # type: ignore[arg-type]
            return 201, [(b"x-amzn-requestid", b"r-1")], b"hello"

        proto, transport, state = connect(respond)
        proto.data_received(
            b"POST /2015-03-31/functions/f/invocations?Qualifier=1 HTTP/1.1\r\n"
            b"Host: h\r\nX-Amz-Log-Type: Tail\r\nContent-Length: 2\r\n\r\n{}"
        )
        await settle()
        assert seen == [
            (
                "POST",
                "/2015-03-31/functions/f/invocations",
                "Qualifier=1",
                [("host", "h"), ("x-amz-log-type", "Tail"), ("content-length", "2")],
                b"{}",
            )
        ]
        assert bytes(transport.written) == (
            b"HTTP/1.1 201 Created\r\ndate: Mon, 23 Nov 2026 03:00:00 GMT\r\n"
            b"x-amzn-requestid: r-1\r\ncontent-length: 5\r\n\r\nhello"
        )
        assert not transport.closed
        assert state.total_requests == 1
        assert not state.tasks

    asyncio.run(run())


def test_pipelined_requests_are_answered_in_order() -> None:
    async def run() -> None:
        release = asyncio.Event()

        async def respond(method: str, path: str, *rest: Any) -> Response:
            if path == "/slow":
                await release.wait()
            return 200, [], path.encode()

        proto, transport, _ = connect(respond)
        proto.data_received(
            b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /fast HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        await settle()
        assert transport.written == b""
        release.set()
        await settle()
        text = bytes(transport.written)
        assert text.index(b"\r\n\r\n/slow") < text.index(b"\r\n\r\n/fast")

    asyncio.run(run())


def test_connection_close_and_http_1_0_close_after_the_answer() -> None:
    async def run() -> None:
        for request in (
            b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            b"GET /a HTTP/1.0\r\n\r\n",
        ):
            proto, transport, _ = connect()
            proto.data_received(request)
            await settle()
            assert b"connection: close\r\n" in transport.written
            assert transport.written.endswith(b"GET /a?")
            assert transport.closed

    asyncio.run(run())


def test_a_body_over_the_limit_is_refused_and_the_connection_closed() -> None:
    async def run() -> None:
        called: list[str] = []

        async def respond(*args: Any) -> Response:
            called.append("yes")
            return 200, [], b""

        # Declared too large: answered before the body arrives.
        proto, transport, _ = connect(respond, max_body=10)
        proto.data_received(b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n")
        await settle()
        assert transport.written.startswith(b"HTTP/1.1 413 ")
        # Closed once the client has sent what it declared (read and dropped).
        assert not transport.closed
        proto.data_received(b"x" * 11)
        assert transport.closed
        # Chunked, growing past the limit.
        proto, transport, _ = connect(respond, max_body=10)
        proto.data_received(
            b"POST /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"8\r\n12345678\r\n8\r\n12345678\r\n"
        )
        await settle()
        assert transport.written.startswith(b"HTTP/1.1 413 ")
        proto.data_received(b"0\r\n\r\n")
        assert transport.closed
        assert called == []

    asyncio.run(run())


def test_expect_100_continue_is_answered_before_the_body() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        proto.data_received(
            b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
        assert transport.written == b"HTTP/1.1 100 Continue\r\n\r\n"
        proto.data_received(b"{}")
        await settle()
        assert transport.written.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")

    asyncio.run(run())


def test_a_malformed_request_is_a_400_and_the_connection_closes() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        proto.data_received(b"NOT HTTP AT ALL\r\n\r\n")
        assert transport.written.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert transport.closed

    asyncio.run(run())


def test_shutdown_closes_an_idle_connection_at_once_and_a_busy_one_after_its_answer() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        proto.shutdown()
        assert transport.closed

        release = asyncio.Event()

        async def respond(*args: Any) -> Response:
            await release.wait()
            return 200, [], b"done"

        proto, transport, _ = connect(respond)
        proto.data_received(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        await settle()
        proto.shutdown()
        assert not transport.closed
        release.set()
        await settle()
        assert b"connection: close\r\n" in transport.written
        assert transport.written.endswith(b"done")
        assert transport.closed

    asyncio.run(run())


def test_an_idle_connection_closes_once_the_keep_alive_timeout_has_passed() -> None:
    async def run() -> None:
        proto, transport, state = connect()
        proto.data_received(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        await settle()
        assert proto.idle_timer is not None
        # The timer fires: idle for less than the timeout, the connection stays.
        proto.idle_timer.cancel()
        proto._check_idle()
        assert not transport.closed
        assert proto.idle_timer is not None
        # Idle for longer: it closes.
        proto.idle_timer.cancel()
        assert proto.idle_since is not None
        proto.idle_since -= Config.timeout_keep_alive + 1
        proto._check_idle()
        assert transport.closed
        proto.connection_lost(None)
        assert proto not in state.connections

    asyncio.run(run())


def test_an_upgrade_request_is_answered_as_plain_http() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        proto.data_received(
            b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        )
        await settle()
        assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
        assert transport.written.endswith(b"GET /a?")

    asyncio.run(run())


def test_after_an_upgrade_request_the_connection_closes_instead_of_losing_requests() -> None:
    async def run() -> None:
        proto, transport, _ = connect()
        # The parser drops what follows an Upgrade request in the same chunk (here /b):
        # answering /c next as if it were /b would give the client the wrong answer.
        proto.data_received(
            b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
            b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        await settle()
        assert bytes(transport.written).endswith(b"GET /a?")
        assert transport.closed
        assert b"GET /b" not in bytes(transport.written)

    asyncio.run(run())


def test_a_failure_while_answering_is_a_500_and_the_connection_closes() -> None:
    async def run() -> None:
        async def respond(*args: Any) -> Response:
            raise RuntimeError("a bug")

        proto, transport, _ = connect(respond)
        proto.data_received(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        await settle()
        assert bytes(transport.written).startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
        assert transport.closed

    asyncio.run(run())


def test_a_pipelined_expect_100_continue_gets_its_100_when_its_turn_comes() -> None:
    async def run() -> None:
        release = asyncio.Event()

        async def respond(method: str, path: str, *rest: Any) -> Response:
            if path == "/slow":
                await release.wait()
            return 200, [], path.encode()

        proto, transport, _ = connect(respond)
        proto.data_received(
            b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"
            b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
        await settle()
        assert transport.written == b""  # busy: no 100 yet
        release.set()
        await settle()
        assert bytes(transport.written).endswith(b"/slowHTTP/1.1 100 Continue\r\n\r\n")
        proto.data_received(b"{}")
        await settle()
        assert bytes(transport.written).endswith(b"\r\n\r\n/f")

    asyncio.run(run())
