"""The Runtime API's HTTP/1.1 request reader: incremental, bounded, strict.

Everything a runtime sends is hostile input. ``RequestReader`` turns the bytes of one
connection into requests: each byte is looked at a bounded number of times however
the request is split or chunked (Content-Length and chunked bodies), a body is
bounded while it arrives, not after (past the limit it is counted and dropped, and
``over_limit`` is told at once), and a parsing step gives the event loop a turn once
its work budget is spent. Anything it cannot parse raises ``BadRequest`` (no
guessing, so no desynchronised stream). ``runtime_api`` serves what it reads.

A streamed body (a response posted in the Runtime API's streaming mode) is not kept:
once its head is in, ``stream_head`` may give the request a ``sink``, and each piece
of its body goes there as it arrives (a chunk split over two reads in two pieces), so
that the caller sees the bytes while the runtime is still writing. Trailers (where a
streamed response reports a failure) are kept in ``Request.trailers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_HEADER = 64 * 1024
# One chunk-size line (hex digits and any extensions) or trailer line, at most.
MAX_CHUNK_LINE = 1024
# The trailers of one request, all lines together (an error body travels there, base64).
MAX_TRAILERS = 64 * 1024
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?")
# Whitespace before a header's colon, or a line folded onto the one before: refused
# (RFC 9112), so that no header is read otherwise than its sender meant.
_MALFORMED_HEAD = re.compile(r"[ \t]:|\n[ \t]")
# Bodiless heads remembered per connection, as parsed (see RequestReader._known).
_KNOWN_HEADS = 8

# Where the reader is in the request it reads.
_HEAD, _BODY, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILER = range(6)


class BadRequest(Exception):
    """What the runtime sent is not HTTP/1.1 this server reads: answered, then closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Sink = Callable[[bytes], None]


def _header_block(block: str) -> tuple[dict[str, str], frozenset[str]]:
    """A head's header lines (``block`` starts with the request line's CRLF): the
    headers by lower-cased name, and the Content-Length values given."""
    if _MALFORMED_HEAD.search(block) is not None:
        raise BadRequest(400, "Malformed header")
    headers: dict[str, str] = {}
    lengths: set[str] = set()
    for line in block.split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name:
            raise BadRequest(400, "Malformed header")
        key = name.lower()
        value = value.strip(" \t")
        if key == "content-length":
            lengths.add(value)
        headers[key] = value
    return headers, frozenset(lengths)


class Request:
    """One request as read: its body bounded (``over``: counted past the limit, dropped)."""

    __slots__ = (
        "body",
        "headers",
        "limit",
        "method",
        "over",
        "path",
        "received",
        "sink",
        "trailer_bytes",
        "trailers",
    )

    def __init__(self, method: str, path: str, headers: dict[str, str], limit: int) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body: bytes | bytearray = b""
        self.received = 0  # body bytes so far, kept or not
        self.over = False  # the body passed its limit: counted and dropped, not kept
        self.limit = limit  # the most body bytes kept (or streamed)
        # Where a streamed body goes as it arrives (None: the body is kept in ``body``).
        self.sink: Sink | None = None
        self.trailers: dict[str, str] = {}
        self.trailer_bytes = 0


