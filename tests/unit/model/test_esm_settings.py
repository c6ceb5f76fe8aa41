"""Event source mapping settings per kind of source, and the mapping state machine."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.errors import InvalidParameterValueException
from lambdad.model import event_source_mapping as esm
from lambdad.model.esm_settings import settings

QUEUE = "arn:aws:sqs:us-east-1:123456789012:jobs"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
BROKER = "arn:aws:mq:us-east-1:123456789012:broker:b:b-1234"


def create(kind: str, fifo: bool = False, arn: str = QUEUE, **given: Any) -> dict[str, Any]:
    return settings(kind, fifo, {"EventSourceArn": arn, **given})


def test_source_kinds_by_arn() -> None:
    assert esm.source_kind(QUEUE) == "sqs"
    assert esm.source_kind(STREAM) == "kinesis"
    assert esm.source_kind(TABLE) == "dynamodb"
    assert esm.source_kind(BROKER) == "mq"
    assert esm.source_kind("arn:aws:dynamodb:us-east-1:123456789012:table/t") is None
    assert esm.source_kind("arn:aws:s3:::bucket") is None
    assert esm.is_fifo(QUEUE + ".fifo")


def test_queue_defaults() -> None:
    out = create("sqs")
    assert out["BatchSize"] == 10
    assert out["MaximumBatchingWindowInSeconds"] == 0
    assert out["FunctionResponseTypes"] == []
    assert "ParallelizationFactor" not in out


def test_stream_defaults() -> None:
    out = create("kinesis", arn=STREAM, StartingPosition="LATEST")
    assert out["BatchSize"] == 100
    assert out["ParallelizationFactor"] == 1
    assert out["MaximumRetryAttempts"] == -1
    assert out["DestinationConfig"] == {"OnFailure": {}}


def test_big_queue_batches_need_a_window() -> None:
    with pytest.raises(InvalidParameterValueException, match="Maximum batch window"):
        create("sqs", BatchSize=100)
    assert create("sqs", BatchSize=10000, MaximumBatchingWindowInSeconds=1)["BatchSize"] == 10000


def test_fifo_restrictions() -> None:
    with pytest.raises(InvalidParameterValueException, match="exceed 10 for FIFO"):
        create("sqs", True, BatchSize=11, MaximumBatchingWindowInSeconds=0)
    with pytest.raises(InvalidParameterValueException, match="not supported for FIFO"):
        create("sqs", True, MaximumBatchingWindowInSeconds=5)


def test_queue_refuses_stream_members() -> None:
    with pytest.raises(InvalidParameterValueException, match="StartingPosition is not valid"):
        create("sqs", StartingPosition="LATEST")
    with pytest.raises(InvalidParameterValueException, match="Unsupported ParallelizationFactor"):
        create("sqs", ParallelizationFactor=2)
    with pytest.raises(InvalidParameterValueException, match="Unsupported DestinationConfig"):
        create("sqs", DestinationConfig={"OnFailure": {"Destination": QUEUE}})


def test_streams_require_a_starting_position() -> None:
    with pytest.raises(InvalidParameterValueException, match="startingPosition"):
        create("kinesis", arn=STREAM)
    with pytest.raises(InvalidParameterValueException, match="Unsupported starting position"):
        create("dynamodb", arn=TABLE, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1)
    with pytest.raises(InvalidParameterValueException, match="Unsupported ScalingConfig"):
        create(
            "kinesis",
            arn=STREAM,
            StartingPosition="LATEST",
            ScalingConfig={"MaximumConcurrency": 5},
        )


def test_record_age_is_unlimited_or_at_least_a_minute() -> None:
    with pytest.raises(InvalidParameterValueException, match="MaximumRecordAgeInSeconds"):
        create("kinesis", arn=STREAM, StartingPosition="LATEST", MaximumRecordAgeInSeconds=30)


def test_on_success_destinations_are_refused() -> None:
    with pytest.raises(InvalidParameterValueException, match="DestinationConfig"):
        create(
            "kinesis", arn=STREAM, StartingPosition="LATEST",
            DestinationConfig={"OnSuccess": {"Destination": QUEUE}},
        )  # fmt: skip


def test_broker_needs_queues_and_credentials() -> None:
    with pytest.raises(InvalidParameterValueException, match="queues"):
        create("mq", arn=BROKER)
    out = create(
        "mq", arn=BROKER, Queues=["q"],
        SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": "arn:secret"}],
    )  # fmt: skip
    assert out["BatchSize"] == 100


def test_update_merges_over_the_current_settings() -> None:
    current = create("sqs") | {"EventSourceArn": QUEUE}
    out = settings("sqs", False, {"BatchSize": 5}, current)
    assert out["BatchSize"] == 5
    with pytest.raises(InvalidParameterValueException, match="Maximum batch window"):
        settings("sqs", False, {"BatchSize": 50}, current)


@pytest.mark.parametrize(
    ("current", "enabled", "expected"),
    [
        (esm.ENABLED, False, esm.DISABLING),
        (esm.DISABLED, True, esm.ENABLING),
        (esm.ENABLED, True, esm.UPDATING),
        (esm.ENABLED, None, esm.UPDATING),
        (esm.DISABLED, False, esm.UPDATING),
    ],
)
def test_requested_states(current: str, enabled: bool | None, expected: str) -> None:
    assert esm.requested(current, enabled) == expected


def test_settled_states() -> None:
    assert esm.settled(esm.CREATING, True) == esm.ENABLED
    assert esm.settled(esm.CREATING, False) == esm.DISABLED
    assert esm.settled(esm.UPDATING, False) == esm.DISABLED
    assert esm.settled(esm.ENABLING, True) == esm.ENABLED
    assert esm.settled(esm.DISABLING, False) == esm.DISABLED
    assert esm.settled(esm.DELETING, True) is None
    assert esm.requested(esm.ENABLED, None, delete=True) == esm.DELETING


def test_mapping_arns() -> None:
    uuid = "a1b2c3d4-0000-1111-2222-333344445555"
    arn = esm.mapping_arn("us-east-1", "123456789012", uuid)
    assert arn == f"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{uuid}"
    assert esm.parse_mapping_arn(arn) == ("us-east-1", "123456789012", uuid)
    assert esm.parse_mapping_arn("arn:aws:lambda:us-east-1:123456789012:function:f") is None
