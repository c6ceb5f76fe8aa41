"""The Runtime API's HTTP/1.1 server, driven through a fake transport (no sockets):
whatever a runtime sends, it is parsed in linear time, bounded while it arrives, and
anything unparseable closes that connection after one 400, never desynchronising it."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from lambdad.environments import runtime_api
from lambdad.environments.runtime_api import MAX_RESPONSE, RuntimeApiProtocol
from transports import FakeTransport

PREFIX = "/2018-06-01/runtime/invocation"


class Invocation:
    def __init__(self, request_id: str, payload: bytes) -> None:
        self.request_id = request_id
        self.payload = payload

    def runtime_headers(self) -> list[tuple[str, str]]:
        return [("Lambda-Runtime-Aws-Request-Id", self.request_id)]


class Handler:
    """An environment with one invocation ``r1`` in flight."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, bytes]] = []
        self.errors: list[tuple[str, str | None, bytes]] = []
        self.too_large: list[str] = []
        self.next: asyncio.Future[Invocation] | None = None

    def next_invocation(self) -> asyncio.Future[Invocation]:
        self.next = asyncio.get_running_loop().create_future()
        return self.next

    def post_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]:
        self.responses.append((request_id, body))
        return 202, {"status": "OK"}

    def post_error(
        self, request_id: str, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]:
        self.errors.append((request_id, error_type, body))
        return 202, {"status": "OK"}

    def post_init_error(self, error_type: str | None, body: bytes) -> tuple[int, dict[str, str]]:
        return 202, {"status": "OK"}

    def response_too_large(self, request_id: str) -> None:
        self.too_large.append(request_id)


