"""Destination records, dead-letter attributes and the delivery plan (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lambdad.control.event_invoke_config import destination_service
from lambdad.invoke.async_policy import EVENT_AGE_EXCEEDED, RETRIES_EXHAUSTED, SUCCESS
from lambdad.invoke.destinations import (
    Plan,
    dead_letter_attributes,
    destination_record,
    is_function,
    iso_timestamp,
    plan,
    record_request_id,
    source_account,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST"
AT = datetime(2019, 11, 14, 18, 16, 5, 568000, tzinfo=UTC)
ERROR = json.dumps({"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []})


def test_timestamp_is_milliseconds_utc() -> None:
    assert iso_timestamp(AT) == "2019-11-14T18:16:05.568Z"


def test_success_record_has_no_function_error() -> None:
    record = destination_record(
        request_id="r-1",
        function_arn=ARN,
        condition=SUCCESS,
        approximate_invoke_count=1,
        request_payload=b'{"order": 7}',
        response={"statusCode": 200, "executedVersion": "$LATEST", "payload": '{"ok": true}'},
        at=AT,
    )
    assert record == {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {
            "requestId": "r-1",
            "functionArn": ARN,
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"order": 7},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"ok": True},
    }


def test_failure_record_carries_the_error() -> None:
    record = destination_record(
        request_id="r-2",
        function_arn=ARN,
        condition=RETRIES_EXHAUSTED,
        approximate_invoke_count=3,
        request_payload=b"{}",
        response={
            "statusCode": 200,
            "executedVersion": "3",
            "functionError": "Unhandled",
            "payload": ERROR,
        },
        at=AT,
    )
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "3",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "boom"


def test_an_event_that_never_ran_has_no_response() -> None:
    record = destination_record(
        request_id="r-3",
        function_arn=ARN,
        condition=EVENT_AGE_EXCEEDED,
        approximate_invoke_count=0,
        request_payload=b"[1, 2]",
        response=None,
        at=AT,
    )
    assert "responseContext" not in record
    assert "responsePayload" not in record
    assert record["requestPayload"] == [1, 2]


def test_dead_letter_attributes_from_a_function_error() -> None:
    attrs = dead_letter_attributes(
        "r-4", {"statusCode": 200, "functionError": "Unhandled", "payload": ERROR}, None
    )
    assert attrs == {"RequestID": "r-4", "ErrorCode": "200", "ErrorMessage": "boom"}


def test_dead_letter_message_is_cut_at_one_kilobyte() -> None:
    long = json.dumps({"errorMessage": "é" * 2000})
    attrs = dead_letter_attributes("r-5", {"statusCode": 200, "payload": long}, None)
    assert len(attrs["ErrorMessage"].encode()) <= 1024
    assert attrs["ErrorMessage"].startswith("éé")


def test_dead_letter_attributes_of_a_throttled_event() -> None:
    attrs = dead_letter_attributes("r-6", None, {"statusCode": 429, "message": "Rate Exceeded."})
    assert attrs == {"RequestID": "r-6", "ErrorCode": "429", "ErrorMessage": "Rate Exceeded."}


def _plan(condition: str, **targets: str | None) -> Plan:
    return plan(
        condition=condition,
        record={"k": "v"},
        payload=b'{"a": 1}',
        on_success=targets.get("on_success"),
        on_failure=targets.get("on_failure"),
        dead_letter=targets.get("dead_letter"),
        attributes={"RequestID": "r"},
        function_arn=ARN,
    )


def test_function_destinations_are_deliveries_checked_when_delivered() -> None:
    # Not queued as invocations with the finished event: the dispatcher checks the
    # target's resource policy first (another account's function may refuse).
    target = "arn:aws:lambda:us-east-1:210987654321:function:sink:prod"
    (delivery,) = _plan(SUCCESS, on_success=target).deliveries
    assert (delivery.target, delivery.kind, delivery.function_arn) == (target, "destination", ARN)
    assert json.loads(delivery.body) == {"k": "v"}
    assert is_function(delivery.target)
    assert source_account(delivery) == "123456789012"
    assert record_request_id(json.dumps({"requestContext": {"requestId": "r-9"}})) == "r-9"
    assert record_request_id("not json") == "?"


def test_failures_go_to_the_destination_and_the_dead_letter_queue() -> None:
    p = _plan(
        RETRIES_EXHAUSTED,
        on_success="arn:aws:sqs:us-east-1:123456789012:ok",
        on_failure="arn:aws:sqs:us-east-1:123456789012:failed",
        dead_letter="arn:aws:sns:us-east-1:123456789012:dlq",
    )
    destination, dead_letter = p.deliveries
    assert (destination.target, destination.kind) == (
        "arn:aws:sqs:us-east-1:123456789012:failed",
        "destination",
    )
    assert json.loads(destination.body) == {"k": "v"}
    assert (dead_letter.kind, dead_letter.body) == ("dead-letter", '{"a": 1}')
    assert dead_letter.attributes == {"RequestID": "r"}


def test_successes_never_go_to_the_dead_letter_queue() -> None:
    p = _plan(SUCCESS, dead_letter="arn:aws:sqs:us-east-1:123456789012:dlq")
    assert p.deliveries == []


def test_destination_services() -> None:
    assert destination_service("arn:aws:sqs:us-east-1:123456789012:q") == "sqs"
    assert destination_service("arn:aws:sns:us-east-1:123456789012:t") == "sns"
    assert destination_service("arn:aws:events:us-east-1:123456789012:event-bus/b") == "events"
    assert destination_service("arn:aws:lambda:us-east-1:123456789012:function:f") == "lambda"
    assert destination_service("arn:aws:s3:::bucket") is None
    assert destination_service("arn:aws:lambda:us-east-1:123456789012:layer:l") is None
    assert destination_service("arn:aws:events:us-east-1:123456789012:rule/r") is None
    assert destination_service("not-an-arn") is None


def test_a_result_nested_too_deep_for_json_is_carried_as_text() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    record = destination_record(
        request_id="r-1",
        function_arn=ARN,
        condition=SUCCESS,
        approximate_invoke_count=1,
        request_payload=b"{}",
        response={"statusCode": 200, "executedVersion": "$LATEST", "payload": deep},
        at=AT,
    )
    assert record["responsePayload"] == deep
    assert record_request_id(deep) == "?"
