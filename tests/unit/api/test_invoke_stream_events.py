"""``invoke_stream.stream_events``: what a streaming invocation sends while it runs —
one ``PayloadChunk`` per piece as it arrives, then ``InvokeComplete`` (with the error
type and message when the function failed mid-stream); a buffered result is framed as
before; a platform failure after the head is an ``error`` message."""

from __future__ import annotations

import asyncio
import json

from lambdad.api import eventstream
from lambdad.api.eventstream import MessageDecoder
from lambdad.api.handlers.invoke import stream_events as buffered_framing
from lambdad.api.invoke_stream import stream_events
from lambdad.environments.environment import InvocationResult
from lambdad.errors import ServiceException
from lambdad.invoke.response_stream import ResponseStream
from lambdad.invoke.sync import InvokeResponse


def _decoded(messages: list[bytes]) -> list[tuple[str, bytes]]:
    decoder = MessageDecoder()
    out = []
    for data in messages:
        for m in decoder.feed(data):
            kind = m.values.get(":event-type") or m.values.get(":message-type")
            out.append((str(kind), m.payload))
    return out


async def _collect(stream: ResponseStream, task: asyncio.Future[InvokeResponse]) -> list[bytes]:
    return [m async for m in stream_events(stream, task, buffered_framing)]


def test_each_piece_is_sent_as_it_arrives_then_the_end() -> None:
    async def run() -> None:
        stream = ResponseStream()
        task: asyncio.Future[InvokeResponse] = asyncio.get_running_loop().create_future()
        events = stream_events(stream, task, buffered_framing)
        stream.open(None, None)
        stream.write(b"one")
        first = await anext(events)  # before the invocation has ended
        assert _decoded([first]) == [("PayloadChunk", b"one")]
        stream.write(b"two")
        stream.end()
        task.set_result(InvokeResponse(200, b"", "$LATEST", log_result="TE9H"))
        rest = [m async for m in events]
        assert _decoded(rest) == [
            ("PayloadChunk", b"two"),
            ("InvokeComplete", b'{"LogResult":"TE9H"}'),
        ]

    asyncio.run(run())


def test_an_error_mid_stream_completes_with_its_type_and_message() -> None:
    async def run() -> None:
        stream = ResponseStream()
        task: asyncio.Future[InvokeResponse] = asyncio.get_running_loop().create_future()
        stream.open(None, None)
        stream.write(b"partial")
        stream.end()
        doc = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 3.00 seconds"}
        result = InvocationResult(b"", "Unhandled", "Sandbox.Timedout")
        task.set_result(
            InvokeResponse(200, json.dumps(doc).encode(), "$LATEST", "Unhandled", None, result)
        )
        messages = _decoded(await _collect(stream, task))
        assert messages[0] == ("PayloadChunk", b"partial")
        assert messages[1][0] == "InvokeComplete"
        assert json.loads(messages[1][1]) == {
            "ErrorCode": "Sandbox.Timedout",
            "ErrorDetails": "Task timed out after 3.00 seconds",
        }

    asyncio.run(run())


def test_a_buffered_result_is_framed_as_before() -> None:
    async def run() -> None:
        stream = ResponseStream()
        task: asyncio.Future[InvokeResponse] = asyncio.get_running_loop().create_future()
        stream.end()
        task.set_result(InvokeResponse(200, b'{"a":1}', "$LATEST"))
        messages = _decoded(await _collect(stream, task))
        assert messages == [("PayloadChunk", b'{"a":1}'), ("InvokeComplete", b"{}")]

    asyncio.run(run())


def test_a_failure_after_the_head_is_an_error_message() -> None:
    async def run() -> None:
        stream = ResponseStream()
        task: asyncio.Future[InvokeResponse] = asyncio.get_running_loop().create_future()
        stream.end()
        task.set_exception(ServiceException("the platform failed"))
        messages = _decoded(await _collect(stream, task))
        assert messages == [("error", b"")]

    asyncio.run(run())


def test_a_payload_chunk_is_the_generic_encoding_of_its_event() -> None:
    headers = {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    for data in (b"", b"x", bytes(range(256)) * 300):
        assert eventstream.payload_chunk(data) == eventstream.encode_message(headers, data)
