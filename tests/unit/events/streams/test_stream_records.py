"""Event records exactly as AWS Lambda sends them for Kinesis and DynamoDB Streams."""

from __future__ import annotations

import base64
import datetime
import json

from lambdad.events.streams.records import dynamodb_record, kinesis_record

ARN = "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def test_kinesis_record_has_aws_fields() -> None:
    raw = {
        "SequenceNumber": "49590338271490256608559692538361571095921575989136588898",
        "ApproximateArrivalTimestamp": datetime.datetime(
            2018, 12, 17, 22, 10, 50, 987000, tzinfo=datetime.UTC
        ),
        "Data": b"Hello, this is a test.",
        "PartitionKey": "1",
    }
    record = kinesis_record(
        raw, shard_id="shardId-000000000006", stream_arn=ARN, region="us-east-2", identity_arn=ROLE
    )
    assert record.event == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "1",
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
            "approximateArrivalTimestamp": 1545084650.987,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": ROLE,
        "awsRegion": "us-east-2",
        "eventSourceARN": ARN,
    }
    assert record.key == "1"
    assert record.seq == 49590338271490256608559692538361571095921575989136588898
    assert record.size == len(json.dumps(record.event, separators=(",", ":")))


def test_dynamodb_record_passes_the_stream_record_on() -> None:
    stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
    raw = {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime.datetime(
                2016, 11, 18, 20, 9, 0, tzinfo=datetime.UTC
            ),
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Message": {"S": "This item has changed"}, "Blob": {"B": b"\x00\x01"}},
            "OldImage": {"Message": {"S": "New item!"}, "Set": {"BS": [b"a"]}},
            "SequenceNumber": "222",
            "SizeBytes": 59,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    record = dynamodb_record(raw, stream_arn=stream_arn, region="us-east-1")
    event = record.event
    assert event["eventID"] == "c4ca4238a0b923820dcc509a6f75849b"
    assert event["eventName"] == "MODIFY"
    assert event["eventSource"] == "aws:dynamodb"
    assert event["eventSourceARN"] == stream_arn
    body = event["dynamodb"]
    assert body["ApproximateCreationDateTime"] == 1479499740
    assert body["NewImage"]["Blob"] == {"B": base64.b64encode(b"\x00\x01").decode()}
    assert body["OldImage"]["Set"] == {"BS": ["YQ=="]}
    assert body["SequenceNumber"] == "222"
    assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    json.dumps(event)  # all JSON, no bytes or datetimes left
    assert record.arrival == 1479499740.0
    assert record.key == '{"Id":{"N":"101"}}'
