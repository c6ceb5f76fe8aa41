"""The async dispatcher with a real queue file and fake functions, invoker and targets.

Covers what the end-to-end suite cannot force: parallelism limits, throttles and
platform errors, deleted functions, a destination that fails before it works, and
destinations lambdad must refuse (another account's function without its consent, a
queue with no identity to send with).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from fakes import SCOPE, FakeFunctions
from lambdad.clock import SystemClock
from lambdad.config import Settings
from lambdad.control.event_invoke_config import EventInvokeSettings
from lambdad.environments.environment import InvocationResult
from lambdad.errors import (
    AccessDeniedException,
    ServiceException,
    TooManyRequestsException,
)
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.destinations import DeliveryRefused, DestinationSender
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.outbound import OutboundIdentities
from lambdad.store.queue import AsyncQueue, Delivery
from lambdad.store.queue_memory import MemoryAsyncQueue
from lambdad.store.queue_sqlite import SqliteAsyncQueue

OTHER = Scope("210987654321", "us-east-1")
SETTINGS = Settings(
    async_retry_delays=(0.01, 0.02),
    async_throttle_backoff=(0.01, 0.05),
    async_max_concurrency=4,
    async_poll_interval=0.05,
)
Behaviour = Callable[[str, bytes], Awaitable[InvocationResult]]


class FakeConfigs:
    def __init__(self) -> None:
        self.by_name: dict[str, EventInvokeSettings] = {}

    def effective(self, scope: Scope, name: str, qualifier: str | None) -> EventInvokeSettings:
        return self.by_name.get(name, EventInvokeSettings())


class FakeInvoker:
    """Runs each function's behaviour; records calls and the parallelism reached."""

    def __init__(self, functions: FakeFunctions) -> None:
        self.functions = functions
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: list[tuple[str, str]] = []
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}

        # (caller account, function name) pairs another account's policy allows.
        self.grants: set[tuple[str, str]] = set()
        # No metrics recorded (InvokeService.metrics is None when metrics are off).
        self.metrics = None

    def resolve(
        self,
        caller: Scope,
        function_name: str,
        qualifier: str | None,
        role_arn: str = "",
        caller_arn: str = "",
    ) -> RunnableVersion:
        """As InvokeService.resolve: another account's function only with its consent."""
        ref = parse_function_ref(function_name)
        owner = Scope(ref.account or caller.account, ref.region or caller.region)
        if owner != caller and (caller.account, ref.name) not in self.grants:
            raise AccessDeniedException(f"User: {caller.account} is not authorized")
        return self.functions.resolve(owner, ref.name, qualifier)

    def check_payload(self, payload: bytes, limit: int, operation: str) -> bytes:
        return payload or b"{}"

    async def run(
        self,
        rv: RunnableVersion,
        payload: bytes,
        request_id: str,
        client_context: str | None = None,
        trace_id: str | None = None,
    ) -> InvocationResult:
        self.calls.append((rv.name, request_id))
        self.running[rv.name] = self.running.get(rv.name, 0) + 1
        self.peak[rv.name] = max(self.peak.get(rv.name, 0), self.running[rv.name])
        try:
            return await self.behaviours[rv.name](request_id, payload)
        finally:
            self.running[rv.name] -= 1


class FakeSender:
    def __init__(self, failures: int = 0, refuse: bool = False) -> None:
        self.failures = failures
        self.refuse = refuse
        self.attempts = 0
        self.sent: list[Delivery] = []

    def send(self, delivery: Delivery) -> None:
        self.attempts += 1
        if self.refuse:
            raise DeliveryRefused("no outbound identity")
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("destination down")
        self.sent.append(delivery)


def ok(seconds: float = 0.0) -> Behaviour:
    async def behaviour(request_id: str, payload: bytes) -> InvocationResult:
        await asyncio.sleep(seconds)
        return InvocationResult(payload=b'{"ok": true}')

    return behaviour


def error() -> Behaviour:
    async def behaviour(request_id: str, payload: bytes) -> InvocationResult:
        body = json.dumps({"errorMessage": "boom", "errorType": "ValueError"}).encode()
        return InvocationResult(payload=body, function_error="Unhandled", error_type="ValueError")

    return behaviour