class RequestReader:
    """The requests of one connection, read from what it has sent so far."""

    def __init__(
        self,
        max_body: int,
        over_limit: Callable[[str], None],
        stream_head: Callable[[Request], None] | None = None,
    ) -> None:
        self.max_body = max_body
        # Told the path of a request whose body passed its limit, once.
        self.over_limit = over_limit
        # Shown each request with a body once its head is in: it may set the request's
        # ``sink`` (and ``limit``) to have the body streamed rather than kept.
        self.stream_head = stream_head
        # Unparsed input is buffer[pos:]; the head's end is searched from `scanned` on.
        self.buffer: bytes | bytearray = b""
        self.pos = 0
        self.scanned = 0
        self.state = _HEAD
        self.request: Request | None = None
        self.remaining = 0  # bytes left of the body (Content-Length) or of the chunk
        self.work = 0  # what is left of this turn's work budget (a chunk costs 1)
        self.out_of_work = False  # the last next_request stopped for the budget
        # Heads of requests without a body, as parsed (method, path, headers): a runtime
        # asks for its next event with the same bytes every time.
        self._known: dict[bytes, tuple[str, str, dict[str, str]]] = {}
        # Header blocks (a head less its request line), as parsed: a runtime posts every
        # response with the same headers, only the request id in the path differs.
        self._blocks: dict[bytes, tuple[dict[str, str], frozenset[str]]] = {}

    def feed(self, data: bytes) -> None:
        if self.pos >= len(self.buffer):
            # The common case: one whole request per read, parsed without a copy.
            self.buffer, self.pos, self.scanned = data, 0, 0
        else:
            if not isinstance(self.buffer, bytearray):
                self.buffer = bytearray(self.buffer)
            self.buffer += data

    def backlog(self) -> int:
        """Bytes received and not yet parsed."""
        return len(self.buffer) - self.pos

    def head_waiting(self) -> bool:
        """Whether the head of a next request is in already (the runtime pipelined it)."""
        return self.buffer.find(b"\r\n\r\n", self.pos, self.pos + MAX_HEADER) >= 0

    def clear(self) -> None:
        self.buffer, self.pos = b"", 0

    def next_request(self) -> Request | None:
        """The next complete request, or None until more bytes arrive."""
        buf = self.buffer
        while True:
            state = self.state
            if state == _HEAD and self.pos >= len(buf):
                return None  # nothing more sent: the common case after a request
            if state in (_HEAD, _CHUNK_LINE) and self.work <= 0:
                self.out_of_work = True
                return None
            if state == _HEAD:
                if not self._parse_head(buf):
                    return None
            elif state == _BODY:
                if not self._take(buf):
                    return None
                return self._complete()
            elif state == _CHUNK_LINE:
                self._whole_chunks(buf)
                line = self._line(buf)
                if line is None:
                    return None
                self.work -= 1
                match = _CHUNK_SIZE.fullmatch(line)
                if match is None:
                    raise BadRequest(400, "Malformed chunk size")
                size = int(match.group(1), 16)
                if size == 0:
                    self.state = _TRAILER
                else:
                    self._count(size)
                    self.remaining = size
                    self.state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if not self._take(buf):
                    return None
                self.state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) - self.pos < 2:
                    return None
                if buf[self.pos : self.pos + 2] != b"\r\n":
                    raise BadRequest(400, "Malformed chunked body")
                self.pos += 2
                self.state = _CHUNK_LINE
            elif state == _TRAILER:
                line = self._line(buf, MAX_TRAILERS)
                if line is None:
                    return None
                if not line:
                    return self._complete()
                self._trailer(line)
            else:
                return None

    def _whole_chunks(self, buf: bytes | bytearray) -> None:
        """Consume every complete data chunk at ``pos`` in one tight loop (the state
        machine takes over at a partial or last chunk): a runtime may send a body in
        as many one-byte chunks as it likes, each costs the same few steps."""
        request = self.request
        assert request is not None
        pos, end_of_data = self.pos, len(buf)
        find, match, startswith = buf.find, _CHUNK_SIZE.fullmatch, buf.startswith
        view = memoryview(buf)
        sink = request.sink
        kept = request.body if isinstance(request.body, bytearray) else bytearray(request.body)
        received, over, work = request.received, request.over, self.work
        max_body = request.limit
        try:
            while work > 0:
                eol = find(b"\r\n", pos, pos + MAX_CHUNK_LINE + 2)
                if eol < 0:
                    break
                size_match = match(buf, pos, eol)
                if size_match is None:
                    break  # the state machine reports it
                size = int(size_match.group(1), 16)
                data_end = eol + 2 + size
                if size == 0 or data_end + 2 > end_of_data:
                    break
                if received + size > max_body >= received:  # _count fails the invocation
                    break
                if not startswith(b"\r\n", data_end):
                    break
                if over:
                    pass
                elif sink is not None:
                    sink(bytes(view[eol + 2 : data_end]))
                else:
                    kept += view[eol + 2 : data_end]
                received += size
                pos = data_end + 2
                work -= 1
        finally:
            view.release()
        request.body, request.received, self.pos, self.work = kept, received, pos, work

    def _line(self, buf: bytes | bytearray, bound: int = MAX_CHUNK_LINE) -> bytes | None:
        # Searched within one line's bound: a runtime that never ends a line costs a
        # bounded search per read, and a 400 once it passes the bound.
        pos = self.pos
        eol = buf.find(b"\r\n", pos, pos + bound + 2)
        if eol < 0:
            if len(buf) - pos > bound:
                raise BadRequest(400, "Chunk line too long")
            return None
        self.pos = eol + 2
        return bytes(buf[pos:eol])

    def _take(self, buf: bytes | bytearray) -> bool:
        """Move up to ``remaining`` body bytes out of the buffer; True once all arrived."""
        request = self.request
        assert request is not None
        n = min(self.remaining, len(buf) - self.pos)
        if n and not request.over:
            if request.sink is not None:
                request.sink(bytes(buf[self.pos : self.pos + n]))
            elif not request.body and n == self.remaining and self.state == _BODY:
                request.body = buf[self.pos : self.pos + n]  # the whole body at once
            else:
                if not isinstance(request.body, bytearray):
                    request.body = bytearray(request.body)
                request.body += memoryview(buf)[self.pos : self.pos + n]
        self.pos += n
        self.remaining -= n
        return self.remaining == 0

    def _count(self, size: int) -> None:
        """Account for ``size`` more body bytes: past the limit, the body is dropped
        and the invocation fails now (not when the runtime is done sending)."""
        request = self.request
        assert request is not None
        request.received += size
        if request.received > request.limit and not request.over:
            request.over = True
            request.body = b""
            self.over_limit(request.path)

    def _parse_head(self, buf: bytes | bytearray) -> bool:
        end = buf.find(b"\r\n\r\n", max(self.pos, self.scanned))
        if end < 0 or end - self.pos > MAX_HEADER:
            if len(buf) - self.pos > MAX_HEADER:
                raise BadRequest(431, "Request header too large")
            # Next time the search starts where this one stopped (less a partial match).
            self.scanned = max(self.pos, len(buf) - 3)
            return False
        raw = bytes(buf[self.pos : end])
        self.pos = end + 4
        self.scanned = self.pos
        known = self._known.get(raw)
        if known is not None:
            self.request = Request(known[0], known[1], dict(known[2]), self.max_body)
            self.remaining = 0
            self.state = _BODY
            return True
        line_end = raw.find(b"\r\n")
        if line_end < 0:
            line_end = len(raw)
        request_line = raw[:line_end].decode("latin-1")
        parts = request_line.split(" ")
        method = parts[0]
        if len(parts) != 3 or not (method.isalpha() and method.isascii()):
            raise BadRequest(400, "Malformed request line")
        if not parts[2].startswith("HTTP/1."):
            raise BadRequest(400, "Malformed request line")
        if _MALFORMED_HEAD.search(request_line) is not None:
            raise BadRequest(400, "Malformed header")
        # The header block (from the request line's CRLF on) is the same for every
        # response of one size a runtime posts (its Content-Length is in the block):
        # parsed once for each of the first few sizes seen.
        block = raw[line_end:]
        parsed = self._blocks.get(block)
        if parsed is None:
            parsed = _header_block(block.decode("latin-1"))
            if len(self._blocks) < _KNOWN_HEADS:
                self._blocks[block] = parsed
        headers, lengths = dict(parsed[0]), set(parsed[1])
        path = parts[1].split("?", 1)[0]
        request = Request(method, path, headers, self.max_body)
        self.request = request
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if lengths:
                raise BadRequest(400, "Both Content-Length and Transfer-Encoding")
            if encoding.lower() != "chunked":
                raise BadRequest(501, "Unsupported Transfer-Encoding")
            if self.stream_head is not None:
                self.stream_head(request)
            self.state = _CHUNK_LINE
            return True
        if not lengths:
            length = 0
            if len(self._known) < _KNOWN_HEADS:
                self._known[raw] = (method, path, dict(headers))
        elif len(lengths) == 1 and (value := lengths.pop()).isdigit() and value.isascii():
            if len(value) > 15:
                raise BadRequest(413, "Request too large")
            length = int(value)
        else:
            raise BadRequest(400, "Bad Content-Length")
        if length and self.stream_head is not None:
            self.stream_head(request)
        self._count(length)
        self.remaining = length
        self.state = _BODY
        return True

    def _trailer(self, line: bytes) -> None:
        request = self.request
        assert request is not None
        request.trailer_bytes += len(line) + 2
        if request.trailer_bytes > MAX_TRAILERS:
            raise BadRequest(431, "Trailers too large")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "Malformed trailer")
        request.trailers[name.lower()] = value.strip(" \t")

    def _complete(self) -> Request:
        request = self.request
        assert request is not None
        self.request = None
        self.state = _HEAD
        return request

    def compact(self) -> None:
        """Drop what was parsed: once per read, never once per request or chunk."""
        if self.pos == 0:
            return
        if self.pos >= len(self.buffer):
            self.buffer = b""
        else:
            self.buffer = bytearray(memoryview(self.buffer)[self.pos :])
        self.scanned = max(0, self.scanned - self.pos)
        self.pos = 0
