"""Payload format 2.0: from a function's result to the HTTP response, for function URLs
and HTTP APIs.

The rules (Lambda Developer Guide, "Response payload format"; API Gateway Developer
Guide, "Lambda function response for format 2.0"), with what AWS was recorded doing
where the guides are silent:

- An object with ``statusCode``: ``statusCode`` (a number or a string of digits),
  ``headers`` (string values; ``true``/``false`` and numbers written as text, null
  dropped), ``cookies`` (one ``Set-Cookie`` each), ``body`` (a string, or absent) and
  ``isBase64Encoded``. ``multiValueHeaders`` is not part of 2.0 and is ignored, as HTTP
  APIs ignore it. Without a ``Content-Type``, a function URL answers
  ``application/json`` (recorded) and an HTTP API ``text/plain; charset=utf-8``.
- Any other JSON value: 200, ``application/json``, the value as the body. A string is
  sent as its text, unquoted (AWS answers ``hello`` for ``"hello"``, although the
  guide's example shows the quotes); anything else is re-serialized without spaces
  (``{"hello":"world"}``, ``["hello",3,true]``, as recorded).
- A function error, a result over Lambda's 6 MB, a result that is not JSON, or an
  object with ``statusCode`` whose fields have the wrong types: function URLs answer
  502 ``Internal Server Error``; HTTP APIs 500 ``{"message":"Internal Server Error"}``.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from lambdad.events.http.response import (
    HttpResponse,
    MalformedResult,
    body_bytes,
    compact_json,
    flag,
    has_header,
    parse_payload,
    single_headers,
    status_code,
    without_transport_headers,
)

# Lambda's limit on a synchronous result, the number its error message names.
MAX_RESPONSE_BYTES: Final = 6 * 1024 * 1024 + 100
JSON: Final = "application/json"


class Door(Enum):
    """Who reads the answer: the two doors differ in defaults and failure shape."""

    FUNCTION_URL = "function-url"
    HTTP_API = "http-api"


def url_response(payload: bytes, *, function_error: str | None = None) -> HttpResponse:
    """What a function URL answers for the function's result (``function_error``: the
    ``X-Amz-Function-Error`` of the invocation, such as ``Unhandled``)."""
    return payload_v2_response(payload, door=Door.FUNCTION_URL, function_error=function_error)


def payload_v2_response(
    payload: bytes, *, door: Door, function_error: str | None = None
) -> HttpResponse:
    if function_error is not None:
        return failure(door, f"The function failed: {function_error}")
    try:
        result = parse_payload(payload, MAX_RESPONSE_BYTES)
        if isinstance(result, dict) and "statusCode" in result:
            return _structured(result, door)
    except MalformedResult as error:
        return failure(door, str(error))
    body = result.encode("utf-8") if isinstance(result, str) else compact_json(result)
    return HttpResponse(200, (("Content-Type", JSON),), body)


def failure(door: Door, reason: str) -> HttpResponse:
    """The answer when the function failed or its result cannot be used."""
    if door is Door.FUNCTION_URL:
        return HttpResponse(
            502, (("Content-Type", JSON),), b"Internal Server Error", integration_error=reason
        )
    return HttpResponse(
        500,
        (("Content-Type", JSON),),
        b'{"message":"Internal Server Error"}',
        integration_error=reason,
    )


def _structured(result: dict[str, object], door: Door) -> HttpResponse:
    status = status_code(result["statusCode"])
    headers = without_transport_headers(single_headers(result.get("headers"), "headers"))
    if not has_header(headers, "content-type"):
        default = JSON if door is Door.FUNCTION_URL else "text/plain; charset=utf-8"
        headers.insert(0, ("Content-Type", default))
    cookies = result.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResult(f"cookies must be a list of strings, not {cookies!r}")
        headers.extend(("Set-Cookie", cookie) for cookie in cookies)
    encoded = flag(result.get("isBase64Encoded"), "isBase64Encoded")
    body = body_bytes(result.get("body"), base64_encoded=encoded)
    return HttpResponse(status, tuple(headers), body)
