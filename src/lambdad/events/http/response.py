"""The HTTP response a front door writes, and the reading of a function's answer that
every payload format shares.

``HttpResponse`` is final: status, headers in order (one pair per header line, so
``Set-Cookie`` can repeat), body bytes, and an optional reason phrase (ALB's
``statusDescription``). The door adds only what the transport owns: ``Content-Length``,
``Date``, ``Connection`` and its request-id header. When the answer stands for a failure
(the function failed, or returned something the door cannot use), ``integration_error``
says why, for the door's log (API Gateway's ``$context.integrationErrorMessage``); the
client never sees it.

The readers below raise ``MalformedResult`` with that reason; each format catches it
and answers its own failure shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Final

from lambdad.events.http.request import HOP_BY_HOP

# A header name (RFC 9110 token), and what a header value may not hold.
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_LINE_BREAKS: Final = re.compile(r"[\r\n\x00]")
# Headers a function may not set: the transport's own (AWS recomputes Content-Length
# and does not honour hop-by-hop headers).
_TRANSPORT_HEADERS: Final = HOP_BY_HOP | {"content-length"}


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    reason: str | None = None
    integration_error: str | None = None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


class MalformedResult(ValueError):
    """The function's answer does not fit the door's response format (the reason)."""


def parse_payload(payload: bytes, limit: int) -> object:
    """The function's result as JSON; refused over ``limit`` bytes or when not JSON."""
    if len(payload) > limit:
        raise MalformedResult(f"Response payload size {len(payload)} exceeded maximum {limit}")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedResult(f"Function result is not JSON: {error}") from None


def compact_json(value: object) -> bytes:
    """A JSON value re-serialized the way AWS returns an inferred body: no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def status_code(value: object) -> int:
    """``statusCode`` as an HTTP status: a number or a string of digits, 100 to 599."""
    code: int | None = None
    if isinstance(value, bool):
        code = None
    elif isinstance(value, int):
        code = value
    elif isinstance(value, float) and value.is_integer():
        code = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        code = int(value.strip())
    if code is None or not 100 <= code <= 599:
        raise MalformedResult(f"Invalid statusCode {value!r}")
    return code


def header_text(name: str, value: object) -> str | None:
    """One header value as text: strings as given, ``true``/``false``, numbers as
    written in JSON; ``None`` (null) means no header. Lists and objects are refused."""
    if not _TOKEN.fullmatch(name):
        raise MalformedResult(f"Invalid header name {name!r}")
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if _LINE_BREAKS.search(value):
            # A value that would end its line early would write headers of its own.
            raise MalformedResult(f"Invalid value for header {name!r}: {value!r}")
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise MalformedResult(f"Invalid value for header {name!r}: {value!r}")


def single_headers(value: object, field: str) -> list[tuple[str, str]]:
    """A ``headers`` object (or null/absent) as header lines."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise MalformedResult(f"{field} must be an object, not {value!r}")
    lines = []
    for name, raw in value.items():
        text = header_text(name, raw)
        if text is not None:
            lines.append((name, text))
    return lines


def multi_headers(value: object, field: str) -> list[tuple[str, str]]:
    """A ``multiValueHeaders`` object (or null/absent) as header lines; each value a list."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise MalformedResult(f"{field} must be an object, not {value!r}")
    lines = []
    for name, values in value.items():
        if values is None:
            continue
        if not isinstance(values, list):
            raise MalformedResult(f"{field} value for {name!r} must be a list, not {values!r}")
        for raw in values:
            text = header_text(name, raw)
            if text is not None:
                lines.append((name, text))
    return lines


def without_transport_headers(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in lines if name.lower() not in _TRANSPORT_HEADERS]


def has_header(lines: list[tuple[str, str]], name: str) -> bool:
    wanted = name.lower()
    return any(key.lower() == wanted for key, _ in lines)


def flag(value: object, field: str) -> bool:
    """A boolean field such as ``isBase64Encoded`` (null or absent: false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MalformedResult(f"{field} must be a boolean, not {value!r}")
    return value


def body_bytes(value: object, *, base64_encoded: bool) -> bytes:
    """The ``body`` field (a string, or null/absent for none) as the bytes to send;
    base64 decoded strictly when the function said so."""
    if value is None:
        return b""
    if not isinstance(value, str):
        raise MalformedResult(f"body must be a string, not {type(value).__name__}")
    if not base64_encoded:
        return value.encode("utf-8")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedResult("body is not valid base64 but isBase64Encoded is true") from None
