"""The ``@connections`` API (``apigatewaymanagementapi``): how a function answers the
clients of a WebSocket API.

Its endpoint is the API's own with the stage: ``http://<api-id>.execute-api.<region>
.localhost:<port>/<stage>`` (or ``http://<host>:<port>/execute-api/<api-id>/<stage>``),
what ``boto3.client("apigatewaymanagementapi", endpoint_url=...)`` is given; requests
are ``POST``/``GET``/``DELETE`` ``/<stage>/@connections/<connection-id>``, signed with
SigV4 for ``execute-api`` in the API's region by a credential of the API's own
account (a role session needs ``execute-api:ManageConnections``). It is a door of the
API port (``model.front_door``), before the API Gateway door.

- ``PostToConnection``: the body is sent as one message (text when it is UTF-8, else
  binary); 413 ``PayloadTooLargeException`` over 128 KB, 429 ``LimitExceededException``
  when the client has left too much unread.
- ``GetConnection``: ``connectedAt``, ``lastActiveAt`` (ISO 8601) and ``identity``.
- ``DeleteConnection``: closes the connection (1000), 204.
- A connection that is closed, or not of this API, is 410 ``GoneException``; a request
  not signed as above is 403 ``ForbiddenException``. Only WebSocket APIs' paths are
  taken (an HTTP or REST API may have a route of that shape).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

from lambdad.events.apigw import names as apigw_names
from lambdad.events.http.request import IamCaller
from lambdad.events.websocket.door import WebSocketDoor
from lambdad.events.websocket.session import Busy, Gone
from lambdad.model.front_door import Headers, Response

log = logging.getLogger(__name__)

MARKER: Final = "/@connections/"
# (method, raw path, raw query, headers, body, region) -> who signed it, or None
Verifier = Callable[[str, str, str, Headers, bytes, str], "IamCaller | None"]


class ConnectionsRoute:
    def __init__(self, door: WebSocketDoor, verify: Verifier) -> None:
        self.door = door
        self.verify = verify

    def claim(self, method: str, path: str, host: str | None) -> Any | None:
        if "@connections/" not in path and "%40connections/" not in path.lower():
            return None
        address = apigw_names.address(path, host)
        if address is None:
            return None
        # Split as sent: an escaped "/" (%2F) is part of the id, not a separator.
        segments = address.raw_path.split("/")
        if len(segments) != 4 or segments[0] or unquote(segments[2]) != MARKER.strip("/"):
            return None
        if self.door.find(address.api_id, address.region) is None:
            return None  # not a WebSocket API: the path may be an HTTP or REST API's route
        return address, unquote(segments[1]), unquote(segments[3])

    def body_limit(self, claim: Any, headers: Headers) -> int:
        return self.door.bounds.max_message + 1

    async def answer(
        self, claim: Any, method: str, path: str, query: str, headers: Headers, body: bytes
    ) -> Response:
        address, stage, connection_id = claim
        found = self.door.find(address.api_id, address.region)
        if found is None:
            return _error(403, "ForbiddenException", "Forbidden")
        caller = self.verify(method, path, query, headers, body, found.scope.region)
        if caller is None or caller.account_id != found.scope.account:
            why = "not signed for execute-api here" if caller is None else "another account"
            log.info("API %s: @connections request refused (%s)", address.api_id, why)
            return _error(403, "ForbiddenException", "Forbidden")
        live = self.door.registry.get(connection_id, address.api_id)
        if live is None or live.info.stage != stage or not live.session.is_open:
            return _error(410, "GoneException", None)
        if method == "POST":
            if len(body) > self.door.bounds.max_message:
                return _error(413, "PayloadTooLargeException", "Message too long")
            try:
                live.session.send(_message(body))
            except Gone:
                return _error(410, "GoneException", None)
            except Busy:
                return _error(429, "LimitExceededException", "Client side buffer full")
            live.last_active = self.door.clock.now_ms()
            return 200, [], b""
        if method == "GET":
            identity = {"sourceIp": live.info.source_ip, "userAgent": live.info.user_agent or ""}
            doc = {
                "connectedAt": _iso(live.info.connected_at),
                "identity": identity,
                "lastActiveAt": _iso(live.last_active),
            }
            return 200, [(b"content-type", b"application/json")], json.dumps(doc).encode()
        if method == "DELETE":
            live.session.close(1000, "")
            return 204, [], b""
        return _error(403, "ForbiddenException", "Forbidden")


def _message(body: bytes) -> str | bytes:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _error(status: int, error_type: str, message: str | None) -> Response:
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", error_type.encode()),
    ]
    return status, headers, json.dumps({"message": message}).encode()
