"""What a WebSocket route's integration answer means (pure).

``$connect``: the connection is made unless the function failed or answered a
``statusCode`` outside 2xx (an answer without one, ``null`` included, lets it in); a
``Sec-WebSocket-Protocol`` header in the answer is the subprotocol the 101 names.
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
from dataclasses import dataclass
from typing import Any

from lambdad.events.websocket.names import ROUTE_RESPONSE_KEY

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConnectVerdict:
    accepted: bool
    subprotocol: str | None = None


def connect_verdict(payload: bytes, function_error: str | None) -> ConnectVerdict:
    if function_error is not None:
        return ConnectVerdict(False)
    answer = _json(payload)
    if not isinstance(answer, dict):
        return ConnectVerdict(True)
    status = answer.get("statusCode")
    if status is not None and not (isinstance(status, int) and 200 <= status < 300):
        return ConnectVerdict(False)
    headers = answer.get("headers")
    protocol = None
    if isinstance(headers, dict):
        protocol = next(
            (v for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None
        )
    return ConnectVerdict(True, protocol if isinstance(protocol, str) else None)


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
