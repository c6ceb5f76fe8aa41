"""Asynchronous invocation: accept an event durably, then run it, retry it, hand it on.

``accept`` checks the request, commits the event to the queue and only then lets
the API answer 202. The dispatcher, started with the server's background work,
claims due events and runs each through ``InvokeService.run``, in parallel up to
``async_max_concurrency`` and, per function, up to its reserved concurrency (asked of
the concurrency service before each claim, so a burst for a function not seen yet is
claimed no wider than its reservation either). Each free place goes to the function
with the fewest events running (``store.queue_shares``): as with AWS's queue per
function, one function's backlog or retries never delay another's events. Retries and
requeued events wait in the queue and hold no place. After each attempt the pure policy
(``async_policy``) says retry, requeue, finish or drop; a finished event's destination
records and dead letters are stored in the same transaction that removes it, and the
delivery loop (``async_deliveries.py``) sends them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control.event_invoke_config import EventInvokeConfigService, EventInvokeSettings
from lambdad.control.functions import FunctionService
from lambdad.control.policies import PolicyService
from lambdad.errors import (
    AwsError,
    ResourceNotFoundException,
    SnapStartNotReadyException,
    TooManyRequestsException,
)
from lambdad.invoke import async_policy as policy
from lambdad.invoke import destinations
from lambdad.invoke.async_deliveries import Deliveries, backoff, backoff_range, nap
from lambdad.invoke.async_stats import FunctionStatistics
from lambdad.invoke.sync import InvokeRequest, InvokeService
from lambdad.model.arn import LATEST, function_arn, merge_qualifier, parse_function_ref
from lambdad.model.scope import Scope
from lambdad.model.version import FAILED, RunnableVersion
from lambdad.observe import tracing_ids
from lambdad.outbound import OutboundIdentities
from lambdad.store.queue import AsyncQueue, FunctionKey, NewEvent, QueuedEvent

log = logging.getLogger(__name__)


class Reservations(Protocol):
    """The concurrency service's cached view of reserved concurrency
    (``control/concurrency.ConcurrencyService``)."""

    def reservations(self) -> Mapping[FunctionKey, int]:
        """Every function with reserved concurrency, by (account, region, name)."""
        ...


class AsyncInvokeService:
    def __init__(
        self,
        settings: Settings,
        functions: FunctionService,
        invoker: InvokeService,
        configs: EventInvokeConfigService,
        queue: AsyncQueue,
        clock: Clock,
        concurrency: Reservations,
        sender: destinations.DestinationSender | None = None,
        policies: PolicyService | None = None,
    ) -> None:
        self.settings = settings
        self.functions = functions
        self.invoker = invoker
        self.configs = configs
        self.queue = queue
        self.clock = clock
        self.concurrency = concurrency
        self.max_concurrency = max(1, settings.async_max_concurrency)
        self._in_flight: Counter[FunctionKey] = Counter()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._wake_events = asyncio.Event()
        self._stopping = False
        self.deliveries = Deliveries(
            settings,
            functions,
            invoker,
            queue,
            clock,
            # With no sender given, no identity to send with: nothing leaves lambdad.
            sender or destinations.DestinationSender(OutboundIdentities()),
            policies,
            queued=self._wake_events.set,
        )

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # -- accepting -------------------------------------------------------------------------

    async def accept(self, req: InvokeRequest, *, limit: int, operation: str) -> str:
        """Queue an invocation; returns its request id once the event is on disk."""
        event = self.prepare(req, limit=limit, operation=operation)
        await self.queue.put(event)
        self._wake_events.set()
        self._received([event])
        return event.id

    async def accept_many(self, events: Sequence[NewEvent]) -> None:
        """Queue events made by ``prepare`` in one durable write (one commit to wait
        for, however many); returns once all of them are on disk."""
        if events:
            await self.queue.put_many(events)
            self._wake_events.set()
            self._received(events)

    def _received(self, events: Sequence[NewEvent]) -> None:
        metrics = self.invoker.metrics
        if metrics is not None:
            for e in events:
                scope = Scope(e.account, e.region)
                metrics.function_value(scope, "AsyncEventsReceived", e.function_name, e.qualifier)

    def _dropped(self, event: QueuedEvent) -> None:
        metrics = self.invoker.metrics
        if metrics is not None:
            scope = Scope(event.account, event.region)
            metrics.function_value(
                scope, "AsyncEventsDropped", event.function_name, event.qualifier
            )

    def prepare(self, req: InvokeRequest, *, limit: int, operation: str) -> NewEvent:
        """The event ``accept`` would queue for ``req``; ``AwsError`` if refused."""
        # Through the invoker: another account's function needs its policy's consent.
        rv = self.invoker.resolve(
            req.scope, req.function_name, req.qualifier, req.role_arn, req.caller_arn
        )
        if rv.state == FAILED:
            # A SnapStart version whose snapshot failed never runs: refused now, not queued
            # (a Pending one is queued and waits for its snapshot).
            rv.check_invocable()
        payload = self.invoker.check_payload(req.payload, limit, operation)
        qualifier = merge_qualifier(parse_function_ref(req.function_name), req.qualifier)
        now = self._now()
        return NewEvent(
            id=req.request_id or str(uuid.uuid4()),
            # The event belongs to the function's account, whoever invoked it.
            account=rv.scope.account,
            region=rv.scope.region,
            function_name=rv.name,
            qualifier=qualifier,
            payload=payload,
            received_at=now,
            # Every attempt belongs to the trace of the request that queued the event.
            trace_id=req.trace_id or f"Root={tracing_ids.new_root(now)}",
        )

    def statistics(self) -> list[FunctionStatistics]:
        return self.queue.statistics(self._now())

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop().create_task(self._run_events(), name="async-events")
        self.deliveries.start()

    async def stop(self) -> None:
        """Stop claiming and abandon attempts in progress (their events stay claimed
        until the queue is opened again, then run again)."""
        self._stopping = True
        for tasks in ([self._loop] if self._loop is not None else [], [*self._running]):
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None
        await self.deliveries.stop()

    # -- events ----------------------------------------------------------------------------

    async def _run_events(self) -> None:
        while not self._stopping:
            self._wake_events.clear()
            capacity = self.max_concurrency - len(self._running)
            due: float | None = None
            if capacity > 0:
                try:
                    claim = await self.queue.claim(
                        self._now(),
                        capacity,
                        lease_for=self.settings.async_visibility_timeout,
                        remaining=self._remaining(),
                        default_remaining=capacity,
                        # A backlog of one function never holds back another's events.
                        running=self._in_flight,
                    )
                except Exception:
                    log.exception("async queue: claiming events failed")
                    claim = None
                if claim is not None:
                    for event in claim.events:
                        self._start(event)
                    if claim.events:
                        continue
                    due = claim.next_due
            timeout = self.settings.async_poll_interval
            if due is not None:
                timeout = min(timeout, max(due - self._now(), 0.0))
            await nap(self._wake_events, timeout)

    def _remaining(self) -> dict[FunctionKey, int]:
        """How many more events of each function may be claimed now: its reservation (or
        the async limit) less what runs. Read before every claim, so the first events of
        a function are claimed within its reservation too."""
        limits = {k: self._reserved_limit(n) for k, n in self.concurrency.reservations().items()}
        keys = set(limits) | set(self._in_flight)
        return {k: limits.get(k, self.max_concurrency) - self._in_flight[k] for k in keys}

    def _start(self, event: QueuedEvent) -> None:
        key = event.key
        self._in_flight[key] += 1
        task = asyncio.get_running_loop().create_task(self._process(event))
        self._running.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._running.discard(t)
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]
            if not t.cancelled() and t.exception() is not None:
                log.error("async event %s: %r", event.id, t.exception())
            self._wake_events.set()

        task.add_done_callback(done)

    async def _process(self, event: QueuedEvent) -> None:
        try:
            await self._attempt(event)
        except Exception as exc:
            # A fault of lambdad itself (store, queue): requeue rather than leave the
            # event claimed until the next restart.
            log.exception("async event %s: processing failed", event.id)
            delay = backoff(self.settings, event.requeues)
            await self.queue.reschedule(
                event,
                self._now() + delay,
                attempts=event.attempts,
                requeues=event.requeues + 1,
                counter="throttled",
                last_response=event.last_response,
                last_error={"statusCode": 500, "message": str(exc)},
            )

    async def _attempt(self, event: QueuedEvent) -> None:
        scope = Scope(event.account, event.region)
        try:
            # Through the invoker: an alias routes each attempt by its weights.
            rv = self.invoker.resolve(scope, event.function_name, event.qualifier)
        except ResourceNotFoundException:
            log.warning(
                "async event %s: %s no longer exists; dropped",
                event.id,
                function_arn(event.region, event.account, event.function_name, event.qualifier),
            )
            await self.queue.finish(event, counter="dropped", now=self._now())
            self._dropped(event)
            return
        settings = self.configs.effective(scope, event.function_name, event.qualifier)
        config = self._retry_config(settings)
        progress = policy.EventProgress(event.received_at, event.attempts, event.requeues)
        expired = policy.before_attempt(progress, config, self._now())
        if expired is not None:
            await self._conclude(
                event,
                rv,
                settings,
                expired.condition,
                event.last_response,
                event.last_error,
                event.attempts,
            )
            return

        response: dict[str, Any] | None = event.last_response
        error: dict[str, Any] | None = None
        attempts, requeues = event.attempts, event.requeues
        if self.invoker.metrics is not None:
            # From queued to handed to the function, each attempt (AWS's AsyncEventAge).
            age_ms = max(0.0, (self._now() - event.received_at) * 1000)
            self.invoker.metrics.function_value(
                scope, "AsyncEventAge", event.function_name, event.qualifier, age_ms
            )
        try:
            result = await self.invoker.run(rv, event.payload, event.id, trace_id=event.trace_id)
        except (TooManyRequestsException, SnapStartNotReadyException) as exc:
            # A SnapStart version still taking its snapshot waits as a throttled event
            # does: requeued, no attempt spent.
            outcome = policy.Outcome.THROTTLED
            error = {"statusCode": exc.status, "message": exc.message}
        except ResourceNotFoundException:
            outcome = policy.Outcome.GONE
        except Exception as exc:
            log.warning("async event %s: attempt failed in the platform: %r", event.id, exc)
            outcome = policy.Outcome.PLATFORM_ERROR
            status = exc.status if isinstance(exc, AwsError) else 500
            error = {"statusCode": status, "message": str(exc)}
        else:
            attempts += 1
            requeues = 0
            outcome = (
                policy.Outcome.SUCCESS
                if result.function_error is None
                else policy.Outcome.FUNCTION_ERROR
            )
            response = {
                "statusCode": 200,
                "executedVersion": rv.version,
                "functionError": result.function_error,
                "payload": result.payload.decode(errors="replace"),
            }
        if error is not None:
            requeues += 1
        now = self._now()
        action = policy.next_action(
            policy.EventProgress(event.received_at, attempts, event.requeues), outcome, config, now
        )
        if isinstance(action, policy.Retry | policy.Requeue):
            counter = "retried" if isinstance(action, policy.Retry) else "throttled"
            log.debug("async event %s: %s in %.3f s", event.id, counter, action.delay)
            await self.queue.reschedule(
                event,
                now + action.delay,
                attempts=attempts,
                requeues=requeues,
                counter=counter,
                last_response=response,
                last_error=error,
            )
        elif isinstance(action, policy.Deliver):
            await self._conclude(event, rv, settings, action.condition, response, error, attempts)
        else:
            log.warning("async event %s dropped: %s", event.id, action.reason)
            await self.queue.finish(event, counter="dropped", now=now)
            self._dropped(event)

    def _retry_config(self, settings: EventInvokeSettings) -> policy.RetryConfig:
        s = self.settings
        base, cap = backoff_range(s)
        return policy.RetryConfig(
            maximum_retry_attempts=settings.maximum_retry_attempts,
            maximum_event_age=settings.maximum_event_age * s.async_event_age_scale,
            retry_delays=tuple(s.async_retry_delays),
            throttle_base=base,
            throttle_cap=cap,
        )

    def _reserved_limit(self, reserved: int) -> int:
        # Reserved 0 still runs one at a time, to be throttled (and requeued) by the leases.
        return max(1, min(reserved, self.max_concurrency))

    async def _conclude(
        self,
        event: QueuedEvent,
        rv: RunnableVersion,
        settings: EventInvokeSettings,
        condition: str,
        response: dict[str, Any] | None,
        error: dict[str, Any] | None,
        attempts: int,
    ) -> None:
        now = self._now()
        arn = function_arn(
            event.region, event.account, event.function_name, event.qualifier or LATEST
        )
        record = destinations.destination_record(
            request_id=event.id,
            function_arn=arn,
            condition=condition,
            approximate_invoke_count=attempts,
            request_payload=event.payload,
            response=response,
            at=datetime.fromtimestamp(now, UTC),
        )
        dead_letter = rv.dead_letter_arn
        plan = destinations.plan(
            condition=condition,
            record=record,
            payload=event.payload,
            on_success=settings.on_success,
            on_failure=settings.on_failure,
            dead_letter=dead_letter,
            attributes=destinations.dead_letter_attributes(event.id, response, error),
            function_arn=arn,
        )
        success = condition == policy.SUCCESS
        if not success:
            log.info(
                "async event %s of %s: %s after %d attempts", event.id, arn, condition, attempts
            )
        await self.queue.finish(
            event,
            counter="processed" if success else "dropped",
            deliveries=plan.deliveries,
            now=now,
        )
        if not success:
            self._dropped(event)
        if plan.deliveries:
            self.deliveries.wake()
