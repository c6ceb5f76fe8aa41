"""``InvokeWithResponseStream``'s event stream, produced while the function runs.

Each piece of a response the function streams becomes a ``PayloadChunk`` event as it
arrives; the end is one ``InvokeComplete`` event: with ``LogResult`` when the caller
asked for the log tail, and, when the function failed mid-stream (an error in the
Runtime API trailers, a timeout, a crash, a response past the stream limit), with
``ErrorCode`` the error's type and ``ErrorDetails`` its message. A function that
answered buffered (no streaming handler) is framed as ``stream_events`` frames it.
A failure of the platform after the stream began can only be an ``error`` message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable

from lambdad.api import eventstream
from lambdad.errors import AwsError
from lambdad.invoke.response_stream import ResponseStream
from lambdad.invoke.sync import InvokeResponse

log = logging.getLogger(__name__)

Framing = Callable[[InvokeResponse], bytes]


async def stream_events(
    stream: ResponseStream, task: asyncio.Future[InvokeResponse], buffered: Framing
) -> AsyncIterator[bytes]:
    """The event-stream messages of one invocation (``buffered``: how a result that was
    not streamed is framed)."""
    while (data := await stream.read()) is not None:
        yield eventstream.payload_chunk(data)
    try:
        out = await task
    except AwsError as error:
        yield eventstream.error_message(type(error).__name__, str(error))
        return
    except Exception:
        log.exception("a streamed invocation failed")
        yield eventstream.error_message("ServiceException", "Internal error")
        return
    if not stream.streaming:
        yield buffered(out)
        return
    if out.function_error is None:
        yield eventstream.invoke_complete(log_result=out.log_result)
        return
    error_type = out.result.error_type if out.result is not None else None
    yield eventstream.invoke_complete(
        error_code=error_type or out.function_error,
        error_details=_message(out.payload),
        log_result=out.log_result,
    )


def _message(payload: bytes) -> str:
    """The error document's message (the document itself when it has none)."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        doc = None
    message = doc.get("errorMessage") if isinstance(doc, dict) else None
    if isinstance(message, str):
        return message
    return payload.decode("utf-8", "replace")
