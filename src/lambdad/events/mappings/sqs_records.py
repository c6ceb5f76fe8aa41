"""SQS messages as Lambda hands them to a function, and what its answer means (pure).

``record`` turns a ReceiveMessage message into the ``Records[]`` entry AWS sends
(``messageId``, ``receiptHandle``, ``body``, ``attributes``, ``messageAttributes`` in
Lambda's lower-camel shape with binary values base64-encoded, ``md5OfBody``,
``eventSource``, ``eventSourceARN``, ``awsRegion``). ``filter_view`` is what
``FilterCriteria`` patterns see (the body decoded when it is JSON). ``failed_ids`` reads a
``ReportBatchItemFailures`` answer as AWS's rules say; ``deletable`` decides which
messages of a batch are deleted, keeping FIFO order per message group.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from lambdad.events.mappings.filtering import json_or_text

EVENT_SOURCE: Final = "aws:sqs"
# {"Records":[...]} around the records, and the comma between two of them.
ENVELOPE_BYTES: Final = len('{"Records":[]}')
# The system attributes AWS puts in a record, in its order (FIFO ones last).
SYSTEM_ATTRIBUTES: Final = (
    "ApproximateReceiveCount", "AWSTraceHeader", "SentTimestamp", "SenderId",
    "ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageGroupId",
    "MessageDeduplicationId", "DeadLetterQueueSourceArn",
)  # fmt: skip


def _b64(value: Any) -> str:
    raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode()
    return base64.b64encode(raw).decode()


def message_attributes(given: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """SQS's ``MessageAttributes`` in the shape of a Lambda record."""
    out: dict[str, Any] = {}
    for name, attr in given.items():
        item: dict[str, Any] = {}
        if "StringValue" in attr:
            item["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            item["binaryValue"] = _b64(attr["BinaryValue"])
        item["stringListValues"] = list(attr.get("StringListValues") or [])
        item["binaryListValues"] = [_b64(v) for v in attr.get("BinaryListValues") or []]
        item["dataType"] = attr.get("DataType", "String")
        out[name] = item
    return out


def record(message: Mapping[str, Any], source_arn: str, region: str) -> dict[str, Any]:
    given = message.get("Attributes") or {}
    attributes = {k: str(given[k]) for k in SYSTEM_ATTRIBUTES if k in given}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": EVENT_SOURCE,
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }


def trace_header(rec: Mapping[str, Any]) -> str | None:
    """The X-Ray header SQS kept with the message (``AWSTraceHeader``), if any."""
    value = rec["attributes"].get("AWSTraceHeader")
    return str(value) if value else None


def size_of(rec: Mapping[str, Any]) -> int:
    """Bytes the record adds to an invocation payload (with its comma)."""
    return len(json.dumps(rec, separators=(",", ":")).encode()) + 1


def payload(records: Sequence[Mapping[str, Any]]) -> bytes:
    return json.dumps({"Records": list(records)}, separators=(",", ":")).encode()


def filter_view(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The record as filter patterns see it: ``body`` decoded when it is JSON."""
    return {**rec, "body": json_or_text(rec.get("body", ""))}


def failed_ids(answer: bytes, batch_ids: Iterable[str]) -> set[str] | None:
    """The messages a ``ReportBatchItemFailures`` answer reports as failed; None when
    the answer fails the whole batch (not JSON, an identifier empty, null, misspelt or
    not in the batch). An empty or null answer or list is a complete success."""
    ids = set(batch_ids)
    if not answer.strip():
        return set()
    try:
        doc = json.loads(answer)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return set()
    items = doc.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            return None
        ident = item.get("itemIdentifier")
        if not isinstance(ident, str) or ident not in ids:
            return None
        failed.add(ident)
    return failed


def deletable(records: Sequence[Mapping[str, Any]], failed: set[str], fifo: bool) -> list[str]:
    """The receipt handles to delete after a batch: every message not failed; in a FIFO
    queue none of a group after its first failure (they are retried in order)."""
    stopped: set[str] = set()
    out: list[str] = []
    for rec in records:
        group = rec["attributes"].get("MessageGroupId", "")
        if rec["messageId"] in failed:
            stopped.add(group)
            continue
        if fifo and group in stopped:
            continue
        out.append(rec["receiptHandle"])
    return out