class FakeConcurrency:
    """The concurrency service's view of reservations, from the fake functions."""

    def __init__(self, functions: FakeFunctions) -> None:
        self.functions = functions

    def reservations(self) -> dict[tuple[str, str, str], int]:
        return {
            (scope.account, scope.region, name): function.reserved
            for (scope, name), function in self.functions.functions.items()
            if function.reserved is not None
        }


class Harness:
    def __init__(self, queue: AsyncQueue, sender: FakeSender) -> None:
        self.functions = FakeFunctions()
        self.configs = FakeConfigs()
        self.invoker = FakeInvoker(self.functions)
        self.sender = sender
        self.queue = queue
        self.service = AsyncInvokeService(
            SETTINGS, self.functions, self.invoker, self.configs,  # type: ignore[arg-type]
            self.queue, SystemClock(), FakeConcurrency(self.functions), sender,  # type: ignore[arg-type]
        )  # fmt: skip

    async def accept(self, name: str, payload: bytes = b"{}") -> str:
        req = InvokeRequest(SCOPE, name, payload=payload, invocation_type="Event")
        return await self.service.accept(req, limit=1024 * 1024, operation="Invoke")

    def counters(self, name: str) -> dict[str, int]:
        for s in self.service.statistics():
            if s.function_name == name:
                return s.counters
        return {}

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while True:  # the state lives in the queue's database: poll it
                if predicate():
                    return
                await asyncio.sleep(0.01)


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(sender: FakeSender | None = None, queue: str = "sqlite") -> Harness:
        store: AsyncQueue = (
            MemoryAsyncQueue()
            if queue == "memory"
            else SqliteAsyncQueue(tmp_path / f"async{len(made)}.db")
        )
        h = Harness(store, sender or FakeSender())
        h.queue.open()
        made.append(h)
        return h

    yield build
    for h in made:
        h.queue.close()


