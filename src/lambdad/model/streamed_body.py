"""A response body that is sent as it is produced rather than all at once.

The API port's connection (``api/http.py``) answers every request with ``(status,
headers, body)``; a front end whose answer streams (``InvokeWithResponseStream``, a
``RESPONSE_STREAM`` function URL) gives a ``StreamedBody`` as that body. It is an
empty ``bytes`` (so every layer in between passes it on unchanged, typed as it
always was) carrying the async iterator of its pieces; the connection sends those
with chunked transfer encoding as they come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator


class StreamedBody(bytes):
    """An empty ``bytes`` whose real content is ``chunks``, sent as they come."""

    chunks: AsyncIterator[bytes]

    def __new__(cls, chunks: AsyncIterator[bytes]) -> StreamedBody:
        body = super().__new__(cls, b"")
        body.chunks = chunks
        return body

    def __bool__(self) -> bool:
        # Not "no body": a layer asking `body or default` keeps the stream.
        return True
