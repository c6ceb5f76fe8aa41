"""The event-stream framing of InvokeWithResponseStream, read back by botocore itself.

The acceptance check is botocore's own client: ``invoke_with_response_stream`` on a
botocore Lambda client whose HTTP send is answered in-process (``before-send``) with the
bytes lambdad encodes, so the events a boto3 user iterates over are compared with what AWS
gives (``{"PayloadChunk": {"Payload": b"..."}}``, ``{"InvokeComplete": {...}}``). No
network, no files.
"""

from __future__ import annotations

import struct
import uuid
from binascii import crc32
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import EventStreamError as BotocoreEventStreamError

from lambdad.api.eventstream import (
    CONTENT_TYPE,
    MAX_HEADER_VALUE_BYTES,
    EventStreamError,
    Header,
    HeaderType,
    MessageDecoder,
    decode_messages,
    encode_message,
    error_message,
    exception_message,
    invoke_complete,
    payload_chunk,
)

# The two vectors every AWS event-stream implementation shares (aws-c-event-stream's and
# botocore's tests): the empty message, and {'foo':'bar'} with no headers.
EMPTY_MESSAGE = bytes.fromhex("000000100000000005c248eb7d98c8ff")
PAYLOAD_NO_HEADERS = bytes.fromhex("0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936")


class _RawStream:
    """What botocore reads an event-stream body from (urllib3's response): ``stream()``."""

    def __init__(self, data: bytes, piece: int) -> None:
        self._data = data
        self._piece = piece

    def stream(self, *_args: Any, **_kwargs: Any) -> Iterator[bytes]:
        for at in range(0, len(self._data), self._piece):
            yield self._data[at : at + self._piece]

    def close(self) -> None:
        pass


def _invoke_with_response_stream(body: bytes, *, piece: int = 7) -> dict[str, Any]:
    """botocore's parsed ``InvokeWithResponseStream`` answer for a response body ``body``,
    delivered in ``piece``-byte reads (so messages straddle reads)."""
    session = botocore.session.get_session()
    client = session.create_client(
        "lambda",
        region_name="us-east-1",
        endpoint_url="http://lambdad.invalid",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )

    def answer(**_kwargs: Any) -> AWSResponse:
        headers = {"Content-Type": CONTENT_TYPE, "X-Amz-Executed-Version": "$LATEST"}
        return AWSResponse("http://lambdad.invalid", 200, headers, _RawStream(body, piece))

    client.meta.events.register("before-send.lambda.InvokeWithResponseStream", answer)
    response: dict[str, Any] = client.invoke_with_response_stream(FunctionName="fn")
    return response


def test_botocore_reads_payload_chunks_then_invoke_complete() -> None:
    body = payload_chunk(b"hello ") + payload_chunk(b"world") + invoke_complete()

    response = _invoke_with_response_stream(body)

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == CONTENT_TYPE
    assert list(response["EventStream"]) == [
        {"PayloadChunk": {"Payload": b"hello "}},
        {"PayloadChunk": {"Payload": b"world"}},
        {"InvokeComplete": {}},
    ]


@pytest.mark.parametrize("piece", [1, 3, 16, 4096])
def test_botocore_reads_the_stream_whatever_the_read_sizes(piece: int) -> None:
    chunks = [bytes(range(256)) * 3, b"", b"\x00", "naïve ☃".encode()]
    body = b"".join(payload_chunk(c) for c in chunks) + invoke_complete()

    events = list(_invoke_with_response_stream(body, piece=piece)["EventStream"])

    assert events == [{"PayloadChunk": {"Payload": c}} for c in chunks] + [{"InvokeComplete": {}}]


def test_botocore_reads_a_failed_invocation_from_invoke_complete() -> None:
    body = payload_chunk(b"partial") + invoke_complete(
        error_code="Unhandled",
        error_details="ZeroDivisionError: division by zero",
        log_result="U1RBUlQgUmVxdWVzdElkOiAx",
    )

    events = list(_invoke_with_response_stream(body)["EventStream"])

    assert events[-1] == {
        "InvokeComplete": {
            "ErrorCode": "Unhandled",
            "ErrorDetails": "ZeroDivisionError: division by zero",
            "LogResult": "U1RBUlQgUmVxdWVzdElkOiAx",
        }
    }


