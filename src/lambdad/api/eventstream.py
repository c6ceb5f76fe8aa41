"""The ``application/vnd.amazon.eventstream`` framing ``InvokeWithResponseStream`` answers with.

Owns the binary message format every AWS SDK's event-stream reader parses (botocore's
``botocore.eventstream``, the CRT's ``aws-c-event-stream``) and the three kinds of
message Lambda sends in it. Pure: bytes in, bytes out, no I/O.

A message, all integers big-endian::

    total length      uint32   the whole message, these 4 bytes and the final CRC included
    headers length    uint32   bytes of the headers section
    prelude CRC       uint32   CRC32 of the 8 bytes above
    headers           name length (uint8), name (UTF-8), value type (uint8), value
    payload           bytes
    message CRC       uint32   CRC32 of everything before it, prelude CRC included

Header value types (``HeaderType``): 0 true, 1 false (no value bytes), 2 byte (int8),
3 short (int16), 4 integer (int32), 5 long (int64), 6 byte array and 7 string (uint16
length, then the bytes), 8 timestamp (int64 milliseconds since the epoch), 9 UUID (16
bytes).

Lambda's stream, as botocore's model for ``InvokeWithResponseStream`` names it
(``InvokeWithResponseStreamResponseEvent``): ``PayloadChunk`` events whose payload is the
function's bytes (``payload_chunk``), then one ``InvokeComplete`` event whose JSON body
carries ``ErrorCode``, ``ErrorDetails`` and ``LogResult`` (``invoke_complete``). A failure
of the stream itself is an ``error`` message (``error_message``): the model declares no
exception events for this stream, so botocore reads ``:error-code``/``:error-message``
and raises ``EventStreamError`` with them; ``exception_message`` encodes the modelled
``exception`` shape for completeness (botocore finds no member for it in Lambda's model
and reports an empty code).

``MessageDecoder`` reads messages back (for tests and for lambdad's own clients).
"""

from __future__ import annotations

import json
import struct
import uuid
from binascii import crc32
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final

from lambdad.errors import LambdadError

__all__ = [
    "CONTENT_TYPE",
    "MAX_HEADERS_BYTES",
    "MAX_HEADER_NAME_BYTES",
    "MAX_HEADER_VALUE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "EventStreamError",
    "Header",
    "HeaderType",
    "HeaderValue",
    "Message",
    "MessageDecoder",
    "decode_messages",
    "encode_message",
    "error_message",
    "exception_message",
    "invoke_complete",
    "payload_chunk",
]

# The response's Content-Type (botocore reads it into ``ResponseStreamContentType``).
CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"

PRELUDE_BYTES: Final = 12
CRC_BYTES: Final = 4
# A header name's length is one byte.
MAX_HEADER_NAME_BYTES: Final = 255
# String and byte-array values carry a uint16 length; the AWS runtimes (aws-c-event-stream)
# stop at INT16_MAX.
MAX_HEADER_VALUE_BYTES: Final = 32767
# botocore refuses a message whose headers exceed 128 KiB.
MAX_HEADERS_BYTES: Final = 128 * 1024
# aws-c-event-stream's largest message is 16 MiB (botocore's reader allows 24 MiB of
# payload); the writer keeps every message within the stricter reader.
MAX_PAYLOAD_BYTES: Final = 16 * 1024 * 1024 - PRELUDE_BYTES - CRC_BYTES - MAX_HEADERS_BYTES

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)


class EventStreamError(LambdadError):
    """Bytes that are not a well-formed event-stream message (bad length, CRC, header)."""


