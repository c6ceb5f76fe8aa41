"""Sending a streamed body (``model.streamed_body.StreamedBody``) on an API connection.

The head goes out at once with ``Transfer-Encoding: chunked``; each piece the body's
iterator yields goes out as one chunk as soon as it is produced, waiting while the
client reads slower than it comes (the connection's flow control), and the empty
chunk ends it. A client that goes away does not stop the iteration: what produces
the pieces (an invocation) runs to its end, as on AWS, and its pieces are dropped. A
failure of the iterator after the head is out can only cut the connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from lambdad.api.http_response import LAST_CHUNK, chunk, encode_chunked_head
from lambdad.model.streamed_body import StreamedBody

log = logging.getLogger(__name__)


class Connection(Protocol):
    """What of an ``HttpProtocol`` sending a streamed body uses."""

    transport: asyncio.Transport | None
    writable: asyncio.Future[None] | None


async def send_streamed(
    conn: Connection,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: StreamedBody,
    date_line: bytes,
    *,
    close: bool,
    head_only: bool,
) -> bool:
    """Send the response; False when it could not be completed (the connection must
    then close: the client cannot tell where the body ended)."""
    if conn.transport is not None:
        conn.transport.write(encode_chunked_head(status, headers, date_line, close=close))
    completed = True
    try:
        async for data in body.chunks:
            transport = conn.transport
            if transport is None or head_only or not data:
                continue
            transport.write(chunk(data))
            writable = conn.writable
            if writable is not None and not writable.done():
                await writable
    except Exception:
        log.exception("failure producing a streamed response")
        completed = False
    if completed and conn.transport is not None and not head_only:
        conn.transport.write(LAST_CHUNK)
    return completed
