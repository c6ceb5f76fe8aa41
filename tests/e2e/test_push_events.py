"""Pushed events end to end: a moto server's SNS topic delivers to lambdad's HTTP
subscription endpoint, and a MinIO-shaped S3 webhook is posted with requests; each
becomes an asynchronous invoke whose event the function prints to its log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from e2e.aws_side import MOTO_REGION, module_server, moto_client, moto_env
from e2e.helpers import LambdadServer, active_function
from e2e.invoke_support import log_messages, wait_until

TOKEN = "s3-webhook-token-for-tests"
RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event, sort_keys=True))
"""
ACCOUNT = "123456789012"
ID_2 = "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[LambdadServer]:
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pushed"
    # The certificate is fetched from moto as SNS is called: signed, with the identity the
    # operator lends the test account (outbound.py).
    env = moto_env(
        moto, "SNS",
        LAMBDAD_ASYNC_POLL_INTERVAL="0.1",
        LAMBDAD_S3_WEBHOOKS=f"photos={fn},secrets={fn}",
        LAMBDAD_S3_WEBHOOK_TOKEN=TOKEN,
    )  # fmt: skip
    with module_server(tmp_path_factory, "push", env) as srv:
        active_function(srv.client("lambda"), "pushed", RECORDER)
        yield srv


def received(server: LambdadServer) -> list[dict[str, Any]]:
    try:
        messages = log_messages(server, "pushed")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return []
    return [json.loads(m.split("EVENT ", 1)[1]) for m in messages if m.startswith("EVENT ")]


def allow(server: LambdadServer, principal: str, source_arn: str) -> None:
    server.client("lambda").add_permission(
        FunctionName="pushed",
        StatementId=f"push-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction",
        Principal=principal,
        SourceArn=source_arn,
    )


def test_an_sns_topic_delivers_to_the_function(server: LambdadServer, moto: str) -> None:
    sns = moto_client(moto, "sns")
    topic = sns.create_topic(Name=f"orders-{uuid.uuid4().hex[:8]}")["TopicArn"]
    allow(server, "sns.amazonaws.com", topic)
    endpoint = f"{server.endpoint}/sns/us-east-1/{ACCOUNT}/pushed"
    subscription = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint)
    assert subscription["SubscriptionArn"].startswith(topic)

    tag = uuid.uuid4().hex
    sns.publish(TopicArn=topic, Message=tag)

    def mine() -> list[dict[str, Any]]:
        return [e for e in received(server) if e["Records"][0].get("Sns", {}).get("Message") == tag]

    wait_until(lambda: bool(mine()), "the SNS notification's invoke")
    record = mine()[0]["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"].startswith(topic.rsplit(":", 1)[0])
    sns_part = record["Sns"]
    assert sns_part["Type"] == "Notification"
    assert sns_part["TopicArn"] == topic
    assert sns_part["Subject"] is None
    assert sns_part["SignatureVersion"] == "2"
    assert sns_part["Signature"]
    assert sns_part["SigningCertUrl"].endswith(".pem")
    assert "Action=Unsubscribe" in sns_part["UnsubscribeUrl"]
    assert sns_part["MessageAttributes"] == {}
    assert set(sns_part) >= {"MessageId", "Timestamp"}


def test_what_sns_cannot_send_is_refused(server: LambdadServer) -> None:
    topic = f"arn:aws:sns:{MOTO_REGION}:{ACCOUNT}:never-allowed"
    forged = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": "forged",
        "Timestamp": "2026-01-01T00:00:00.000Z",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    url = f"{server.endpoint}/sns/us-east-1/{ACCOUNT}/pushed"
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    # Not allowed by the function's policy.
    assert (
        requests.post(url, data=json.dumps(forged), headers=headers, timeout=5).status_code == 403
    )
    # Allowed, but unsigned.
    allow(server, "sns.amazonaws.com", topic)
    answer = requests.post(url, data=json.dumps(forged), headers=headers, timeout=5)
    assert (answer.status_code, answer.json()["message"]) == (
        403,
        "Unsigned SNS messages are not accepted.",
    )
    # Signed with a certificate from anywhere but SNS.
    signed = {
        **forged,
        "SignatureVersion": "2",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://evil.example.com/SimpleNotificationService-1.pem",
    }
    assert (
        requests.post(url, data=json.dumps(signed), headers=headers, timeout=5).status_code == 403
    )
    assert requests.post(url, data=b"{not json", headers=headers, timeout=5).status_code == 400
    assert requests.get(url, timeout=5).status_code == 405
    assert requests.post(url + "/extra", data=b"{}", timeout=5).status_code == 404


