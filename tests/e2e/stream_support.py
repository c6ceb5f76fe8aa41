"""What the stream mapping e2e tests share: the server's environment pointing Kinesis,
DynamoDB (Streams) and SQS at a moto server, streams with records, polling waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from e2e.aws_side import MOTO_ACCOUNT, MOTO_REGION


def server_env(moto: str) -> dict[str, str]:
    return {
        "LAMBDAD_SANDBOX": "process",
        "LAMBDAD_ESM_BACKOFF": "0.05,0.5",
        "LAMBDAD_METRICS_FLUSH_INTERVAL": "0.2",
        "AWS_ENDPOINT_URL_KINESIS": moto,
        "AWS_ENDPOINT_URL_DYNAMODB": moto,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": moto,
        "AWS_ENDPOINT_URL_SQS": moto,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": MOTO_REGION,
        "LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": MOTO_ACCOUNT,
    }


def make_stream(kinesis: Any, name: str, shards: int = 1) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def put(kinesis: Any, stream: str, data: str, key: str = "k") -> str:
    answer = kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey=key)
    return str(answer["SequenceNumber"])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)