def scenario(h: Harness, body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        await h.service.start()
        try:
            await body()
        finally:
            await h.service.stop()

    asyncio.run(main())


@pytest.mark.parametrize("queue", ["sqlite", "memory"])
def test_parallel_up_to_the_reserved_concurrency(make: Callable[..., Harness], queue: str) -> None:
    h = make(queue=queue)
    h.functions.add("narrow", reserved=2)
    h.invoker.behaviours["narrow"] = ok(0.05)

    async def body() -> None:
        for _ in range(8):
            await h.accept("narrow")
        await h.until(lambda: h.counters("narrow").get("processed") == 8)

    scenario(h, body)
    assert h.invoker.peak["narrow"] == 2


def test_parallel_up_to_the_async_concurrency(make: Callable[..., Harness]) -> None:
    h = make()
    h.functions.add("wide")
    h.invoker.behaviours["wide"] = ok(0.05)

    async def body() -> None:
        await asyncio.gather(*(h.accept("wide") for _ in range(12)))
        await h.until(lambda: h.counters("wide").get("processed") == 12)

    scenario(h, body)
    assert h.invoker.peak["wide"] == SETTINGS.async_max_concurrency


@pytest.mark.parametrize("queue", ["sqlite", "memory"])
def test_a_retried_backlog_does_not_delay_another_function(
    make: Callable[..., Harness], queue: str
) -> None:
    h = make(queue=queue)
    h.functions.add("backlog")
    h.functions.add("newcomer")

    async def failing(request_id: str, payload: bytes) -> InvocationResult:
        await asyncio.sleep(0.01)
        return await error()(request_id, payload)

    h.invoker.behaviours["backlog"] = failing
    h.invoker.behaviours["newcomer"] = ok()

    async def body() -> None:
        await asyncio.gather(*(h.accept("backlog") for _ in range(60)))
        await h.until(lambda: h.counters("backlog").get("retried", 0) >= 4)
        await h.accept("newcomer")
        # Counted once it is queued: however long the accept took (a loaded machine's
        # SQLite write), backlog events that started meanwhile were not behind it.
        before = len(h.invoker.calls)
        await h.until(lambda: h.counters("newcomer").get("processed") == 1)
        started = [name for name, _ in h.invoker.calls]
        # Served at the next free place (at most one claim of backlog events was already
        # being made), not behind the 60 events and their retries.
        assert started.index("newcomer") - before <= SETTINGS.async_max_concurrency
        assert h.counters("backlog").get("dropped", 0) < 60

    scenario(h, body)


def test_throttled_events_run_once_capacity_returns(make: Callable[..., Harness]) -> None:
    h = make()
    h.functions.add("busy")
    throttled = {"on": True}

    async def behaviour(request_id: str, payload: bytes) -> InvocationResult:
        if throttled["on"]:
            raise TooManyRequestsException("Rate Exceeded.", reason="ConcurrentInvocationLimit")
        return InvocationResult(payload=b"{}")

    h.invoker.behaviours["busy"] = behaviour
    h.configs.by_name["busy"] = EventInvokeSettings(
        maximum_retry_attempts=0, on_success="arn:aws:sqs:us-east-1:123456789012:done"
    )

    async def body() -> None:
        request_id = await h.accept("busy")
        await h.until(lambda: h.counters("busy").get("throttled", 0) >= 3)
        throttled["on"] = False
        await h.until(lambda: bool(h.sender.sent))
        record = json.loads(h.sender.sent[0].body)
        assert record["requestContext"]["requestId"] == request_id
        assert record["requestContext"]["condition"] == "Success"
        # Throttled attempts are not counted, even with MaximumRetryAttempts=0.
        assert record["requestContext"]["approximateInvokeCount"] == 1

    scenario(h, body)


def test_platform_errors_requeue_without_spending_attempts(make: Callable[..., Harness]) -> None:
    h = make()
    h.functions.add("flaky", dead_letter="arn:aws:sqs:us-east-1:123456789012:dlq")
    attempts = {"n": 0}

    async def behaviour(request_id: str, payload: bytes) -> InvocationResult:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            raise ServiceException("the sandbox could not start")
        return await error()(request_id, payload)

    h.invoker.behaviours["flaky"] = behaviour
    h.configs.by_name["flaky"] = EventInvokeSettings(maximum_retry_attempts=1)

    async def body() -> None:
        request_id = await h.accept("flaky", b'{"order": 1}')
        await h.until(lambda: bool(h.sender.sent))
        (letter,) = h.sender.sent
        assert letter.kind == "dead-letter"
        assert json.loads(letter.body) == {"order": 1}
        assert dict(letter.attributes) == {
            "RequestID": request_id,
            "ErrorCode": "200",
            "ErrorMessage": "boom",
        }

    scenario(h, body)
    assert attempts["n"] == 4  # 2 platform errors + 2 function errors (1 retry)
    counters = h.counters("flaky")
    assert (counters["throttled"], counters["retried"], counters["dropped"]) == (2, 1, 1)


def test_events_of_a_deleted_function_are_dropped(make: Callable[..., Harness]) -> None:
    h = make()
    h.functions.add("gone")
    h.invoker.behaviours["gone"] = ok()

    async def body() -> None:
        await h.service.stop()  # accept while nothing runs, then delete the function
        await h.accept("gone")
        h.functions.remove("gone")
        await h.service.start()
        await h.until(lambda: h.counters("gone").get("dropped") == 1)

    scenario(h, body)
    assert h.invoker.calls == []


def test_a_destination_that_fails_is_retried(make: Callable[..., Harness]) -> None:
    h = make(FakeSender(failures=3))
    h.functions.add("ok")
    h.invoker.behaviours["ok"] = ok()
    h.configs.by_name["ok"] = EventInvokeSettings(
        on_success="arn:aws:sns:us-east-1:123456789012:topic"
    )

    async def body() -> None:
        await h.accept("ok")
        await h.until(lambda: bool(h.sender.sent))

    scenario(h, body)
    assert h.counters("ok")["delivery_failures"] == 3
    assert h.sender.sent[0].target == "arn:aws:sns:us-east-1:123456789012:topic"


def test_function_destinations_queue_an_invocation(make: Callable[..., Harness]) -> None:
    h = make()
    h.functions.add("source")
    h.functions.add("sink")
    h.invoker.behaviours["source"] = error()
    seen: list[bytes] = []

    async def sink(request_id: str, payload: bytes) -> InvocationResult:
        seen.append(payload)
        return InvocationResult(payload=b"null")

    h.invoker.behaviours["sink"] = sink
    h.configs.by_name["source"] = EventInvokeSettings(
        maximum_retry_attempts=0,
        on_failure="arn:aws:lambda:us-east-1:123456789012:function:sink",
    )

    async def body() -> None:
        await h.accept("source", b'{"x": 1}')
        await h.until(lambda: bool(seen))

    scenario(h, body)
    record = json.loads(seen[0])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"x": 1}
    assert h.counters("sink")["received"] == 1


