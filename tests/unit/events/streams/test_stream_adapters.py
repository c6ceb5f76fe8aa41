"""The Kinesis and DynamoDB Streams adapters over stub boto3 clients: the calls they
make, paging, records converted, errors mapped."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdad.events.streams.dynamodb import DynamoDBStreamSource
from lambdad.events.streams.kinesis import KinesisSource
from lambdad.events.streams.positions import IteratorRequest
from lambdad.events.streams.source import ExpiredIterator, SourceError

KINESIS_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
DDB_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class Stub:
    """A boto3 client whose operations answer from ``answers`` (a list per operation;
    an exception is raised) and record their arguments."""

    def __init__(self, **answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            answer = self.answers[name].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


async def blocking(fn: Callable[..., Any], /, *args: Any) -> Any:
    return fn(*args)


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetRecords")


def test_kinesis_lists_every_page_of_shards() -> None:
    client = Stub(
        list_shards=[
            {"Shards": [{"ShardId": "a"}], "NextToken": "t"},
            {"Shards": [{"ShardId": "b", "ParentShardId": "a"}]},
        ]
    )
    source = KinesisSource(client, blocking, KINESIS_ARN, identity_arn="role")
    shards = asyncio.run(source.shards())
    assert [s.shard_id for s in shards] == ["a", "b"]
    assert client.calls == [
        ("list_shards", {"StreamName": "orders"}),
        ("list_shards", {"NextToken": "t"}),
    ]


def test_kinesis_iterators_and_records() -> None:
    client = Stub(
        get_shard_iterator=[{"ShardIterator": "it-1"}, {"ShardIterator": "it-2"}],
        get_records=[
            {
                "Records": [
                    {
                        "SequenceNumber": "5",
                        "PartitionKey": "p",
                        "Data": b"hi",
                        "ApproximateArrivalTimestamp": WHEN,
                    }
                ],
                "NextShardIterator": "it-3",
                "MillisBehindLatest": 7,
            }
        ],
    )
    source = KinesisSource(client, blocking, KINESIS_ARN, identity_arn="role")
    after = asyncio.run(source.iterator("a", IteratorRequest("AFTER_SEQUENCE_NUMBER", "4")))
    at = asyncio.run(
        source.iterator("a", IteratorRequest("AT_TIMESTAMP", timestamp=WHEN.timestamp()))
    )
    assert (after, at) == ("it-1", "it-2")
    assert client.calls[0][1]["StartingSequenceNumber"] == "4"
    assert client.calls[1][1]["Timestamp"] == WHEN
    page = asyncio.run(source.read("a", "it-1", 50_000))
    assert client.calls[2] == ("get_records", {"ShardIterator": "it-1", "Limit": 10_000})
    assert page.next_iterator == "it-3"
    assert page.behind_ms == 7
    assert page.records[0].event["eventID"] == "a:5"
    assert page.records[0].event["invokeIdentityArn"] == "role"


def test_a_consumer_arn_reads_its_stream() -> None:
    consumer = KINESIS_ARN + "/consumer/app:1700000000"
    source = KinesisSource(Stub(), blocking, consumer, identity_arn="")
    assert (source.stream_arn, source.stream_name) == (KINESIS_ARN, "orders")


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("ExpiredIteratorException", ExpiredIterator),
        ("ProvisionedThroughputExceededException", SourceError),
    ],
)
def test_kinesis_errors_are_mapped(code: str, raised: type[Exception]) -> None:
    source = KinesisSource(Stub(get_records=[error(code)]), blocking, KINESIS_ARN, identity_arn="")
    with pytest.raises(raised):
        asyncio.run(source.read("a", "it", 10))


def test_dynamodb_pages_shards_and_reads_records() -> None:
    client = Stub(
        describe_stream=[
            {"StreamDescription": {"Shards": [{"ShardId": "s1"}], "LastEvaluatedShardId": "s1"}},
            {"StreamDescription": {"Shards": [{"ShardId": "s2", "ParentShardId": "s1"}]}},
        ],
        get_shard_iterator=[{"ShardIterator": "i"}],
        get_records=[
            {
                "Records": [
                    {
                        "eventID": "e1",
                        "eventName": "INSERT",
                        "dynamodb": {
                            "Keys": {"Id": {"N": "1"}},
                            "SequenceNumber": "100",
                            "ApproximateCreationDateTime": WHEN,
                            "StreamViewType": "KEYS_ONLY",
                        },
                    }
                ],
                "NextShardIterator": None,
            },
            error("TrimmedDataAccessException"),
        ],
    )
    source = DynamoDBStreamSource(client, blocking, DDB_ARN)
    assert [s.shard_id for s in asyncio.run(source.shards())] == ["s1", "s2"]
    assert client.calls[1][1] == {"StreamArn": DDB_ARN, "ExclusiveStartShardId": "s1"}
    assert asyncio.run(source.iterator("s2", IteratorRequest("TRIM_HORIZON"))) == "i"
    page = asyncio.run(source.read("s2", "i", 50_000))
    assert client.calls[-1][1]["Limit"] == 1000
    assert page.next_iterator is None
    assert page.records[0].event["eventSourceARN"] == DDB_ARN
    with pytest.raises(ExpiredIterator):
        asyncio.run(source.read("s2", "i", 10))
