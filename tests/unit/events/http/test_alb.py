"""ALB Lambda targets: events and responses against the ELB User Guide's examples."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from lambdad.events.http.alb import (
    BAD_GATEWAY_PAGE,
    MAX_RESPONSE_BYTES,
    alb_event,
    alb_response,
)
from lambdad.events.http.request import HttpRequest

MakeRequest = Callable[..., HttpRequest]
ARN = (
    "arn:aws:elasticloadbalancing:region:123456789012:targetgroup/my-target-group/6d0ecf831eec9f09"
)
TRACE = "Root=1-5bdb40ca-556d8b0c50dc66f0511bf520"


def test_event_is_the_elb_guides_example(make_request: MakeRequest) -> None:
    # ELB User Guide, "Lambda functions as targets", "Receive events from the load
    # balancer" (its queryStringParameters placeholder is an empty query here).
    request = make_request(
        headers=[
            ("Accept", "text/html,application/xhtml+xml"),
            ("Accept-Language", "en-US,en;q=0.8"),
            ("Content-Type", "text/plain"),
            ("Cookie", "cookies"),
            ("Host", "lambda-846800462-us-east-2.elb.amazonaws.com"),
            ("User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6)"),
            ("X-Amzn-Trace-Id", TRACE),
        ],
        body=b"request_body",
        source_ip="72.21.198.66",
    )
    assert alb_event(request, target_group_arn=ARN) == {
        "requestContext": {"elb": {"targetGroupArn": ARN}},
        "httpMethod": "GET",
        "path": "/",
        "queryStringParameters": {},
        "headers": {
            "accept": "text/html,application/xhtml+xml",
            "accept-language": "en-US,en;q=0.8",
            "content-type": "text/plain",
            "cookie": "cookies",
            "host": "lambda-846800462-us-east-2.elb.amazonaws.com",
            "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6)",
            "x-amzn-trace-id": TRACE,
            "x-forwarded-for": "72.21.198.66",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "isBase64Encoded": False,
        "body": "request_body",
    }


def test_repeated_names_without_multi_value_headers_keep_the_last(
    make_request: MakeRequest,
) -> None:
    # The guide's "Multi-value headers": ?&myKey=val1&myKey=val2 and two cookie headers.
    request = make_request(
        raw_query="&myKey=val1&myKey=val2",
        headers=[("cookie", "name1=value1"), ("cookie", "name2=value2")],
    )
    event = alb_event(request, target_group_arn=ARN)
    assert event["queryStringParameters"] == {"myKey": "val2"}
    assert event["headers"]["cookie"] == "name2=value2"
    assert "multiValueHeaders" not in event


def test_multi_value_headers_carry_every_value_and_nothing_else(
    make_request: MakeRequest,
) -> None:
    request = make_request(
        raw_query="&myKey=val1&myKey=val2",
        headers=[("cookie", "name1=value1"), ("Cookie", "name2=value2")],
    )
    event = alb_event(request, target_group_arn=ARN, multi_value_headers=True)
    assert event["multiValueQueryStringParameters"] == {"myKey": ["val1", "val2"]}
    assert event["multiValueHeaders"]["cookie"] == ["name1=value1", "name2=value2"]
    assert "headers" not in event
    assert "queryStringParameters" not in event


def test_query_is_passed_still_encoded(make_request: MakeRequest) -> None:
    # "If the query parameters are URL-encoded, the load balancer does not decode them."
    event = alb_event(make_request(raw_query="q=a%20b+c&k%3D=1"), target_group_arn=ARN)
    assert event["queryStringParameters"] == {"q": "a%20b+c", "k%3D": "1"}


def test_bodies(make_request: MakeRequest) -> None:
    def body_of(body: bytes, *headers: tuple[str, str]) -> tuple[str, bool]:
        event = alb_event(
            make_request(method="POST", body=body, headers=headers), target_group_arn=ARN
        )
        return event["body"], event["isBase64Encoded"]

    assert body_of(b"") == ("", False)
    assert body_of(b'{"a":1}', ("Content-Type", "application/json")) == ('{"a":1}', False)
    assert body_of(b"\x00\x01", ("Content-Type", "application/octet-stream")) == ("AAE=", True)
    gzipped = body_of(b"text", ("Content-Type", "text/plain"), ("Content-Encoding", "gzip"))
    assert gzipped == (base64.b64encode(b"text").decode(), True)
    assert body_of(b"x", ("Content-Type", "application/x-www-form-urlencoded"))[1] is True


Answer = tuple[int, str | None, tuple[tuple[str, str], ...], bytes]


def answer(result: object, *, multi_value_headers: bool = False) -> Answer:
    response = alb_response(json.dumps(result).encode(), multi_value_headers=multi_value_headers)
    return response.status, response.reason, response.headers, response.body


def test_response_is_the_elb_guides_example() -> None:
    # ELB User Guide, "Respond to the load balancer".
    result = {
        "isBase64Encoded": False,
        "statusCode": 200,
        "statusDescription": "200 OK",
        "headers": {"Set-cookie": "cookies", "Content-Type": "application/json"},
        "body": "Hello from Lambda (optional)",
    }
    assert answer(result) == (
        200,
        "OK",
        (("Set-cookie", "cookies"), ("Content-Type", "application/json")),
        b"Hello from Lambda (optional)",
    )


def test_multi_value_response_headers() -> None:
    # ELB User Guide, "Responses with multi-value headers".
    result = {
        "statusCode": 200,
        "multiValueHeaders": {
            "Set-cookie": [
                "cookie-name=cookie-value;Domain=myweb.com;Secure;HttpOnly",
                "cookie-name=cookie-value;Expires=May 8, 2019",
            ],
            "Content-Type": ["application/json"],
        },
        "headers": {"X-Ignored": "yes"},
    }
    _, _, headers, _ = answer(result, multi_value_headers=True)
    assert headers == (
        ("Set-cookie", "cookie-name=cookie-value;Domain=myweb.com;Secure;HttpOnly"),
        ("Set-cookie", "cookie-name=cookie-value;Expires=May 8, 2019"),
        ("Content-Type", "application/json"),
    )


def test_base64_body_and_default_content_type() -> None:
    status, reason, headers, body = answer(
        {"statusCode": 201, "body": "AAE=", "isBase64Encoded": True}
    )
    assert (status, reason, body) == (201, None, b"\x00\x01")
    assert headers == (("Content-Type", "application/octet-stream"),)


@pytest.mark.parametrize(
    "result",
    [
        {"body": "no status"},
        {"statusCode": "abc"},
        {"statusCode": 200, "headers": None},
        {"statusCode": 200, "headers": {"x": ["a", "b"]}},
        {"statusCode": 200, "statusDescription": 200},
        {"statusCode": 200, "body": 5},
        "a string",
        None,
    ],
)
def test_malformed_responses_are_the_balancers_502(result: object) -> None:
    assert answer(result) == (
        502,
        "Bad Gateway",
        (("Content-Type", "text/html"),),
        BAD_GATEWAY_PAGE,
    )


def test_multi_value_mode_refuses_scalar_lists() -> None:
    bad = {"statusCode": 200, "multiValueHeaders": {"x": "not a list"}}
    assert answer(bad, multi_value_headers=True)[0] == 502


def test_function_error_and_over_one_megabyte_are_502() -> None:
    assert alb_response(b"{}", function_error="Unhandled").status == 502
    big = json.dumps({"statusCode": 200, "body": "x" * MAX_RESPONSE_BYTES}).encode()
    response = alb_response(big)
    assert response.status == 502
    assert "exceeded" in (response.integration_error or "")


@pytest.mark.parametrize(
    ("description", "reason"),
    [
        ("404 Gone Fishing", "Gone Fishing"),  # the guide's "<code> <phrase>" form
        ("Gone Fishing", "Gone Fishing"),  # a phrase alone
        ("404", None),  # the code alone: the standard phrase
        ("", None),
        (None, None),  # none: the standard phrase
    ],
)
def test_status_description_gives_the_reason_phrase(
    description: str | None, reason: str | None
) -> None:
    result = {"statusCode": 404, "statusDescription": description, "body": "gone"}
    assert answer(result)[:2] == (404, reason)


def test_response_headers_over_32_kb_are_502() -> None:
    fits = {"statusCode": 200, "headers": {"x-big": "a" * (32 * 1024 - 20)}}
    assert answer(fits)[0] == 200
    over = {"statusCode": 200, "headers": {"x-big": "a" * (16 * 1024), "x-more": "b" * (16 * 1024)}}
    assert answer(over)[0] == 502
