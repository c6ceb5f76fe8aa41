"""``AWS::SQS::Queue``: lambdad is not SQS; a template's queue is made on the SQS the
operator configured (``AWS_ENDPOINT_URL_SQS``, where the event source mappings poll),
signed with the account's outbound identity (outbound.py). Ref is the queue's URL;
``Arn``, ``QueueName`` and ``QueueUrl`` are read back from the service. Without an SQS
endpoint the plan refuses the type, saying why (cfn_api.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env, error_code
from lambdad.deploy.records import ResourceRecord

# Properties that are queue attributes of the same name (JSON documents as strings).
_ATTRIBUTES = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy",
    "RedriveAllowPolicy", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
    "FifoThroughputLimit", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)  # fmt: skip
# Only when the queue is made (a change replaces the queue: kinds.py).
_AT_CREATION = frozenset({"FifoQueue"})
# What an attribute a template stops setting goes back to, as CloudFormation does: SQS's
# defaults (botocore's model); "" removes a redrive policy or a KMS key.
DEFAULTS = {
    "DelaySeconds": "0", "MaximumMessageSize": "1048576", "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "RedrivePolicy": "",
    "RedriveAllowPolicy": '{"redrivePermission":"allowAll"}',
    "ContentBasedDeduplication": "false", "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue", "KmsMasterKeyId": "",
    "KmsDataKeyReusePeriodSeconds": "300", "SqsManagedSseEnabled": "true",
}  # fmt: skip
_GONE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
NO_SQS = (
    "no SQS endpoint is configured in lambdad (AWS_ENDPOINT_URL_SQS), so it cannot make a queue"
)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def attribute_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, str]:
    """The SetQueueAttributes of an update from properties ``old`` to ``new``: what
    changed, and what the template no longer sets back at SQS's default."""
    changed = {
        k: _text(new[k]) if k in new else DEFAULTS[k]
        for k in _ATTRIBUTES
        if k not in _AT_CREATION and new.get(k) != old.get(k)
    }
    sse_moved = "KmsMasterKeyId" in changed or "SqsManagedSseEnabled" in changed
    if sse_moved and "SqsManagedSseEnabled" not in new:
        # SQS-managed encryption is the default only of a queue with no KMS key (SQS
        # refuses both kinds of encryption at once).
        changed["SqsManagedSseEnabled"] = "false" if "KmsMasterKeyId" in new else "true"
    return changed


def _sqs(env: Env) -> Any:
    if env.outbound is None:
        raise RuntimeError(NO_SQS)
    return env.outbound("sqs", env.identity.region)


class QueueHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        fifo = _text(props.get("FifoQueue", False)) == "true"
        name = props.get("QueueName")
        if not name:
            # As CloudFormation: a FIFO queue's generated name ends in .fifo.
            limit = 80 - (5 if fifo else 0)
            name = env.name_for(logical_id, limit, replaces.physical_id if replaces else "")
            name += ".fifo" if fifo else ""
        attributes = {k: _text(props[k]) for k in _ATTRIBUTES if k in props}
        if not fifo:
            attributes.pop("FifoQueue", None)
        sqs = _sqs(env)
        tags = {t["Key"]: str(t["Value"]) for t in props.get("Tags") or []}
        url = sqs.create_queue(
            QueueName=str(name), Attributes=attributes, **({"tags": tags} if tags else {})
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return Applied(url, {"Ref": url, "Arn": arn, "QueueName": str(name), "QueueUrl": url})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        changed = attribute_changes(record.properties, props)
        if changed:
            _sqs(env).set_queue_attributes(QueueUrl=record.physical_id, Attributes=changed)
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        try:
            _sqs(env).delete_queue(QueueUrl=record.physical_id)
        except Exception as exc:
            if error_code(exc) not in _GONE:
                raise
