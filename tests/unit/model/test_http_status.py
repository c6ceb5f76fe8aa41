"""A status with its own reason phrase (ALB's ``statusDescription``) on the wire."""

from __future__ import annotations

from lambdad.api.http_response import encode
from lambdad.model.http_status import ReasonedStatus, with_reason


def _line(status: int) -> bytes:
    head = encode(status, [], b"", b"", close=False, head_only=True)[0]
    return head.split(b"\r\n", 1)[0]


def test_a_reason_phrase_is_the_status_lines() -> None:
    status = with_reason(404, "Gone Fishing")
    assert isinstance(status, ReasonedStatus)
    assert status == 404
    assert _line(status) == b"HTTP/1.1 404 Gone Fishing"


def test_the_standard_phrase_otherwise() -> None:
    assert type(with_reason(200, "OK")) is int
    assert type(with_reason(200, None)) is int
    assert _line(with_reason(200, None)) == b"HTTP/1.1 200 OK"
    # A phrase that would end the line early is not sent.
    assert _line(with_reason(200, "OK\r\nSet-Cookie: x=1")) == b"HTTP/1.1 200 OK"
    assert _line(ReasonedStatus(299, "")) == b"HTTP/1.1 299 Unknown"