class HeaderType(IntEnum):
    """The wire code of a header value's type."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    SHORT = 3
    INTEGER = 4
    LONG = 5
    BYTE_ARRAY = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


HeaderValue = bool | int | bytes | str | datetime | uuid.UUID

# Signed integer types: (struct format, smallest, largest).
_INTEGERS: Final[Mapping[HeaderType, tuple[str, int, int]]] = {
    HeaderType.BYTE: ("!b", -(2**7), 2**7 - 1),
    HeaderType.SHORT: ("!h", -(2**15), 2**15 - 1),
    HeaderType.INTEGER: ("!i", -(2**31), 2**31 - 1),
    HeaderType.LONG: ("!q", -(2**63), 2**63 - 1),
}


@dataclass(frozen=True)
class Header:
    """One typed header value. ``Header.of`` infers the type of any value but an int."""

    type: HeaderType
    value: HeaderValue

    def __post_init__(self) -> None:
        _check_value(self.type, self.value)

    @classmethod
    def of(cls, value: HeaderValue | Header) -> Header:
        """The header for ``value``: str → string, bytes → byte array, bool → true/false,
        UUID → uuid, aware datetime → timestamp. An int has no one width: pass
        ``Header(HeaderType.SHORT, 7)`` (or BYTE, INTEGER, LONG) instead."""
        if isinstance(value, Header):
            return value
        if isinstance(value, bool):
            return cls(HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE, value)
        if isinstance(value, str):
            return cls(HeaderType.STRING, value)
        if isinstance(value, bytes):
            return cls(HeaderType.BYTE_ARRAY, value)
        if isinstance(value, uuid.UUID):
            return cls(HeaderType.UUID, value)
        if isinstance(value, datetime):
            return cls(HeaderType.TIMESTAMP, value)
        raise TypeError(
            f"an int header value needs an explicit width, e.g. Header(HeaderType.INTEGER, "
            f"{value!r})"
        )


def _check_value(kind: HeaderType, value: HeaderValue) -> None:
    if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        if value is not (kind is HeaderType.BOOL_TRUE):
            raise ValueError(f"a {kind.name} header holds {kind is HeaderType.BOOL_TRUE}")
    elif kind in _INTEGERS:
        _, low, high = _INTEGERS[kind]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a {kind.name} header holds an int in [{low}, {high}]")
    elif kind is HeaderType.STRING:
        if not isinstance(value, str):
            raise ValueError("a STRING header holds a str")
        _check_length(len(value.encode()))
    elif kind is HeaderType.BYTE_ARRAY:
        if not isinstance(value, bytes):
            raise ValueError("a BYTE_ARRAY header holds bytes")
        _check_length(len(value))
    elif kind is HeaderType.TIMESTAMP:
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError("a TIMESTAMP header holds a timezone-aware datetime")
    elif not isinstance(value, uuid.UUID):
        raise ValueError("a UUID header holds a uuid.UUID")


def _check_length(length: int) -> None:
    if length > MAX_HEADER_VALUE_BYTES:
        raise ValueError(f"a header value is at most {MAX_HEADER_VALUE_BYTES} bytes")


@dataclass(frozen=True)
class Message:
    """One decoded message: its typed headers, in wire order, and its payload."""

    headers: Mapping[str, Header]
    payload: bytes = b""

    @property
    def values(self) -> dict[str, HeaderValue]:
        """The headers' plain values, by name."""
        return {name: header.value for name, header in self.headers.items()}


# --------------------------------------------------------------------------- encoding


def encode_message(headers: Mapping[str, HeaderValue | Header], payload: bytes = b"") -> bytes:
    """One message: ``headers`` (plain values typed by ``Header.of``) and ``payload``."""
    header_bytes = b"".join(_encode_header(name, Header.of(v)) for name, v in headers.items())
    if len(header_bytes) > MAX_HEADERS_BYTES:
        raise ValueError(f"the headers of a message are at most {MAX_HEADERS_BYTES} bytes")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"the payload of a message is at most {MAX_PAYLOAD_BYTES} bytes")
    total = PRELUDE_BYTES + len(header_bytes) + len(payload) + CRC_BYTES
    lengths = struct.pack("!II", total, len(header_bytes))
    prelude = lengths + struct.pack("!I", crc32(lengths))
    body = prelude + header_bytes + payload
    return body + struct.pack("!I", crc32(body))


def _encode_header(name: str, header: Header) -> bytes:
    raw_name = name.encode()
    if not 0 < len(raw_name) <= MAX_HEADER_NAME_BYTES:
        raise ValueError(f"a header name is 1 to {MAX_HEADER_NAME_BYTES} bytes: {name!r}")
    return struct.pack("!B", len(raw_name)) + raw_name + _encode_value(header)


def _encode_value(header: Header) -> bytes:
    kind, value = header.type, header.value
    tag = struct.pack("!B", kind)
    if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        return tag
    if kind in _INTEGERS:
        assert isinstance(value, int)
        return tag + struct.pack(_INTEGERS[kind][0], value)
    if kind in (HeaderType.STRING, HeaderType.BYTE_ARRAY):
        raw = value.encode() if isinstance(value, str) else value
        assert isinstance(raw, bytes)
        return tag + struct.pack("!H", len(raw)) + raw
    if kind is HeaderType.TIMESTAMP:
        assert isinstance(value, datetime)
        # Milliseconds, rounded toward the past: the format has no finer unit.
        return tag + struct.pack("!q", (value - EPOCH) // _MILLISECOND)
    assert isinstance(value, uuid.UUID)
    return tag + value.bytes


# ------------------------------------------------------------------- Lambda's messages


_PAYLOAD_CHUNK_HEADERS: Final = b"".join(
    _encode_header(name, Header.of(value))
    for name, value in (
        (":event-type", "PayloadChunk"),
        (":content-type", "application/octet-stream"),
        (":message-type", "event"),
    )
)


def payload_chunk(data: bytes) -> bytes:
    """A ``PayloadChunk`` event: botocore yields ``{"PayloadChunk": {"Payload": data}}``.
    (One per piece of a streamed response: its headers are encoded once, here.)"""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"the payload of a message is at most {MAX_PAYLOAD_BYTES} bytes")
    headers = _PAYLOAD_CHUNK_HEADERS
    total = PRELUDE_BYTES + len(headers) + len(data) + CRC_BYTES
    lengths = struct.pack("!II", total, len(headers))
    body = lengths + struct.pack("!I", crc32(lengths)) + headers + data
    return body + struct.pack("!I", crc32(body))


