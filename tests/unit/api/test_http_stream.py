"""``http_stream.send_streamed``: a streamed body goes out chunked, each piece as it is
produced, and ends with the empty chunk; a client gone mid-way leaves the producer
running to its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from lambdad.api.http_stream import send_streamed
from lambdad.model.streamed_body import StreamedBody
from transports import FakeTransport


class Conn:
    def __init__(self) -> None:
        self.transport: FakeTransport | None = FakeTransport()
        self.writable: asyncio.Future[None] | None = None


def test_pieces_go_out_as_chunks_as_they_are_produced() -> None:
    async def run() -> None:
        conn = Conn()
        seen: list[bytes] = []

        async def pieces() -> AsyncIterator[bytes]:
            yield b"hello"
            assert conn.transport is not None
            seen.append(bytes(conn.transport.written))  # what was out before the next
            yield b""
            yield b"world!"

        body = StreamedBody(pieces())
        done = await send_streamed(
            conn,
            200,
            [(b"x-a", b"1")],
            body,
            b"date: d\r\n",
            close=False,
            head_only=False,  # type: ignore[arg-type]
        )
        assert done
        assert seen[0].endswith(b"\r\n\r\n5\r\nhello\r\n")
        assert conn.transport is not None
        written = bytes(conn.transport.written)
        head, _, chunks = written.partition(b"\r\n\r\n")
        assert head.split(b"\r\n") == [
            b"HTTP/1.1 200 OK",
            b"date: d",
            b"x-a: 1",
            b"transfer-encoding: chunked",
        ]
        assert chunks == b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"

    asyncio.run(run())


def test_a_client_gone_mid_way_does_not_stop_the_producer() -> None:
    async def run() -> None:
        conn = Conn()
        produced: list[int] = []

        async def pieces() -> AsyncIterator[bytes]:
            for i in range(3):
                produced.append(i)
                if i == 1:
                    conn.transport = None  # connection_lost
                yield b"x"

        assert await send_streamed(
            conn,
            200,
            [],
            StreamedBody(pieces()),
            b"",
            close=False,
            head_only=False,  # type: ignore[arg-type]
        )
        assert produced == [0, 1, 2]

    asyncio.run(run())


def test_a_failing_producer_reports_an_incomplete_body() -> None:
    async def run() -> None:
        conn = Conn()

        async def pieces() -> AsyncIterator[bytes]:
            yield b"x"
            raise RuntimeError("broken")

        assert not await send_streamed(
            conn,
            200,
            [],
            StreamedBody(pieces()),
            b"",
            close=False,
            head_only=False,  # type: ignore[arg-type]
        )
        assert conn.transport is not None
        assert not bytes(conn.transport.written).endswith(b"0\r\n\r\n")

    asyncio.run(run())
