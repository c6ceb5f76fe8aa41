"""On-failure destinations of a mapping: the invocation record its poller built, sent to
an SQS queue, an SNS topic or an S3 bucket with the mapping account's outbound identity
(blocking: called through the mappings' thread pool)."""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lambdad.events.mappings.contract import DestinationFailed


def s3_key(mapping_uuid: str, shard: str | None, at: datetime) -> str:
    """Where AWS puts a record in a bucket destination."""
    stamp = at.strftime("%Y-%m-%dT%H.%M.%S")
    return f"aws/lambda/{mapping_uuid}/{shard or 'none'}/{at:%Y/%m/%d}/{stamp}-{uuidlib.uuid4()}"


def send(
    client: Callable[[str, str | None], Any],
    destination: str,
    record: Mapping[str, Any],
    *,
    mapping_uuid: str,
    shard: str | None,
    at: datetime,
) -> None:
    """``client(service, region)`` gives boto3 clients; DestinationFailed on any error."""
    from botocore.exceptions import BotoCoreError, ClientError

    parts = destination.split(":", 5)
    if len(parts) < 6:
        raise DestinationFailed(f"not a destination ARN: {destination}")
    service, region, account, resource = parts[2], parts[3], parts[4], parts[5]
    body = json.dumps(record)
    try:
        if service == "sqs":
            sqs = client("sqs", region)
            url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)
            sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body)
        elif service == "sns":
            client("sns", region).publish(TopicArn=destination, Message=body)
        elif service == "s3":
            client("s3", region or None).put_object(
                Bucket=resource, Key=s3_key(mapping_uuid, shard, at), Body=body.encode()
            )
        else:
            raise DestinationFailed(f"unsupported destination {destination}")
    except (BotoCoreError, ClientError) as exc:
        raise DestinationFailed(f"{destination}: {exc}") from None
