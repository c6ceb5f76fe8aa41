"""What a WebSocket route's integration answer means (pure).

``$connect``: the connection is made unless the function failed (502) or answered a
``statusCode`` outside 2xx (the client gets that status and the answer's ``body``, as
AWS's guide shows for 400; an answer without one, ``null`` included, lets it in); a
``Sec-WebSocket-Protocol`` header in the answer is the subprotocol the 101 names when
it is one the client offered (an RFC 7230 token; else the 101 names none).
Other routes: by default a route is one-way, and the client hears only of a failure
(``{"message": "Internal server error", ...}``); a route with a route response (its
``RouteResponseSelectionExpression`` set and a ``$default`` route response) is
two-way, and the answer's ``body`` (or the whole answer, when it is not a proxy
answer) goes back to the client as one message.
"""

from __future__ import annotations

import base64
import binascii
import json
import string
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from lambdad.events.websocket.names import ROUTE_RESPONSE_KEY

Doc = dict[str, Any]


_TOKEN: Final = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")
_JSON: Final = [(b"content-type", b"application/json")]
# The refusal for a function that failed, and for one that could not be invoked.
BAD_GATEWAY: Final = (502, _JSON, b'{"message": "Internal server error"}')
INTERNAL: Final = (500, _JSON, b'{"message": "Internal server error"}')


@dataclass(frozen=True, slots=True)
class ConnectVerdict:
    accepted: bool
    subprotocol: str | None = None
    # A refusal: the answer the client gets.
    refusal: tuple[int, list[tuple[bytes, bytes]], bytes] | None = None


def offered(headers: list[tuple[str, str]]) -> list[str]:
    """The subprotocols a client's ``Sec-WebSocket-Protocol`` headers offer."""
    return [
        token.strip()
        for name, value in headers
        if name == "sec-websocket-protocol"
        for token in value.split(",")
        if token.strip()
    ]


def connect_verdict(
    payload: bytes, function_error: str | None, offers: Collection[str] = ()
) -> ConnectVerdict:
    if function_error is not None:
        return ConnectVerdict(False, refusal=BAD_GATEWAY)
    answer = _json(payload)
    if not isinstance(answer, dict):
        return ConnectVerdict(True)
    status = answer.get("statusCode")
    if status is not None and not (isinstance(status, int) and 200 <= status < 300):
        if not (isinstance(status, int) and 100 <= status <= 599) or status == 101:
            return ConnectVerdict(False, refusal=BAD_GATEWAY)
        body = answer.get("body")
        text = body.encode("utf-8", "replace") if isinstance(body, str) else b""
        return ConnectVerdict(False, refusal=(status, [], text))
    headers = answer.get("headers")
    protocol = None
    if isinstance(headers, dict):
        protocol = next(
            (v for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None
        )
    if not isinstance(protocol, str) or protocol not in offers or not _is_token(protocol):
        protocol = None
    return ConnectVerdict(True, protocol)


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TOKEN for c in text)


def two_way(route: Doc) -> bool:
    """Whether a route sends its integration's answer back to the client."""
    if not route.get("RouteResponseSelectionExpression"):
        return False
    responses = route.get("RouteResponses") or {}
    return any(r.get("RouteResponseKey") == ROUTE_RESPONSE_KEY for r in responses.values())


def reply(payload: bytes) -> str | bytes | None:
    """The message a two-way route sends back for the function's answer."""
    answer = _json(payload)
    if isinstance(answer, dict) and ("statusCode" in answer or "body" in answer):
        body = answer.get("body")
        if body is None:
            return None
        text = body if isinstance(body, str) else json.dumps(body)
        if answer.get("isBase64Encoded") is True:
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                return text
        return text
    return payload.decode("utf-8", "replace")


def error_message(message: str, connection_id: str, request_id: str) -> str:
    """What API Gateway tells a client whose message it could not handle."""
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id})


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None
