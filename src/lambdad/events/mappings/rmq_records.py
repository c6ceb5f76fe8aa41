"""The ``aws:rmq`` event: RabbitMQ deliveries as Lambda's Amazon MQ poller hands them to
a function (pure).

AWS's pollers are Java: ``basicProperties`` carries the AMQP basic properties under the
Java client's names, ``null`` when unset; a header's string value is the Java client's
``LongString`` serialised as ``{"bytes": [...]}`` while numbers and booleans stay as
they are; the ``timestamp`` is printed as Java prints a ``Date``
(``"Jan 1, 1970, 12:33:41 AM"``, UTC). Messages are grouped by ``"QUEUE::VHOST"``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from lambdad.events.mappings.filtering import json_or_text

EVENT_SOURCE: Final = "aws:rmq"
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip
# AMQP property (as pamqp names it) -> AWS's member name, in AWS's order.
PROPERTIES: Final = (
    ("content_type", "contentType"),
    ("content_encoding", "contentEncoding"),
    ("headers", "headers"),
    ("delivery_mode", "deliveryMode"),
    ("priority", "priority"),
    ("correlation_id", "correlationId"),
    ("reply_to", "replyTo"),
    ("expiration", "expiration"),
    ("message_id", "messageId"),
    ("timestamp", "timestamp"),
    ("message_type", "type"),
    ("user_id", "userId"),
    ("app_id", "appId"),
    ("cluster_id", "clusterId"),
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message a consumer received: ``properties`` by pamqp's names (absent or None
    when unset); ``tag`` the channel's delivery tag."""

    queue: str
    vhost: str
    body: bytes
    properties: Mapping[str, Any]
    redelivered: bool
    tag: int

    @property
    def key(self) -> str:
        return queue_key(self.queue, self.vhost)


def queue_key(queue: str, vhost: str) -> str:
    return f"{queue}::{vhost}"


def java_date(at: datetime) -> str:
    """A date as Java's default ``Date`` format prints it, in UTC."""
    at = at.astimezone(UTC) if at.tzinfo else at
    hour = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    return f"{MONTHS[at.month - 1]} {at.day}, {at.year}, {hour}:{at:%M:%S} {half}"


def header_value(value: Any) -> Any:
    """A header (field table) value as AWS's Java poller serialises it."""
    if isinstance(value, str):
        return {"bytes": list(value.encode("utf-8"))}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": list(bytes(value))}
    if isinstance(value, Mapping):
        return {str(k): header_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [header_value(v) for v in value]
    if isinstance(value, datetime):
        return java_date(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def basic_properties(delivery: Delivery) -> dict[str, Any]:
    props = delivery.properties
    out: dict[str, Any] = {}
    for name, member in PROPERTIES:
        value = props.get(name)
        if value is None:
            out[member] = None
        elif name == "headers":
            out[member] = header_value(value) if value else None
        elif name == "timestamp":
            out[member] = java_date(value) if isinstance(value, datetime) else value
        elif name in ("delivery_mode", "priority"):
            out[member] = int(value)
        else:
            out[member] = str(value)
    out["bodySize"] = len(delivery.body)
    return out


def record(delivery: Delivery) -> dict[str, Any]:
    return {
        "basicProperties": basic_properties(delivery),
        "redelivered": delivery.redelivered,
        "data": base64.b64encode(delivery.body).decode("ascii"),
    }


def event(source_arn: str, deliveries: Sequence[Delivery]) -> dict[str, Any]:
    """The event of one batch: records grouped by queue, in delivery order."""
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        by_queue.setdefault(delivery.key, []).append(record(delivery))
    return {
        "eventSource": EVENT_SOURCE,
        "eventSourceArn": source_arn,
        "rmqMessagesByQueue": by_queue,
    }


def payload(source_arn: str, deliveries: Sequence[Delivery]) -> bytes:
    return json.dumps(event(source_arn, deliveries), separators=(",", ":")).encode()


def envelope_size(source_arn: str) -> int:
    return len(payload(source_arn, ()))


def size_of(delivery: Delivery) -> int:
    """At least what the delivery adds to a batch's payload (its record, its queue's key
    and the separators: counted once per record, so a little more than it adds)."""
    text = json.dumps(record(delivery), separators=(",", ":"))
    return len(text.encode()) + len(delivery.key.encode()) + 6


def filter_view(delivery: Delivery) -> dict[str, Any]:
    """What ``FilterCriteria`` patterns match: the record with its ``data`` decoded (its
    JSON value when it is JSON)."""
    view = record(delivery)
    view["data"] = json_or_text(delivery.body)
    return view