def invoke_complete(
    *,
    error_code: str | None = None,
    error_details: str | None = None,
    log_result: str | None = None,
) -> bytes:
    """The ``InvokeComplete`` event that ends a stream; members left ``None`` are omitted
    (botocore then yields ``{"InvokeComplete": {}}``). ``log_result`` is the base64 of the
    log's last 4 KB, as ``LogType: Tail`` asks."""
    members = {
        "ErrorCode": error_code,
        "ErrorDetails": error_details,
        "LogResult": log_result,
    }
    body = {key: value for key, value in members.items() if value is not None}
    return encode_message(
        {
            ":event-type": "InvokeComplete",
            ":content-type": "application/json",
            ":message-type": "event",
        },
        json.dumps(body, separators=(",", ":")).encode(),
    )


def error_message(code: str, message: str) -> bytes:
    """An ``error`` message: the stream failed; botocore raises ``EventStreamError`` with
    ``Error.Code`` = ``code`` and ``Error.Message`` = ``message``."""
    return encode_message(
        {":message-type": "error", ":error-code": code, ":error-message": message}
    )


def exception_message(exception_type: str, message: str) -> bytes:
    """An ``exception`` message (a modelled exception event) with a JSON ``message`` body."""
    return encode_message(
        {
            ":message-type": "exception",
            ":exception-type": exception_type,
            ":content-type": "application/json",
        },
        json.dumps({"message": message}, separators=(",", ":")).encode(),
    )


# --------------------------------------------------------------------------- decoding


class MessageDecoder:
    """Messages from bytes that arrive in pieces: ``feed`` returns those completed."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while len(self._buffer) >= PRELUDE_BYTES:
            total = _check_prelude(bytes(self._buffer[:PRELUDE_BYTES]))
            if len(self._buffer) < total:
                break
            messages.append(_decode_whole(bytes(self._buffer[:total])))
            del self._buffer[:total]
        return messages


def decode_messages(data: bytes) -> list[Message]:
    """Every message in ``data``, which must end where a message ends."""
    decoder = MessageDecoder()
    messages = decoder.feed(data)
    if decoder.pending:
        raise EventStreamError(f"{decoder.pending} bytes after the last whole message")
    return messages


def _check_prelude(prelude: bytes) -> int:
    total, headers_length, prelude_crc = struct.unpack("!III", prelude)
    if crc32(prelude[:8]) != prelude_crc:
        raise EventStreamError("prelude CRC mismatch")
    if headers_length > MAX_HEADERS_BYTES:
        raise EventStreamError(f"headers length {headers_length} over {MAX_HEADERS_BYTES}")
    if total < PRELUDE_BYTES + headers_length + CRC_BYTES:
        raise EventStreamError(f"total length {total} shorter than its headers")
    return int(total)


def _decode_whole(data: bytes) -> Message:
    (headers_length,) = struct.unpack("!I", data[4:8])
    (message_crc,) = struct.unpack("!I", data[-CRC_BYTES:])
    if crc32(data[:-CRC_BYTES]) != message_crc:
        raise EventStreamError("message CRC mismatch")
    headers_end = PRELUDE_BYTES + headers_length
    headers = dict(_decode_headers(data[PRELUDE_BYTES:headers_end]))
    return Message(headers, data[headers_end:-CRC_BYTES])


def _decode_headers(data: bytes) -> Iterator[tuple[str, Header]]:
    seen: set[str] = set()
    at = 0
    try:
        while at < len(data):
            name_length = data[at]
            name = data[at + 1 : at + 1 + name_length].decode()
            at += 1 + name_length
            kind = HeaderType(data[at])
            header, at = _decode_value(kind, data, at + 1)
            if name in seen:
                raise EventStreamError(f"duplicate header {name!r}")
            seen.add(name)
            yield name, header
    except (IndexError, ValueError, OverflowError, struct.error) as exc:
        raise EventStreamError(f"malformed header at byte {at}: {exc}") from exc


def _decode_value(kind: HeaderType, data: bytes, at: int) -> tuple[Header, int]:
    if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        return Header(kind, kind is HeaderType.BOOL_TRUE), at
    if kind in _INTEGERS:
        fmt = _INTEGERS[kind][0]
        (number,) = struct.unpack_from(fmt, data, at)
        return Header(kind, number), at + struct.calcsize(fmt)
    if kind in (HeaderType.STRING, HeaderType.BYTE_ARRAY):
        (length,) = struct.unpack_from("!H", data, at)
        raw = data[at + 2 : at + 2 + length]
        if len(raw) != length:
            raise ValueError("value runs past the headers")
        value: HeaderValue = raw.decode() if kind is HeaderType.STRING else raw
        return Header(kind, value), at + 2 + length
    if kind is HeaderType.TIMESTAMP:
        (millis,) = struct.unpack_from("!q", data, at)
        return Header(kind, EPOCH + millis * _MILLISECOND), at + 8
    raw = data[at : at + 16]
    if len(raw) != 16:
        raise ValueError("uuid runs past the headers")
    return Header(kind, uuid.UUID(bytes=raw)), at + 16
