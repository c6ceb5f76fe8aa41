"""On-failure destinations of a mapping: where records go, and what a failure raises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.events.mappings import destinations
from lambdad.events.mappings.contract import DestinationFailed

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def client(self, service: str, region: str | None) -> Any:
        outer = self

        class Client:
            def __getattr__(self, op: str) -> Any:
                def call(**kw: Any) -> Any:
                    outer.calls.append((service, op, kw))
                    return {"QueueUrl": "http://q"}

                return call

        return Client()


def test_records_go_to_queues_topics_and_buckets() -> None:
    r = Recorder()
    send = destinations.send
    send(
        r.client,
        "arn:aws:sqs:us-east-1:123456789012:dlq",
        {"a": 1},
        mapping_uuid="u",
        shard="s",
        at=AT,
    )
    send(
        r.client,
        "arn:aws:sns:us-east-1:123456789012:t",
        {"a": 1},
        mapping_uuid="u",
        shard="s",
        at=AT,
    )
    send(r.client, "arn:aws:s3:::bucket", {"a": 1}, mapping_uuid="u", shard="shard-1", at=AT)
    ops = [(service, op) for service, op, _ in r.calls]
    assert ops == [
        ("sqs", "get_queue_url"),
        ("sqs", "send_message"),
        ("sns", "publish"),
        ("s3", "put_object"),
    ]
    key = r.calls[-1][2]["Key"]
    assert key.startswith("aws/lambda/u/shard-1/2026/03/04/2026-03-04T05.06.07-")


def test_an_unknown_destination_fails() -> None:
    with pytest.raises(DestinationFailed):
        destinations.send(
            Recorder().client, "arn:aws:lambda:us-east-1:1:function:f", {}, mapping_uuid="u",
            shard=None, at=AT,
        )  # fmt: skip
