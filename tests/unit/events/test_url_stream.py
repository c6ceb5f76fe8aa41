"""``url_stream.stream_answer``: a RESPONSE_STREAM URL's answer from what the function
streams — the HTTP integration prelude's status, headers and cookies, or 200 with the
stream's own content type; a buffered result as is; a bad prelude or a failure before
streaming gets the URL's 502."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from lambdad.events.http.response import HttpResponse
from lambdad.events.url_stream import HTTP_INTEGRATION, stream_answer
from lambdad.invoke.response_stream import ResponseStream
from lambdad.invoke.sync import InvokeResponse
from lambdad.model.streamed_body import StreamedBody

Script = Callable[[ResponseStream], None]


async def _answer(script: Script, out: InvokeResponse | None = None) -> tuple[HttpResponse, bytes]:
    async def invoke(stream: ResponseStream) -> InvokeResponse:
        await asyncio.sleep(0)
        script(stream)
        stream.end()
        return out or InvokeResponse(200, b"", "$LATEST")

    answer = await stream_answer(invoke)
    body = answer.body
    if isinstance(body, StreamedBody):
        body = b"".join([piece async for piece in body.chunks])
    return answer, body


def _prelude(stream: ResponseStream) -> None:
    stream.open(HTTP_INTEGRATION, None)
    doc = {"statusCode": 201, "headers": {"X-A": "1"}, "cookies": ["c=1", "d=2"]}
    stream.write(json.dumps(doc).encode()[:10])
    stream.write(json.dumps(doc).encode()[10:] + b"\0" * 8 + b"bo")
    stream.write(b"dy")


def test_the_prelude_makes_the_head_and_the_rest_the_body() -> None:
    answer, body = asyncio.run(_answer(_prelude))
    assert answer.status == 201
    assert answer.headers == (
        ("Content-Type", "application/octet-stream"),
        ("X-A", "1"),
        ("Set-Cookie", "c=1"),
        ("Set-Cookie", "d=2"),
    )
    assert body == b"body"


def test_a_plain_stream_is_200_with_its_content_type() -> None:
    def script(stream: ResponseStream) -> None:
        stream.open("text/event-stream", None)
        stream.write(b"data: 1\n\n")

    answer, body = asyncio.run(_answer(script))
    assert (answer.status, answer.headers) == (200, (("Content-Type", "text/event-stream"),))
    assert body == b"data: 1\n\n"


def test_a_buffered_result_is_the_body_as_is() -> None:
    answer, body = asyncio.run(
        _answer(lambda s: None, InvokeResponse(200, b'{"statusCode":204}', "$LATEST"))
    )
    assert (answer.status, body) == (200, b'{"statusCode":204}')


def test_a_failure_before_streaming_or_a_bad_prelude_is_502() -> None:
    failed = InvokeResponse(200, b"{}", "$LATEST", function_error="Unhandled")
    answer, _ = asyncio.run(_answer(lambda s: None, failed))
    assert answer.status == 502

    def bad(stream: ResponseStream) -> None:
        stream.open(HTTP_INTEGRATION, None)
        stream.write(b"not json" + b"\0" * 8)

    answer, _ = asyncio.run(_answer(bad))
    assert answer.status == 502
    assert answer.integration_error is not None


def test_prelude_headers_or_a_content_type_that_would_split_the_head_are_refused() -> None:
    def injected(stream: ResponseStream) -> None:
        stream.open(HTTP_INTEGRATION, None)
        stream.write(json.dumps({"headers": {"X-A": "1\r\nX-B: 2"}}).encode() + b"\0" * 8)

    answer, _ = asyncio.run(_answer(injected))
    assert answer.status == 502

    def content_type(stream: ResponseStream) -> None:
        stream.open("text/plain\nX-B: 2", None)
        stream.write(b"x")

    answer, _ = asyncio.run(_answer(content_type))
    assert answer.headers == (("Content-Type", "application/octet-stream"),)
