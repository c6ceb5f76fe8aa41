"""The events a WebSocket API sends its functions (pure), as AWS sends them with a
Lambda proxy integration:

- ``CONNECT`` (route ``$connect``): the upgrade request's ``headers`` (last value of
  each, names as the client sent them) and ``multiValueHeaders``, with the ones API
  Gateway adds (``X-Amzn-Trace-Id``, ``X-Forwarded-For``/``-Port``/``-Proto``) and
  without the hop-by-hop ``Connection``/``Upgrade``; ``queryStringParameters`` and
  ``multiValueQueryStringParameters`` when the URL has a query.
- ``MESSAGE`` (the route the message selected): ``body`` as the client sent it, with
  ``messageId`` in the context.
- ``DISCONNECT`` (route ``$disconnect``): API Gateway's own few headers, and the close
  code and reason (``disconnectStatusCode``, ``disconnectReason``).

Each has ``requestContext`` with the route key, event type, ids (``requestId`` equals
``extendedRequestId``), times (``requestTime`` in API Gateway's access-log form,
``requestTimeEpoch`` and ``connectedAt`` in epoch milliseconds), ``stage``,
``domainName``, ``apiId``, ``identity`` and ``messageDirection`` ``IN``; and
``isBase64Encoded`` false (API Gateway takes text frames only).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

from lambdad.events.websocket.names import CONNECT, DISCONNECT

Event = dict[str, Any]
_HOP_BY_HOP: Final = frozenset({"connection", "upgrade"})


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """One connection as its events describe it."""

    connection_id: str
    api_id: str
    stage: str
    domain: str
    port: int
    connected_at: int  # epoch ms
    source_ip: str
    user_agent: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # the upgrade request's, names as sent
    query: str = ""
    # What $connect's authorization found: ``requestContext.authorizer`` (a Lambda
    # authorizer's principal and context), and the signer's fields of ``identity``.
    authorizer: Mapping[str, Any] | None = None
    signer: Mapping[str, Any] = field(default_factory=dict)


def request_time(epoch_ms: int) -> str:
    """``09/Feb/2024:18:11:43 +0000``."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def trace_header(epoch_ms: int) -> str:
    return f"Root=1-{epoch_ms // 1000:08x}-{secrets.token_hex(12)}"


def connect_event(info: ConnectionInfo, request_id: str, now_ms: int) -> Event:
    pairs = [(n, v) for n, v in info.headers if n.lower() not in _HOP_BY_HOP]
    pairs += [
        ("X-Amzn-Trace-Id", trace_header(now_ms)),
        ("X-Forwarded-For", info.source_ip),
        ("X-Forwarded-Port", str(info.port)),
        ("X-Forwarded-Proto", "http"),
    ]
    event: Event = {**_headers(pairs)}
    query = parse_qsl(info.query, keep_blank_values=True)
    if query:
        event["queryStringParameters"] = dict(query)
        multi: dict[str, list[str]] = {}
        for name, value in query:
            multi.setdefault(name, []).append(value)
        event["multiValueQueryStringParameters"] = multi
    event["requestContext"] = _context(info, CONNECT, "CONNECT", request_id, now_ms)
    event["isBase64Encoded"] = False
    return event


def message_event(
    info: ConnectionInfo, route_key: str, body: str, message_id: str, request_id: str, now_ms: int
) -> Event:
    context = _context(info, route_key, "MESSAGE", request_id, now_ms)
    return {
        "requestContext": {"routeKey": route_key, "messageId": message_id, **context},
        "body": body,
        "isBase64Encoded": False,
    }


def disconnect_event(
    info: ConnectionInfo, request_id: str, now_ms: int, status_code: int, reason: str
) -> Event:
    pairs = [("Host", info.domain), ("x-api-key", ""), ("X-Forwarded-For", ""), ("x-restapi", "")]
    context = _context(info, DISCONNECT, "DISCONNECT", request_id, now_ms)
    return {
        **_headers(pairs),
        "requestContext": {
            "routeKey": DISCONNECT,
            "disconnectStatusCode": status_code,
            **context,
            "disconnectReason": reason,
        },
        "isBase64Encoded": False,
    }


def _headers(pairs: Sequence[tuple[str, str]]) -> Event:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return {"headers": single, "multiValueHeaders": multi}


def _context(
    info: ConnectionInfo, route_key: str, event_type: str, request_id: str, now_ms: int
) -> Event:
    identity: Event = {**info.signer, "sourceIp": info.source_ip}
    if info.user_agent is not None:
        identity["userAgent"] = info.user_agent
    authorizer = {} if info.authorizer is None else {"authorizer": dict(info.authorizer)}
    return {
        **authorizer,
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": now_ms,
        "identity": identity,
        "requestId": request_id,
        "domainName": info.domain,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }
