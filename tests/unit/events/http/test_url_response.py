"""Payload format 2.0 responses (function URLs, HTTP APIs): the guides' examples, what
AWS was recorded answering, and the malformed answers."""

from __future__ import annotations

import base64
import json

import pytest

from lambdad.events.http.response import HttpResponse
from lambdad.events.http.url_response import (
    MAX_RESPONSE_BYTES,
    Door,
    payload_v2_response,
    url_response,
)

URL_FAILURE = (502, b"Internal Server Error")
HTTP_API_FAILURE = (500, b'{"message":"Internal Server Error"}')


def answer(result: object) -> HttpResponse:
    return url_response(json.dumps(result).encode())


def test_custom_response_is_the_developer_guides_example() -> None:
    # Lambda Developer Guide, "Invoking Lambda function URLs", "Example output for a
    # custom response" and "Example output for a response returning cookies".
    response = answer(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
            "body": json.dumps({"message": "Hello, world!"}),
            "cookies": [
                "Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT",
                "Cookie_2=Value2; Max-Age=78000",
            ],
            "isBase64Encoded": False,
        }
    )
    assert response == HttpResponse(
        201,
        (
            ("Content-Type", "application/json"),
            ("My-Custom-Header", "Custom Value"),
            ("Set-Cookie", "Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT"),
            ("Set-Cookie", "Cookie_2=Value2; Max-Age=78000"),
        ),
        b'{"message": "Hello, world!"}',
    )


def test_json_result_without_status_code_is_the_body() -> None:
    # The guide's "Example output for a JSON response"; AWS sends it without spaces
    # (recorded: Content-Length 17 for {"hello": "world"}).
    response = answer({"hello": "world"})
    assert response == HttpResponse(
        200, (("Content-Type", "application/json"),), b'{"hello":"world"}'
    )


@pytest.mark.parametrize(
    ("result", "body"),
    [
        (["hello", 3, True], b'["hello",3,true]'),
        (3, b"3"),
        (3.1, b"3.1"),
        (True, b"true"),
        (None, b"null"),
        ({"body": "not a response"}, b'{"body":"not a response"}'),
        ({"caf\u00e9": "\u2713"}, '{"caf\u00e9":"\u2713"}'.encode()),
    ],
)
def test_any_other_json_value_is_a_200_json_body(result: object, body: bytes) -> None:
    response = answer(result)
    assert (response.status, response.body) == (200, body)
    assert response.header_values("content-type") == ["application/json"]


def test_string_result_is_sent_unquoted() -> None:
    # The guide shows "Hello, world!" with its quotes (content-length 15); AWS was
    # recorded answering hello (Content-Length 5) for "hello". The recording wins.
    response = answer("Hello, world!")
    assert (response.status, response.body) == (200, b"Hello, world!")
    assert response.header_values("content-type") == ["application/json"]


def test_status_code_only_has_empty_body_and_json_type() -> None:
    response = answer({"statusCode": 204})
    assert response == HttpResponse(204, (("Content-Type", "application/json"),), b"")


def test_status_code_as_string() -> None:
    response = answer({"statusCode": "418", "body": "i'm a teapot"})
    assert (response.status, response.body) == (418, b"i'm a teapot")


def test_base64_body_is_decoded() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    response = answer(
        {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": base64.b64encode(png).decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.body == png
    assert response.headers == (("content-type", "image/png"),)


def test_scalar_header_values_are_written_as_text_and_null_dropped() -> None:
    response = answer(
        {"statusCode": 200, "headers": {"x-flag": True, "x-count": 3, "x-none": None}}
    )
    assert response.header_values("x-flag") == ["true"]
    assert response.header_values("x-count") == ["3"]
    assert response.header_values("x-none") == []


def test_transport_headers_from_the_function_are_not_sent() -> None:
    response = answer(
        {
            "statusCode": 200,
            "headers": {"Content-Length": "999", "Connection": "close"},
            "body": "x",
        }
    )
    assert response.header_values("content-length") == []
    assert response.header_values("connection") == []


def test_multi_value_headers_are_not_part_of_format_2() -> None:
    response = answer({"statusCode": 200, "multiValueHeaders": {"x-a": ["1", "2"]}})
    assert response.status == 200
    assert response.header_values("x-a") == []


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "headers": {"x-a": ["1", "2"]}},
        {"statusCode": 200, "headers": {"x-a": {"nested": 1}}},
        {"statusCode": 200, "headers": ["x-a", "1"]},
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": 600},
        {"statusCode": True},
        {"statusCode": None},
        {"statusCode": 200, "body": {"message": "not a string"}},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "cookies": [1]},
        {"statusCode": 200, "isBase64Encoded": "yes"},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
    ],
)
def test_malformed_responses_are_failures(result: object) -> None:
    response = answer(result)
    assert (response.status, response.body) == URL_FAILURE
    assert response.integration_error


def test_non_json_and_empty_results_are_failures() -> None:
    for payload in (b"not json", b"", b"\xff\xfe"):
        response = url_response(payload)
        assert (response.status, response.body) == URL_FAILURE


def test_function_error_is_a_502() -> None:
    payload = b'{"errorMessage": "boom", "errorType": "Exception"}'
    response = url_response(payload, function_error="Unhandled")
    assert response == HttpResponse(
        502,
        (("Content-Type", "application/json"),),
        b"Internal Server Error",
        integration_error="The function failed: Unhandled",
    )


def test_oversize_result_is_a_failure_and_the_limit_itself_is_not() -> None:
    prefix = b'{"statusCode":200,"body":"'
    fits = prefix + b"x" * (MAX_RESPONSE_BYTES - len(prefix) - 2) + b'"}'
    assert len(fits) == MAX_RESPONSE_BYTES
    assert url_response(fits).status == 200
    over = prefix + b"x" * (MAX_RESPONSE_BYTES - len(prefix) - 1) + b'"}'
    response = url_response(over)
    assert (response.status, response.body) == URL_FAILURE
    assert "exceeded" in (response.integration_error or "")


def test_http_api_inferred_answers_are_the_guides_table() -> None:
    # API Gateway Developer Guide, "Lambda function response for format 2.0".
    for result, body in [
        ("Hello from Lambda!", b"Hello from Lambda!"),
        ({"message": "Hello from Lambda!"}, b'{"message":"Hello from Lambda!"}'),
    ]:
        response = payload_v2_response(json.dumps(result).encode(), door=Door.HTTP_API)
        assert response == HttpResponse(200, (("Content-Type", "application/json"),), body)


def test_http_api_defaults_to_text_plain_and_fails_with_500() -> None:
    ok = payload_v2_response(b'{"statusCode": 200, "body": "hi"}', door=Door.HTTP_API)
    assert ok.header_values("content-type") == ["text/plain; charset=utf-8"]
    bad = payload_v2_response(b'{"statusCode": "x"}', door=Door.HTTP_API)
    assert (bad.status, bad.body) == HTTP_API_FAILURE
    failed = payload_v2_response(b"{}", door=Door.HTTP_API, function_error="Unhandled")
    assert (failed.status, failed.body) == HTTP_API_FAILURE


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "1\r\nSet-Cookie: stolen=1"},
        {"X-A": "1\nX-B: 2"},
        {"X-A\r\nX-B": "1"},
        {"X A": "1"},
        {"": "1"},
    ],
)
def test_a_header_that_would_split_the_response_is_a_failure(headers: dict[str, str]) -> None:
    answer = url_response(json.dumps({"statusCode": 200, "headers": headers}).encode())
    assert answer.status == 502
    assert answer.integration_error is not None
