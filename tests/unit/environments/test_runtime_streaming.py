"""The Runtime API's streaming mode, driven through a fake transport: a response posted
with ``Lambda-Runtime-Function-Response-Mode: streaming`` reaches its environment piece
by piece while the runtime is still sending it, and its end carries the error the
runtime reported in the trailers."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable

import pytest

from lambdad.environments.runtime_api import RuntimeApiProtocol
from lambdad.environments.runtime_http import MAX_TRAILERS, BadRequest, Request, RequestReader
from transports import FakeTransport

PREFIX = "/2018-06-01/runtime/invocation"

STREAM_HEAD = (
    f"POST {PREFIX}/r1/response HTTP/1.1\r\nHost: h\r\n"
    "Lambda-Runtime-Function-Response-Mode: streaming\r\nContent-Type: text/plain\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
).encode()


def statuses(written: bytes | bytearray) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", bytes(written))]


class StreamingHandler:
    """An environment with invocation ``r1`` in flight, whose response may stream."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.responses: list[tuple[str, bytes]] = []
        self.too_large: list[str] = []
        self.pieces: list[bytes] = []
        self.begun: list[tuple[str, str | None]] = []
        self.ended: list[tuple[str, str | None, str | None]] = []
        self.pressure: Callable[[bool], None] | None = None
        self.limit = limit

    def next_invocation(self) -> asyncio.Future[object]:
        raise AssertionError("not asked here")

    def post_response(self, request_id: str, body: bytes) -> tuple[int, dict[str, str]]:
        self.responses.append((request_id, body))
        return 202, {"status": "OK"}

    def post_error(
        self, request_id: str, error_type: str | None, body: bytes
    ) -> tuple[int, dict[str, str]]:
        return 202, {"status": "OK"}

    def post_init_error(self, error_type: str | None, body: bytes) -> tuple[int, dict[str, str]]:
        return 202, {"status": "OK"}

    def response_too_large(self, request_id: str) -> None:
        self.too_large.append(request_id)

    def begin_stream(
        self, request_id: str, content_type: str | None, pressure: Callable[[bool], None]
    ) -> tuple[Callable[[bytes], None], int] | None:
        if request_id != "r1":
            return None
        self.begun.append((request_id, content_type))
        self.pressure = pressure
        return self.pieces.append, self.limit

    def end_stream(
        self, request_id: str, error_type: str | None, error_body: str | None
    ) -> tuple[int, dict[str, str]]:
        self.ended.append((request_id, error_type, error_body))
        return 202, {"status": "OK"}


def connect(handler: StreamingHandler) -> tuple[RuntimeApiProtocol, FakeTransport]:
    proto = RuntimeApiProtocol(handler, set())  # type: ignore[arg-type]
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport


def test_pieces_reach_the_environment_before_the_response_ends() -> None:
    async def run() -> None:
        handler = StreamingHandler()
        proto, transport = connect(handler)
        proto.data_received(STREAM_HEAD + b"6\r\nfirst;\r\n4\r\nse")
        assert handler.begun == [("r1", "text/plain")]
        # A chunk split over two reads goes on in two pieces, as its bytes arrive.
        assert handler.pieces == [b"first;", b"se"]
        assert handler.ended == []
        assert statuses(transport.written) == []
        proto.data_received(b"co\r\n0\r\n\r\n")
        assert b"".join(handler.pieces) == b"first;seco"
        assert handler.ended == [("r1", None, None)]
        assert handler.responses == []  # never read whole
        assert statuses(transport.written) == [202]

    asyncio.run(run())


def test_an_error_in_the_trailers_ends_the_stream_with_it() -> None:
    async def run() -> None:
        handler = StreamingHandler()
        proto, transport = connect(handler)
        body = base64.b64encode(b'{"errorType":"Boom","errorMessage":"late"}').decode()
        proto.data_received(
            STREAM_HEAD
            + b"3\r\nabc\r\n0\r\nLambda-Runtime-Function-Error-Type: Boom\r\n"
            + f"Lambda-Runtime-Function-Error-Body: {body}\r\n\r\n".encode()
        )
        assert handler.pieces == [b"abc"]
        assert handler.ended == [("r1", "Boom", body)]
        assert statuses(transport.written) == [202]

    asyncio.run(run())


