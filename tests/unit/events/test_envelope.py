"""The event envelope EventBridge delivers: PutEvents entries and scheduled ticks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lambdad.events.envelope import EntryError, aws_time, entry_event, scheduled_event
from lambdad.model.scope import Scope

SCOPE = Scope("123456789012", "us-east-1")
NOW = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
ENTRY = {
    "Source": "shop.orders",
    "DetailType": "Order Placed",
    "Detail": json.dumps({"total": 120}),
    "Resources": ["arn:aws:s3:::bucket"],
}


def test_entry_becomes_an_aws_event() -> None:
    assert entry_event(SCOPE, ENTRY, "id-1", NOW) == {
        "version": "0",
        "id": "id-1",
        "detail-type": "Order Placed",
        "source": "shop.orders",
        "account": "123456789012",
        "time": "2026-03-04T05:06:07Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::bucket"],
        "detail": {"total": 120},
    }


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (1_700_000_000, "2023-11-14T22:13:20Z"),
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05", "2024-01-02T03:04:05Z"),
        ("not a time", "2026-03-04T05:06:07Z"),
        (None, "2026-03-04T05:06:07Z"),
    ],
)
def test_entry_time(time: object, expected: str) -> None:
    entry = {**ENTRY, "Time": time} if time is not None else ENTRY
    assert entry_event(SCOPE, entry, "id", NOW)["time"] == expected


def test_entry_without_resources_has_an_empty_list() -> None:
    entry = {k: v for k, v in ENTRY.items() if k != "Resources"}
    assert entry_event(SCOPE, entry, "id", NOW)["resources"] == []


@pytest.mark.parametrize("field", ["Source", "DetailType", "Detail"])
def test_missing_field_is_invalid_argument(field: str) -> None:
    entry = {k: v for k, v in ENTRY.items() if k != field}
    with pytest.raises(EntryError) as info:
        entry_event(SCOPE, entry, "id", NOW)
    assert info.value.code == "InvalidArgument"
    assert info.value.message == (
        f"Parameter {field} is not valid. Reason: {field} is a required argument."
    )


@pytest.mark.parametrize("detail", ["{not json", "[1, 2]", '"text"', "3"])
def test_detail_must_be_a_json_object(detail: str) -> None:
    with pytest.raises(EntryError) as info:
        entry_event(SCOPE, {**ENTRY, "Detail": detail}, "id", NOW)
    assert (info.value.code, info.value.message) == ("MalformedDetail", "Detail is malformed.")


def test_scheduled_event_shape() -> None:
    arn = "arn:aws:events:us-east-1:123456789012:rule/every-minute"
    tick = datetime(2026, 3, 4, 5, 7, tzinfo=UTC)
    assert scheduled_event(SCOPE, arn, "id-2", tick) == {
        "version": "0",
        "id": "id-2",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-04T05:07:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {},
    }


def test_aws_time_is_utc_seconds() -> None:
    east = timezone(timedelta(hours=9))
    assert aws_time(datetime(2026, 1, 1, 9, 0, 0, 999999, tzinfo=east)) == "2026-01-01T00:00:00Z"