def minio_body(bucket: str, key: str, event: str = "s3:ObjectCreated:Put") -> dict[str, Any]:
    """What MinIO's webhook target posts for one object."""
    return {
        "EventName": event,
        "Key": f"{bucket}/{key}",
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "awsRegion": "",
                "eventTime": "2026-01-02T03:04:05.678Z",
                "eventName": event,
                "userIdentity": {"principalId": "minioadmin"},
                "requestParameters": {
                    "principalId": "minioadmin",
                    "region": "",
                    "sourceIPAddress": "10.0.0.7",
                },
                "responseElements": {
                    "x-amz-id-2": ID_2,
                    "x-amz-request-id": "1880A8B4C4F5A8D4",
                    "x-minio-deployment-id": "3a6f6e4e-2d4f-4b8f-8a55-2b34bd6c2a8e",
                    "x-minio-origin-endpoint": "http://10.0.0.2:9000",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "Config",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "minioadmin"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": key,
                        "size": 1234,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "contentType": "image/jpeg",
                        "userMetadata": {"content-type": "image/jpeg"},
                        "sequencer": "1880A8B4C4F7C3E2",
                    },
                },
                "source": {"host": "10.0.0.7", "port": "", "userAgent": "MinIO (linux; amd64)"},
            }
        ],
    }


def test_a_minio_webhook_invokes_with_the_aws_s3_event(server: LambdadServer) -> None:
    allow(server, "s3.amazonaws.com", "arn:aws:s3:::photos")
    key = f"cats/{uuid.uuid4().hex}.jpg"
    url = f"{server.endpoint}/s3-events/photos"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(url, json=minio_body("photos", key), headers=auth, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1

    def mine() -> list[dict[str, Any]]:
        return [
            e["Records"][0]
            for e in received(server)
            if e["Records"][0].get("s3", {}).get("object", {}).get("key") == key
        ]

    wait_until(lambda: bool(mine()), "the S3 record's invoke")
    assert mine()[0] == {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-01-02T03:04:05.678Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"sourceIPAddress": "10.0.0.7"},
        "responseElements": {
            "x-amz-request-id": "1880A8B4C4F5A8D4",
            "x-amz-id-2": ID_2,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": "photos",
                "ownerIdentity": {"principalId": "minioadmin"},
                "arn": "arn:aws:s3:::photos",
            },
            "object": {
                "key": key,
                "size": 1234,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "1880A8B4C4F7C3E2",
            },
        },
    }


def test_s3_webhooks_need_the_token_a_mapping_and_the_policy(server: LambdadServer) -> None:
    body = minio_body("secrets", "a.txt")
    base = f"{server.endpoint}/s3-events"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.post(f"{base}/secrets", json=body, timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert requests.post(f"{base}/secrets", json=body, headers=wrong, timeout=5).status_code == 401
    assert requests.post(f"{base}/unmapped", json=body, headers=auth, timeout=5).status_code == 404
    # Mapped, but the function's policy does not allow this bucket.
    assert requests.post(f"{base}/secrets", json=body, headers=auth, timeout=5).status_code == 403
    # Records of another bucket than the path's, and bodies that are not records.
    other = minio_body("photos", "b.txt")
    assert requests.post(f"{base}/secrets", json=other, headers=auth, timeout=5).status_code == 400
    assert requests.post(f"{base}/photos", data=b"[1]", headers=auth, timeout=5).status_code == 400
