"""Delivering an event to a rule's targets: each target an asynchronous invoke through
the durable async queue, checked as ``Invoke`` with ``InvocationType=Event`` checks
one. ``plan`` makes them and ``enqueue`` queues them in one durable write, so PutEvents
waits for one commit for all its entries' matches, not one per target.

A target fires only when its function's resource policy lets ``events.amazonaws.com``
invoke it for this rule's ARN, as on AWS; a rule fires functions of its own account
only. A target that cannot be sent to (no permission, no such function, a payload the
function cannot take) is skipped and logged with the event and rule: AWS counts it as
a failed invocation, and the caller of PutEvents never sees it. With a
``DeadLetterConfig``, the event goes to that SQS queue at once (``target_failures``):
retrying cannot help, so the target's ``RetryPolicy`` never comes into play.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from lambdad.control.policies import PolicyService
from lambdad.errors import AccessDeniedException, AwsError
from lambdad.events.dead_letters import DeadLetters
from lambdad.events.envelope import Event
from lambdad.events.names import rule_arn
from lambdad.events.target_failures import TargetFailure, attributes
from lambdad.events.target_input import render_input
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope
from lambdad.store.base import Doc
from lambdad.store.queue import NewEvent

log = logging.getLogger(__name__)

SERVICE_PRINCIPAL = "events.amazonaws.com"


class RuleDelivery:
    def __init__(
        self,
        async_invoker: AsyncInvokeService,
        policies: PolicyService,
        max_payload: int,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.async_invoker = async_invoker
        self.policies = policies
        self.max_payload = max_payload
        self.dead_letters = dead_letters

    async def deliver(self, scope: Scope, rule: Doc, event: Event) -> int:
        """Queue ``event`` for every target of ``rule``; how many were queued."""
        planned = self.plan(scope, rule, event)
        await self.enqueue(planned)
        return len(planned)

    def plan(
        self, scope: Scope, rule: Doc, event: Event, trace_id: str | None = None
    ) -> list[NewEvent]:
        """The async invokes ``event`` makes for ``rule``'s targets, not yet queued:
        PutEvents queues those of all its entries with one ``enqueue`` (``trace_id``: the
        entry's ``TraceHeader``, which the invocations carry on)."""
        source = rule_arn(scope, rule["EventBusName"], rule["Name"])
        planned = []
        for target in rule["Targets"]:
            queued = self._prepare(scope, rule, source, target, event, trace_id)
            if queued is not None:
                planned.append(queued)
        return planned

    async def enqueue(self, planned: Sequence[NewEvent]) -> None:
        """Queue what ``plan`` made, in one durable write; returns once it is on disk."""
        await self.async_invoker.accept_many(planned)

    def _prepare(
        self,
        scope: Scope,
        rule: Doc,
        source: str,
        target: Mapping[str, Any],
        event: Event,
        trace_id: str | None = None,
    ) -> NewEvent | None:
        ref = parse_function_ref(target["Arn"])
        if Scope(ref.account or scope.account, ref.region or scope.region) != scope:
            log.warning(
                "event %s: rule %s cannot target %s (another account or region)",
                event["id"],
                source,
                target["Arn"],
            )
            denied = AccessDeniedException(
                f"lambdad's rules invoke functions of their own account and region only, "
                f"not {target['Arn']}."
            )
            self._dead_letter(source, target, event, TargetFailure.of(denied))
            return None
        if not self.policies.allows_service(
            scope, ref.name, ref.qualifier, SERVICE_PRINCIPAL, source
        ):
            log.warning(
                "event %s: the policy of %s does not allow %s for %s; not invoked",
                event["id"],
                target["Arn"],
                SERVICE_PRINCIPAL,
                source,
            )
            denied = AccessDeniedException(
                f"The policy of {target['Arn']} does not allow {SERVICE_PRINCIPAL} "
                f"to invoke it for {source}."
            )
            self._dead_letter(source, target, event, TargetFailure.of(denied))
            return None
        request = InvokeRequest(
            scope=scope,
            function_name=ref.name,
            qualifier=ref.qualifier,
            payload=render_input(target, event, source, rule["Name"]),
            invocation_type="Event",
            request_id=str(uuid.uuid4()),
            trace_id=trace_id,
        )
        try:
            queued = self.async_invoker.prepare(request, limit=self.max_payload, operation="Invoke")
        except AwsError as exc:
            log.warning(
                "event %s: target %s of %s not invoked: %s %s",
                event["id"],
                target["Id"],
                source,
                exc.code,
                exc.message,
            )
            self._dead_letter(source, target, event, TargetFailure.of(exc))
            return None
        log.debug("event %s to be queued for %s by %s", event["id"], target["Arn"], source)
        return queued

    def _dead_letter(
        self, source: str, target: Mapping[str, Any], event: Event, failure: TargetFailure
    ) -> None:
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        if queue and self.dead_letters is not None:
            self.dead_letters.send(
                queue, source, json.dumps(event), attributes(source, target["Arn"], failure)
            )
