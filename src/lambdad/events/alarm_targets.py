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

Publishing blocks (up to ~40 s on a slow endpoint), so it runs on threads of its own
(``ACTION_WORKERS``), never the platform's, with at most ``PER_ACCOUNT`` publishes of
one account at once: a tenant whose alarms flip cannot hold every worker.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
ACTION_WORKERS = 4  # SNS publishes under way at once, every account's together
PER_ACCOUNT = 2  # ... and one account's
Offload = Callable[..., Awaitable[Any]]
Alarm = dict[str, Any]


class AlarmTargets:
    def __init__(
        self,
        identities: OutboundIdentities,
        async_invoker: AsyncInvokeService,
        policies: PolicyService,
        offload: Offload | None,
        max_payload: int,
    ) -> None:
        """``offload`` runs a blocking publish (a test's inline one); None: on the
        targets' own threads (``close`` stops them)."""
        from botocore.config import Config

        self.identities = identities
        self.async_invoker = async_invoker
        self.policies = policies
        self._executor: ThreadPoolExecutor | None = None
        if offload is None:
            self._executor = ThreadPoolExecutor(ACTION_WORKERS, thread_name_prefix="lambdad-alarm")
            offload = self._on_own_threads
        self.offload = offload
        self.max_payload = max_payload
        # account -> (its publish slots, how many hold or wait for one)
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}
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
            return await self._bounded(account, action, subject, message)
        if kind == LAMBDA:
            return await self._invoke(account, region, alarm, previous, action)
        return ActionOutcome(action, False, error=f"lambdad cannot execute {action}")

    async def _bounded(self, account: str, topic: str, subject: str, message: str) -> ActionOutcome:
        slots, users = self._slots.get(account) or (asyncio.Semaphore(PER_ACCOUNT), 0)
        self._slots[account] = (slots, users + 1)
        try:
            async with slots:
                outcome: ActionOutcome = await self.offload(
                    self._publish, account, topic, subject, message
                )
                return outcome
        finally:
            slots, users = self._slots[account]
            if users > 1:
                self._slots[account] = (slots, users - 1)
            else:
                del self._slots[account]

    async def _on_own_threads(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

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
