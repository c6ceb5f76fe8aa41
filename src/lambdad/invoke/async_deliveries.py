"""Sending what finished asynchronous invocations leave behind: destination records and
dead letters.

The dispatcher (``async_invoke.py``) stores them in the transaction that finishes an
event and wakes this loop, which claims due deliveries and sends each, retrying targets
that are down with backoff until ``async_delivery_max_age``. A function destination is
delivered by queueing an asynchronous invocation of it, and only if its resource policy
lets the source function's account invoke it, as on AWS: a refused delivery (no
permission, no such function, no outbound identity for a queue or topic) is given up at
once, counted as a delivery failure and logged; nothing runs in the target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control.functions import FunctionService
from lambdad.control.policies import PolicyService
from lambdad.errors import AwsError
from lambdad.invoke import async_policy as policy
from lambdad.invoke import destinations
from lambdad.invoke.sync import InvokeService
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope
from lambdad.store.queue import AsyncQueue, NewEvent, PendingDelivery

log = logging.getLogger(__name__)

DELIVERY_CONCURRENCY = 8


async def nap(wake: asyncio.Event, seconds: float) -> None:
    """Wait until ``wake`` is set or ``seconds`` pass."""
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
    # arrives as the event is set, and stop() would wait for its loop forever.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()


def backoff_range(settings: Settings) -> tuple[float, float]:
    """``LAMBDAD_ASYNC_THROTTLE_BACKOFF`` as (min, max)."""
    values = tuple(settings.async_throttle_backoff) or (1.0, 300.0)
    return values[0], values[-1]


def backoff(settings: Settings, attempt: int) -> float:
    base, cap = backoff_range(settings)
    return policy.compute_backoff(attempt, base=base, cap=cap)


class Deliveries:
    """The delivery loop: started and stopped by ``AsyncInvokeService``, woken by it when
    a finished event left deliveries; ``queued`` is told when a function destination's
    invocation was queued (so the dispatcher claims it at once)."""

    def __init__(
        self,
        settings: Settings,
        functions: FunctionService,
        invoker: InvokeService,
        queue: AsyncQueue,
        clock: Clock,
        sender: destinations.DestinationSender,
        policies: PolicyService | None,
        queued: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.functions = functions
        self.invoker = invoker
        self.queue = queue
        self.clock = clock
        self.sender = sender
        # Function destinations in another account: their policy, checked for the source
        # function's execution role (without it, for the source's account, by the invoker).
        self.policies = policies
        self._queued = queued
        self._sending: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = False

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def wake(self) -> None:
        """New deliveries were stored: look for due ones now."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._executor = ThreadPoolExecutor(
            max_workers=DELIVERY_CONCURRENCY, thread_name_prefix="lambdad-dest"
        )
        self._loop = asyncio.get_running_loop().create_task(self._run(), name="async-deliveries")

    async def stop(self) -> None:
        """Stop claiming and abandon sends in progress (claimed again after their lease)."""
        self._stopping = True
        for tasks in ([self._loop] if self._loop is not None else [], [*self._sending]):
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
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
                    task.add_done_callback(self._done)
                if pending:
                    continue
            timeout = self.settings.async_poll_interval
            if due is not None:
                timeout = min(timeout, max(due - self._now(), 0.0))
            await nap(self._wake, timeout)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("async delivery: %r", task.exception())
        self._wake.set()

    def _failed(self, pending: PendingDelivery) -> None:
        """One failed attempt to send: DeadLetterErrors or DestinationDeliveryFailures."""
        metrics = self.invoker.metrics
        if metrics is not None:
            account, region, _ = pending.key
            source = parse_function_ref(pending.delivery.function_arn)
            metric = (
                "DeadLetterErrors"
                if pending.delivery.kind == "dead-letter"
                else "DestinationDeliveryFailures"
            )
            metrics.function_value(Scope(account, region), metric, source.name, source.qualifier)

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
            self._failed(pending)
            await self.queue.delivery_failed(pending, None)
        except Exception as exc:
            self._failed(pending)
            now = self._now()
            s = self.settings
            delay = backoff(self.settings, pending.attempts)
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
        self._queued()
