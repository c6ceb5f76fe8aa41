"""The ``aws:rmq`` event as AWS's Java poller writes it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from lambdad.events.mappings import rmq_records as rr

ARN = "arn:aws:mq:us-east-1:123456789012:broker:orders:b-1"


def delivery(body: bytes = b"{}", queue: str = "q", tag: int = 1, **props: Any) -> rr.Delivery:
    return rr.Delivery(queue, "/", body, props, redelivered=False, tag=tag)


def test_dates_print_as_java_prints_them() -> None:
    assert rr.java_date(datetime(1970, 1, 1, 0, 33, 41, tzinfo=UTC)) == "Jan 1, 1970, 12:33:41 AM"
    assert rr.java_date(datetime(2023, 11, 14, 12, 3, 4, tzinfo=UTC)) == "Nov 14, 2023, 12:03:04 PM"
    assert rr.java_date(datetime(2023, 2, 5, 23, 0, 0)) == "Feb 5, 2023, 11:00:00 PM"


def test_header_strings_become_byte_lists_and_numbers_stay() -> None:
    headers = {"s": "v1", "b": b"\x00\xff", "n": 10, "t": True, "nested": {"k": "x"}, "l": ["y", 2]}
    assert rr.header_value(headers) == {
        "s": {"bytes": [118, 49]},
        "b": {"bytes": [0, 255]},
        "n": 10,
        "t": True,
        "nested": {"k": {"bytes": [120]}},
        "l": [{"bytes": [121]}, 2],
    }


def test_unset_properties_are_null_and_body_size_is_counted() -> None:
    props = rr.basic_properties(delivery(b"hello", content_type="text/plain", delivery_mode=1))
    assert props == {
        "contentType": "text/plain",
        "contentEncoding": None,
        "headers": None,
        "deliveryMode": 1,
        "priority": None,
        "correlationId": None,
        "replyTo": None,
        "expiration": None,
        "messageId": None,
        "timestamp": None,
        "type": None,
        "userId": None,
        "appId": None,
        "clusterId": None,
        "bodySize": 5,
    }
    assert list(props) == [member for _, member in rr.PROPERTIES[:]] + ["bodySize"]


def test_records_are_grouped_by_queue_and_vhost_in_order() -> None:
    batch = [delivery(b"a", "q1", 1), delivery(b"b", "q2", 2), delivery(b"c", "q1", 3)]
    event = json.loads(rr.payload(ARN, batch))
    assert event["eventSource"] == "aws:rmq"
    assert event["eventSourceArn"] == ARN
    assert list(event["rmqMessagesByQueue"]) == ["q1::/", "q2::/"]
    q1 = event["rmqMessagesByQueue"]["q1::/"]
    assert [base64.b64decode(m["data"]) for m in q1] == [b"a", b"c"]
    assert q1[0]["redelivered"] is False


def test_sizes_bound_the_payload() -> None:
    batch = [delivery(bytes(100 * i), f"q{i % 2}", i, message_id=str(i)) for i in range(1, 30)]
    bound = rr.envelope_size(ARN) + sum(rr.size_of(d) for d in batch)
    assert len(rr.payload(ARN, batch)) <= bound < len(rr.payload(ARN, batch)) + 30 * 40


def test_filters_see_the_data_decoded() -> None:
    assert rr.filter_view(delivery(b'{"kind": "order"}'))["data"] == {"kind": "order"}
    assert rr.filter_view(delivery(b"plain"))["data"] == "plain"
