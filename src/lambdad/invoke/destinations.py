"""Where a finished asynchronous event goes: destination records and dead letters.

``destination_record`` builds AWS's invocation record, ``dead_letter_attributes``
the message attributes of a dead letter (``RequestID``, ``ErrorCode``,
``ErrorMessage``), and ``plan`` decides for one finished event what is sent where
(pure functions). ``DestinationSender`` makes the calls to SQS, SNS and
EventBridge with boto3 (endpoints from the standard configuration:
``AWS_ENDPOINT_URL_SQS``, ``AWS_ENDPOINT_URL_SNS``, ``AWS_ENDPOINT_URL_EVENTBRIDGE``),
signed with the identity of the account whose function the record comes from
(``lambdad.outbound``: never lambdad's own unless the operator trusts that account
with it); it blocks, so callers run it in a thread. Function destinations are not
sent from here: the dispatcher turns each into an asynchronous invocation of the
target when it delivers it, once the target's resource policy allows the source
function's account to invoke it (``async_invoke``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdad.invoke.async_policy import SUCCESS
from lambdad.outbound import NoOutboundIdentity, OutboundIdentities
from lambdad.store.queue import Delivery

RECORD_VERSION = "1.0"
# AWS keeps the first kilobyte of the error message in a dead letter's attributes.
DEAD_LETTER_MESSAGE_MAX = 1024
DETAIL_TYPES = {
    True: "Lambda Function Invocation Result - Success",
    False: "Lambda Function Invocation Result - Failure",
}


class DeliveryError(Exception):
    """A destination or dead-letter target could not be reached; try again later."""


class DeliveryRefused(DeliveryError):
    """A destination or dead-letter target lambdad may not send to for this function:
    trying again cannot help."""


def is_function(target: str) -> bool:
    """Whether a destination ARN names a function (delivered as an invocation)."""
    return target.split(":")[2:3] == ["lambda"]


def source_account(delivery: Delivery) -> str:
    """The account of the function a delivery comes from."""
    parts = delivery.function_arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def record_request_id(body: str) -> str:
    """The request id of the event a destination record or dead letter is about (logs)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return "?"
    context = doc.get("requestContext") if isinstance(doc, dict) else None
    return str(context.get("requestId", "?")) if isinstance(context, dict) else "?"


