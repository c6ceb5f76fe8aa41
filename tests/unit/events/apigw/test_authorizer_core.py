"""Lambda authorizer decisions: identity sources, the authorizer events (key by key
as the HTTP API and REST API developer guides show them), and what an answer means."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdad.events.apigw import authorizer_core as core
from lambdad.events.http.request import HttpRequest
from lambdad.events.http.response import MalformedResult

ARN = "arn:aws:execute-api:us-east-1:111111111111:abcdefghij/prod/GET/pets/1"


def _request(headers: tuple[tuple[str, str], ...] = (), query: str = "") -> HttpRequest:
    return HttpRequest("GET", "/prod/pets/1", query, headers, b"", "192.0.2.1",
                       datetime(2024, 5, 1, tzinfo=UTC), "id", "d")  # fmt: skip


def test_identity_sources() -> None:
    request = _request((("Authorization", "tok"), ("X-A", "1"), ("x-a", "2")), "user=ada&n=1&n=2")
    sources = ["$request.header.authorization", "$request.querystring.user",
               "$stageVariables.tier", "$request.header.X-A",
               "method.request.querystring.n"]  # fmt: skip
    assert core.identity(request, sources, {"tier": "gold"}) == ["tok", "ada", "gold", "1,2", "1,2"]
    assert core.identity(request, ["$request.header.missing"], {}) is None
    assert core.identity(request, ["$context.identity.sourceIp"], {}) is None
    assert core.identity(_request((("Authorization", ""),)), ["$request.header.Authorization"],
                         {}) is None  # fmt: skip
    assert core.identity(request, [], {}) == []


def test_request_event_2_0_is_the_route_event_without_its_body() -> None:
    route_event = {"version": "2.0", "routeKey": "$default", "rawPath": "/my/path",
                   "rawQueryString": "", "headers": {}, "requestContext": {}, "body": "x",
                   "isBase64Encoded": False}  # fmt: skip
    event = core.request_event_v2(route_event, ARN, ["user1", "123"])
    assert list(event) == ["version", "type", "routeArn", "identitySource", "routeKey",
                           "rawPath", "rawQueryString", "headers", "requestContext"]  # fmt: skip
    assert (event["type"], event["routeArn"], event["identitySource"]) == (
        "REQUEST",
        ARN,
        ["user1", "123"],
    )


def test_request_events_1_0_and_token() -> None:
    route_event = {"version": "1.0", "resource": "/pets/{id}", "path": "/pets/1",
                   "httpMethod": "GET", "body": None, "isBase64Encoded": False}  # fmt: skip
    http_v1 = core.request_event_v1(route_event, ARN, ["user1", "123"])
    assert list(http_v1)[:5] == ["version", "type", "methodArn", "identitySource",
                                 "authorizationToken"]  # fmt: skip
    assert http_v1["identitySource"] == http_v1["authorizationToken"] == "user1,123"
    assert "body" not in http_v1
    rest = core.request_event_v1({k: v for k, v in route_event.items() if k != "version"}, ARN,
                                 None)  # fmt: skip
    assert list(rest)[:3] == ["type", "methodArn", "resource"]
    assert "identitySource" not in rest
    assert core.token_event("allow", ARN) == {
        "type": "TOKEN", "authorizationToken": "allow", "methodArn": ARN,
    }  # fmt: skip


def _policy(effect: str, resource: object, action: object = "execute-api:Invoke") -> bytes:
    import json

    statement = {"Action": action, "Effect": effect, "Resource": resource}
    return json.dumps({"principalId": "me", "context": {"k": "v"},
                       "policyDocument": {"Version": "2012-10-17",
                                          "Statement": [statement]}}).encode()  # fmt: skip


def test_simple_and_policy_answers() -> None:
    assert core.verdict(b'{"isAuthorized": true, "context": {"a": 1}}', simple=True,
                        route_arn=ARN) == core.Verdict(True, {"a": 1})  # fmt: skip
    assert not core.verdict(b'{"isAuthorized": false}', simple=True, route_arn=ARN).allowed
    allowed = core.verdict(_policy("Allow", ARN), simple=False, route_arn=ARN)
    assert allowed == core.Verdict(True, {"k": "v"}, "me")
    wildcard = "arn:aws:execute-api:us-east-1:111111111111:abcdefghij/*"
    assert core.verdict(_policy("Allow", [wildcard]), simple=False, route_arn=ARN).allowed
    assert core.verdict(_policy("Allow", "*", "execute-api:*"), simple=False, route_arn=ARN).allowed
    assert not core.verdict(_policy("Deny", "*"), simple=False, route_arn=ARN).allowed
    other = "arn:aws:execute-api:us-east-1:111111111111:abcdefghij/prod/POST/*"
    assert not core.verdict(_policy("Allow", other), simple=False, route_arn=ARN).allowed
    # A policy answer is read even from a simple-response authorizer.
    assert core.verdict(_policy("Allow", ARN), simple=True, route_arn=ARN).allowed


@pytest.mark.parametrize(
    "payload",
    [b"nope", b"[]", b'{"isAuthorized": "yes"}', b'{"principalId": "x"}',
     b'{"policyDocument": {"Statement": 3}}', b'{"isAuthorized": true, "context": []}'],
)  # fmt: skip
def test_malformed_answers(payload: bytes) -> None:
    with pytest.raises(MalformedResult):
        core.verdict(payload, simple=True, route_arn=ARN)
