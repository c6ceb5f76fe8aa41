"""A ``RESPONSE_STREAM`` function URL's answer, sent while the function runs.

The URL invokes as ``InvokeWithResponseStream`` does (``invoke.response_stream``) and
answers once the function starts streaming:

- a response typed ``application/vnd.awslambda.http-integration-response`` (Node.js's
  ``awslambda.HttpResponseStream.from``) begins with a JSON prelude ending in 8 NUL
  bytes: its ``statusCode``, ``headers`` and ``cookies`` make the HTTP head, and the
  rest is the body, sent as it comes;
- any other streamed response is answered 200 with its own content type (the Runtime
  API's default, ``application/octet-stream``) and its bytes as the body;
- a function that answered buffered (no streaming handler) has its result sent as the
  body, as is (200, ``application/octet-stream``); one that failed before streaming
  gets the URL's 502.

An error after the head is out can only end the body (it is logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from lambdad.events.http.response import (
    HttpResponse,
    MalformedResult,
    single_headers,
    status_code,
    without_transport_headers,
)
from lambdad.events.http.url_response import Door, failure
from lambdad.invoke.response_stream import DEFAULT_CONTENT_TYPE, ResponseStream
from lambdad.invoke.sync import InvokeResponse
from lambdad.model.streamed_body import StreamedBody

log = logging.getLogger(__name__)

HTTP_INTEGRATION: Final = "application/vnd.awslambda.http-integration-response"
DELIMITER: Final = b"\x00" * 8
# The most prelude read before its delimiter must have come.
MAX_PRELUDE: Final = 64 * 1024

Invoke = Callable[[ResponseStream], Awaitable[InvokeResponse]]


async def stream_answer(invoke: Invoke) -> HttpResponse:
    """The answer of a streaming URL; raises what the invocation raises before it starts."""
    stream = ResponseStream()
    task = asyncio.ensure_future(invoke(stream))
    await asyncio.wait((task, stream.started), return_when=asyncio.FIRST_COMPLETED)
    if not stream.streaming:
        out = await task  # a buffered answer, or what failed before any streaming
        if out.function_error is not None:
            return failure(Door.FUNCTION_URL, f"The function failed: {out.function_error}")
        return HttpResponse(200, (("Content-Type", DEFAULT_CONTENT_TYPE),), out.payload)
    head = b""
    if stream.content_type.split(";", 1)[0].strip().lower() == HTTP_INTEGRATION:
        try:
            status, headers, head = await _prelude(stream)
        except MalformedResult as error:
            stream.discard()
            return failure(Door.FUNCTION_URL, str(error))
    else:
        content_type = stream.content_type
        if not content_type.isprintable() or not content_type.isascii():
            content_type = DEFAULT_CONTENT_TYPE  # nothing the runtime sent may split the head
        status, headers = 200, [("Content-Type", content_type)]
    return HttpResponse(status, tuple(headers), StreamedBody(_body(head, stream, task)))


async def _prelude(stream: ResponseStream) -> tuple[int, list[tuple[str, str]], bytes]:
    """The prelude's status and headers, and the body bytes that came after it."""
    buffered = b""
    while (at := buffered.find(DELIMITER)) < 0:
        if len(buffered) > MAX_PRELUDE:
            raise MalformedResult("the response prelude has no end")
        data = await stream.read()
        if data is None:
            raise MalformedResult("the response ended inside its prelude")
        buffered += data
    try:
        prelude = json.loads(buffered[:at]) if at else {}
    except (ValueError, RecursionError) as error:
        raise MalformedResult(f"the response prelude is not JSON: {error}") from None
    if not isinstance(prelude, dict):
        raise MalformedResult("the response prelude is not an object")
    status = status_code(prelude.get("statusCode", 200))
    headers = without_transport_headers(single_headers(prelude.get("headers"), "headers"))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.insert(0, ("Content-Type", DEFAULT_CONTENT_TYPE))
    cookies = prelude.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResult(f"cookies must be a list of strings, not {cookies!r}")
    headers.extend(("Set-Cookie", cookie) for cookie in cookies)
    return status, headers, buffered[at + len(DELIMITER) :]


async def _body(
    head: bytes, stream: ResponseStream, task: asyncio.Future[InvokeResponse]
) -> AsyncIterator[bytes]:
    if head:
        yield head
    while (data := await stream.read()) is not None:
        yield data
    try:
        out = await task
    except Exception as error:  # the head is out: nothing but the log can tell
        log.info("a streamed URL response failed after its head: %s", error)
        return
    if out.function_error is not None:
        log.info("a streamed URL response ended with a function error: %s", out.function_error)
