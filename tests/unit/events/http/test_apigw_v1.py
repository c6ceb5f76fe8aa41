"""API Gateway payload format 1.0: REST API and HTTP API events against the guides'
examples, and the proxy response rules as AWS was recorded applying them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from lambdad.events.http.apigw_v1 import (
    MAX_RESPONSE_BYTES,
    RestTarget,
    extended_request_id,
    http_api_v1_event,
    http_api_v1_response,
    rest_api_event,
    rest_api_response,
)
from lambdad.events.http.request import HttpRequest, IamCaller, trace_header

MakeRequest = Callable[..., HttpRequest]
REST_FAILURE = (502, b'{"message": "Internal server error"}')
HTTP_API_FAILURE = (500, b'{"message":"Internal Server Error"}')
TARGET = RestTarget(
    api_id="gy415nuibc",
    account_id="12345678912",
    stage="testStage",
    deployment_id="dep1",
    resource_id="roq9wj",
    resource_path="/{proxy+}",
    path_parameters={"proxy": "hello/world"},
    stage_variables={"stageVariableName": "stageVariableValue"},
)


def test_rest_event_is_the_proxy_integration_guides_example(make_request: MakeRequest) -> None:
    # API Gateway Developer Guide, "Set up Lambda proxy integrations", "Input format of a
    # Lambda function for proxy integration": POST /testStage/hello/world?name=me. The
    # guide's requestContext lists only some fields; the rest are those of its AWS_IAM
    # example and of events recorded from AWS. Its multiValueHeaders has a stray '' key
    # and its query shows a multivalueName the request lacks: the request here sends it.
    headers = [
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip, deflate"),
        ("cache-control", "no-cache"),
        ("Content-Type", "application/json"),
        ("headerName", "headerValue"),
        ("Host", "gy415nuibc.execute-api.us-east-1.amazonaws.com"),
        ("Postman-Token", "9f583ef0-ed83-4a38-aef3-eb9ce3f7a57f"),
        ("User-Agent", "PostmanRuntime/2.4.5"),
        ("X-Forwarded-For", "54.240.196.186"),
        ("Content-Length", "15"),
    ]
    request = make_request(
        method="POST",
        raw_path="/hello/world",
        raw_query="name=me&multivalueName=you&multivalueName=me",
        headers=headers,
        body=b'{\r\n\t"a": 1\r\n}',
        source_ip="192.168.196.186",
        domain="gy415nuibc.execute-api.us-east-1.amazonaws.com",
        request_id="deef4878-7910-11e6-8f14-25afc3e9ae33",
    )
    event = rest_api_event(request, TARGET)
    sent = [pair for pair in headers if pair[0] not in ("X-Forwarded-For", "Content-Length")]
    sent += [
        ("X-Forwarded-For", "54.240.196.186, 192.168.196.186"),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
        ("X-Amzn-Trace-Id", trace_header(request)),
    ]
    assert event == {
        "resource": "/{proxy+}",
        "path": "/hello/world",
        "httpMethod": "POST",
        "headers": dict(sent),
        "multiValueHeaders": {name: [value] for name, value in sent},
        "queryStringParameters": {"name": "me", "multivalueName": "me"},
        "multiValueQueryStringParameters": {"name": ["me"], "multivalueName": ["you", "me"]},
        "pathParameters": {"proxy": "hello/world"},
        "stageVariables": {"stageVariableName": "stageVariableValue"},
        "requestContext": {
            "accountId": "12345678912",
            "apiId": "gy415nuibc",
            "deploymentId": "dep1",
            "domainName": "gy415nuibc.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "gy415nuibc",
            "extendedRequestId": extended_request_id(request.request_id),
            "httpMethod": "POST",
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": "192.168.196.186",
                "user": None,
                "userAgent": "PostmanRuntime/2.4.5",
                "userArn": None,
            },
            "path": "/testStage/hello/world",
            "protocol": "HTTP/1.1",
            "requestId": "deef4878-7910-11e6-8f14-25afc3e9ae33",
            "requestTime": "04/Mar/2020:19:03:58 +0000",
            "requestTimeEpoch": 1583348638390,
            "resourceId": "roq9wj",
            "resourcePath": "/{proxy+}",
            "stage": "testStage",
        },
        "body": '{\r\n\t"a": 1\r\n}',
        "isBase64Encoded": False,
    }
    assert list(event["requestContext"]) == sorted(event["requestContext"])


def test_rest_event_with_aws_iam_fills_identity(make_request: MakeRequest) -> None:
    # The same guide's AWS_IAM requestContext example.
    caller = IamCaller(
        "IAM_user_access_key",
        "123456789012",
        "AIDAJ",
        "arn:aws:iam::123456789012:user/alice",
        "AIDAJ",
    )
    event = rest_api_event(make_request(), TARGET, iam=caller)
    identity = event["requestContext"]["identity"]
    assert identity["accessKey"] == "IAM_user_access_key"
    assert identity["accountId"] == "123456789012"
    assert identity["caller"] == identity["user"] == "AIDAJ"
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/alice"


def test_rest_event_empty_parts_are_null(make_request: MakeRequest) -> None:
    target = RestTarget("a", "1", "prod", "d", "r", "/hardcoded")
    event = rest_api_event(make_request(raw_path="/hardcoded"), target)
    for key in (
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "body",
    ):
        assert event[key] is None
    assert event["isBase64Encoded"] is False


def test_rest_query_is_decoded_and_path_is_not(make_request: MakeRequest) -> None:
    # As recorded from AWS: + is a space and %2B a plus in the query; the path is as sent.
    request = make_request(
        raw_path="/user/test%2Balias@gmail.com",
        raw_query="email=test%2Balias@gmail.com&plus=test+alias@gmail.com&whitespace=foo%20bar",
    )
    event = rest_api_event(request, TARGET)
    assert event["path"] == "/user/test%2Balias@gmail.com"
    assert event["queryStringParameters"] == {
        "email": "test+alias@gmail.com",
        "plus": "test alias@gmail.com",
        "whitespace": "foo bar",
    }


def test_rest_body_is_base64_only_for_binary_media_types(make_request: MakeRequest) -> None:
    png = b"\x89PNG\r\n\x1a\n"
    request = make_request(method="POST", body=png, headers=[("Content-Type", "image/png")])
    plain = rest_api_event(request, TARGET)
    assert plain["isBase64Encoded"] is True  # not UTF-8: base64 whatever the rule says
    form = make_request(
        method="POST", body=b"a=1", headers=[("Content-Type", "application/x-www-form-urlencoded")]
    )
    assert rest_api_event(form, TARGET)["body"] == "a=1"
    binary = RestTarget("a", "1", "s", "d", "r", "/", binary_media_types=("application/*",))
    event = rest_api_event(form, binary)
    assert (event["body"], event["isBase64Encoded"]) == (base64.b64encode(b"a=1").decode(), True)


def test_http_api_v1_event_is_the_guides_format_1_0(make_request: MakeRequest) -> None:
    # API Gateway Developer Guide, "Working with AWS Lambda proxy integrations for HTTP
    # APIs", payload format 1.0 example, without mutual TLS (identity.clientCert).
    # Header names are lower-cased, as HTTP APIs do.
    request = make_request(
        raw_path="/my/path",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("Header2", "value2"),
            ("User-Agent", "user-agent"),
            ("Content-Type", "text/plain"),
        ],
        source_ip="IP",
        domain="id.execute-api.us-east-1.amazonaws.com",
        body=b"Hello from Lambda!",
        request_id="id=",
    )
    event = http_api_v1_event(
        request,
        api_id="id",
        account_id="123456789012",
        stage="$default",
        route_key="/my/path",
        authorizer={"claims": None, "scopes": None},
    )
    forwarded = {
        "x-forwarded-for": "IP",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-amzn-trace-id": trace_header(request),
    }
    assert event == {
        "version": "1.0",
        "resource": "/my/path",
        "path": "/my/path",
        "httpMethod": "GET",
        "headers": {
            "header1": "value1",
            "header2": "value2",
            "user-agent": "user-agent",
            "content-type": "text/plain",
            **forwarded,
        },
        "multiValueHeaders": {
            "header1": ["value1"],
            "header2": ["value1", "value2"],
            "user-agent": ["user-agent"],
            "content-type": ["text/plain"],
            **{name: [value] for name, value in forwarded.items()},
        },
        "queryStringParameters": {"parameter1": "value2", "parameter2": "value"},
        "multiValueQueryStringParameters": {
            "parameter1": ["value1", "value2"],
            "parameter2": ["value"],
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "id",
            "authorizer": {"claims": None, "scopes": None},
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "extendedRequestId": extended_request_id("id="),
            "httpMethod": "GET",
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": "IP",
                "user": None,
                "userAgent": "user-agent",
                "userArn": None,
            },
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "requestId": "id=",
            "requestTime": "04/Mar/2020:19:03:58 +0000",
            "requestTimeEpoch": 1583348638390,
            "resourceId": None,
            "resourcePath": "/my/path",
            "stage": "$default",
        },
        "pathParameters": None,
        "stageVariables": None,
        "body": "Hello from Lambda!",
        "isBase64Encoded": False,
    }


def rest(result: object, **kwargs: object) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    response = rest_api_response(json.dumps(result).encode(), **kwargs)  # type: ignore[arg-type]
    return response.status, response.headers, response.body


def test_rest_response_rules_as_recorded() -> None:
    # Recorded from AWS (LocalStack's validated snapshot of REST proxy responses).
    json_type = ("Content-Type", "application/json")
    assert rest({"statusCode": 200}) == (200, (json_type,), b"")
    assert rest({"headers": {"test-header": "value"}}) == (
        200,
        (json_type, ("test-header", "value")),
        b"",
    )
    assert rest({"statusCode": "201"})[0] == 201
    assert rest({"statusCode": 200, "headers": {"header-bool": True}})[1] == (
        json_type,
        ("header-bool", "true"),
    )
    assert rest({"statusCode": 200, "headers": None})[1] == (json_type,)
    assert rest({"statusCode": 200, "multiValueHeaders": {"test-multi": ["value1", "value2"]}})[
        1
    ] == (json_type, ("test-multi", "value1"), ("test-multi", "value2"))
    merged = {
        "statusCode": 200,
        "multiValueHeaders": {"tesT-Multi": ["value-multi"]},
        "headers": {"test-multi": "value-solo"},
    }
    assert rest(merged)[1] == (
        json_type,
        ("tesT-Multi", "value-multi"),
        ("test-multi", "value-solo"),
    )
    same = {"statusCode": 200, "multiValueHeaders": {"x": ["1"]}, "headers": {"X": "1"}}
    assert rest(same)[1] == (json_type, ("x", "1"))


def test_rest_base64_body_is_decoded_only_when_accept_is_binary() -> None:
    result = {
        "statusCode": 200,
        "body": base64.b64encode(b"test-data").decode(),
        "isBase64Encoded": True,
    }
    assert rest(result)[2] == b"dGVzdC1kYXRh"
    decoded = rest(result, accept="image/png, */*", binary_media_types=("image/*",))
    assert decoded[2] == b"test-data"
    assert (
        rest(result, accept="text/html, image/png", binary_media_types=("image/*",))[2]
        == b"dGVzdC1kYXRh"
    )


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "wrongValue": "value"},
        {"statusCode": 200, "multiValueHeaders": {"test-multi-invalid": "value1"}},
        {"statusCode": "test"},
        {"statusCode": 200, "headers": {"x": ["a", "b"]}},
        "justAString",
        None,
        ["a"],
    ],
)
def test_rest_malformed_responses_are_502(result: object) -> None:
    status, headers, body = rest(result)
    assert (status, body) == REST_FAILURE
    assert ("x-amzn-ErrorType", "InternalServerErrorException") in headers


def test_rest_function_error_and_oversize_are_502() -> None:
    assert rest_api_response(b"{}", function_error="Unhandled").status == 502
    big = b'{"body":"' + b"x" * MAX_RESPONSE_BYTES + b'"}'
    response = rest_api_response(big)
    assert (response.status, response.body) == REST_FAILURE


def test_http_api_v1_response_decodes_base64_and_fails_with_500() -> None:
    ok = http_api_v1_response(
        json.dumps({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True}).encode()
    )
    assert (ok.status, ok.body) == (200, b"hi")
    assert ok.header_values("content-type") == ["text/plain; charset=utf-8"]
    bad = http_api_v1_response(b"not json")
    assert (bad.status, bad.body) == HTTP_API_FAILURE


def test_extended_request_id_has_api_gateways_form() -> None:
    value = extended_request_id("deef4878-7910-11e6-8f14-25afc3e9ae33")
    assert len(value) == 16
    assert value.endswith("=")
    assert value == extended_request_id("deef4878-7910-11e6-8f14-25afc3e9ae33")
