"""Firing schedules: the timer service hands each due schedule entry here.

``plan`` says when a schedule (new, updated or enabled) fires first; ``fire`` runs a
due tick and says when the schedule fires next. A fire is one asynchronous invoke of
the target function through the durable queue, its payload the target's ``Input``
with Scheduler's context attributes; Scheduler invokes with the schedule's execution
role, so no resource policy is asked (lambdad has no IAM: the role is kept, not
assumed), and only functions of the schedule's own account and region are reached.

A target that cannot be queued (no such function, another account, a payload the
function cannot take) fails for good: retrying cannot help, so it goes to the
schedule's dead-letter queue at once. The function's own errors follow its async
invoke settings, as on AWS, where the retry policy covers the Invoke call. A schedule
with no tick left is deleted when its ``ActionAfterCompletion`` is DELETE.
"""

from __future__ import annotations

import logging
import random
import secrets
import uuid
from collections.abc import Callable

from lambdad.clock import Clock
from lambdad.errors import AccessDeniedException, AwsError
from lambdad.events.dead_letters import DeadLetters
from lambdad.events.rule_store import EventStore, ScheduleEntry
from lambdad.events.scheduler.dead_letters import Failure, attributes
from lambdad.events.scheduler.plan import (
    Overdue,
    Timing,
    first_tick,
    flexible_delay,
    next_tick,
    overdue,
    render_input,
    retry_limits,
)
from lambdad.events.scheduler.schedules import schedule_arn
from lambdad.events.scheduler.store import ScheduleRef, SchedulerStore
from lambdad.events.timer_plan import after_tick
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

log = logging.getLogger(__name__)


class SchedulerTicks:
    def __init__(
        self,
        store: SchedulerStore,
        events: EventStore,
        async_invoker: AsyncInvokeService,
        dead_letters: DeadLetters,
        clock: Clock,
        *,
        max_payload: int,
        time_scale: float = 1.0,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.events = events
        self.async_invoker = async_invoker
        self.dead_letters = dead_letters
        self.clock = clock
        self.max_payload = max_payload
        self.scale = time_scale if time_scale > 0 else 1.0
        self.draw = draw

    def _entry(
        self, scope: Scope, ref: ScheduleRef, anchor: float, tick: float | None, timing: Timing
    ) -> ScheduleEntry | None:
        if tick is None:
            return None
        at = tick + flexible_delay(timing.window_minutes, self.draw(), self.scale)
        return ScheduleEntry(scope, ref.timer_key, anchor, at, tick)

    def plan(self, scope: Scope, ref: ScheduleRef, doc: Doc) -> ScheduleEntry | None:
        anchor = self.clock.now().timestamp()
        timing = Timing.of(doc)
        return self._entry(scope, ref, anchor, first_tick(timing, anchor, self.scale), timing)

    async def fire(
        self, entry: ScheduleEntry, due: float, now: float, started_at: float
    ) -> float | None:
        """Run the entry's tick (come due at ``due``); the next fire instant, if any."""
        ref = ScheduleRef.from_timer_key(entry.rule)
        doc = self.store.get_schedule(entry.scope, ref)
        if doc is None or doc["State"] != "ENABLED":
            self.events.delete_schedule(entry.scope, entry.rule)
            return None
        timing = Timing.of(doc)
        tick = entry.tick if entry.tick is not None else due
        _, max_age = retry_limits(doc["Target"])
        action = overdue(tick, now, started_at, one_time=timing.one_time, max_age=max_age)
        arn = schedule_arn(entry.scope, ref)
        if action is Overdue.FIRE:
            await self._invoke(entry.scope, arn, doc, tick)
        elif action is Overdue.EXPIRED:
            self._dead_letter(entry.scope, arn, doc, tick, Failure.expired())
        else:
            log.info("schedule %s: tick at %.3f missed while the server was down", arn, tick)
        following = self._entry(
            entry.scope, ref, entry.anchor,
            next_tick(timing, entry.anchor, after_tick(tick, now), self.scale), timing,
        )  # fmt: skip
        current = self.events.get_schedule(entry.scope, entry.rule)
        if current is None or current.anchor != entry.anchor:
            # Updated or deleted while the tick was fired: that stands.
            return None if current is None else current.next
        if following is None:
            self.events.delete_schedule(entry.scope, entry.rule)
            if doc.get("ActionAfterCompletion") == "DELETE":
                self.store.delete_schedule(entry.scope, ref)
                log.info("schedule %s completed and deleted", arn)
            return None
        self.events.put_schedule(following)
        return following.next

    async def _invoke(self, scope: Scope, arn: str, doc: Doc, tick: float) -> None:
        target = doc["Target"]
        execution = secrets.token_hex(8)
        payload = render_input(
            target.get("Input"), schedule_arn=arn, tick=tick, execution_id=execution, attempt=1
        )
        try:
            ref = parse_function_ref(target["Arn"])
            if Scope(ref.account or scope.account, ref.region or scope.region) != scope:
                raise AccessDeniedException(
                    f"lambdad's Scheduler reaches functions of the schedule's own account "
                    f"and region only, not {target['Arn']}."
                )
            request = InvokeRequest(
                scope=scope,
                function_name=ref.name,
                qualifier=ref.qualifier,
                payload=payload,
                invocation_type="Event",
                request_id=str(uuid.uuid4()),
            )
            queued = self.async_invoker.prepare(request, limit=self.max_payload, operation="Invoke")
        except AwsError as exc:
            self._dead_letter(scope, arn, doc, tick, Failure.of(exc), payload)
            return
        await self.async_invoker.accept_many([queued])
        log.debug(
            "schedule %s: tick %.3f queued as %s (execution %s)", arn, tick, queued.id, execution
        )

    def _dead_letter(
        self,
        scope: Scope,
        arn: str,
        doc: Doc,
        tick: float,
        failure: Failure,
        payload: bytes | None = None,
    ) -> None:
        target = doc["Target"]
        if payload is None:
            payload = render_input(
                target.get("Input"), schedule_arn=arn, tick=tick,
                execution_id=secrets.token_hex(8), attempt=1,
            )  # fmt: skip
        log.warning(
            "schedule %s: target %s not invoked: %s %s",
            arn,
            target["Arn"],
            failure.code,
            failure.message,
        )
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        if queue:
            self.dead_letters.send(
                queue,
                arn,
                payload.decode("utf-8", "replace"),
                attributes(arn, target["Arn"], failure),
            )