def connect(
    connections: set[RuntimeApiProtocol] | None = None,
) -> tuple[RuntimeApiProtocol, FakeTransport, Handler]:
    handler = Handler()
    proto = RuntimeApiProtocol(handler, set() if connections is None else connections)
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport, handler


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def chunked_head(path: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".encode()


def statuses(written: bytes | bytearray) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", bytes(written))]


def test_a_result_split_anywhere_is_read_the_same() -> None:
    async def run() -> None:
        request = post(f"{PREFIX}/r1/response", b'{"ok": true}')
        for cut in range(1, len(request)):
            proto, transport, handler = connect()
            proto.data_received(request[:cut])
            proto.data_received(request[cut:])
            assert handler.responses == [("r1", b'{"ok": true}')], cut
            assert statuses(transport.written) == [202]

    asyncio.run(run())


def test_a_chunked_result_with_extensions_and_trailers_is_read() -> None:
    async def run() -> None:
        proto, transport, handler = connect()
        proto.data_received(
            chunked_head(f"{PREFIX}/r1/response")
            + b"3;ext=1\r\nabc\r\nA \r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        assert handler.responses == [("r1", b"abc0123456789")]
        assert statuses(transport.written) == [202]
        assert not transport.closed

    asyncio.run(run())


async def drain(proto: RuntimeApiProtocol) -> None:
    """Let the loop turn until the connection has parsed all it may."""
    for _ in range(1_000_000):
        if not proto.yielding:
            return
        await asyncio.sleep(0)
    raise AssertionError("the connection never finished its work")


def test_a_million_one_byte_chunks_are_parsed_in_linear_time() -> None:
    # The attack: every read used to re-parse the whole buffered body (8 s of a blocked
    # event loop for 1.1M chunks). Fed in 64 KiB reads as a socket delivers them.
    async def run() -> None:
        proto, _, handler = connect()
        count = 1_100_000
        stream = chunked_head(f"{PREFIX}/r1/response") + b"1\r\nx\r\n" * count + b"0\r\n\r\n"
        started = time.perf_counter()
        view = memoryview(stream)
        for at in range(0, len(stream), 65536):
            proto.data_received(bytes(view[at : at + 65536]))
            await drain(proto)
        elapsed = time.perf_counter() - started
        assert handler.responses == [("r1", b"x" * count)]
        print(f"\n1.1M chunks: {elapsed:.2f} s in all")
        # A hang guard, not a benchmark: quadratic parsing took minutes here.
        assert elapsed < 30

    asyncio.run(run())


def test_a_flood_of_chunks_or_requests_yields_to_the_loop_between_slices() -> None:
    async def run() -> None:
        for stream in (
            chunked_head(f"{PREFIX}/r1/response") + b"1\r\nx\r\n" * 50_000 + b"0\r\n\r\n",
            b"GET /nowhere HTTP/1.1\r\n\r\n" * 5_000,
        ):
            proto, transport, handler = connect()
            proto.data_received(stream)
            # One slice of work, then reading stops until the loop has turned.
            assert proto.yielding
            assert not transport.reading
            turns = 0
            while proto.yielding:
                await asyncio.sleep(0)
                turns += 1
            assert turns > 10
            assert transport.reading
            assert (
                handler.responses == [("r1", b"x" * 50_000)]
                or statuses(transport.written) == [404] * 5_000
            )

    asyncio.run(run())


def test_a_result_over_the_limit_fails_the_invocation_while_it_arrives() -> None:
    async def run() -> None:
        proto, transport, handler = connect()
        proto.data_received(chunked_head(f"{PREFIX}/r1/response"))
        block = b"%x\r\n" % (1 << 20) + b"y" * (1 << 20) + b"\r\n"
        for _ in range(6):
            proto.data_received(block)
        assert handler.too_large == []
        proto.data_received(block)
        # Failed as soon as the limit is passed; nothing more is kept.
        assert handler.too_large == ["r1"]
        assert proto.reader.request is not None
        assert len(proto.reader.request.body) == 0
        for _ in range(20):
            proto.data_received(block)
        proto.data_received(b"0\r\n\r\n" + b"GET " + PREFIX.encode() + b"/next HTTP/1.1\r\n\r\n")
        await drain(proto)
        await asyncio.sleep(0)
        # Answered with the Runtime API's 413, and the connection serves on.
        assert statuses(transport.written) == [413]
        assert b"Exceeded maximum allowed payload size (6291556 bytes)." in transport.written
        assert not transport.closed
        assert handler.next is not None
        handler.next.set_result(Invocation("r2", b"{}"))
        await asyncio.sleep(0)
        assert statuses(transport.written) == [413, 200]
        assert handler.responses == []

    asyncio.run(run())


def test_a_declared_length_over_the_limit_fails_the_invocation_before_the_body() -> None:
    async def run() -> None:
        proto, transport, handler = connect()
        size = MAX_RESPONSE + 1
        proto.data_received(
            f"POST {PREFIX}/r1/response HTTP/1.1\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        assert handler.too_large == ["r1"]
        proto.data_received(b"z" * (size - 10))
        assert statuses(transport.written) == []
        proto.data_received(b"z" * 10)
        assert statuses(transport.written) == [413]
        assert not transport.closed
        assert handler.responses == []

    asyncio.run(run())


def test_a_result_at_the_limit_is_accepted() -> None:
    async def run() -> None:
        proto, _, handler = connect()
        proto.data_received(post(f"{PREFIX}/r1/response", b"a" * MAX_RESPONSE))
        assert handler.too_large == []
        assert [len(b) for _, b in handler.responses] == [MAX_RESPONSE]

    asyncio.run(run())


@pytest.mark.parametrize(
    "request_bytes",
    [
        chunked_head(f"{PREFIX}/r1/response") + b"zz\r\nabc\r\n0\r\n\r\n",
        chunked_head(f"{PREFIX}/r1/response") + b"-5\r\nabc\r\n0\r\n\r\n",
        chunked_head(f"{PREFIX}/r1/response") + b"0x3\r\nabc\r\n0\r\n\r\n",
        chunked_head(f"{PREFIX}/r1/response") + b"\r\nabc\r\n0\r\n\r\n",
        chunked_head(f"{PREFIX}/r1/response") + b"3\r\nabcXY0\r\n\r\n",
        chunked_head(f"{PREFIX}/r1/response") + b"1" * 5000 + b"\r\n",
        chunked_head(f"{PREFIX}/r1/response") + b"f" * 40 + b"\r\n",
        post(f"{PREFIX}/r1/response", b"", b"Content-Length: -1\r\n").replace(
            b"Content-Length: 0\r\n", b""
        ),
        f"POST {PREFIX}/r1/response HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc".encode(),
        f"POST {PREFIX}/r1/response HTTP/1.1\r\nContent-Length: 3\r\n"
        "Content-Length: 4\r\n\r\nabcd".encode(),
        f"POST {PREFIX}/r1/response HTTP/1.1\r\nContent-Length: 3\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".encode(),
        f"POST {PREFIX}/r1/response HTTP/1.1\r\nContent-Length: {'9' * 5000}\r\n\r\n".encode(),
        f"POST {PREFIX}/r1/response HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".encode(),
        f"POST {PREFIX}/r1/response HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc".encode(),
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * (70 * 1024),
    ],
    ids=[
        "chunk-size-zz",
        "chunk-size-negative",
        "chunk-size-0x",
        "chunk-size-empty",
        "chunk-without-crlf",
        "chunk-line-endless",
        "chunk-size-huge",
        "content-length-negative",
        "content-length-plus",
        "content-length-twice",
        "length-and-chunked",
        "content-length-5000-digits",
        "transfer-encoding-gzip",
        "space-before-colon",
        "no-request-line",
        "head-endless",
    ],
)
def test_unparseable_input_is_answered_once_and_the_connection_closed(
    request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        proto, transport, handler = connect()
        proto.data_received(request_bytes)
        assert transport.closed
        assert len(statuses(transport.written)) == 1
        assert statuses(transport.written)[0] in (400, 413, 431, 501)
        assert json.loads(bytes(transport.written).split(b"\r\n\r\n", 1)[1])["errorType"]
        assert handler.responses == []
        # Nothing more is read from a closed connection.
        proto.data_received(post(f"{PREFIX}/r1/response", b"late"))
        assert handler.responses == []
        assert len(statuses(transport.written)) == 1

    asyncio.run(run())
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_pipelined_requests_are_answered_in_order_and_the_202_rides_with_the_next() -> None:
    async def run() -> None:
        proto, transport, handler = connect()
        proto.data_received(
            post(f"{PREFIX}/r1/response", b'"one"')
            + f"GET {PREFIX}/next HTTP/1.1\r\nHost: h\r\n\r\n".encode()
        )
        await asyncio.sleep(0)
        assert statuses(transport.written) == []  # the 202 waits for the next answer
        assert handler.next is not None
        handler.next.set_result(Invocation("r2", b'{"n": 2}'))
        await asyncio.sleep(0)
        assert statuses(transport.written) == [202, 200]
        assert transport.written.endswith(b'{"n": 2}')

    asyncio.run(run())


def test_reading_pauses_while_a_runtime_sends_ahead_of_its_answer() -> None:
    async def run() -> None:
        proto, transport, handler = connect()
        proto.data_received(f"GET {PREFIX}/next HTTP/1.1\r\n\r\n".encode())
        await asyncio.sleep(0)
        # Waiting for an event; the runtime keeps sending.
        proto.data_received(b"x" * (runtime_api.MAX_READ_AHEAD + 1))
        assert not transport.reading
        assert handler.next is not None
        handler.next.set_result(Invocation("r1", b"{}"))
        await asyncio.sleep(0)
        # The answer went out; what was read ahead is then refused as garbage.
        assert statuses(transport.written)[0] == 200
        assert transport.closed

    asyncio.run(run())


def test_reading_pauses_while_the_runtime_reads_no_answers() -> None:
    async def run() -> None:
        proto, transport, handler = connect()
        proto.pause_writing()
        assert not transport.reading
        proto.data_received(post(f"{PREFIX}/r1/response", b"1"))
        assert handler.responses == []
        proto.resume_writing()
        assert transport.reading
        assert handler.responses == [("r1", b"1")]

    asyncio.run(run())


def test_connections_per_environment_are_capped() -> None:
    async def run() -> None:
        shared: set[RuntimeApiProtocol] = set()
        opened = [connect(shared) for _ in range(runtime_api.MAX_CONNECTIONS + 1)]
        assert [t.closed for _, t, _ in opened].count(True) == 1
        assert opened[-1][1].closed
        opened[0][0].connection_lost(None)
        assert not connect(shared)[1].closed

    asyncio.run(run())
