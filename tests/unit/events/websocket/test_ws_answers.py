"""What a route's integration answer means for the WebSocket client."""

from __future__ import annotations

import json

from lambdad.events.websocket.answers import (
    BAD_GATEWAY,
    connect_verdict,
    error_message,
    offered,
    reply,
    two_way,
)


def test_connect_is_refused_on_a_failure_or_a_status_outside_2xx() -> None:
    assert connect_verdict(b'{"statusCode": 200}', None).accepted
    assert connect_verdict(b"null", None).accepted
    assert connect_verdict(b'{"ok": 1}', None).accepted
    assert not connect_verdict(b'{"statusCode": 401}', None).accepted
    assert not connect_verdict(b'{"statusCode": "200"}', None).accepted
    assert not connect_verdict(b'{"errorMessage": "x"}', "Unhandled").accepted


def test_a_refused_connect_answers_the_functions_status_or_502_when_it_failed() -> None:
    answer = b'{"statusCode": 400, "body": "no such subprotocol"}'
    assert connect_verdict(answer, None).refusal == (400, [], b"no such subprotocol")
    assert connect_verdict(b'{"statusCode": 500}', None).refusal == (500, [], b"")
    assert connect_verdict(b'{"errorMessage": "x"}', "Unhandled").refusal == BAD_GATEWAY
    assert connect_verdict(b'{"statusCode": 1000}', None).refusal == BAD_GATEWAY
    assert connect_verdict(b'{"statusCode": 200}', None).refusal is None


def test_connect_names_the_subprotocol_the_function_chose_among_the_offered() -> None:
    offers = offered([("sec-websocket-protocol", "chat, v2.json"), ("host", "h")])
    assert offers == ["chat", "v2.json"]
    answer = b'{"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat"}}'
    assert connect_verdict(answer, None, offers).subprotocol == "chat"
    assert connect_verdict(answer, None, ()).subprotocol is None  # not offered
    for bad in ("chat\r\nSet-Cookie: a=b", "a b", "", "caf\u00e9"):
        doc = {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": bad}}
        verdict = connect_verdict(json.dumps(doc).encode(), None, [bad])
        assert verdict.accepted
        assert verdict.subprotocol is None


def test_only_a_route_with_a_route_response_is_two_way() -> None:
    response = {"r1": {"RouteResponseId": "r1", "RouteResponseKey": "$default"}}
    assert two_way({"RouteResponseSelectionExpression": "$default", "RouteResponses": response})
    assert not two_way({"RouteResponses": response})
    assert not two_way({"RouteResponseSelectionExpression": "$default"})


def test_the_reply_is_the_answers_body() -> None:
    assert reply(b'{"statusCode": 200, "body": "pong"}') == "pong"
    assert reply(b'{"statusCode": 200}') is None
    assert reply(b'{"statusCode": 200, "body": {"a": 1}}') == '{"a": 1}'
    assert reply(b'{"body": "aGk=", "isBase64Encoded": true}') == b"hi"
    assert reply(b'"just text"') == '"just text"'


def test_the_error_message_names_the_connection_and_request() -> None:
    doc = json.loads(error_message("Forbidden", "c=", "r="))
    assert doc == {"message": "Forbidden", "connectionId": "c=", "requestId": "r="}
