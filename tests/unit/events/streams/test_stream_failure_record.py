"""The on-failure destination's invocation record for stream sources."""

from __future__ import annotations

import datetime

from lambdad.events.streams.failure_record import LastResponse, invocation_record
from lambdad.events.streams.records import StreamRecord


def at(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


def records() -> list[StreamRecord]:
    return [
        StreamRecord("496011", "k", at("2019-11-14T00:38:04.835"), {}, 1),
        StreamRecord("496099", "k", at("2019-11-14T00:38:05.580"), {}, 1),
    ]


def test_kinesis_record_matches_aws_example() -> None:
    doc = invocation_record(
        kind="kinesis",
        request_id="c9b8fa9f",
        function_arn="arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        condition="RetryAttemptsExhausted",
        invokes=1,
        response=LastResponse(200, "$LATEST", "Unhandled"),
        records=records(),
        shard_id="shardId-000000000001",
        stream_arn="arn:aws:kinesis:us-east-2:123456789012:stream/mystream",
        now=at("2019-11-14T00:38:06.021"),
    )
    assert doc == {
        "requestContext": {
            "requestId": "c9b8fa9f",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": "2019-11-14T00:38:06.021Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000001",
            "startSequenceNumber": "496011",
            "endSequenceNumber": "496099",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
            "batchSize": 2,
            "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream",
        },
    }


def test_dynamodb_record_has_whole_seconds() -> None:
    doc = invocation_record(
        kind="dynamodb",
        request_id="r",
        function_arn="f",
        condition="RecordAgeExceeded",
        invokes=0,
        response=None,
        records=records()[:1],
        shard_id="shardId-00000001573689847184-864758bb",
        stream_arn="s",
        now=0.0,
    )
    info = doc["DDBStreamBatchInfo"]
    assert info["approximateArrivalOfFirstRecord"] == "2019-11-14T00:38:04Z"
    assert info["batchSize"] == 1
    assert "KinesisBatchInfo" not in doc
    assert doc["responseContext"]["statusCode"] == 0