def test_a_fault_of_lambdad_requeues_the_event(make: Callable[..., Harness]) -> None:
    h = make()
    h.functions.add("steady")
    h.invoker.behaviours["steady"] = ok()
    faults = {"left": 2}
    effective = h.configs.effective

    def failing(scope: Scope, name: str, qualifier: str | None) -> EventInvokeSettings:
        if faults["left"] > 0:
            faults["left"] -= 1
            raise RuntimeError("store unavailable")
        return effective(scope, name, qualifier)

    h.configs.effective = failing  # type: ignore[method-assign]

    async def body() -> None:
        await h.accept("steady")
        await h.until(lambda: h.counters("steady").get("processed") == 1)

    scenario(h, body)
    assert h.counters("steady")["throttled"] == 2


def _source_to(h: Harness, target: str, *, on_success: bool = True) -> list[bytes]:
    """A "source" function whose records go to ``target``; what a "sink" of OTHER sees."""
    h.functions.add("source")
    h.functions.add("sink", scope=OTHER)
    h.invoker.behaviours["source"] = ok() if on_success else error()
    seen: list[bytes] = []

    async def sink(request_id: str, payload: bytes) -> InvocationResult:
        seen.append(payload)
        return InvocationResult(payload=b"null")

    h.invoker.behaviours["sink"] = sink
    h.configs.by_name["source"] = EventInvokeSettings(
        maximum_retry_attempts=0,
        **{"on_success" if on_success else "on_failure": target},
    )
    return seen


def test_another_accounts_function_is_not_a_destination_without_its_consent(
    make: Callable[..., Harness],
) -> None:
    h = make()
    seen = _source_to(h, "arn:aws:lambda:us-east-1:210987654321:function:sink", on_success=False)

    async def body() -> None:
        await h.accept("source", b'{"x": 1}')
        await h.until(lambda: h.counters("source").get("deliveries_dropped") == 1)

    scenario(h, body)
    # An invocation queued for the sink would have been counted as received by now.
    assert h.counters("sink") == {}
    assert seen == []
    assert [name for name, _ in h.invoker.calls] == ["source"]
    counters = h.counters("source")
    # Refused outright: one failure, given up at once (a policy does not fix itself).
    assert (counters["delivery_failures"], counters["deliveries_dropped"]) == (1, 1)


def test_another_accounts_function_with_a_grant_is_a_destination(
    make: Callable[..., Harness],
) -> None:
    h = make()
    seen = _source_to(h, "arn:aws:lambda:us-east-1:210987654321:function:sink")
    h.invoker.grants.add((SCOPE.account, "sink"))

    async def body() -> None:
        await h.accept("source", b'{"x": 2}')
        await h.until(lambda: bool(seen))

    scenario(h, body)
    record = json.loads(seen[0])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"x": 2}
    # The invocation belongs to the sink's account.
    assert h.counters("sink")["received"] == 1
    assert h.counters("source").get("delivery_failures", 0) == 0


def test_a_missing_function_destination_is_a_delivery_failure(
    make: Callable[..., Harness],
) -> None:
    h = make()
    _source_to(h, "arn:aws:lambda:us-east-1:123456789012:function:nothing-here")

    async def body() -> None:
        await h.accept("source")
        await h.until(lambda: h.counters("source").get("deliveries_dropped") == 1)

    scenario(h, body)
    assert h.counters("source")["delivery_failures"] == 1


def test_a_refused_queue_is_given_up_at_once(make: Callable[..., Harness]) -> None:
    h = make(FakeSender(refuse=True))
    h.functions.add("ok")
    h.invoker.behaviours["ok"] = ok()
    h.configs.by_name["ok"] = EventInvokeSettings(
        on_success="arn:aws:sqs:us-east-1:123456789012:done"
    )

    async def body() -> None:
        await h.accept("ok")
        await h.until(lambda: h.counters("ok").get("deliveries_dropped") == 1)

    scenario(h, body)
    assert h.sender.attempts == 1
    assert h.counters("ok")["delivery_failures"] == 1


def test_the_sender_never_lends_lambdads_identity_to_an_unlisted_account() -> None:
    sender = DestinationSender(OutboundIdentities(trusted={"111122223333"}))
    delivery = Delivery(
        "arn:aws:sqs:us-east-1:123456789012:q",
        "destination",
        "{}",
        "Success",
        "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
    )
    with pytest.raises(DeliveryRefused, match="123456789012 has no outbound AWS credentials"):
        sender.send(delivery)
