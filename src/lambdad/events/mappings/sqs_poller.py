"""The SQS source: long polls a standard or FIFO queue and invokes the function with
batches, as Lambda's SQS pollers do.

Each worker collects a batch (``BatchSize`` messages, receiving up to 10 at a time
until the ``MaximumBatchingWindowInSeconds`` ends, under the 6 MB payload limit),
deletes the messages ``FilterCriteria`` does not match, invokes, and deletes what
succeeded (every message, or those a ``ReportBatchItemFailures`` answer does not
name; in a FIFO queue nothing of a group after its first failure). What fails is left
alone: it comes back after the queue's visibility timeout and follows its redrive
policy to the dead-letter queue. A throttled batch is retried with backoff while its
messages are still invisible, and the mapping works on fewer batches
(``sqs_scaling``). When the poller is stopped (the mapping disabled or updated), a
batch being processed finishes (its messages are deleted, not run twice) and a
cancelled long poll gives back what it still receives, so that no message is hidden
for a visibility timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Final

from lambdad.events.mappings import sqs_records as sr
from lambdad.events.mappings.contract import MAX_PAYLOAD, PollerContext
from lambdad.events.mappings.sqs_queue import SqsQueue
from lambdad.events.mappings.sqs_scaling import Scaler
from lambdad.model import lineage
from lambdad.model.event_source_mapping import OK, EventSourceMapping, is_fifo

log = logging.getLogger(__name__)

FUNCTION_FAILED: Final = "PROBLEM: Function call failed"
RECURSIVE_LOOP: Final = "PROBLEM: Recursive invocation loop detected"
# Batches whose poller was stopped while they ran (asyncio keeps only weak references).
_FINISHING: set[asyncio.Future[bool]] = set()
# Of the visibility timeout, how much a throttled batch may spend waiting to run.
THROTTLE_SHARE: Final = 0.8


@dataclass(slots=True)
class Batch:
    records: list[dict[str, Any]] = field(default_factory=list)
    full: bool = False


def _problem(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        return f"PROBLEM: {err.get('Code')}: {err.get('Message')}"
    return f"PROBLEM: {type(exc).__name__}: {exc}"


class SqsPoller:
    def __init__(self, mapping: EventSourceMapping, context: PollerContext) -> None:
        self.mapping = mapping
        self.ctx = context
        self.region = mapping.event_source_arn.split(":")[3]
        self.queue = SqsQueue(context, mapping.event_source_arn)
        self.fifo = is_fifo(mapping.event_source_arn)
        # More batches at once than half the mappings' threads would only queue for them.
        threads = max(2, context.settings.esm_threads // 2)
        self.scaler = Scaler.for_limit(min(mapping.maximum_concurrency or threads, threads))
        self.wait = max(0, min(20, int(context.settings.esm_sqs_wait)))
        self._tasks: asyncio.TaskGroup | None = None
        # FIFO queues: one receive at a time, so that no server (moto's receive is not
        # atomic) can hand two batches of one message group out at once.
        self._one_receive = asyncio.Lock() if self.fifo else contextlib.nullcontext()
        # An idle queue is long-polled by one worker; the others wait for its news.
        self._polling = 0
        self._news = asyncio.Event()

    async def run(self) -> None:
        attempt = 0
        while not self.queue.url:
            try:
                await self.ctx.run_blocking(self.queue.locate)
            except Exception as exc:
                attempt += 1
                log.warning("mapping %s: queue %s: %s", self.mapping.uuid, self.queue.name, exc)
                self.ctx.report(result=_problem(exc))
                await self.ctx.sleep(self.ctx.backoff(attempt))
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            for _ in range(self.scaler.start()):
                tasks.create_task(self._worker())

    # -- one worker: collect, invoke, delete ---------------------------------------------

    async def _worker(self) -> None:
        self._polling += 1
        try:
            await self._work()
        finally:
            self._polling -= 1

    async def _work(self) -> None:
        errors = 0
        carry: list[dict[str, Any]] = []
        while True:
            try:
                batch = await self._collect(carry)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors += 1
                log.warning("mapping %s: receiving failed: %s", self.mapping.uuid, exc)
                self.ctx.report(result=_problem(exc))
                await self.ctx.sleep(self.ctx.backoff(errors))
                continue
            errors = 0
            if not batch.records:
                if self.scaler.after_empty():
                    return
                if self._polling > 1:
                    await self._wait_for_news()
                continue
            self._news.set()  # messages: every parked worker polls again
            if self.scaler.after_batch(batch.full, self.ctx.clock.monotonic()) and self._tasks:
                self._tasks.create_task(self._worker())
            # A batch being processed finishes even when the poller is stopped (the mapping
            # disabled or updated): its messages are deleted, not run twice.
            processing = asyncio.ensure_future(self._process(batch.records))
            _FINISHING.add(processing)
            processing.add_done_callback(_FINISHING.discard)
            try:
                if await asyncio.shield(processing):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mapping %s: a batch failed", self.mapping.uuid)
                await self.ctx.sleep(self.ctx.backoff(1))

    async def _wait_for_news(self) -> None:
        if self._news.is_set():
            self._news = asyncio.Event()
        news = self._news
        self._polling -= 1
        try:
            await news.wait()
        finally:
            self._polling += 1

    async def _collect(self, carry: list[dict[str, Any]]) -> Batch:
        size = self.mapping.batch_size
        window = self.mapping.maximum_batching_window
        batch = Batch(records=carry[:])
        carry.clear()
        used = sr.ENVELOPE_BYTES + sum(sr.size_of(r) for r in batch.records)
        deadline = self.ctx.clock.monotonic() + window
        while len(batch.records) < size:
            remaining = deadline - self.ctx.clock.monotonic()
            if batch.records and (window == 0 or remaining <= 0):
                break
            wait = self.wait if not batch.records else min(self.wait, math.ceil(remaining))
            messages = await self._receive(min(10, size - len(batch.records)), wait)
            if not messages and not batch.records:
                return batch
            for message in messages:
                rec = sr.record(message, self.mapping.event_source_arn, self.region)
                grown = used + sr.size_of(rec)
                if grown > MAX_PAYLOAD or carry:
                    carry.append(rec)  # the next batch's first
                    continue
                used = grown
                batch.records.append(rec)
            if carry:
                break
        batch.full = len(batch.records) >= size or bool(carry)
        return batch

    async def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        async with self._one_receive:
            return await self.queue.receive(count, wait)

    async def _process(self, records: list[dict[str, Any]]) -> bool:
        """Run one batch; True when this worker should stop (throttled)."""
        if not self.ctx.filter.empty:
            kept = [r for r in records if self.ctx.filter.matches(sr.filter_view(r))]
            # AWS deletes the messages no filter matches.
            await self.queue.delete([r["receiptHandle"] for r in records if r not in kept])
            records = kept
            if not records:
                return False
        records = self._stop_loops(records)
        if not records:
            return False
        body = sr.payload(records)
        trace = lineage.next_header(
            max((sr.trace_header(r) for r in records), key=self._turns), self.mapping.function_arn
        )
        started = self.ctx.clock.monotonic()
        stop = False
        attempt = 0
        while True:
            outcome = await self.ctx.invoke(body, trace_id=trace)
            if not outcome.throttled:
                break
            attempt += 1
            stop = stop or self.scaler.after_throttle()
            delay = self.ctx.backoff(attempt)
            if (
                self.ctx.clock.monotonic() - started + delay
                > self.queue.visibility * THROTTLE_SHARE
            ):
                return stop  # the messages come back after their visibility timeout
            await self.ctx.sleep(delay)
        if outcome.error is not None:
            log.warning("mapping %s: %s", self.mapping.uuid, outcome.error)
            self.ctx.report(result=f"PROBLEM: {outcome.error}")
            await self.ctx.sleep(self.ctx.backoff(1))
            return stop
        if outcome.function_error is not None:
            self.ctx.report(result=FUNCTION_FAILED)
            return stop
        failed: set[str] = set()
        if self.mapping.report_batch_item_failures:
            ids = [r["messageId"] for r in records]
            reported = sr.failed_ids(outcome.payload, ids)
            failed = set(ids) if reported is None else reported
        await self.queue.delete(sr.deletable(records, failed, self.fifo))
        self.ctx.report(result=FUNCTION_FAILED if failed else OK)
        return stop

    def _turns(self, header: str | None) -> int:
        return lineage.turns(header, self.mapping.function_arn)

    def _stop_loops(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records to invoke with: without those whose chain has run the function
        ``MAX_TURNS`` times, unless its ``RecursiveLoop`` is ``Allow``. Those are left in
        the queue: they come back until the redrive policy moves them to the DLQ."""
        looping = [r for r in records if self._turns(sr.trace_header(r)) >= lineage.MAX_TURNS]
        if not looping or self.ctx.loops_allowed():
            return records
        log.warning(
            "mapping %s: recursive loop of %s stopped (%d messages)",
            self.mapping.uuid, self.mapping.function_arn, len(looping),
        )  # fmt: skip
        self.ctx.report(result=RECURSIVE_LOOP)
        return [r for r in records if r not in looping]
