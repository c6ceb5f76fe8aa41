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
(``sqs_scaling``). A cancelled long poll gives back what it still receives, so
disabling a mapping does not hide messages for a visibility timeout.
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
from lambdad.events.mappings.sqs_scaling import Scaler
from lambdad.model import lineage
from lambdad.model.event_source_mapping import OK, EventSourceMapping, is_fifo

log = logging.getLogger(__name__)

FUNCTION_FAILED: Final = "PROBLEM: Function call failed"
RECURSIVE_LOOP: Final = "PROBLEM: Recursive invocation loop detected"
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
        parts = mapping.event_source_arn.split(":")
        self.region, self.owner, self.queue_name = parts[3], parts[4], parts[5]
        self.fifo = is_fifo(mapping.event_source_arn)
        self.scaler = Scaler.for_limit(mapping.maximum_concurrency)
        self.wait = max(0, min(20, int(context.settings.esm_sqs_wait)))
        self.url = ""
        self.visibility = 30.0
        self._tasks: asyncio.TaskGroup | None = None
        self._releasing: set[asyncio.Future[None]] = set()
        # FIFO queues: one receive at a time, so that no server (moto's receive is not
        # atomic) can hand two batches of one message group out at once.
        self._one_receive = asyncio.Lock() if self.fifo else contextlib.nullcontext()

    async def run(self) -> None:
        attempt = 0
        while not self.url:
            try:
                await self.ctx.run_blocking(self._locate)
            except Exception as exc:
                attempt += 1
                log.warning("mapping %s: queue %s: %s", self.mapping.uuid, self.queue_name, exc)
                self.ctx.report(result=_problem(exc))
                await self.ctx.sleep(self.ctx.backoff(attempt))
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            for _ in range(self.scaler.start()):
                tasks.create_task(self._worker())

    def _locate(self) -> None:
        sqs = self.ctx.client("sqs")
        url = sqs.get_queue_url(QueueName=self.queue_name, QueueOwnerAWSAccountId=self.owner)
        attrs = sqs.get_queue_attributes(
            QueueUrl=url["QueueUrl"], AttributeNames=["VisibilityTimeout"]
        )
        self.visibility = float(attrs.get("Attributes", {}).get("VisibilityTimeout", 30))
        self.url = url["QueueUrl"]

    # -- one worker: collect, invoke, delete ---------------------------------------------

    async def _worker(self) -> None:
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
                continue
            if self.scaler.after_batch(batch.full, self.ctx.clock.monotonic()) and self._tasks:
                self._tasks.create_task(self._worker())
            try:
                if await self._process(batch.records):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mapping %s: a batch failed", self.mapping.uuid)
                await self.ctx.sleep(self.ctx.backoff(1))

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
            call = self.ctx.run_blocking(self._receive_blocking, count, wait)
            task = asyncio.ensure_future(call)
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                task.add_done_callback(self._give_back)
                raise

    def _receive_blocking(self, count: int, wait: int) -> list[dict[str, Any]]:
        got = self.ctx.client("sqs").receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(got.get("Messages") or [])

    def _give_back(self, task: asyncio.Future[list[dict[str, Any]]]) -> None:
        """Messages a cancelled receive still got: visible again at once."""
        if task.cancelled() or task.exception() is not None or not task.result():
            return
        handles = [m["ReceiptHandle"] for m in task.result()]
        with contextlib.suppress(RuntimeError):  # the loop is closing: they time out
            release = asyncio.ensure_future(self.ctx.run_blocking(self._release, handles))
            self._releasing.add(release)
            release.add_done_callback(self._releasing.discard)

    def _release(self, handles: list[str]) -> None:
        try:
            for start in range(0, len(handles), 10):
                self.ctx.client("sqs").change_message_visibility_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                        for i, h in enumerate(handles[start : start + 10])
                    ],
                )
        except Exception as exc:  # they come back after their visibility timeout
            log.info("mapping %s: giving messages back failed: %s", self.mapping.uuid, exc)

    async def _process(self, records: list[dict[str, Any]]) -> bool:
        """Run one batch; True when this worker should stop (throttled)."""
        if not self.ctx.filter.empty:
            kept = [r for r in records if self.ctx.filter.matches(sr.filter_view(r))]
            # AWS deletes the messages no filter matches.
            await self._delete([r["receiptHandle"] for r in records if r not in kept])
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
            if self.ctx.clock.monotonic() - started + delay > self.visibility * THROTTLE_SHARE:
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
        await self._delete(sr.deletable(records, failed, self.fifo))
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

    async def _delete(self, handles: list[str]) -> None:
        if handles:
            try:
                await self.ctx.run_blocking(self._delete_blocking, handles)
            except Exception as exc:  # they come back and run again: at least once
                log.warning("mapping %s: deleting messages failed: %s", self.mapping.uuid, exc)

    def _delete_blocking(self, handles: list[str]) -> None:
        sqs = self.ctx.client("sqs")
        for start in range(0, len(handles), 10):
            sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h}
                    for i, h in enumerate(handles[start : start + 10])
                ],
            )
