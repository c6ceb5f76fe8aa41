"""Event source mappings' control API, driven with boto3 as users drive it: the answers,
the states, AWS's errors, tags on a mapping's ARN, the AWS CLI form."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import LambdadServer

QUEUE = "arn:aws:sqs:us-east-1:123456789012:esm-api-queue"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/esm-api"


def _state(lam: Any, uuid: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (got := lam.get_event_source_mapping(UUID=uuid))["State"] != wanted:
        assert time.monotonic() < deadline, got
        time.sleep(0.05)
    return got  # type: ignore[no-any-return]


def _error(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call()
    r = info.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def test_mapping_lifecycle(lambdad: LambdadServer, new_function: Callable[..., Any]) -> None:
    lam = lambdad.client("lambda")
    fn = new_function()["FunctionName"]
    created = lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=QUEUE, BatchSize=5, Enabled=False, Tags={"team": "a"}
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    uuid = created["UUID"]
    try:
        got = _state(lam, uuid, "Disabled")
        assert got["BatchSize"] == 5
        assert got["FunctionArn"].endswith(f":function:{fn}")
        listed = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
        assert [m["UUID"] for m in listed] == [uuid]
        arn = created["EventSourceMappingArn"]
        lam.tag_resource(Resource=arn, Tags={"env": "dev"})
        assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a", "env": "dev"}
        lam.untag_resource(Resource=arn, TagKeys=["team"])
        assert lam.list_tags(Resource=arn)["Tags"] == {"env": "dev"}
        updated = lam.update_event_source_mapping(
            UUID=uuid, BatchSize=100, MaximumBatchingWindowInSeconds=1
        )
        assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert updated["State"] == "Updating"
        assert _state(lam, uuid, "Disabled")["BatchSize"] == 100
        status, code, message = _error(
            lambda: lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=QUEUE)
        )
        assert (status, code) == (409, "ResourceConflictException")
        assert uuid in message
    finally:
        deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    deadline = time.monotonic() + 10
    while True:
        try:
            lam.get_event_source_mapping(UUID=uuid)
        except lam.exceptions.ResourceNotFoundException:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_refusals_are_aws_shaped(lambdad: LambdadServer, new_function: Callable[..., Any]) -> None:
    lam = lambdad.client("lambda")
    fn = new_function()["FunctionName"]
    cases = [
        ({"EventSourceArn": QUEUE, "BatchSize": 50}, "Maximum batch window in seconds"),
        ({"EventSourceArn": QUEUE, "StartingPosition": "LATEST"}, "StartingPosition is not valid"),
        ({"EventSourceArn": QUEUE + ".fifo", "MaximumBatchingWindowInSeconds": 5}, "FIFO"),
        ({"EventSourceArn": STREAM}, "startingPosition"),
        (
            {"EventSourceArn": QUEUE, "FilterCriteria": {"Filters": [{"Pattern": "{nope"}]}},
            "Invalid filter pattern definition.",
        ),
    ]
    for params, words in cases:
        status, code, message = _error(
            lambda p=params: lam.create_event_source_mapping(FunctionName=fn, **p)  # type: ignore[misc]
        )
        assert (status, code) == (400, "InvalidParameterValueException"), message
        assert words in message
    status, code, _ = _error(
        lambda: lam.create_event_source_mapping(FunctionName="nope", EventSourceArn=QUEUE)
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    status, code, _ = _error(
        lambda: lam.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")
    )
    assert (status, code) == (404, "ResourceNotFoundException")


def test_cli_creates_a_mapping(lambdad: LambdadServer, new_function: Callable[..., Any]) -> None:
    fn = new_function()["FunctionName"]
    out = lambdad.aws(
        "lambda", "create-event-source-mapping", "--function-name", fn,
        "--event-source-arn", QUEUE, "--batch-size", "10",
    )  # fmt: skip
    assert out["State"] == "Creating"
    assert out["BatchSize"] == 10
    lambdad.client("lambda").delete_event_source_mapping(UUID=out["UUID"])
