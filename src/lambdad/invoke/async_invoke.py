"""Asynchronous invocation: accept an event durably, then run it, retry it, hand it on.

``accept`` checks the request, commits the event to the queue and only then lets
the API answer 202. The dispatcher, started with the server's background work,
claims due events and runs each through ``InvokeService.run``, in parallel up to
``async_max_concurrency`` and, per function, up to its reserved concurrency (asked of
the concurrency service before each claim, so a burst for a function not seen yet is
claimed no wider than its reservation either). After
each attempt the pure policy (``async_policy``) says retry, requeue, finish or
drop; a finished event's destination records and dead letters are stored in the
same transaction that removes it, and a second loop sends them, retrying targets
that are down with backoff until ``async_delivery_max_age``. A function destination
is delivered by queueing an asynchronous invocation of it, and only if its resource
policy lets the source function's account invoke it, as on AWS: a refused delivery
(no permission, no such function, no outbound identity for a queue or topic) is given
up at once, counted as a delivery failure and logged; nothing runs in the target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
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
from lambdad.invoke.async_stats import FunctionStatistics
from lambdad.invoke.sync import InvokeRequest, InvokeService
from lambdad.model.arn import LATEST, function_arn, merge_qualifier, parse_function_ref
from lambdad.model.scope import Scope
from lambdad.model.version import FAILED, RunnableVersion
from lambdad.outbound import OutboundIdentities
from lambdad.store.queue import AsyncQueue, FunctionKey, NewEvent, PendingDelivery, QueuedEvent

log = logging.getLogger(__name__)

DELIVERY_CONCURRENCY = 8


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
        # Function destinations in another account: their policy, checked for the source
        # function's execution role (without it, for the source's account, by the invoker).
        self.policies = policies
        # With no sender given, no identity to send with: nothing leaves lambdad.
        self.sender = sender or destinations.DestinationSender(OutboundIdentities())
        self.max_concurrency = max(1, settings.async_max_concurrency)
        self._in_flight: Counter[FunctionKey] = Counter()
        self._running: set[asyncio.Task[None]] = set()
        self._sending: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._wake_events = asyncio.Event()
        self._wake_deliveries = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = False

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # -- accepting -------------------------------------------------------------------------

    async def accept(self, req: InvokeRequest, *, limit: int, operation: str) -> str:
        """Queue an invocation; returns its request id once the event is on disk."""
        # Through the invoker: another account's function needs its policy's consent.
        rv = self.invoker.resolve(req.scope, req.function_name, req.qualifier)
        if rv.state == FAILED:
            # A SnapStart version whose snapshot failed never runs: refused now, not queued
            # (a Pending one is queued and waits for its snapshot).
            rv.check_invocable()
        payload = self.invoker.check_payload(req.payload, limit, operation)
        qualifier = merge_qualifier(parse_function_ref(req.function_name), req.qualifier)
        event = NewEvent(
            id=req.request_id or str(uuid.uuid4()),
            # The event belongs to the function's account, whoever invoked it.
            account=rv.scope.account,
            region=rv.scope.region,
            function_name=rv.name,
            qualifier=qualifier,
            payload=payload,
            received_at=self._now(),
        )
        await self.queue.put(event)
        self._wake_events.set()
        return event.id

    def statistics(self) -> list[FunctionStatistics]:
        return self.queue.statistics(self._now())

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(
            max_workers=DELIVERY_CONCURRENCY, thread_name_prefix="lambdad-dest"
        )
        self._loops = [
            loop.create_task(self._run_events(), name="async-events"),
            loop.create_task(self._run_deliveries(), name="async-deliveries"),
        ]

    async def stop(self) -> None:
        """Stop claiming and abandon attempts in progress (their events stay claimed
        until the queue is opened again, then run again)."""
        self._stopping = True
        for tasks in (self._loops, [*self._running, *self._sending]):
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._loops = []
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

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
            await self._sleep(self._wake_events, due)

    async def _sleep(self, wake: asyncio.Event, due: float | None) -> None:
        timeout = self.settings.async_poll_interval
        if due is not None:
            timeout = min(timeout, max(due - self._now(), 0.0))
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the event is set, and stop() would wait for this loop forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await wake.wait()

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
            delay = self._backoff(event.requeues)
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
        try:
            result = await self.invoker.run(rv, event.payload, event.id)
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

    def _retry_config(self, settings: EventInvokeSettings) -> policy.RetryConfig:
        s = self.settings
        base, cap = self._backoff_range()
        return policy.RetryConfig(
            maximum_retry_attempts=settings.maximum_retry_attempts,
            maximum_event_age=settings.maximum_event_age * s.async_event_age_scale,
            retry_delays=tuple(s.async_retry_delays),
            throttle_base=base,
            throttle_cap=cap,
        )

    def _backoff_range(self) -> tuple[float, float]:
        """``LAMBDAD_ASYNC_THROTTLE_BACKOFF`` as (min, max)."""
        values = tuple(self.settings.async_throttle_backoff) or (1.0, 300.0)
        return values[0], values[-1]

    def _backoff(self, attempt: int) -> float:
        base, cap = self._backoff_range()
        return policy.compute_backoff(attempt, base=base, cap=cap)

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
        if plan.deliveries:
            self._wake_deliveries.set()

    # -- deliveries ------------------------------------------------------------------------

    async def _run_deliveries(self) -> None:
        while not self._stopping:
            self._wake_deliveries.clear()
            capacity = DELIVERY_CONCURRENCY - len(self._sending)
            due: float | None = None
            if capacity > 0:
                try:
                    pending, due = await self.queue.claim_deliveries(
                        self._now(), capacity, lease_for=self.settings.async_visibility_timeout
                    )
                except Exception:
                    log.exception("async queue: claiming deliveries failed")
                    pending = []
                for p in pending:
                    task = asyncio.get_running_loop().create_task(self._deliver(p))
                    self._sending.add(task)
                    task.add_done_callback(self._delivery_done)
                if pending:
                    continue
            await self._sleep(self._wake_deliveries, due)

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("async delivery: %r", task.exception())
        self._wake_deliveries.set()

    async def _deliver(self, pending: PendingDelivery) -> None:
        d = pending.delivery
        try:
            if destinations.is_function(d.target):
                await self._deliver_to_function(pending)
            else:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._executor, self.sender.send, d)
        except destinations.DeliveryRefused as exc:
            log.error(
                "async %s to %s for %s (request %s) refused, given up: %s",
                d.kind,
                d.target,
                d.function_arn,
                destinations.record_request_id(d.body),
                exc,
            )
            await self.queue.delivery_failed(pending, None)
        except Exception as exc:
            now = self._now()
            s = self.settings
            delay = self._backoff(pending.attempts)
            if now + delay - pending.created_at > s.async_delivery_max_age:
                log.error(
                    "async %s to %s for %s given up after %d attempts: %s",
                    d.kind,
                    d.target,
                    d.function_arn,
                    pending.attempts + 1,
                    exc,
                )
                await self.queue.delivery_failed(pending, None)
            else:
                log.warning(
                    "async %s to %s for %s failed (retry in %.3f s): %s",
                    d.kind,
                    d.target,
                    d.function_arn,
                    delay,
                    exc,
                )
                await self.queue.delivery_failed(pending, now + delay)
        else:
            log.debug("async %s sent to %s", d.kind, d.target)
            await self.queue.delivered(pending)

    def _role(self, pending: PendingDelivery) -> str:
        """The execution role of the function a delivery comes from ("" if it is gone).
        CreateFunction only takes a role of the function's own account."""
        source = parse_function_ref(pending.delivery.function_arn)
        account, region, _ = pending.key
        try:
            rv = self.functions.resolve(Scope(account, region), source.name, source.qualifier)
        except AwsError:
            return ""
        return rv.role

    async def _deliver_to_function(self, pending: PendingDelivery) -> None:
        """Queue an invocation of a function destination with the record as its event.

        The source function's account is the caller: another account's function runs
        only if its resource policy grants that account ``lambda:InvokeFunction`` on the
        qualifier named (the same check as a cross-account Invoke).
        """
        d = pending.delivery
        account, region, _ = pending.key
        caller = Scope(account, region)
        try:
            ref = parse_function_ref(d.target)
            if self.policies is not None and ref.account not in (None, account):
                owner = Scope(str(ref.account), region)
                if ref.region in (None, region):
                    self.policies.authorize(
                        caller, owner, ref.name, ref.qualifier, principal_arn=self._role(pending)
                    )
                    caller = owner  # allowed: resolved as its owner would
            rv = self.invoker.resolve(caller, d.target, None)
        except AwsError as exc:
            raise destinations.DeliveryRefused(f"{exc.code}: {exc.message}") from None
        event = NewEvent(
            id=str(uuid.uuid4()),
            account=rv.scope.account,
            region=rv.scope.region,
            function_name=rv.name,
            qualifier=parse_function_ref(d.target).qualifier,
            payload=d.body.encode(),
            received_at=self._now(),
        )
        # At least once: a crash between the two queues the invocation again.
        await self.queue.put(event)
        await self.queue.delivered(pending)
        log.debug(
            "async %s of %s: event %s queued for %s", d.kind, d.function_arn, event.id, d.target
        )
        self._wake_events.set()