def test_botocore_raises_the_code_and_message_of_an_error_message() -> None:
    body = payload_chunk(b"a") + error_message("ServiceException", "the stream broke")
    stream = iter(_invoke_with_response_stream(body)["EventStream"])

    assert next(stream) == {"PayloadChunk": {"Payload": b"a"}}
    with pytest.raises(BotocoreEventStreamError) as raised:
        next(stream)
    assert raised.value.response["Error"] == {
        "Code": "ServiceException",
        "Message": "the stream broke",
    }


def test_an_exception_message_ends_the_stream_in_botocore() -> None:
    body = exception_message("ServiceException", "boom")

    with pytest.raises(BotocoreEventStreamError):
        list(_invoke_with_response_stream(body)["EventStream"])
    [message] = decode_messages(body)
    assert message.values == {
        ":message-type": "exception",
        ":exception-type": "ServiceException",
        ":content-type": "application/json",
    }
    assert message.payload == b'{"message":"boom"}'


def test_lambda_events_carry_the_headers_aws_sends() -> None:
    chunk, complete = decode_messages(payload_chunk(b"x") + invoke_complete(log_result="TA=="))

    assert chunk.values == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert chunk.payload == b"x"
    assert complete.values == {
        ":event-type": "InvokeComplete",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert complete.payload == b'{"LogResult":"TA=="}'


# ----------------------------------------------------------------------- the framing


def test_encoder_matches_the_aws_reference_vectors() -> None:
    assert encode_message({}) == EMPTY_MESSAGE
    assert encode_message({}, b"{'foo':'bar'}") == PAYLOAD_NO_HEADERS


EVERY_TYPE: dict[str, Header] = {
    "true": Header(HeaderType.BOOL_TRUE, True),
    "false": Header(HeaderType.BOOL_FALSE, False),
    "byte": Header(HeaderType.BYTE, -128),
    "short": Header(HeaderType.SHORT, 32767),
    "int": Header(HeaderType.INTEGER, -(2**31)),
    "long": Header(HeaderType.LONG, 2**63 - 1),
    "bytes": Header(HeaderType.BYTE_ARRAY, b"\x00\xff"),
    "string": Header(HeaderType.STRING, "héllo"),
    "timestamp": Header(HeaderType.TIMESTAMP, datetime(2024, 5, 6, 7, 8, 9, 123000, UTC)),
    "uuid": Header(HeaderType.UUID, uuid.UUID("12345678-1234-5678-1234-567812345678")),
}


def test_botocore_decodes_every_header_type() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(encode_message(EVERY_TYPE, b"body"))

    [message] = list(buffer)

    assert message.payload == b"body"
    assert message.headers == {
        "true": True,
        "false": False,
        "byte": -128,
        "short": 32767,
        "int": -(2**31),
        "long": 2**63 - 1,
        "bytes": b"\x00\xff",
        "string": "héllo",
        "timestamp": 1714979289123,  # botocore leaves the milliseconds since the epoch
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678").bytes,
    }


def test_every_header_type_round_trips_through_the_decoder() -> None:
    [message] = decode_messages(encode_message(EVERY_TYPE, b"body"))

    assert message.headers == EVERY_TYPE
    assert list(message.headers) == list(EVERY_TYPE)
    assert message.payload == b"body"


def test_plain_values_take_their_natural_type() -> None:
    moment = datetime(2001, 2, 3, tzinfo=UTC)
    ident = uuid.uuid4()
    [message] = decode_messages(
        encode_message({"s": "x", "b": b"y", "t": True, "f": False, "d": moment, "u": ident})
    )

    assert {name: h.type for name, h in message.headers.items()} == {
        "s": HeaderType.STRING,
        "b": HeaderType.BYTE_ARRAY,
        "t": HeaderType.BOOL_TRUE,
        "f": HeaderType.BOOL_FALSE,
        "d": HeaderType.TIMESTAMP,
        "u": HeaderType.UUID,
    }
    assert message.values == {"s": "x", "b": b"y", "t": True, "f": False, "d": moment, "u": ident}


def test_timestamps_keep_milliseconds_and_drop_finer_parts() -> None:
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 999500, UTC)
    [message] = decode_messages(encode_message({"t": before_epoch}))

    assert message.values["t"] == datetime(1969, 12, 31, 23, 59, 59, 999000, UTC)


