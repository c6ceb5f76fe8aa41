"""The records a stream mapping hands to a function, exactly as AWS Lambda sends them.

A source's raw record (what boto3's ``GetRecords`` returns) becomes a ``StreamRecord``:
its sequence number, the key that orders it (a Kinesis partition key, a DynamoDB
item's key), when it arrived, and the event record a function receives, with the
fields of AWS's examples (Kinesis: ``kinesis`` {kinesisSchemaVersion, partitionKey,
sequenceNumber, data (base64), approximateArrivalTimestamp}, eventSource
``aws:kinesis``, eventVersion, eventID ``shardId:sequenceNumber``, eventName
``aws:kinesis:record``, invokeIdentityArn, awsRegion, eventSourceARN; DynamoDB:
the stream record as DynamoDB Streams gives it, binary attributes in base64 and
``ApproximateCreationDateTime`` in epoch seconds, plus ``eventSourceARN``).
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KINESIS_SCHEMA_VERSION = "1.0"
EVENT_VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record of a shard, ready to go into an event."""

    sequence_number: str
    key: str  # what per-key order is kept for
    arrival: float  # epoch seconds
    event: Mapping[str, Any]  # the record as the function receives it
    size: int  # bytes it takes in the event's JSON

    @property
    def seq(self) -> int:
        return int(self.sequence_number)


def _epoch(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return float(value.timestamp())
    return float(value)


def _record(sequence_number: str, key: str, arrival: float, event: dict[str, Any]) -> StreamRecord:
    size = len(json.dumps(event, separators=(",", ":")).encode())
    return StreamRecord(sequence_number, key, arrival, event, size)


def kinesis_record(
    raw: Mapping[str, Any],
    *,
    shard_id: str,
    stream_arn: str,
    region: str,
    identity_arn: str,
) -> StreamRecord:
    """A Kinesis ``GetRecords`` record (``Data`` bytes, ``ApproximateArrivalTimestamp``)."""
    data = raw["Data"]
    if isinstance(data, str):
        data = data.encode()
    arrival = round(_epoch(raw["ApproximateArrivalTimestamp"]), 3)
    seq = str(raw["SequenceNumber"])
    event: dict[str, Any] = {
        "kinesis": {
            "kinesisSchemaVersion": KINESIS_SCHEMA_VERSION,
            "partitionKey": raw["PartitionKey"],
            "sequenceNumber": seq,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": EVENT_VERSION,
        "eventID": f"{shard_id}:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": identity_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }
    if raw.get("EncryptionType") not in (None, "NONE"):
        event["kinesis"]["encryptionType"] = raw["EncryptionType"]
    return _record(seq, str(raw["PartitionKey"]), arrival, event)


def _attribute_json(value: Any) -> Any:
    """boto3's parsed AttributeValue back into the JSON DynamoDB sends (B in base64)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {k: _attribute_json(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_attribute_json(v) for v in value]
    return value


def dynamodb_record(raw: Mapping[str, Any], *, stream_arn: str, region: str) -> StreamRecord:
    """A DynamoDB Streams ``GetRecords`` record, as Lambda passes it on."""
    stream = dict(raw["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    arrival = _epoch(created) if created is not None else 0.0
    body: dict[str, Any] = {}
    if created is not None:
        # Lambda's DynamoDB events carry whole epoch seconds here.
        body["ApproximateCreationDateTime"] = int(arrival)
    for name, value in stream.items():
        if name != "ApproximateCreationDateTime":
            body[name] = _attribute_json(value)
    event: dict[str, Any] = {
        "eventID": raw.get("eventID", ""),
        "eventName": raw.get("eventName", ""),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": raw.get("eventSource", "aws:dynamodb"),
        "awsRegion": raw.get("awsRegion", region),
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:
        event["userIdentity"] = dict(raw["userIdentity"])
    key = json.dumps(body.get("Keys", {}), sort_keys=True, separators=(",", ":"))
    return _record(str(stream["SequenceNumber"]), key, arrival, event)


def filter_view(record: StreamRecord) -> Mapping[str, Any]:
    """What ``FilterCriteria`` patterns see of a record: for Kinesis the ``kinesis``
    fields with ``data`` decoded (its JSON value when it is JSON, else its text), for
    DynamoDB the whole event record."""
    kinesis = record.event.get("kinesis")
    if not isinstance(kinesis, Mapping):
        return record.event
    raw = base64.b64decode(kinesis["data"])
    data: Any
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = raw.decode("utf-8", "replace")
    return {**kinesis, "data": data}
