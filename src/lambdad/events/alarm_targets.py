"""Running an alarm's actions: SNS topics notified, Lambda functions invoked.

An SNS action publishes CloudWatch's notification (``observe.alarm_messages``) to the
topic with boto3, at the operator's SNS endpoint (``AWS_ENDPOINT_URL_SNS``...), signed
with the upstream identity of the alarm's account (``lambdad.outbound``: never
lambdad's own unless the operator trusts that account with it; an account with none
fails the action). A Lambda action queues an asynchronous invocation of the function
with the alarm's payload, once the function's resource policy lets
``lambda.alarms.cloudwatch.amazonaws.com`` invoke it for this alarm (the function may
be another account's, as on AWS: its policy decides). Any other action fails: lambdad
has no EC2, Auto Scaling or Systems Manager to act on. Nothing here raises: each
action ends in an ``ActionOutcome``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from lambdad.control.policies import PolicyService
from lambdad.errors import AwsError
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope
from lambdad.observe.alarm_actions import LAMBDA, SNS, ActionOutcome, action_kind
from lambdad.observe.alarm_messages import lambda_payload, sns_message, sns_subject
from lambdad.outbound import NoOutboundIdentity, OutboundIdentities

log = logging.getLogger(__name__)

SERVICE_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"
T = TypeVar("T")
Offload = Callable[..., Awaitable[Any]]
Alarm = dict[str, Any]


class AlarmTargets:
    def __init__(
        self,
        identities: OutboundIdentities,
        async_invoker: AsyncInvokeService,
        policies: PolicyService,
        offload: Offload,
        max_payload: int,
    ) -> None:
        from botocore.config import Config

        self.identities = identities
        self.async_invoker = async_invoker
        self.policies = policies
        self.offload = offload
        self.max_payload = max_payload
        self._config = Config(
            connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"}
        )

    async def run(
        self, account: str, region: str, alarm: Alarm, previous: Alarm, actions: Sequence[str]
    ) -> list[ActionOutcome]:
        out = []
        for action in actions:
            try:
                out.append(await self._one(account, region, alarm, previous, action))
            except Exception as exc:  # an action's failure is its outcome, whatever it was
                log.exception("alarm %s: action %s", alarm.get("AlarmName"), action)
                out.append(ActionOutcome(action, False, error=str(exc)))
        return out

    async def _one(
        self, account: str, region: str, alarm: Alarm, previous: Alarm, action: str
    ) -> ActionOutcome:
        kind = action_kind(action)
        if kind == SNS:
            message = json.dumps(sns_message(alarm, previous, account, region))
            subject = sns_subject(alarm, region)
            outcome: ActionOutcome = await self.offload(
                self._publish, account, action, subject, message
            )
            return outcome
        if kind == LAMBDA:
            return await self._invoke(account, region, alarm, previous, action)
        return ActionOutcome(action, False, error=f"lambdad cannot execute {action}")

    def _publish(self, account: str, topic: str, subject: str, message: str) -> ActionOutcome:
        """Blocking: run in a worker thread."""
        from botocore.exceptions import BotoCoreError, ClientError

        topic_region = topic.split(":")[3] or None
        try:
            sns = self.identities.client(account, "sns", topic_region, self._config)
            sns.publish(TopicArn=topic, Subject=subject, Message=message)
        except NoOutboundIdentity as exc:
            return ActionOutcome(topic, False, error=str(exc))
        except ClientError as exc:
            err = exc.response.get("Error", {})
            return ActionOutcome(topic, False, error=f"{err.get('Code')}: {err.get('Message')}")
        except BotoCoreError as exc:
            return ActionOutcome(topic, False, error=str(exc))
        return ActionOutcome(topic, True, published=message)

    async def _invoke(
        self, account: str, region: str, alarm: Alarm, previous: Alarm, action: str
    ) -> ActionOutcome:
        try:
            ref = parse_function_ref(action)
        except AwsError as exc:
            return ActionOutcome(action, False, error=exc.message)
        owner = Scope(ref.account or account, ref.region or region)
        source = alarm["AlarmArn"]
        if not self.policies.allows_service(
            owner, ref.name, ref.qualifier, SERVICE_PRINCIPAL, source, source_account=account
        ):
            return ActionOutcome(
                action,
                False,
                error=f"CloudWatch is not authorized to invoke {action}: its resource policy "
                f"does not allow {SERVICE_PRINCIPAL} for {source}",
            )
        payload = json.dumps(lambda_payload(alarm, previous, account, region))
        request = InvokeRequest(
            scope=owner,
            function_name=ref.name,
            qualifier=ref.qualifier,
            payload=payload.encode(),
            invocation_type="Event",
            request_id=str(uuid.uuid4()),
            payload_is_json=True,
        )
        try:
            await self.async_invoker.accept(request, limit=self.max_payload, operation="Invoke")
        except AwsError as exc:
            return ActionOutcome(action, False, error=f"{exc.code}: {exc.message}")
        return ActionOutcome(action, True, published=payload)
