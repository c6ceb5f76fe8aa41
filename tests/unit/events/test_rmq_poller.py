"""The RabbitMQ poller over a fake consumer: batches, acks and nacks, problems reported."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiormq.exceptions import ConnectionNotAllowed, ProbableAuthenticationError

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.events.mappings.contract import InvokeOutcome
from lambdad.events.mappings.filtering import MappingFilter
from lambdad.events.mappings.rmq_broker import BrokerTarget
from lambdad.events.mappings.rmq_consumer import ConnectionLost
from lambdad.events.mappings.rmq_poller import FUNCTION_FAILED, TOO_LARGE, RabbitMqPoller
from lambdad.events.mappings.rmq_records import Delivery
from lambdad.model.event_source_mapping import EventSourceMapping
from lambdad.model.scope import Scope

ACCOUNT = "123456789012"
ARN = f"arn:aws:mq:us-east-1:{ACCOUNT}:broker:orders:b-1"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rmq"


class FakeConsumer:
    """Deliveries handed out in order; then ``lost`` ends the connection, else it waits."""

    def __init__(self, clock: FakeClock, deliveries: list[Delivery], lost: bool = False) -> None:
        self.clock = clock
        self.deliveries = deliveries
        self.lost = lost
        self.settled: list[tuple[str, int]] = []
        self.closed = False
        self.opened = False

    async def open(self) -> None:
        self.opened = True

    async def next(self, within: float | None = None) -> Delivery | None:
        await asyncio.sleep(0)
        if self.deliveries:
            return self.deliveries.pop(0)
        if within is None:
            if self.lost:
                raise ConnectionLost
            await asyncio.Event().wait()
        self.clock.advance(within or 0)
        return None

    async def ack(self, tag: int) -> None:
        self.settled.append(("ack", tag))

    async def nack(self, tag: int, *, requeue: bool = True) -> None:
        self.settled.append(("nack" if requeue else "drop", tag))

    async def reject(self, tag: int) -> None:
        self.settled.append(("reject", tag))

    async def close(self) -> None:
        self.closed = True


class Context:
    def __init__(self, fail: bool = False, **mapping: Any) -> None:
        fields: dict[str, Any] = {
            "uuid": "00000000-0000-0000-0000-000000000001",
            "scope": Scope(ACCOUNT, "us-east-1"),
            "kind": "mq",
            "event_source_arn": ARN,
            "function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn",
            "state": "Enabled",
            "enabled": True,
            "batch_size": 100,
            "queues": ("q",),
            "source_access": (("BASIC_AUTH", SECRET),),
        }
        fields.update(mapping)
        self.mapping = EventSourceMapping(**fields)
        self.clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
        self.settings = Settings(mq_brokers=(("orders", "amqp://127.0.0.1:5672"),))
        self.filter = MappingFilter(self.mapping.filters)
        self.fail = fail
        self.events: list[dict[str, Any]] = []
        self.results: list[str | None] = []
        self.reasons: list[str | None] = []

    async def invoke(self, payload: bytes, *, trace_id: str | None = None) -> InvokeOutcome:
        self.events.append(json.loads(payload))
        return InvokeOutcome(function_error="Unhandled" if self.fail else None)

    async def run_blocking(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        return {SECRET: {"username": "guest", "password": "guest"}}

    def report(self, result: str | None = None, reason: str | None = None) -> None:
        self.results.append(result)
        self.reasons.append(reason)

    def backoff(self, attempt: int) -> float:
        return 0.5

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    def bodies(self) -> list[list[bytes]]:
        return [
            [base64.b64decode(m["data"]) for ms in e["rmqMessagesByQueue"].values() for m in ms]
            for e in self.events
        ]


def deliveries(*bodies: bytes) -> list[Delivery]:
    return [Delivery("q", "/", b, {}, False, i + 1) for i, b in enumerate(bodies)]


def run(ctx: Context, consumers: list[FakeConsumer], done: Callable[[], bool]) -> None:
    made: list[BrokerTarget] = []

    def factory(target: BrokerTarget, queues: tuple[str, ...], prefetch: int) -> Any:
        made.append(target)
        assert prefetch == ctx.mapping.batch_size
        return consumers[min(len(made), len(consumers)) - 1]

    async def scenario() -> None:
        task = asyncio.ensure_future(RabbitMqPoller(ctx.mapping, ctx, factory).run())  # type: ignore[arg-type]
        for _ in range(2000):
            if done():
                break
            await asyncio.sleep(0)
        else:
            raise AssertionError("the condition never held")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


def test_batches_by_size_and_acks_each_after_success() -> None:
    ctx = Context(batch_size=2)
    consumer = FakeConsumer(ctx.clock, deliveries(b"1", b"2", b"3", b"4", b"5"))
    run(ctx, [consumer], lambda: len(consumer.settled) == 3)
    assert ctx.bodies() == [[b"1", b"2"], [b"3", b"4"], [b"5"]]
    assert consumer.settled == [("ack", 2), ("ack", 4), ("ack", 5)]
    assert ctx.results[-1] == "OK"
    assert consumer.closed  # cancelled: the connection is closed, unacked ones go back


def test_a_failed_batch_is_given_back_after_a_backoff() -> None:
    ctx = Context(fail=True)
    consumer = FakeConsumer(ctx.clock, deliveries(b"a", b"b"))
    run(ctx, [consumer], lambda: bool(consumer.settled))
    assert ctx.bodies() == [[b"a", b"b"]]
    assert consumer.settled == [("nack", 2)]
    assert FUNCTION_FAILED in ctx.results


def test_the_window_ends_a_batch_of_what_arrived() -> None:
    ctx = Context(maximum_batching_window=3)
    consumer = FakeConsumer(ctx.clock, deliveries(b"x"))
    start = ctx.clock.monotonic()
    run(ctx, [consumer], lambda: bool(consumer.settled))
    assert ctx.bodies() == [[b"x"]]
    assert ctx.clock.monotonic() - start >= 3


def test_six_megabytes_split_batches_and_larger_messages_are_dropped() -> None:
    ctx = Context()
    big = b"x" * (2 * 1024 * 1024)  # 2.7 MB as base64: two fit, not three
    huge = b"y" * (5 * 1024 * 1024)
    consumer = FakeConsumer(ctx.clock, deliveries(big, big, big, huge))
    run(ctx, [consumer], lambda: len(consumer.settled) == 3)
    assert [len(b) for b in ctx.bodies()] == [2, 1]
    assert consumer.settled == [("ack", 2), ("reject", 4), ("ack", 3)]
    assert TOO_LARGE in ctx.results


def test_messages_no_filter_matches_are_acknowledged_unseen() -> None:
    ctx = Context(filters=('{"data": {"kind": ["order"]}}',))
    consumer = FakeConsumer(ctx.clock, deliveries(b'{"kind": "ping"}', b'{"kind": "order"}'))
    run(ctx, [consumer], lambda: bool(consumer.settled))
    assert ctx.bodies() == [[b'{"kind": "order"}']]
    assert consumer.settled == [("ack", 2)]


def test_a_lost_connection_is_reported_and_opened_again() -> None:
    ctx = Context()
    first = FakeConsumer(ctx.clock, deliveries(b"1"), lost=True)
    second = FakeConsumer(ctx.clock, deliveries(b"2"))
    run(ctx, [first, second], lambda: bool(second.settled))
    assert first.closed
    assert second.opened
    assert ctx.bodies() == [[b"1"], [b"2"]]
    assert any(r and r.startswith("PROBLEM: Connection error") for r in ctx.results)


def test_refused_credentials_and_unknown_brokers_say_why() -> None:
    class Refusing(FakeConsumer):
        async def open(self) -> None:
            raise ProbableAuthenticationError("ACCESS_REFUSED")

    ctx = Context()
    run(ctx, [Refusing(ctx.clock, [])], lambda: "EVENT_SOURCE_AUTHN_ERROR" in ctx.reasons)

    class NotAllowed(FakeConsumer):
        async def open(self) -> None:
            raise ConnectionNotAllowed("NOT_ALLOWED - access to vhost 'shop' refused")

    ctx = Context()
    run(ctx, [NotAllowed(ctx.clock, [])], lambda: "EVENT_SOURCE_AUTHZ_ERROR" in ctx.reasons)
    assert "PROBLEM: NOT_ALLOWED - access to vhost 'shop' refused" in ctx.results
    ctx = Context(event_source_arn=ARN.replace("orders", "billing"))
    run(ctx, [FakeConsumer(ctx.clock, [])], lambda: "ESM_CONFIG_NOT_VALID" in ctx.reasons)
    assert ctx.events == []


def test_an_ack_on_a_closed_channel_reconnects_and_the_batch_comes_again() -> None:
    class Closing(FakeConsumer):
        async def ack(self, tag: int) -> None:
            raise RuntimeError("channel closed")

    ctx = Context()
    first = Closing(ctx.clock, deliveries(b"1"))
    second = FakeConsumer(ctx.clock, [Delivery("q", "/", b"1", {}, True, 1)])
    run(ctx, [first, second], lambda: bool(second.settled))
    assert first.closed
    assert ctx.bodies() == [[b"1"], [b"1"]]
    assert ctx.events[1]["rmqMessagesByQueue"]["q::/"][0]["redelivered"] is True


def test_a_stop_while_connecting_closes_the_half_open_connection() -> None:
    class Hanging(FakeConsumer):
        async def open(self) -> None:
            self.opened = True
            await asyncio.Event().wait()

    ctx = Context()
    hanging = Hanging(ctx.clock, [])
    run(ctx, [hanging], lambda: hanging.opened)
    assert hanging.closed
