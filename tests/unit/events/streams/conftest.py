"""Records for the stream cores' tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.events.mappings.contract import InvokeOutcome
from lambdad.events.mappings.filtering import MappingFilter
from lambdad.events.streams.fake import ARN
from lambdad.events.streams.records import StreamRecord
from lambdad.model.event_source_mapping import EventSourceMapping
from lambdad.model.scope import Scope


def make_record(seq: int, key: str = "k", arrival: float = 1000.0, size: int = 100) -> StreamRecord:
    return StreamRecord(str(seq), key, arrival, {"seq": seq}, size)


@pytest.fixture
def rec() -> Callable[..., StreamRecord]:
    return make_record


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.saves: list[tuple[str, str]] = []

    async def load(self, key: str) -> str | None:
        return self.values.get(key)

    async def load_all(self) -> dict[str, str]:
        return dict(self.values)

    async def save(self, key: str, value: str) -> None:
        self.values[key] = value
        self.saves.append((key, value))

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)


Handler = Callable[[dict[str, Any]], tuple[Any, str | None]]


class FakeContext:
    """A ``PollerContext`` whose function is ``handler(event) -> (answer, error)`` and
    whose sleeps advance a fake clock."""

    def __init__(self, handler: Handler, **mapping: Any) -> None:
        fields: dict[str, Any] = {
            "uuid": "00000000-0000-0000-0000-000000000001",
            "scope": Scope("123456789012", "us-east-1"),
            "kind": "kinesis",
            "event_source_arn": ARN,
            "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
            "state": "Enabled",
            "enabled": True,
            "batch_size": 10,
            "starting_position": "TRIM_HORIZON",
        }
        fields.update(mapping)
        self.mapping = EventSourceMapping(**fields)
        self.clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
        self.checkpoints = MemoryCheckpoints()
        self.filter = MappingFilter(self.mapping.filters)
        self.handler = handler
        self.events: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.reports: list[str | None] = []
        self.throttle = 0
        self.iterator_ages: list[float] = []

    async def invoke(self, payload: bytes) -> InvokeOutcome:
        await asyncio.sleep(0)
        if self.throttle:
            self.throttle -= 1
            return InvokeOutcome(throttled=True)
        event = json.loads(payload)
        self.events.append(event)
        answer, error = self.handler(event)
        body = json.dumps(answer).encode() if answer is not None else b"null"
        return InvokeOutcome(payload=body, function_error=error, executed_version="$LATEST")

    def client(self, service: str) -> Any:
        raise AssertionError("no clients in unit tests")

    async def run_blocking(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        return fn(*args)

    def report(self, result: str | None = None, reason: str | None = None) -> None:
        self.reports.append(result)

    async def send_on_failure(self, record: Mapping[str, Any], *, shard: str | None = None) -> None:
        self.failures.append(dict(record))

    def backoff(self, attempt: int) -> float:
        return 0.5

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    def observe_iterator_age(self, age_ms: float) -> None:
        self.iterator_ages.append(age_ms)

    def function_role(self) -> str:
        return "arn:aws:iam::123456789012:role/lambda-role"

    def now(self) -> float:
        return self.clock.now().timestamp()

    def sequence_numbers(self) -> list[list[int]]:
        """The sequence numbers of each invoke's records."""
        return [[int(r["kinesis"]["sequenceNumber"]) for r in e["Records"]] for e in self.events]


async def run_until(
    coro: Coroutine[Any, Any, None], done: Callable[[], bool], steps: int = 20_000
) -> bool:
    """Run ``coro`` until ``done()`` (then cancel it) or until it returns; whether it returned."""
    task = asyncio.ensure_future(coro)
    for _ in range(steps):
        if task.done():
            task.result()
            return True
        if done():
            break
        await asyncio.sleep(0)
    else:
        raise AssertionError("the condition never held")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False
