"""What a route's integration answer means for the WebSocket client."""

from __future__ import annotations

import json

from lambdad.events.websocket.answers import connect_verdict, error_message, reply, two_way


def test_connect_is_refused_on_a_failure_or_a_status_outside_2xx() -> None:
    assert connect_verdict(b'{"statusCode": 200}', None).accepted
    assert connect_verdict(b"null", None).accepted
    assert connect_verdict(b'{"ok": 1}', None).accepted
    assert not connect_verdict(b'{"statusCode": 401}', None).accepted
    assert not connect_verdict(b'{"statusCode": "200"}', None).accepted
    assert not connect_verdict(b'{"errorMessage": "x"}', "Unhandled").accepted


def test_connect_names_the_subprotocol_the_function_chose() -> None:
    answer = b'{"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat"}}'
    assert connect_verdict(answer, None).subprotocol == "chat"


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
