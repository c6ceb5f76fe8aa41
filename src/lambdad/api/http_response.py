"""The bytes of an HTTP/1.1 answer on the API port, ready made where they can be.

Owns the status lines, the canned answers the connection sends without asking the
app (``100 Continue``, a ``400`` for what cannot be parsed, a ``500`` for a failure),
uvicorn's ``Date`` header as one cached line, and ``encode``: a response's head and
body as the writes that carry them (one write, unless the body is large enough that
copying it into the head costs more than a second write); ``encode_chunked_head`` and
``chunk`` for a body sent as it is produced.
"""

from __future__ import annotations

from http import HTTPStatus

from lambdad.model.http_status import status_line

Response = tuple[int, list[tuple[bytes, bytes]], bytes]

# A response body larger than this is written apart from its head, not copied into it.
JOIN_LIMIT = 64 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def plain(status: int, text: str) -> bytes:
    """A complete plain-text answer that closes the connection."""
    body = text.encode()
    return b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n" % (
        status,
        HTTPStatus(status).phrase.encode(),
    ) + b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)


SERVER_ERROR = plain(500, "Internal server error.")
BAD_REQUEST = plain(400, "Invalid HTTP request received.")


def _status_lines() -> dict[int, bytes]:
    return {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}


_STATUS_LINES = _status_lines()


class DateLine:
    """uvicorn's default headers (``Date``, ``Server``) as one line, joined again only
    when uvicorn swaps in a new list (once a second)."""

    __slots__ = ("_line", "_source")

    def __init__(self) -> None:
        self._source: list[tuple[bytes, bytes]] | None = None
        self._line = b""

    def of(self, source: list[tuple[bytes, bytes]]) -> bytes:
        if source is not self._source:
            self._source = source
            self._line = b"".join(b"%s: %s\r\n" % (k, v) for k, v in source)
        return self._line


def encode(
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    date_line: bytes,
    *,
    close: bool,
    head_only: bool,
) -> tuple[bytes, ...]:
    """The writes that carry a response (``head_only``: the answer to a HEAD)."""
    line = _STATUS_LINES.get(status) if type(status) is int else status_line(status)
    parts = [line or b"HTTP/1.1 %d Unknown\r\n" % status, date_line]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"content-length: %d\r\n" % len(body))
    if close:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if head_only:
        return (b"".join(parts),)
    if len(body) <= JOIN_LIMIT:
        parts.append(body)
        return (b"".join(parts),)
    return (b"".join(parts), body)


def encode_chunked_head(
    status: int, headers: list[tuple[bytes, bytes]], date_line: bytes, *, close: bool
) -> bytes:
    """The head of a response whose body follows in chunks (``Transfer-Encoding: chunked``)."""
    parts = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status, date_line]
    for name, value in headers:
        if name != b"content-length":
            parts += (name, b": ", value, b"\r\n")
    parts.append(b"transfer-encoding: chunked\r\n")
    if close:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (never empty: the empty chunk ends the body)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
