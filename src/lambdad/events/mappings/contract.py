"""The contract between the mapping supervisor and the pollers of each kind of source.

A source plugs in with one factory in ``events/mappings/registry.py``::

    FACTORIES: dict[str, PollerFactory] = {"sqs": SqsPoller, "kinesis": ..., ...}

keyed by ``model.event_source_mapping.source_kind`` of the ``EventSourceArn``
(``"sqs"``, ``"kinesis"``, ``"dynamodb"``, ``"mq"``).

Lifecycle. The supervisor calls ``factory(mapping, context)`` once per run of an Enabled
mapping whose function exists, then runs ``await poller.run()`` as one asyncio task.
Any change to the mapping (Update, Disable, Delete), or the deletion of its function,
cancels that task and, if the mapping should still run, builds a new poller from the
new ``EventSourceMapping``: a poller never needs to notice changes itself. Several
tasks per mapping (one per shard, per queue slot) are the poller's own business: it
starts them inside ``run`` and cancels them when ``run`` is cancelled (a
``TaskGroup`` does both).

``SourcePoller.run`` polls until cancelled. It never raises anything but
``CancelledError``: a source that is down, slow or answers errors is retried with
``context.backoff(attempt)`` between attempts and reported with ``context.report``.
If it raises anyway the supervisor logs it and runs a new poller after a backoff.
Work cut short by cancellation must lose nothing: a queue's messages not yet deleted
come back after their visibility timeout; a stream's records are re-read from the last
saved checkpoint (at least once, in order).

``PollerContext`` is all a poller may use (it imports nothing else from lambdad but
``model``, ``clock``, ``errors`` and this package):

- ``mapping``: the frozen ``EventSourceMapping`` (batch size, window, starting
  position, retries, bisect, tumbling window, ``report_batch_item_failures``,
  ``on_failure_destination``, ``filters``, ``maximum_concurrency``, ``scope``, ``arn``...).
- ``await invoke(payload: bytes) -> InvokeOutcome``: one synchronous invocation of the
  mapping's function (qualifier or alias in its ``FunctionArn`` honoured) through the
  normal invoke path: concurrency leases, warm pool, logs. Never raises but
  ``CancelledError``: a function error, a throttle (the function's or the account's
  concurrency) or a platform error (function gone, payload too large) is in the outcome.
  The payload must be at most ``MAX_PAYLOAD`` bytes (6 MB). ``trace_id``: the X-Ray
  header the function sees (``model.lineage.next_header`` of the records' own, so that
  recursive loops are counted); a new one when None.
- ``loops_allowed()``: whether the function's ``RecursiveLoop`` is ``Allow``; when it is
  not, records whose lineage reached ``model.lineage.MAX_TURNS`` are not invoked.
- ``client(service)``: a boto3 client of ``service`` (``"sqs"``, ``"kinesis"``,
  ``"dynamodbstreams"``, ...) in the source ARN's region, for the mapping's account:
  its endpoint is the server's ``AWS_ENDPOINT_URL_<SERVICE>`` (boto3's standard chain),
  its identity lambdad's outbound identity for that account (``lambdad.outbound``).
  Clients block: call them only through ``run_blocking``. Raises
  ``NoSourceIdentity`` when the account may not make outbound calls (report, back off).
- ``await run_blocking(fn, *args)``: runs blocking work on the mappings' own bounded
  thread pool (not the API's); long polls go here.
- ``checkpoints``: durable key/value strings per mapping (key: a shard id, or any name),
  ``await load(key)``, ``await load_all()``, ``await save(key, value)``,
  ``await delete(key)``. A completed ``save`` survives ``kill -9``. Dropped with the
  mapping.
- ``report(result=None, reason=None)``: sets ``LastProcessingResult`` (e.g. ``"OK"``,
  ``"PROBLEM: Function call failed"``) and/or ``StateTransitionReason``; cheap to call
  after every batch (writes only changes).
- ``filter``: the mapping's ``FilterCriteria`` as a ``MappingFilter``
  (``filter.matches(view)``; ``filter.empty`` when there are none). The poller builds
  the view AWS filters on (a record with its ``body``/``data`` decoded as JSON when it is).
- ``await send_on_failure(record, *, shard=None)``: the invocation record (built by the
  poller, in AWS's shape) to ``mapping.on_failure_destination`` (SQS queue, SNS topic or
  S3 bucket, the latter keyed ``aws/lambda/<uuid>/<shard>/YYYY/MM/DD/...``). Raises
  ``DestinationFailed`` when it could not be delivered (retry later; never drop).
- ``settings``: the server's ``Settings`` (time constants a test shortens: ``esm_*``).
- ``clock`` (``now()``, ``monotonic()``); ``backoff(attempt) -> seconds`` (attempt 1, 2,
  ...: doubling from the ``esm_backoff`` setting's minimum to its maximum);
  ``await sleep(seconds)``.
- ``function_role()``: the execution role ARN of the mapping's function ("" when it
  cannot be resolved): a Kinesis record's ``invokeIdentityArn``.
- ``observe_iterator_age(age_ms)``: a stream batch's ``IteratorAge`` (the age of its
  last record when it was processed), as the function's ``AWS/Lambda`` metric.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.model.event_source_mapping import EventSourceMapping

T = TypeVar("T")

MAX_PAYLOAD: Final = 6 * 1024 * 1024


class NoSourceIdentity(Exception):
    """The mapping's account has no outbound identity: its source cannot be reached."""


class DestinationFailed(Exception):
    """An on-failure record could not be delivered; try again later."""


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """What one invocation through a mapping came to.

    ``function_error``: ``"Unhandled"`` (or ``"Handled"``) when the function failed;
    ``throttled``: no concurrency was available (nothing ran: retry later, spend no
    attempt); ``error``: the platform could not run it (function or qualifier gone,
    payload refused), with AWS's message.
    """

    payload: bytes = b""
    function_error: str | None = None
    throttled: bool = False
    error: str | None = None
    request_id: str = ""
    executed_version: str | None = None

    @property
    def ok(self) -> bool:
        return self.function_error is None and not self.throttled and self.error is None


class Checkpoints(Protocol):
    async def load(self, key: str) -> str | None: ...
    async def load_all(self) -> dict[str, str]: ...
    async def save(self, key: str, value: str) -> None: ...
    async def delete(self, key: str) -> None: ...


class Filter(Protocol):
    @property
    def empty(self) -> bool: ...
    def matches(self, view: object) -> bool: ...


class PollerContext(Protocol):
    @property
    def mapping(self) -> EventSourceMapping: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def checkpoints(self) -> Checkpoints: ...
    @property
    def filter(self) -> Filter: ...

    async def invoke(self, payload: bytes, *, trace_id: str | None = None) -> InvokeOutcome: ...
    def loops_allowed(self) -> bool: ...
    def client(self, service: str) -> Any: ...
    def run_blocking(self, fn: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...
    def report(self, result: str | None = None, reason: str | None = None) -> None: ...
    async def send_on_failure(
        self, record: Mapping[str, Any], *, shard: str | None = None
    ) -> None: ...
    def backoff(self, attempt: int) -> float: ...
    async def sleep(self, seconds: float) -> None: ...
    def function_role(self) -> str: ...
    def observe_iterator_age(self, age_ms: float) -> None: ...


class SourcePoller(Protocol):
    async def run(self) -> None:
        """Poll and invoke until cancelled; raise nothing but ``CancelledError``."""
        ...


PollerFactory = Callable[[EventSourceMapping, PollerContext], SourcePoller]