def test_decoder_yields_messages_as_their_last_byte_arrives() -> None:
    data = payload_chunk(b"one") + payload_chunk(b"two")
    decoder = MessageDecoder()
    payloads = []
    for at in range(len(data)):
        payloads += [m.payload for m in decoder.feed(data[at : at + 1])]
        if at == len(payload_chunk(b"one")) - 2:
            assert payloads == []

    assert payloads == [b"one", b"two"]
    assert decoder.pending == 0


@pytest.mark.parametrize(
    ("flip", "reason"),
    [(0, "prelude CRC"), (9, "prelude CRC"), (20, "message CRC"), (-1, "message CRC")],
)
def test_a_flipped_bit_is_caught_by_a_crc(flip: int, reason: str) -> None:
    data = bytearray(payload_chunk(b"payload"))
    data[flip] ^= 0x01

    with pytest.raises(EventStreamError, match=reason):
        decode_messages(bytes(data))


def test_a_truncated_stream_is_an_error() -> None:
    with pytest.raises(EventStreamError, match="after the last whole message"):
        decode_messages(payload_chunk(b"a") + payload_chunk(b"b")[:-1])


def _frame(header_bytes: bytes) -> bytes:
    """A message with arbitrary header bytes and valid CRCs (the encoder refuses these)."""
    lengths = struct.pack("!II", 16 + len(header_bytes), len(header_bytes))
    body = lengths + struct.pack("!I", crc32(lengths)) + header_bytes
    return body + struct.pack("!I", crc32(body))


@pytest.mark.parametrize(
    ("header_bytes", "reason"),
    [
        (b"\x01a\x07\x00\x01x\x01a\x07\x00\x01y", "duplicate header"),
        (b"\x01a\x0a", "malformed header"),  # type 10 does not exist
        (b"\x01a\x07\x00\x09short", "malformed header"),  # value runs past the headers
        (b"\x01a\x09\x00\x01", "malformed header"),  # a uuid needs 16 bytes
        (b"\x01a\x04\x00", "malformed header"),  # an int32 needs 4 bytes
    ],
)
def test_malformed_headers_are_errors(header_bytes: bytes, reason: str) -> None:
    with pytest.raises(EventStreamError, match=reason):
        decode_messages(_frame(header_bytes))


def test_an_int_needs_an_explicit_width() -> None:
    with pytest.raises(TypeError, match="explicit width"):
        encode_message({"n": 5})


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (HeaderType.BYTE, 128),
        (HeaderType.SHORT, -(2**15) - 1),
        (HeaderType.INTEGER, 2**31),
        (HeaderType.LONG, 2**63),
        (HeaderType.INTEGER, True),
        (HeaderType.BOOL_TRUE, False),
        (HeaderType.STRING, b"bytes"),
        (HeaderType.BYTE_ARRAY, "text"),
        (HeaderType.TIMESTAMP, datetime(2024, 1, 1)),  # naive: no instant
        (HeaderType.UUID, "12345678-1234-5678-1234-567812345678"),
        (HeaderType.STRING, "x" * (MAX_HEADER_VALUE_BYTES + 1)),
    ],
)
def test_values_that_do_not_fit_their_type_are_refused(kind: HeaderType, value: Any) -> None:
    with pytest.raises(ValueError, match="header"):
        Header(kind, value)


@pytest.mark.parametrize("name", ["", "n" * 256])
def test_header_names_are_one_to_255_bytes(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        encode_message({name: "v"})
