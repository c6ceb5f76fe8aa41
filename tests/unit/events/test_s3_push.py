"""Pushed S3 notifications: MinIO's and Ceph RGW's records made into AWS's S3 event, the
webhook mapping setting, and the shared token."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lambdad.events.s3_door import authorized, bucket_in, parse_webhooks
from lambdad.events.s3_records import InvalidS3Notification, parse_notification
from lambdad.model.scope import Scope


def ceph_record(**over: Any) -> dict[str, Any]:
    record = {
        "eventVersion": "2.2",
        "eventSource": "ceph:s3",
        "awsRegion": "zonegroup-a",
        "eventTime": "2026-01-02T03:04:05.678912Z",
        "eventName": "ObjectRemoved:Delete",
        "userIdentity": {"principalId": "tester"},
        "requestParameters": {"sourceIPAddress": ""},
        "responseElements": {"x-amz-request-id": "abc", "x-amz-id-2": "def"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "deletes",
            "bucket": {"name": "photos", "ownerIdentity": {"principalId": "tester"}, "id": "x"},
            "object": {"key": "a/b.jpg", "size": 0, "eTag": "", "versionId": "v1",
                       "sequencer": "F7E6", "metadata": [], "tags": []},
        },
        "eventId": "1575.123",
        "opaqueData": "",
    }  # fmt: skip
    record.update(over)
    return record


def test_a_ceph_removal_becomes_the_aws_record() -> None:
    body = json.dumps({"Records": [ceph_record()]}).encode()
    parsed = parse_notification(body, "photos", "eu-west-1")
    assert parsed.ignored == 0
    [event] = parsed.events
    assert event == {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": "2026-01-02T03:04:05.678Z",
                "eventName": "ObjectRemoved:Delete",
                "userIdentity": {"principalId": "tester"},
                "requestParameters": {"sourceIPAddress": ""},
                "responseElements": {"x-amz-request-id": "abc", "x-amz-id-2": "def"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "deletes",
                    "bucket": {
                        "name": "photos",
                        "ownerIdentity": {"principalId": "tester"},
                        "arn": "arn:aws:s3:::photos",
                    },
                    "object": {"key": "a/b.jpg", "versionId": "v1", "sequencer": "F7E6"},
                },
            }
        ]
    }


def test_each_record_is_its_own_event_and_other_kinds_are_ignored() -> None:
    records = [
        ceph_record(eventName="s3:ObjectCreated:Put"),
        ceph_record(eventName="s3:ObjectAccessed:Get"),
        ceph_record(eventName="ObjectCreated:Copy"),
    ]
    parsed = parse_notification(json.dumps({"Records": records}).encode(), "photos", "r")
    assert [e["Records"][0]["eventName"] for e in parsed.events] == [
        "ObjectCreated:Put",
        "ObjectCreated:Copy",
    ]
    assert parsed.ignored == 1
    created = parsed.events[0]["Records"][0]["s3"]["object"]
    assert created["size"] == 0
    assert created["eTag"] == ""


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"Records": {}}',
        b'{"Records": [1]}',
        json.dumps({"Records": [ceph_record(eventName=None)]}).encode(),
        json.dumps({"Records": [ceph_record(eventTime="yesterday")]}).encode(),
        json.dumps({"Records": [ceph_record(s3={"bucket": {"name": "other"}})]}).encode(),
        json.dumps({"Records": [ceph_record(s3="x")]}).encode(),
        json.dumps(
            {"Records": [ceph_record(s3={"bucket": {"name": "photos"}, "object": {}})]}
        ).encode(),
    ],
)
def test_bodies_that_are_not_records_of_the_bucket_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidS3Notification):
        parse_notification(body, "photos", "r")


def test_webhook_mappings() -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:thumbs:live"
    [hook] = parse_webhooks([("photos", arn)]).values()
    assert (hook.bucket, hook.scope, hook.function, hook.qualifier) == (
        "photos",
        Scope("123456789012", "eu-west-1"),
        "thumbs",
        "live",
    )
    for bucket, bad in (("photos", "thumbs"), ("Bad_Bucket", arn)):
        with pytest.raises(ValueError, match="LAMBDAD_S3_WEBHOOKS"):
            parse_webhooks([(bucket, bad)])
    assert bucket_in("/s3-events/photos") == "photos"
    assert bucket_in("/s3-events/photos/x") is None


def test_the_token_as_bearer_or_basic_password() -> None:
    basic = base64.b64encode(b"minio:s3cret").decode()
    assert authorized({"authorization": "Bearer s3cret"}, "s3cret")
    assert authorized({"authorization": f"Basic {basic}"}, "s3cret")
    assert not authorized({"authorization": "Bearer wrong"}, "s3cret")
    assert not authorized({"authorization": "s3cret"}, "s3cret")
    assert not authorized({"authorization": "Basic !!"}, "s3cret")
    assert not authorized({}, "s3cret")
    # No token configured: the endpoint is closed.
    assert not authorized({"authorization": "Bearer "}, "")