def test_a_buffered_response_and_another_invocation_are_not_streamed() -> None:
    async def run() -> None:
        handler = StreamingHandler()
        proto, _ = connect(handler)
        plain = f"POST {PREFIX}/r1/response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok".encode()
        other = STREAM_HEAD.replace(b"/r1/", b"/r2/") + b"2\r\nno\r\n0\r\n\r\n"
        proto.data_received(plain + other)
        assert handler.begun == []
        assert handler.responses == [("r1", b"ok"), ("r2", b"no")]

    asyncio.run(run())


def test_a_slow_reader_stops_the_reading_until_it_catches_up() -> None:
    async def run() -> None:
        handler = StreamingHandler()
        proto, transport = connect(handler)
        proto.data_received(STREAM_HEAD + b"1\r\nx\r\n")
        assert handler.pressure is not None
        handler.pressure(True)
        assert not transport.reading
        handler.pressure(False)
        assert transport.reading

    asyncio.run(run())


def test_a_stream_past_its_limit_fails_the_invocation_once() -> None:
    async def run() -> None:
        handler = StreamingHandler(limit=4)
        proto, transport = connect(handler)
        proto.data_received(STREAM_HEAD + b"3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n0\r\n\r\n")
        assert handler.pieces == [b"abc"]
        assert handler.too_large == ["r1"]
        assert statuses(transport.written) == [413]

    asyncio.run(run())


def _reader_with_sink() -> tuple[RequestReader, list[bytes]]:
    pieces: list[bytes] = []

    def stream_head(request: Request) -> None:
        request.sink = pieces.append

    reader = RequestReader(1 << 20, lambda path: None, stream_head)
    reader.work = 1 << 20
    return reader, pieces


def test_trailers_are_kept_by_name() -> None:
    reader, pieces = _reader_with_sink()
    reader.feed(
        b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"
        b"X-One: 1\r\nx-two:  two words \r\n\r\n"
    )
    request = reader.next_request()
    assert request is not None
    assert pieces == [b"hi"]
    assert request.trailers == {"x-one": "1", "x-two": "two words"}


@pytest.mark.parametrize(
    ("trailer", "status"),
    [(b"no colon here", 400), (b" X: folded", 400), (b"X: " + b"a" * MAX_TRAILERS, 400)],
)
def test_malformed_or_huge_trailers_are_refused(trailer: bytes, status: int) -> None:
    reader, _ = _reader_with_sink()
    reader.feed(
        b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailer + b"\r\n\r\n"
    )
    with pytest.raises(BadRequest) as caught:
        reader.next_request()
    assert caught.value.status == status


def test_many_trailer_lines_are_bounded_in_all() -> None:
    reader, _ = _reader_with_sink()
    lines = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
    reader.feed(b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + lines + b"\r\n")
    with pytest.raises(BadRequest) as caught:
        reader.next_request()
    assert caught.value.status == 431


def test_a_content_length_body_streams_too() -> None:
    reader, pieces = _reader_with_sink()
    reader.feed(b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nab")
    assert reader.next_request() is None
    reader.feed(b"cde")
    request = reader.next_request()
    assert request is not None
    assert pieces == [b"ab", b"cde"]
    assert request.body == b""


def test_a_repeated_bodiless_head_reads_the_same_each_time_and_apart() -> None:
    reader = RequestReader(1 << 20, lambda path: None)
    reader.work = 1 << 20
    head = f"GET {PREFIX}/next?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\n\r\n".encode()
    reader.feed(head * 3 + b"GET /p HTTP/1.1\r\nBad : header\r\n\r\n")
    requests = [reader.next_request() for _ in range(3)]
    first, second, third = (r for r in requests if r is not None)
    for request in (first, second, third):
        assert (request.method, request.path) == ("GET", f"{PREFIX}/next")
        assert request.headers == {"host": "h", "user-agent": "u"}
        assert request.body == b""
    first.headers["host"] = "changed"
    assert second.headers["host"] == "h"
    assert second.headers is not third.headers
    with pytest.raises(BadRequest):
        reader.next_request()  # what is not remembered is still checked
