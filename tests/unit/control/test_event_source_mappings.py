"""EventSourceMappingService over an in-memory store: the API's answers, states, tags."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdad.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore
from unit.mapping_harness import EAST, QUEUE, Harness

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"


@pytest.fixture
def h(store: SqliteStore, blobs: BlobStore) -> Harness:
    return Harness(store, blobs)


def test_create_answers_creating_with_aws_members(h: Harness) -> None:
    out = h.create()
    assert out["State"] == "Creating"
    assert out["StateTransitionReason"] == "USER_INITIATED"
    assert out["BatchSize"] == 10
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert out["EventSourceMappingArn"].endswith(":event-source-mapping:" + out["UUID"])
    assert out["LastModified"] == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert "LastProcessingResult" not in out
    assert "Tags" not in out
    assert h.published == [out["UUID"]]


def test_stream_mappings_show_their_processing_result(h: Harness) -> None:
    out = h.create(EventSourceArn=STREAM, StartingPosition="TRIM_HORIZON")
    assert out["LastProcessingResult"] == "No records processed"
    assert out["StateTransitionReason"] == "User action"


def test_settle_and_disable(h: Harness) -> None:
    uuid = h.create()["UUID"]
    assert h.service.settle(EAST, uuid).state == "Enabled"  # type: ignore[union-attr]
    assert h.service.update(EAST, uuid, {"Enabled": False})["State"] == "Disabling"
    assert h.service.settle(EAST, uuid).state == "Disabled"  # type: ignore[union-attr]
    assert h.service.update(EAST, uuid, {"Enabled": True})["State"] == "Enabling"
    assert h.service.delete(EAST, uuid)["State"] == "Deleting"
    assert h.service.settle(EAST, uuid) is None
    with pytest.raises(ResourceNotFoundException):
        h.service.get(EAST, uuid)


def test_a_second_mapping_of_the_same_pair_conflicts(h: Harness) -> None:
    uuid = h.create()["UUID"]
    with pytest.raises(ResourceConflictException, match=uuid):
        h.create()


def test_unknown_function_and_source(h: Harness) -> None:
    with pytest.raises(ResourceNotFoundException, match="Function not found"):
        h.create(FunctionName="nope")
    with pytest.raises(ResourceNotFoundException, match="Function not found"):
        h.create(FunctionName="fn:missing")
    with pytest.raises(InvalidParameterValueException, match="Unrecognized event source"):
        h.create(EventSourceArn="arn:aws:s3:::bucket")


def test_filters_are_checked_with_the_pattern_matcher(h: Harness) -> None:
    with pytest.raises(InvalidParameterValueException, match="Invalid filter pattern"):
        h.create(FilterCriteria={"Filters": [{"Pattern": '{"body": "not-a-list"}'}]})
    out = h.create(FilterCriteria={"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]})
    assert out["FilterCriteria"]["Filters"][0]["Pattern"] == '{"body": {"a": [1]}}'


def test_update_validates_against_the_merged_settings(h: Harness) -> None:
    uuid = h.create()["UUID"]
    with pytest.raises(InvalidParameterValueException, match="Maximum batch window"):
        h.service.update(EAST, uuid, {"BatchSize": 100})
    out = h.service.update(EAST, uuid, {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 2})
    assert (out["BatchSize"], out["MaximumBatchingWindowInSeconds"]) == (100, 2)


def test_list_filters_and_pages(h: Harness) -> None:
    first = h.create()["UUID"]
    h.create(EventSourceArn=QUEUE + "2")
    assert len(h.service.list(EAST, None, None, None, None)["EventSourceMappings"]) == 2
    only = h.service.list(EAST, QUEUE, None, None, None)["EventSourceMappings"]
    assert [m["UUID"] for m in only] == [first]
    page = h.service.list(EAST, None, "fn", None, 1)
    assert len(page["EventSourceMappings"]) == 1
    rest = h.service.list(EAST, None, "fn", page["NextMarker"], 1)
    assert len(rest["EventSourceMappings"]) == 1
    assert "NextMarker" not in rest


def test_tags(h: Harness) -> None:
    uuid = h.create(Tags={"team": "a"})["UUID"]
    h.service.tag(EAST, uuid, {"env": "prod"})
    h.service.untag(EAST, uuid, ["team"])
    assert h.service.list_tags(EAST, uuid) == {"Tags": {"env": "prod"}}


def test_report_records_results(h: Harness) -> None:
    uuid = h.create()["UUID"]
    h.service.report(EAST, uuid, "OK", "USER_INITIATED")
    assert h.service.get(EAST, uuid)["LastProcessingResult"] == "OK"
