"""Payload format 2.0 events (function URLs, HTTP APIs) against the guides' examples."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from lambdad.events.http.request import HttpRequest, IamCaller, trace_header
from lambdad.events.http.url_event import function_url_event, payload_v2_event

CALLER = IamCaller(
    access_key="AKIA...",
    account_id="111122223333",
    caller_id="AIDA...",
    user_arn="arn:aws:iam::111122223333:user/example-user",
    user_id="AIDA...",
)
# The door's own headers, as every AWS proxy adds them.
MakeRequest = Callable[..., HttpRequest]
FORWARDED = {
    "x-forwarded-for": "123.123.123.123",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
}


def example_request(make_request: MakeRequest, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "method": "POST",
        "raw_path": "/my/path",
        "raw_query": "parameter1=value1&parameter1=value2&parameter2=value",
        "headers": [
            ("header1", "value1"),
            ("header2", "value1"),
            ("header2", "value2"),
            ("Cookie", "cookie1; cookie2"),
            ("User-Agent", "agent"),
            ("Content-Type", "text/plain"),
        ],
        "body": b"Hello from client!",
        "domain": "<url-id>.lambda-url.us-west-2.on.aws",
    }
    fields.update(overrides)
    return make_request(**fields)


def test_function_url_event_is_the_developer_guides_request_payload(
    make_request: MakeRequest,
) -> None:
    # Lambda Developer Guide, "Invoking Lambda function URLs", "Request payload format".
    # The guide's time (12/Mar) contradicts its timeEpoch (4 March); the epoch wins.
    # Fields the guide says are "null or excluded" are excluded, as AWS records them.
    request = example_request(make_request)
    event = function_url_event(
        request, url_id="<urlid>", owner_account_id="123456789012", iam=CALLER
    )
    assert event == {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {
            "header1": "value1",
            "header2": "value1,value2",
            "user-agent": "agent",
            "content-type": "text/plain",
            **FORWARDED,
            "x-amzn-trace-id": trace_header(request),
        },
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "<urlid>",
            "authorizer": {
                "iam": {
                    "accessKey": "AKIA...",
                    "accountId": "111122223333",
                    "callerId": "AIDA...",
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": "arn:aws:iam::111122223333:user/example-user",
                    "userId": "AIDA...",
                }
            },
            "domainName": "<url-id>.lambda-url.us-west-2.on.aws",
            "domainPrefix": "<url-id>",
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "123.123.123.123",
                "userAgent": "agent",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": "Hello from client!",
        "isBase64Encoded": False,
    }


def test_function_url_with_auth_none_is_anonymous_and_has_no_authorizer(
    make_request: MakeRequest,
) -> None:
    # As AWS records a NONE URL's event (Powertools' lambdaFunctionUrlEvent.json):
    # accountId "anonymous", no authorizer, no body/query/cookies when there are none.
    event = function_url_event(make_request(), url_id="u1", owner_account_id="123456789012")
    assert event["requestContext"]["accountId"] == "anonymous"
    assert "authorizer" not in event["requestContext"]
    assert "body" not in event
    assert "cookies" not in event
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "stageVariables" not in event
    assert event["isBase64Encoded"] is False
    assert event["rawQueryString"] == ""


def test_http_api_event_is_the_api_gateway_guides_format_2_0(make_request: MakeRequest) -> None:
    # API Gateway Developer Guide, "Working with AWS Lambda proxy integrations for HTTP
    # APIs", payload format 2.0 example. Header names are lower-cased (the guide: "All
    # header names are lowercase"; its example capitalizes them). Mutual TLS
    # (requestContext.authentication) is not modelled.
    request = example_request(
        make_request,
        headers=[
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("Header2", "value2"),
            ("Cookie", "cookie1"),
            ("Cookie", "cookie2"),
            ("User-Agent", "agent"),
            ("Content-Type", "text/plain"),
        ],
        source_ip="IP",
        domain="id.execute-api.us-east-1.amazonaws.com",
        body=b"Hello from Lambda",
    )
    authorizer = {
        "jwt": {
            "claims": {"claim1": "value1", "claim2": "value2"},
            "scopes": ["scope1", "scope2"],
        },
        "lambda": {"exampleKey1": "exampleValue1", "exampleKey2": "exampleValue2"},
    }
    event = payload_v2_event(
        request,
        api_id="api-id",
        account_id="123456789012",
        route_key="$default",
        stage="$default",
        path_parameters={"parameter1": "value1"},
        stage_variables={"stageVariable1": "value1", "stageVariable2": "value2"},
        authorizer=authorizer,
    )
    assert event == {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {
            "header1": "value1",
            "header2": "value1,value2",
            "user-agent": "agent",
            "content-type": "text/plain",
            "x-forwarded-for": "IP",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-amzn-trace-id": trace_header(request),
        },
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "authorizer": authorizer,
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "IP",
                "userAgent": "agent",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": "Hello from Lambda",
        "pathParameters": {"parameter1": "value1"},
        "isBase64Encoded": False,
        "stageVariables": {"stageVariable1": "value1", "stageVariable2": "value2"},
    }


def test_binary_body_is_base64(make_request: MakeRequest) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    request = make_request(method="POST", body=png, headers=[("Content-Type", "image/png")])
    event = function_url_event(request, url_id="u", owner_account_id="1")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png


def test_form_and_untyped_bodies_are_base64_but_json_is_text(make_request: MakeRequest) -> None:
    def encoded(content_type: str | None) -> bool:
        headers = [("Content-Type", content_type)] if content_type else []
        request = make_request(method="POST", body=b"a=1", headers=headers)
        event = function_url_event(request, url_id="u", owner_account_id="1")
        return bool(event["isBase64Encoded"])

    assert encoded("application/x-www-form-urlencoded")
    assert encoded(None)
    assert encoded("multipart/form-data; boundary=x")
    assert not encoded("Application/JSON; charset=utf-8")
    assert not encoded("text/html")
    assert not encoded("application/xml")


def test_text_type_with_invalid_utf8_falls_back_to_base64(make_request: MakeRequest) -> None:
    request = make_request(method="POST", body=b"caf\xe9", headers=[("Content-Type", "text/plain")])
    event = function_url_event(request, url_id="u", owner_account_id="1")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"caf\xe9"


def test_query_values_are_decoded_and_raw_query_kept(make_request: MakeRequest) -> None:
    request = make_request(raw_query="q=a%20b&q=c+d&flag&&e=%2B")
    event = function_url_event(request, url_id="u", owner_account_id="1")
    assert event["rawQueryString"] == "q=a%20b&q=c+d&flag&&e=%2B"
    assert event["queryStringParameters"] == {"q": "a b,c d", "flag": "", "e": "+"}


def test_raw_path_stays_encoded_and_http_path_is_decoded(make_request: MakeRequest) -> None:
    event = function_url_event(
        make_request(raw_path="/a%20b/c+d"), url_id="u", owner_account_id="1"
    )
    assert event["rawPath"] == "/a%20b/c+d"
    assert event["requestContext"]["http"]["path"] == "/a b/c+d"


def test_hop_by_hop_headers_are_dropped_and_forwarded_for_extended(
    make_request: MakeRequest,
) -> None:
    request = make_request(
        headers=[
            ("Connection", "keep-alive"),
            ("Transfer-Encoding", "chunked"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Forwarded-Proto", "gopher"),
            ("X-Amzn-Trace-Id", "Root=1-5e5e5e5e-000000000000000000000001"),
        ]
    )
    headers = function_url_event(request, url_id="u", owner_account_id="1")["headers"]
    assert "connection" not in headers
    assert "transfer-encoding" not in headers
    assert headers["x-forwarded-for"] == "10.0.0.1, 123.123.123.123"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-amzn-trace-id"] == "Root=1-5e5e5e5e-000000000000000000000001"


def test_empty_cookie_parts_are_skipped(make_request: MakeRequest) -> None:
    request = make_request(headers=[("cookie", "a=1;; b=2 ;"), ("COOKIE", "c=3")])
    event = function_url_event(request, url_id="u", owner_account_id="1")
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
