"""The SQS poller against an in-memory queue and a scripted function (no I/O)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.events.mappings.contract import InvokeOutcome
from lambdad.events.mappings.filtering import MappingFilter
from lambdad.events.mappings.sqs_poller import FUNCTION_FAILED, SqsPoller
from lambdad.model.event_source_mapping import EventSourceMapping
from lambdad.model.scope import Scope

ARN = "arn:aws:sqs:us-east-1:123456789012:jobs"


class FakeSqs:
    """A queue: messages are visible, in flight, or deleted."""

    def __init__(self, bodies: list[str], fail_locate: int = 0) -> None:
        self.ids = itertools.count()
        self.visible = [self._message(b) for b in bodies]
        self.in_flight: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.fail_locate = fail_locate

    def _message(self, body: str) -> dict[str, Any]:
        n = next(self.ids)
        return {"MessageId": f"id-{n}", "Body": body, "MD5OfBody": "x", "Attributes": {}}

    def get_queue_url(self, **kw: Any) -> dict[str, str]:
        if self.fail_locate:
            self.fail_locate -= 1
            raise ConnectionError("queue server down")
        return {"QueueUrl": "http://q/jobs"}

    def get_queue_attributes(self, **kw: Any) -> dict[str, Any]:
        return {"Attributes": {"VisibilityTimeout": "30"}}

    def receive_message(self, MaxNumberOfMessages: int, **kw: Any) -> dict[str, Any]:
        got, self.visible = self.visible[:MaxNumberOfMessages], self.visible[MaxNumberOfMessages:]
        out = []
        for m in got:
            handle = f"rh-{m['MessageId']}-{next(self.ids)}"
            self.in_flight[handle] = m
            out.append({**m, "ReceiptHandle": handle})
        return {"Messages": out}

    def delete_message_batch(self, Entries: list[dict[str, str]], **kw: Any) -> dict[str, Any]:
        for e in Entries:
            self.deleted.append(self.in_flight.pop(e["ReceiptHandle"])["Body"])
        return {"Successful": Entries}


class FakeContext:
    def __init__(
        self, sqs: FakeSqs, answer: Callable[[bytes], InvokeOutcome], **mapping: Any
    ) -> None:
        self.mapping = EventSourceMapping(
            uuid="u", scope=Scope("123456789012", "us-east-1"), kind="sqs",
            event_source_arn=ARN, function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
            state="Enabled", enabled=True, batch_size=mapping.pop("batch_size", 10), **mapping,
        )  # fmt: skip
        self.clock = FakeClock()
        self.settings = Settings(esm_sqs_wait=0)
        self.checkpoints: Any = None
        self.filter = MappingFilter(self.mapping.filters)
        self.sqs = sqs
        self.answer = answer
        self.payloads: list[bytes] = []
        self.reports: list[str | None] = []

    async def invoke(self, payload: bytes, *, trace_id: str | None = None) -> InvokeOutcome:
        self.payloads.append(payload)
        return self.answer(payload)

    def loops_allowed(self) -> bool:
        return False

    def client(self, service: str) -> FakeSqs:
        return self.sqs

    async def run_blocking(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        await asyncio.sleep(0)
        self.clock.advance(0.01)  # each call to the queue takes a while
        return fn(*args)

    def report(self, result: str | None = None, reason: str | None = None) -> None:
        self.reports.append(result)

    async def send_on_failure(self, record: Any, *, shard: str | None = None) -> None:
        raise AssertionError("SQS mappings have no on-failure destination")

    def backoff(self, attempt: int) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def run_until(ctx: FakeContext, done: Callable[[], bool]) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(SqsPoller(ctx.mapping, ctx).run())
        for _ in range(10_000):
            if done():
                break
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert done()

    asyncio.run(scenario())


def ok(payload: bytes) -> InvokeOutcome:
    return InvokeOutcome(payload=b"null")


def test_successes_are_deleted_after_a_source_outage() -> None:
    sqs = FakeSqs([f"m{i}" for i in range(25)], fail_locate=2)
    ctx = FakeContext(sqs, ok)
    run_until(ctx, lambda: len(sqs.deleted) == 25)
    assert ctx.reports[0] == "PROBLEM: ConnectionError: queue server down"
    assert ctx.reports[-1] == "OK"
    assert all(len(json.loads(p)["Records"]) <= 10 for p in ctx.payloads)


def test_a_function_error_leaves_the_batch_in_flight() -> None:
    sqs = FakeSqs(["a", "b"])
    ctx = FakeContext(sqs, lambda p: InvokeOutcome(function_error="Unhandled"))
    run_until(ctx, lambda: bool(ctx.payloads) and not sqs.visible)
    assert sqs.deleted == []
    assert len(sqs.in_flight) == 2  # back after the visibility timeout
    assert FUNCTION_FAILED in ctx.reports


def test_partial_failures_keep_only_the_failed() -> None:
    sqs = FakeSqs(["a", "b", "c"])

    def answer(payload: bytes) -> InvokeOutcome:
        failed = [r["messageId"] for r in json.loads(payload)["Records"] if r["body"] == "b"]
        body = {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
        return InvokeOutcome(payload=json.dumps(body).encode())

    ctx = FakeContext(sqs, answer, report_batch_item_failures=True)
    run_until(ctx, lambda: len(sqs.deleted) == 2)
    assert sorted(sqs.deleted) == ["a", "c"]
    assert [m["Body"] for m in sqs.in_flight.values()] == ["b"]


def test_throttles_are_retried_without_losing_the_batch() -> None:
    sqs = FakeSqs(["a"])
    answers = iter([InvokeOutcome(throttled=True), InvokeOutcome(throttled=True)])
    ctx = FakeContext(sqs, lambda p: next(answers, InvokeOutcome(payload=b"")))
    run_until(ctx, lambda: sqs.deleted == ["a"])
    assert len(ctx.payloads) == 3


def test_unmatched_messages_are_deleted_without_an_invocation() -> None:
    sqs = FakeSqs(['{"k": "drop"}', '{"k": "keep"}', "not json"])
    ctx = FakeContext(sqs, ok, filters=('{"body": {"k": ["keep"]}}',))
    run_until(ctx, lambda: len(sqs.deleted) == 3)
    assert [[r["body"] for r in json.loads(p)["Records"]] for p in ctx.payloads] == [
        ['{"k": "keep"}']
    ]


def test_a_batching_window_gathers_several_receives() -> None:
    sqs = FakeSqs([f"m{i}" for i in range(25)])
    # A cap of one worker (below the API's minimum of 2), so no other takes a part.
    ctx = FakeContext(sqs, ok, batch_size=25, maximum_batching_window=5, maximum_concurrency=1)
    run_until(ctx, lambda: len(sqs.deleted) == 25)
    assert [len(json.loads(p)["Records"]) for p in ctx.payloads] == [25]


def test_batches_stay_under_six_megabytes() -> None:
    sqs = FakeSqs(["x" * 1_000_000 for _ in range(8)])
    ctx = FakeContext(sqs, ok, batch_size=10)
    run_until(ctx, lambda: len(sqs.deleted) == 8)
    sizes = [len(p) for p in ctx.payloads]
    assert max(sizes) <= 6 * 1024 * 1024
    assert sum(len(json.loads(p)["Records"]) for p in ctx.payloads) == 8


def test_a_batch_in_flight_finishes_when_the_poller_stops() -> None:
    sqs = FakeSqs(["a"])
    ctx = FakeContext(sqs, ok)
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_invoke(payload: bytes, *, trace_id: str | None = None) -> InvokeOutcome:
        started.set()
        await release.wait()
        return InvokeOutcome(payload=b"")

    ctx.invoke = slow_invoke  # type: ignore[method-assign]

    async def scenario() -> None:
        task = asyncio.create_task(SqsPoller(ctx.mapping, ctx).run())
        await started.wait()
        task.cancel()  # the mapping is disabled while its batch runs
        await asyncio.gather(task, return_exceptions=True)
        release.set()
        for _ in range(100):
            await asyncio.sleep(0)
        assert sqs.deleted == ["a"]

    asyncio.run(scenario())
