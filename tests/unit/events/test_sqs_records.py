"""SQS records as Lambda sends them, partial batch answers, deletions, and scaling."""

from __future__ import annotations

import json

import pytest

from lambdad.events.mappings import sqs_records as sr
from lambdad.events.mappings.filtering import MappingFilter
from lambdad.events.mappings.sqs_scaling import Scaler

ARN = "arn:aws:sqs:us-east-1:123456789012:q.fifo"


def message(mid: str, body: str = "x", group: str | None = None) -> dict[str, object]:
    attrs = {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "AID"}
    if group is not None:
        attrs |= {"MessageGroupId": group, "SequenceNumber": "1", "MessageDeduplicationId": mid}
    return {
        "MessageId": mid,
        "ReceiptHandle": f"rh-{mid}",
        "Body": body,
        "MD5OfBody": "md5",
        "Attributes": attrs,
        "MessageAttributes": {
            "s": {"DataType": "String", "StringValue": "v"},
            "b": {"DataType": "Binary", "BinaryValue": b"\xff"},
        },
    }


def test_record_shape() -> None:
    rec = sr.record(message("1", group="g"), ARN, "us-east-1")
    assert rec["eventSource"] == "aws:sqs"
    assert rec["eventSourceARN"] == ARN
    assert rec["attributes"]["MessageGroupId"] == "g"
    lists = {"stringListValues": [], "binaryListValues": []}
    assert rec["messageAttributes"] == {
        "s": {"stringValue": "v", **lists, "dataType": "String"},
        "b": {"binaryValue": "/w==", **lists, "dataType": "Binary"},
    }
    assert json.loads(sr.payload([rec])) == {"Records": [rec]}
    assert sr.size_of(rec) == len(json.dumps(rec, separators=(",", ":"))) + 1


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"", set()),
        (b"null", set()),
        (b'{"batchItemFailures": []}', set()),
        (b'{"batchItemFailures": null}', set()),
        (b'{"batchItemFailures": [{"itemIdentifier": "2"}]}', {"2"}),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        (b'{"batchItemFailures": [{"itemId": "2"}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": "nope"}]}', None),
        (b"{not json", None),
    ],
)
def test_partial_batch_answers(answer: bytes, expected: set[str] | None) -> None:
    assert sr.failed_ids(answer, ["1", "2", "3"]) == expected


def test_fifo_keeps_a_group_after_its_first_failure() -> None:
    recs = [
        sr.record(message(m, group=g), ARN, "us-east-1")
        for m, g in [("1", "a"), ("2", "a"), ("3", "b"), ("4", "a")]
    ]
    assert sr.deletable(recs, {"2"}, fifo=True) == ["rh-1", "rh-3"]
    assert sr.deletable(recs, {"2"}, fifo=False) == ["rh-1", "rh-3", "rh-4"]


def test_filters_see_json_bodies() -> None:
    keep = MappingFilter(('{"body": {"kind": ["keep"]}}',))
    as_json = sr.record(message("1", body='{"kind": "keep"}'), ARN, "us-east-1")
    as_text = sr.record(message("2", body="keep"), ARN, "us-east-1")
    assert keep.matches(sr.filter_view(as_json))
    assert not keep.matches(sr.filter_view(as_text))
    assert MappingFilter(()).empty


def test_scaling() -> None:
    s = Scaler.for_limit(None)
    assert s.start() == 5
    assert s.after_batch(full=True, now=10.0) == 1
    assert s.after_batch(full=True, now=10.5) == 0  # one more a second at most
    assert s.after_batch(full=False, now=12.0) == 0
    assert s.active == 6
    assert s.after_empty() is True
    assert s.after_empty() is False  # never below five while idle
    for _ in range(4):
        assert s.after_throttle() is True
    assert s.after_throttle() is False  # one always polls
    capped = Scaler.for_limit(2)
    assert capped.start() == 2
    assert capped.after_batch(full=True, now=0.0) == 0
