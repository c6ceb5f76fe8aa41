"""``ResponseStream``: what the runtime streams reaches one reader in order, joined
while the reader is behind; a reader far behind stops the runtime until it catches up;
a reader that left drops what comes."""

from __future__ import annotations

import asyncio

from lambdad.invoke.response_stream import HIGH_WATER, MAX_READ, PIECE_COST, ResponseStream


def test_pieces_are_read_in_order_then_the_end() -> None:
    async def run() -> None:
        stream = ResponseStream()
        reader = asyncio.ensure_future(stream.read())
        await asyncio.sleep(0)
        assert not reader.done()  # nothing yet: the reader waits
        stream.open("text/plain", None)
        assert stream.started.done()
        assert stream.streaming
        stream.write(b"a")
        assert await reader == b"a"
        stream.write(b"b")
        stream.write(b"c")
        stream.end()
        assert await stream.read() == b"bc"  # what waited, joined
        assert await stream.read() is None
        assert stream.content_type == "text/plain"
        assert stream.size == 3

    asyncio.run(run())


def test_an_invocation_that_never_streamed_ends_it_unstarted() -> None:
    async def run() -> None:
        stream = ResponseStream()
        stream.end()
        assert stream.started.done()
        assert not stream.streaming
        assert stream.content_type == "application/octet-stream"
        assert await stream.read() is None

    asyncio.run(run())


def test_a_reader_far_behind_stops_the_writer_until_it_catches_up() -> None:
    async def run() -> None:
        calls: list[bool] = []
        stream = ResponseStream()
        stream.open(None, calls.append)
        piece = b"x" * (64 * 1024)
        for _ in range(HIGH_WATER // len(piece) + 1):
            stream.write(piece)
        assert calls == [True]
        read = 0
        while calls == [True]:
            data = await stream.read()
            assert data is not None
            assert len(data) <= MAX_READ
            read += len(data)
        assert calls == [True, False]
        assert read <= HIGH_WATER  # released once at most LOW_WATER waits

    asyncio.run(run())


def test_a_reader_that_left_drops_what_comes_and_frees_the_writer() -> None:
    async def run() -> None:
        calls: list[bool] = []
        stream = ResponseStream()
        stream.open(None, calls.append)
        stream.write(b"x" * (HIGH_WATER + 1))
        stream.discard()
        stream.write(b"more")
        stream.end()
        assert calls == [True, False]
        assert await stream.read() is None
        assert stream.size == HIGH_WATER + 5

    asyncio.run(run())


def test_tiny_pieces_reach_the_high_water_by_their_count() -> None:
    async def run() -> None:
        calls: list[bool] = []
        stream = ResponseStream()
        stream.open(None, calls.append)
        for _ in range(HIGH_WATER // PIECE_COST + 1):
            stream.write(b"x")
        assert calls == [True]  # long before a mebibyte of bytes
        while calls == [True]:
            assert await stream.read() is not None
        assert calls == [True, False]

    asyncio.run(run())
