"""Route selection of WebSocket messages (``RouteSelectionExpression``)."""

from __future__ import annotations

import pytest

from lambdad.events.websocket.selection import evaluate, select, valid_expression

KEYS = ("echo", "join", "$default")


def test_the_body_value_names_the_route() -> None:
    assert select("$request.body.action", '{"action": "echo", "x": 1}', KEYS) == "echo"


def test_an_unknown_value_goes_to_default_and_nowhere_without_one() -> None:
    assert select("$request.body.action", '{"action": "nope"}', KEYS) == "$default"
    assert select("$request.body.action", '{"action": "nope"}', ("echo",)) is None


@pytest.mark.parametrize(
    "message",
    ["not json", "[1, 2]", '"echo"', "{}", '{"action": null}', '{"action": {"a": 1}}', ""],
)
def test_messages_without_the_value_go_to_default(message: str) -> None:
    assert select("$request.body.action", message, KEYS) == "$default"


def test_a_message_cannot_select_default_or_a_reserved_key_by_name() -> None:
    assert select("$request.body.action", '{"action": "$default"}', ("echo",)) is None


def test_nested_paths_numbers_and_templates() -> None:
    assert evaluate("$request.body.meta.kind", '{"meta": {"kind": "join"}}') == "join"
    assert evaluate("$request.body.n", '{"n": 3}') == "3"
    assert evaluate("$request.body.b", '{"b": true}') == "true"
    template = "${request.body.service}/${request.body.verb}"
    assert evaluate(template, '{"service": "chat", "verb": "send"}') == "chat/send"
    assert evaluate(template, '{"service": "chat"}') is None
    assert evaluate("static", "anything") == "static"


def test_expressions_api_gateway_takes() -> None:
    assert valid_expression("$request.body.action")
    assert valid_expression("${request.body.a}-${request.body.b}")
    assert not valid_expression("$request.body.")
    assert not valid_expression("$request.header.x")
    assert not valid_expression("")
