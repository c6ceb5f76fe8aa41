"""One batch of a shard, run to its end: invoked through the mapping's context, then
retried, bisected or discarded as ``retry.after_invoke`` decides; discarded records
go to the on-failure destination (retried until it takes them: never dropped).

``on_done(record)`` is told each time the records up to ``record`` are finished
(processed or discarded), in order, so the caller can move the checkpoint.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from lambdad.events.mappings.contract import DestinationFailed, InvokeOutcome, PollerContext
from lambdad.events.streams.failure_record import LastResponse, invocation_record
from lambdad.events.streams.records import StreamRecord
from lambdad.events.streams.retry import (
    Batch,
    Bisect,
    Discard,
    Done,
    Retry,
    RetryPolicy,
    after_invoke,
    expired,
)
from lambdad.events.streams.verdicts import Outcome, Verdict, judge

log = logging.getLogger(__name__)

Envelope = Callable[[Sequence[StreamRecord]], Mapping[str, Any]]
OnDone = Callable[[StreamRecord], Awaitable[None]]
OnState = Callable[[Mapping[str, Any]], None]

OK = "OK"
FAILED = "PROBLEM: Function call failed"
THROTTLED = "PROBLEM: Function call throttled"


def plain_event(records: Sequence[StreamRecord]) -> Mapping[str, Any]:
    return {"Records": [r.event for r in records]}


class BatchRunner:
    def __init__(
        self,
        context: PollerContext,
        policy: RetryPolicy,
        *,
        kind: str,
        shard_id: str,
        source_arn: str,
        report_item_failures: bool,
    ) -> None:
        self.context = context
        self.policy = policy
        self.kind = kind
        self.shard_id = shard_id
        self.source_arn = source_arn
        self.report_item_failures = report_item_failures

    async def run(
        self,
        records: Sequence[StreamRecord],
        *,
        envelope: Envelope = plain_event,
        windowed: bool = False,
        on_done: OnDone | None = None,
        on_state: OnState | None = None,
    ) -> None:
        work = [Batch(tuple(records))]
        last: LastResponse | None = None
        while work:
            gone, batch = expired(work.pop(0), self.policy, self._now())
            if gone is not None:
                await self._discard(gone, last, on_done, envelope)
            if batch is None:
                continue
            payload = json.dumps(envelope(batch.records), separators=(",", ":")).encode()
            outcome = await self.context.invoke(payload)
            verdict = self._verdict(batch, outcome, windowed)
            if not (outcome.throttled or outcome.error):
                last = LastResponse(
                    200, outcome.executed_version or "$LATEST", outcome.function_error
                )
            if on_state is not None and verdict.outcome in (Outcome.SUCCESS, Outcome.PARTIAL):
                on_state(verdict.state)
            action = after_invoke(batch, verdict, self.policy)
            self._report(verdict)
            if isinstance(action, Done):
                age = self._now() - batch.records[-1].arrival
                self.context.observe_iterator_age(max(0.0, age) * 1000)
                if on_done is not None:
                    await on_done(batch.records[-1])
            elif isinstance(action, Retry):
                if action.done and on_done is not None:
                    await on_done(batch.records[action.done - 1])
                if action.delay:
                    await self.context.sleep(action.delay)
                work.insert(0, action.batch)
            elif isinstance(action, Bisect):
                work[0:0] = [action.first, action.second]
            else:
                if action.done and on_done is not None:
                    await on_done(batch.records[action.done - 1])
                await self._discard(action, last, on_done, envelope)

    def _now(self) -> float:
        return self.context.clock.now().timestamp()

    def _verdict(self, batch: Batch, outcome: InvokeOutcome, windowed: bool) -> Verdict:
        if outcome.throttled:
            return Verdict(Outcome.THROTTLED)
        if outcome.error:
            log.warning("shard %s: invoke failed: %s", self.shard_id, outcome.error)
            return Verdict(Outcome.PLATFORM_ERROR)
        return judge(
            batch.records,
            function_error=outcome.function_error is not None,
            payload=outcome.payload,
            report_item_failures=self.report_item_failures,
            windowed=windowed,
        )

    def _report(self, verdict: Verdict) -> None:
        if verdict.outcome is Outcome.SUCCESS:
            self.context.report(result=OK)
        elif verdict.outcome is Outcome.THROTTLED:
            self.context.report(result=THROTTLED)
        else:
            self.context.report(result=FAILED)

    async def _discard(
        self, action: Discard, last: LastResponse | None, on_done: OnDone | None, envelope: Envelope
    ) -> None:
        records = action.batch.records
        payload = None
        if (self.context.mapping.on_failure_destination or "").split(":")[2:3] == ["s3"]:
            payload = json.dumps(envelope(records), separators=(",", ":"))
        document = invocation_record(
            kind=self.kind,
            request_id=str(uuid.uuid4()),
            function_arn=self.context.mapping.function_arn,
            condition=action.condition,
            invokes=action.batch.invokes,
            response=last,
            records=records,
            shard_id=self.shard_id,
            stream_arn=self.source_arn,
            now=self._now(),
            payload=payload,
        )
        log.info(
            "shard %s: %d records discarded (%s), %s..%s",
            self.shard_id, len(records), action.condition,
            records[0].sequence_number, records[-1].sequence_number,
        )  # fmt: skip
        attempt = 0
        while True:
            try:
                await self.context.send_on_failure(document, shard=self.shard_id)
                break
            except DestinationFailed as exc:
                attempt += 1
                self.context.report(result=f"PROBLEM: {exc}")
                await self.context.sleep(self.context.backoff(attempt))
        if on_done is not None:
            await on_done(records[-1])
