"""Queues and buckets of a template, made on fake SQS and S3 clients: names, attributes,
notifications, updates in place, deletions of what is already gone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdad.deploy.bucket_resources import BucketHandler
from lambdad.deploy.handlers import Env
from lambdad.deploy.queue_resources import DEFAULTS, QueueHandler, attribute_changes
from lambdad.deploy.records import ResourceRecord
from unit.deploy.deploy_fakes import IDENTITY


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: str | None = None

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if self.fail is not None:
                raise ClientError({"Error": {"Code": self.fail, "Message": "x"}}, name)
            if name == "create_queue":
                return {"QueueUrl": f"http://sqs/q/{kwargs['QueueName']}"}
            if name == "get_queue_attributes":
                return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q"}}
            return {}

        return call


def _env(fake: Recorder, services: list[str]) -> Env:
    def outbound(service: str, region: str) -> Any:
        services.append(service)
        return fake

    return Env(IDENTITY, lambda name: None, lambda b, k: None, outbound=outbound)


def test_queue_named_by_the_stack_with_its_attributes() -> None:
    fake, services = Recorder(), []
    env = _env(fake, services)
    props = {"VisibilityTimeout": 30, "FifoQueue": True, "RedrivePolicy": {"maxReceiveCount": 3}}
    done = QueueHandler().create(env, "Jobs", props, None)
    (_, made), _ = fake.calls
    assert made["QueueName"].startswith("s-Jobs-")
    assert made["QueueName"].endswith(".fifo")
    assert made["Attributes"] == {
        "VisibilityTimeout": "30",
        "FifoQueue": "true",
        "RedrivePolicy": '{"maxReceiveCount": 3}',
    }
    assert done.attributes["Arn"] == "arn:aws:sqs:us-east-1:123456789012:q"
    assert done.physical_id == done.attributes["QueueUrl"] == done.attributes["Ref"]
    assert services == ["sqs"]

    record = ResourceRecord("Jobs", "AWS::SQS::Queue", done.physical_id, props, done.attributes)
    fake.calls.clear()
    QueueHandler().update(env, record, {**props, "VisibilityTimeout": 45})
    changed = {"QueueUrl": done.physical_id, "Attributes": {"VisibilityTimeout": "45"}}
    assert fake.calls == [("set_queue_attributes", changed)]
    fake.fail = "AWS.SimpleQueueService.NonExistentQueue"
    QueueHandler().delete(env, record)  # already gone: deleted


def test_attributes_a_template_stops_setting_go_back_to_the_defaults() -> None:
    old = {"VisibilityTimeout": 60, "DelaySeconds": 5, "RedrivePolicy": {"maxReceiveCount": 3},
           "MaximumMessageSize": 2048, "KmsMasterKeyId": "alias/aws/sqs"}  # fmt: skip
    assert attribute_changes(old, {"VisibilityTimeout": 60}) == {
        "DelaySeconds": "0",
        "RedrivePolicy": "",
        "MaximumMessageSize": "1048576",
        "KmsMasterKeyId": "",
        "SqsManagedSseEnabled": "true",
    }
    assert attribute_changes({}, {"KmsMasterKeyId": "k"}) == {
        "KmsMasterKeyId": "k", "SqsManagedSseEnabled": "false",
    }  # fmt: skip
    # No longer saying SqsManagedSseEnabled false while keeping a KMS key: still false.
    kms = {"KmsMasterKeyId": "k"}
    assert attribute_changes({**kms, "SqsManagedSseEnabled": False}, kms) == {
        "SqsManagedSseEnabled": "false"
    }
    assert attribute_changes({"SqsManagedSseEnabled": False}, {}) == {
        "SqsManagedSseEnabled": "true"
    }
    assert attribute_changes({"FifoQueue": True}, {}) == {}  # a replacement, not an update
    # Every attribute a template may set has a default to go back to.
    everything = {k: "x" for k in DEFAULTS}
    assert set(attribute_changes(everything, {})) == set(DEFAULTS)


def test_bucket_notifies_queues_and_refuses_functions() -> None:
    fake, services = Recorder(), []
    env = _env(fake, services)
    props = {
        "NotificationConfiguration": {
            "QueueConfigurations": [{
                "Event": "s3:ObjectCreated:*", "Queue": "arn:q",
                "Filter": {"S3Key": {"Rules": [{"Name": "suffix", "Value": ".jpg"}]}},
            }]
        },
        "Tags": [{"Key": "team", "Value": "a"}],
    }  # fmt: skip
    done = BucketHandler().create(env, "Photos", props, None)
    assert done.physical_id == done.physical_id.lower()
    assert done.attributes["Arn"] == f"arn:aws:s3:::{done.physical_id}"
    names = [name for name, _ in fake.calls]
    assert names == ["create_bucket", "put_bucket_tagging", "put_bucket_notification_configuration"]
    config = fake.calls[-1][1]["NotificationConfiguration"]
    assert config == {"QueueConfigurations": [{
        "QueueArn": "arn:q", "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}},
    }]}  # fmt: skip
    fake.calls.clear()
    with pytest.raises(ValueError, match="LambdaConfigurations"):
        BucketHandler().create(
            env, "Other", {"NotificationConfiguration": {"LambdaConfigurations": [{}]}}, None
        )
    assert fake.calls == []  # refused before anything was made
    record = ResourceRecord("Photos", "AWS::S3::Bucket", done.physical_id, props, done.attributes)
    fake.fail = "BucketNotEmpty"
    with pytest.raises(ClientError):
        BucketHandler().delete(env, record)


def test_bucket_encryption_public_access_block_and_policy() -> None:
    from lambdad.deploy.bucket_resources import BucketPolicyHandler

    fake, services = Recorder(), []
    env = _env(fake, services)
    props = {
        "BucketName": "b",
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": "true", "IgnorePublicAcls": False},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
        ]},
    }  # fmt: skip
    BucketHandler().create(env, "B", props, None)
    calls = dict(fake.calls)
    assert calls["put_public_access_block"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": False,
    }  # fmt: skip
    assert calls["put_bucket_encryption"]["ServerSideEncryptionConfiguration"] == {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
    }
    fake.calls.clear()
    policy = {"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    done = BucketPolicyHandler().create(env, "P", {"Bucket": "b", "PolicyDocument": policy}, None)
    assert done.physical_id == "b"
    assert fake.calls == [("put_bucket_policy", {"Bucket": "b", "Policy": json.dumps(policy)})]