def iso_timestamp(at: datetime) -> str:
    """2019-11-14T18:16:05.568Z"""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _json_or_text(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # Not JSON, or nested deeper than a record can carry as JSON: kept as text.
        return data.decode(errors="replace") if isinstance(data, bytes) else data


def destination_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    approximate_invoke_count: int,
    request_payload: bytes,
    response: Mapping[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    """AWS's invocation record; ``response`` is the function's last answer, if it ran."""
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "timestamp": iso_timestamp(at),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": _json_or_text(request_payload),
    }
    if response is not None:
        context: dict[str, Any] = {
            "statusCode": response.get("statusCode", 200),
            "executedVersion": response.get("executedVersion"),
        }
        if response.get("functionError"):
            context["functionError"] = response["functionError"]
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(response.get("payload", ""))
    return record


def dead_letter_attributes(
    request_id: str, response: Mapping[str, Any] | None, error: Mapping[str, Any] | None
) -> dict[str, str]:
    """``RequestID``, ``ErrorCode`` (the HTTP status of the last attempt), ``ErrorMessage``."""
    if response is not None:
        code = str(response.get("statusCode", 200))
        body = _json_or_text(response.get("payload", ""))
        message = body.get("errorMessage") if isinstance(body, dict) else None
        message = str(message if message is not None else body)
    elif error is not None:
        code = str(error.get("statusCode", 500))
        message = str(error.get("message", ""))
    else:
        code, message = "500", "Event was not processed"
    attrs = {"RequestID": request_id, "ErrorCode": code}
    if message:
        attrs["ErrorMessage"] = message.encode()[:DEAD_LETTER_MESSAGE_MAX].decode(errors="ignore")
    return attrs


@dataclass(frozen=True, slots=True)
class Plan:
    deliveries: list[Delivery] = field(default_factory=list)


def plan(
    *,
    condition: str,
    record: Mapping[str, Any],
    payload: bytes,
    on_success: str | None,
    on_failure: str | None,
    dead_letter: str | None,
    attributes: Mapping[str, str],
    function_arn: str,
) -> Plan:
    """What a finished event sends: the record to its destination (a function too: the
    dispatcher checks its policy when it delivers), the event to the DLQ."""
    out = Plan()
    target = on_success if condition == SUCCESS else on_failure
    if target:
        body = json.dumps(record)
        out.deliveries.append(Delivery(target, "destination", body, condition, function_arn))
    if condition != SUCCESS and dead_letter:
        out.deliveries.append(
            Delivery(
                dead_letter,
                "dead-letter",
                payload.decode(errors="replace"),
                condition,
                function_arn,
                dict(attributes),
            )
        )
    return out


class DestinationSender:
    """Sends deliveries with boto3 (blocking; thread-safe), each signed with the identity
    of the source function's account."""

    def __init__(
        self,
        identities: OutboundIdentities,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
    ) -> None:
        from botocore.config import Config

        self.identities = identities
        self._config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        self._lock = threading.Lock()
        # Queue URLs as each account's identity saw them.
        self._queue_urls: dict[tuple[str, str], str] = {}

    def send(self, delivery: Delivery) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        parts = delivery.target.split(":", 5)
        if len(parts) != 6:
            raise DeliveryRefused(f"not an ARN: {delivery.target}")
        service, region, account, resource = parts[2], parts[3], parts[4], parts[5]
        if service not in ("sqs", "sns", "events"):
            raise DeliveryRefused(f"lambdad cannot deliver to {delivery.target}")
        owner = source_account(delivery)
        try:
            client = self.identities.client(owner, service, region or None, self._config)
        except NoOutboundIdentity as exc:
            raise DeliveryRefused(str(exc)) from None
        except BotoCoreError as exc:
            raise DeliveryRefused(f"{delivery.kind} {delivery.target}: {exc}") from exc
        try:
            if service == "sqs":
                self._send_sqs(client, owner, delivery, account, resource)
            elif service == "sns":
                client.publish(
                    TopicArn=delivery.target,
                    Message=delivery.body,
                    **_attributes("MessageAttributes", delivery.attributes),
                )
            else:
                self._send_events(client, delivery)
        except (BotoCoreError, ClientError) as exc:
            raise DeliveryError(f"{delivery.kind} {delivery.target}: {exc}") from exc

    def _send_sqs(
        self, client: Any, owner: str, delivery: Delivery, account: str, name: str
    ) -> None:
        key = (owner, delivery.target)
        with self._lock:
            url = self._queue_urls.get(key)
        if url is None:
            url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            with self._lock:
                self._queue_urls[key] = url
        client.send_message(
            QueueUrl=url,
            MessageBody=delivery.body,
            **_attributes("MessageAttributes", delivery.attributes),
        )

    def _send_events(self, client: Any, delivery: Delivery) -> None:
        answer = client.put_events(
            Entries=[
                {
                    "Source": "lambda",
                    "DetailType": DETAIL_TYPES[delivery.condition == SUCCESS],
                    "Detail": delivery.body,
                    "EventBusName": delivery.target,
                    "Resources": [delivery.target, delivery.function_arn],
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            entry = (answer.get("Entries") or [{}])[0]
            raise DeliveryError(
                f"EventBridge refused the record: {entry.get('ErrorCode')} "
                f"{entry.get('ErrorMessage')}"
            )


def _attributes(member: str, attributes: Mapping[str, str]) -> dict[str, Any]:
    if not attributes:
        return {}
    return {
        member: {
            name: {
                "DataType": "Number" if name == "ErrorCode" else "String",
                "StringValue": value,
            }
            for name, value in attributes.items()
            if value
        }
    }
