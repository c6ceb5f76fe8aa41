"""``stream_events``: a buffered invoke result framed as Lambda's response stream."""

from __future__ import annotations

import json

from lambdad.api.eventstream import decode_messages
from lambdad.api.handlers.invoke import stream_events
from lambdad.invoke.sync import InvokeResponse


def _kinds(body: bytes) -> list[str]:
    return [str(m.headers[":event-type"].value) for m in decode_messages(body)]


def test_the_payload_is_split_into_chunks_then_completed() -> None:
    out = InvokeResponse(status=200, payload=b"abcdefg", executed_version="$LATEST")
    messages = decode_messages(stream_events(out, chunk_bytes=3))
    assert [m.payload for m in messages[:-1]] == [b"abc", b"def", b"g"]
    assert _kinds(stream_events(out, chunk_bytes=3)) == ["PayloadChunk"] * 3 + ["InvokeComplete"]
    assert json.loads(messages[-1].payload) == {}


def test_an_empty_result_is_only_invoke_complete() -> None:
    out = InvokeResponse(status=200, payload=b"", executed_version="1", log_result="bG9n")
    messages = decode_messages(stream_events(out))
    assert _kinds(stream_events(out)) == ["InvokeComplete"]
    assert json.loads(messages[0].payload) == {"LogResult": "bG9n"}


def test_a_function_error_goes_into_invoke_complete() -> None:
    error = b'{"errorMessage":"boom","errorType":"ValueError"}'
    out = InvokeResponse(
        status=200, payload=error, executed_version="$LATEST", function_error="Unhandled"
    )
    messages = decode_messages(stream_events(out))
    assert _kinds(stream_events(out)) == ["InvokeComplete"]
    assert json.loads(messages[0].payload) == {
        "ErrorCode": "Unhandled",
        "ErrorDetails": error.decode(),
    }
