"""The CONNECT, MESSAGE and DISCONNECT events, field by field against the shapes API
Gateway sends with a Lambda proxy integration."""

from __future__ import annotations

from lambdad.events.websocket.ws_events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    message_event,
    request_time,
)

NOW = 1_707_502_303_420
INFO = ConnectionInfo(
    connection_id="L0SM9cOFvHcCIhw=",
    api_id="abcdefghij",
    stage="prod",
    domain="abcdefghij.execute-api.us-east-1.localhost",
    port=9550,
    connected_at=NOW - 1,
    source_ip="127.0.0.1",
    user_agent="ua/1",
    headers=(
        ("Host", "abcdefghij.execute-api.us-east-1.localhost:9550"),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("X-Team", "a"),
        ("X-Team", "b"),
    ),
    query="room=blue&room=red&empty=",
)


def _context(event: dict) -> dict:  # type: ignore[type-arg]
    context: dict = event["requestContext"]  # type: ignore[type-arg]
    return context


def test_the_connect_event() -> None:
    event = connect_event(INFO, "WyHPAHbQBcwFWMw=", NOW)
    headers = event["headers"]
    assert "Connection" not in headers
    assert "Upgrade" not in headers
    assert headers["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ=="
    assert headers["X-Team"] == "b"
    assert event["multiValueHeaders"]["X-Team"] == ["a", "b"]
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Port"] == "9550"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert event["queryStringParameters"] == {"room": "red", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"room": ["blue", "red"], "empty": [""]}
    assert event["isBase64Encoded"] is False
    assert _context(event) == {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "WyHPAHbQBcwFWMw=",
        "requestTime": "09/Feb/2024:18:11:43 +0000",
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": NOW - 1,
        "requestTimeEpoch": NOW,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "ua/1"},
        "requestId": "WyHPAHbQBcwFWMw=",
        "domainName": "abcdefghij.execute-api.us-east-1.localhost",
        "connectionId": "L0SM9cOFvHcCIhw=",
        "apiId": "abcdefghij",
    }


def test_a_connect_without_a_query_has_no_query_fields() -> None:
    event = connect_event(ConnectionInfo("c", "a", "s", "d", 1, 0, "1.2.3.4"), "r", NOW)
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event
    assert _context(event)["identity"] == {"sourceIp": "1.2.3.4"}


def test_the_message_event() -> None:
    event = message_event(INFO, "echo", '{"action":"echo"}', "XfGLwFTktjMFsLg=", "r1", NOW)
    assert set(event) == {"requestContext", "body", "isBase64Encoded"}
    assert event["body"] == '{"action":"echo"}'
    context = _context(event)
    assert context["routeKey"] == "echo"
    assert context["messageId"] == "XfGLwFTktjMFsLg="
    assert context["eventType"] == "MESSAGE"
    assert context["connectionId"] == INFO.connection_id


def test_the_disconnect_event() -> None:
    event = disconnect_event(INFO, "r2", NOW, 1001, "Going away")
    assert event["headers"] == {
        "Host": INFO.domain,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert event["multiValueHeaders"]["Host"] == [INFO.domain]
    context = _context(event)
    assert context["routeKey"] == "$disconnect"
    assert context["eventType"] == "DISCONNECT"
    assert context["disconnectStatusCode"] == 1001
    assert context["disconnectReason"] == "Going away"


def test_request_time_is_api_gateways_form() -> None:
    assert request_time(0) == "01/Jan/1970:00:00:00 +0000"
