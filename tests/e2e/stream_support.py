"""What the stream mapping e2e tests share: the server's environment pointing Kinesis,
DynamoDB (Streams) and SQS at a moto server, streams with records, polling waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from e2e.aws_side import moto_env


def server_env(moto: str) -> dict[str, str]:
    return moto_env(
        moto, "KINESIS", "DYNAMODB", "DYNAMODB_STREAMS", "SQS",
        LAMBDAD_ESM_BACKOFF="0.05,0.5", LAMBDAD_METRICS_FLUSH_INTERVAL="0.2",
    )  # fmt: skip


def make_stream(kinesis: Any, name: str, shards: int = 1) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def make_table(ddb: Any, name: str, view: str = "NEW_IMAGE", key: str = "Id") -> str:
    """A table keyed by a number ``key``, its stream showing ``view``; the stream's ARN."""
    table = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]
    return str(table["LatestStreamArn"])


def put(kinesis: Any, stream: str, data: str, key: str = "k") -> str:
    answer = kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey=key)
    return str(answer["SequenceNumber"])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)
