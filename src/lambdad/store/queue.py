"""The contract of the durable queue of asynchronous invocations, and its values.

An event is stored before ``Invoke`` answers 202. A worker (an *owner*) *claims*
events for a while (a visibility deadline), runs them, then either *reschedules*
one (retry, requeue) or *finishes* it: the event is removed and, in the same
transaction, what must be sent to destinations and dead-letter queues is recorded
as *deliveries*, and the asynchronous invocations of function destinations are
queued. Claims of another owner are taken over once their deadline passes; a
worker never takes back its own. Counters per function change in the same
transactions as the events they count. A crash at any moment leaves each event
queued or claimed: every accepted event runs at least once.

What to do after an attempt (retry, requeue, drop) is decided in ``invoke/``; an
implementation only keeps events, claims and counters. ``queue_sqlite`` is the
embedded one, ``memory`` the one for tests; PostgreSQL implements the same
Protocol for several nodes (claims with ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

FunctionKey = tuple[str, str, str]  # account, region, function name

COUNTERS = (
    "received",  # accepted (202)
    "processed",  # finished with a success
    "retried",  # retries scheduled after a function error
    "throttled",  # attempts requeued: throttled or failed by the platform
    "dropped",  # finished without a success (retries exhausted, too old, function gone)
    "delivery_failures",  # failed attempts to reach a destination or dead-letter queue
    "deliveries_dropped",  # records given up on after async_delivery_max_age
)


def fkey(key: FunctionKey) -> str:
    return "/".join(key)


@dataclass(frozen=True, slots=True)
class NewEvent:
    id: str  # the request id answered with the 202, kept across retries
    account: str
    region: str
    function_name: str
    qualifier: str | None
    payload: bytes
    received_at: float  # epoch seconds
    trace_id: str | None = None  # the X-Ray header of the request that queued it

    @property
    def key(self) -> FunctionKey:
        return (self.account, self.region, self.function_name)


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    id: str
    account: str
    region: str
    function_name: str
    qualifier: str | None
    payload: bytes
    received_at: float
    attempts: int
    requeues: int
    # The last answer of the function ({statusCode, executedVersion, functionError,
    # payload}) and the last reason it could not run ({statusCode, message}).
    last_response: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    trace_id: str | None = None

    @property
    def key(self) -> FunctionKey:
        return (self.account, self.region, self.function_name)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Something to send once an event is done: a destination record or a dead letter."""

    target: str  # ARN of an SQS queue, SNS topic or EventBridge bus
    kind: str  # "destination" or "dead-letter"
    body: str
    condition: str
    function_arn: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    id: int
    key: FunctionKey
    delivery: Delivery
    created_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class Claim:
    events: list[QueuedEvent]
    next_due: float | None  # when the next unclaimed event becomes due, if any


@dataclass(frozen=True, slots=True)
class FunctionStatistics:
    """Counters and queue state of one function. In steady state ``received =
    processed + dropped + queued``, give or take events run again after a crash."""

    account: str
    region: str
    function_name: str
    counters: dict[str, int]
    queued: int
    in_flight: int
    oldest_age: float | None  # seconds since the oldest queued event arrived
    deliveries_pending: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "function": self.function_name,
            **{name: self.counters.get(name, 0) for name in COUNTERS},
            "queued": self.queued,
            "in_flight": self.in_flight,
            "oldest_age": self.oldest_age,
            "deliveries_pending": self.deliveries_pending,
        }


class AsyncQueue(Protocol):
    """Every method but ``open``/``close``/``statistics`` is a coroutine; each write
    has happened (on disk, for a durable implementation) when it returns."""

    owner: str

    def open(self) -> None:
        """Open (creating it) the queue; claims made before by this node are released."""

    def close(self) -> None: ...

    async def put(self, event: NewEvent) -> None:
        """Queue one event (counted as ``received``)."""

    async def put_many(self, events: Sequence[NewEvent]) -> None:
        """Queue several events in one write: all of them or, if it raises, none."""

    async def claim(
        self,
        now: float,
        limit: int,
        *,
        lease_for: float,
        remaining: Mapping[FunctionKey, int] | None = None,
        default_remaining: int | None = None,
        running: Mapping[FunctionKey, int] | None = None,
    ) -> Claim:
        """Up to ``limit`` due events, at most ``remaining[key]`` of each function
        (``default_remaining``, else ``limit``, for the others), each function's oldest
        first. Places go one at a time to the function with the fewest events
        ``running`` (as the caller counts them) plus those this claim gave it, as if
        each function had a queue of its own (``queue_shares``); events come back
        oldest due first."""

    async def reschedule(
        self,
        event: QueuedEvent,
        not_before: float,
        *,
        attempts: int,
        requeues: int,
        counter: str,
        last_response: dict[str, Any] | None,
        last_error: dict[str, Any] | None,
    ) -> bool:
        """Put a claimed event back for a later attempt (False: the claim was lost)."""

    async def finish(
        self,
        event: QueuedEvent,
        *,
        counter: str,
        deliveries: Sequence[Delivery] = (),
        follow_ups: Sequence[NewEvent] = (),
        now: float = 0.0,
    ) -> bool:
        """Remove a claimed event, recording what must be sent on (False: claim lost)."""

    async def release(self, events: Iterable[QueuedEvent]) -> None:
        """Give back claimed events that were not started."""

    async def claim_deliveries(
        self, now: float, limit: int, *, lease_for: float
    ) -> tuple[list[PendingDelivery], float | None]:
        """Up to ``limit`` due deliveries, and when the next unclaimed one is due."""

    async def delivered(self, pending: PendingDelivery) -> None: ...

    async def delivery_failed(self, pending: PendingDelivery, not_before: float | None) -> None:
        """Try again at ``not_before``, or give up on it (None); counted either way."""

    def statistics(self, now: float) -> list[FunctionStatistics]:
        """Counters and queue state per function, by key (a read; safe on the event loop)."""
