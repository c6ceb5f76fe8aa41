"""S3 event records pushed by S3-compatible stores, made into the event AWS gives a
function subscribed to a bucket's notifications. Pure: documents in, documents out.

Accepted bodies: a MinIO webhook target's ``{"EventName": ..., "Key": ..., "Records":
[...]}`` and a Ceph RGW HTTP push endpoint's ``{"Records": [...]}``; both carry S3
event records, spelled as each store spells them (MinIO names events ``s3:ObjectCreated:Put``
and its source ``minio:s3``; Ceph ``ObjectCreated:Put`` and ``ceph:s3``). Each record of
an ``ObjectCreated:*`` or ``ObjectRemoved:*`` event becomes one AWS event, a
``{"Records": [record]}`` document of event version 2.1 from ``aws:s3``, as the S3 User
Guide's "Event message structure" gives it; records of other events are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdad.errors import LambdadError

KINDS = ("ObjectCreated:", "ObjectRemoved:")


class InvalidS3Notification(LambdadError):
    """A body that is not S3 event records lambdad accepts; the message says why."""


@dataclass(frozen=True, slots=True)
class Parsed:
    events: list[dict[str, Any]]  # one {"Records": [record]} per accepted record
    ignored: int  # records of other kinds of events


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def parse_notification(body: bytes, bucket: str, region: str) -> Parsed:
    """The AWS events a pushed body makes for ``bucket`` (whose function lives in
    ``region``). A record of another bucket is refused: a mapping is per bucket."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidS3Notification("The body is not a JSON document.") from None
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
        raise InvalidS3Notification("The body has no Records list.")
    events, ignored = [], 0
    for record in document["Records"]:
        if not isinstance(record, dict):
            raise InvalidS3Notification("A record is not an object.")
        name = _event_name(record)
        if not name.startswith(KINDS):
            ignored += 1
            continue
        events.append({"Records": [aws_record(record, name, bucket, region)]})
    return Parsed(events, ignored)


def _event_name(record: Mapping[str, Any]) -> str:
    name = record.get("eventName")
    if not isinstance(name, str) or not name:
        raise InvalidS3Notification("A record has no eventName.")
    return name.removeprefix("s3:")


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidS3Notification(f"A record's {name} is not an object.")
    return value


def aws_record(
    record: Mapping[str, Any], event_name: str, bucket: str, region: str
) -> dict[str, Any]:
    s3 = _object(record.get("s3"), "s3")
    given_bucket = _object(s3.get("bucket"), "s3.bucket")
    if given_bucket.get("name") != bucket:
        raise InvalidS3Notification(f"A record is about another bucket than {bucket}.")
    obj = _object(s3.get("object"), "s3.object")
    key = obj.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidS3Notification("A record has no s3.object.key.")
    owner = _object(given_bucket.get("ownerIdentity"), "s3.bucket.ownerIdentity")
    user = _object(record.get("userIdentity"), "userIdentity")
    request = _object(record.get("requestParameters"), "requestParameters")
    response = _object(record.get("responseElements"), "responseElements")
    out_object: dict[str, Any] = {"key": key}
    if not event_name.startswith("ObjectRemoved:"):
        out_object["size"] = _size(obj.get("size"))
        out_object["eTag"] = str(obj.get("eTag") or obj.get("etag") or "")
    if obj.get("versionId"):
        out_object["versionId"] = str(obj["versionId"])
    out_object["sequencer"] = str(obj.get("sequencer") or "")
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _event_time(record.get("eventTime")),
        "eventName": event_name,
        "userIdentity": {"principalId": str(user.get("principalId") or "")},
        "requestParameters": {"sourceIPAddress": str(request.get("sourceIPAddress") or "")},
        "responseElements": {
            "x-amz-request-id": str(response.get("x-amz-request-id") or ""),
            "x-amz-id-2": str(response.get("x-amz-id-2") or ""),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": str(s3.get("configurationId") or ""),
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": str(owner.get("principalId") or "")},
                "arn": bucket_arn(bucket),
            },
            "object": out_object,
        },
    }


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return 0
    try:
        return max(int(value), 0)
    except ValueError:
        return 0


def _event_time(value: Any) -> str:
    """``1970-01-01T00:00:00.000Z`` as AWS writes it, from the store's ISO 8601 time."""
    if not isinstance(value, str):
        raise InvalidS3Notification("A record has no eventTime.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidS3Notification(f"eventTime {value!r} is not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )
