"""``MappingContext``: what the supervisor gives one poller (``contract.PollerContext``).

It invokes through ``InvokeService`` as the API does (resolve, then run under a lease),
reaches sources with the account's outbound identity, runs blocking calls on the
mappings' own bounded thread pool, and records results in the mapping's document.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid as uuidlib
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, Final, TypeVar

from botocore.config import Config

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control.event_source_mappings import EventSourceMappingService
from lambdad.errors import AwsError, TooManyRequestsException
from lambdad.events.mappings import destinations
from lambdad.events.mappings.checkpoints import StoredCheckpoints
from lambdad.events.mappings.contract import (
    MAX_PAYLOAD,
    DestinationFailed,
    InvokeOutcome,
    NoSourceIdentity,
)
from lambdad.events.mappings.filtering import MappingFilter
from lambdad.invoke.sync import InvokeService
from lambdad.model.event_source_mapping import EventSourceMapping
from lambdad.model.scope import Scope
from lambdad.observe.metric_keys import LAMBDA, dimensions
from lambdad.observe.metrics_recorder import MetricsRecorder
from lambdad.outbound import NoOutboundIdentity, OutboundIdentities
from lambdad.store.base import MetadataStore

log = logging.getLogger(__name__)
T = TypeVar("T")
ALLOW: Final = "Allow"  # RecursiveLoop

# Long polls hold a connection up to 20 s: read timeout above it, a pool for the
# concurrent batches of a mapping, and few retries (the poller backs off itself).
CLIENT_CONFIG: Final = Config(
    read_timeout=40,
    connect_timeout=5,
    max_pool_connections=64,
    retries={"max_attempts": 2, "mode": "standard"},
)


def compute_backoff(attempt: int, low: float, high: float, jitter: float = 0.1) -> float:
    """Seconds before attempt ``attempt`` (1, 2, ...): doubling from ``low`` to ``high``."""
    base = min(high, low * (2 ** max(0, attempt - 1)))
    return float(base * (1 + jitter * random.random()))


class MappingContext:
    def __init__(
        self,
        mapping: EventSourceMapping,
        *,
        invoker: InvokeService,
        mappings: EventSourceMappingService,
        outbound: OutboundIdentities,
        store: MetadataStore,
        executor: Executor,
        clock: Clock,
        settings: Settings,
        metrics: MetricsRecorder | None = None,
        recursive_loop: Callable[[Scope, str], str] | None = None,
    ) -> None:
        self.mapping = mapping
        self._metrics = metrics
        self.clock = clock
        self.settings = settings
        self.filter = MappingFilter(mapping.filters)
        self.checkpoints = StoredCheckpoints(store, mapping.scope, mapping.uuid, self.run_blocking)
        self._invoker = invoker
        self._mappings = mappings
        self._outbound = outbound
        self._executor = executor
        self._backoff = (settings.esm_backoff[0], settings.esm_backoff[-1])
        self._recursive_loop = recursive_loop
        self._reported: tuple[str | None, str | None] = (None, None)
        self._region = mapping.event_source_arn.split(":")[3] or mapping.scope.region

    async def invoke(self, payload: bytes, *, trace_id: str | None = None) -> InvokeOutcome:
        request_id = str(uuidlib.uuid4())
        if len(payload) > MAX_PAYLOAD:
            return InvokeOutcome(
                error=f"RequestEntityTooLargeException: {len(payload)} bytes",
                request_id=request_id,
            )
        try:
            rv = self._invoker.resolve(self.mapping.scope, self.mapping.function_arn, None)
            result = await self._invoker.run(rv, payload, request_id, trace_id=trace_id)
        except TooManyRequestsException:
            return InvokeOutcome(throttled=True, request_id=request_id)
        except AwsError as exc:
            return InvokeOutcome(error=f"{exc.code}: {exc.message}", request_id=request_id)
        except Exception as exc:
            log.exception(
                "mapping %s: invoking %s failed", self.mapping.uuid, self.mapping.function_arn
            )
            return InvokeOutcome(error=f"{type(exc).__name__}: {exc}", request_id=request_id)
        return InvokeOutcome(
            payload=result.payload,
            function_error=result.function_error,
            request_id=request_id,
            executed_version=rv.version,
        )

    def loops_allowed(self) -> bool:
        if self._recursive_loop is None:
            return False
        name = self.mapping.function_arn.split(":")[6]
        try:
            return bool(self._recursive_loop(self.mapping.scope, name) == ALLOW)
        except AwsError:  # the function is gone: nothing runs anyway
            return False

    def client(self, service: str) -> Any:
        try:
            return self._outbound.client(
                self.mapping.scope.account, service, self._region, CLIENT_CONFIG
            )
        except NoOutboundIdentity as exc:
            raise NoSourceIdentity(str(exc)) from None

    async def run_blocking(self, fn: Any, /, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def report(self, result: str | None = None, reason: str | None = None) -> None:
        wanted = (
            result if result is not None else self._reported[0],
            reason if reason is not None else self._reported[1],
        )
        if wanted == self._reported:
            return
        self._reported = wanted
        try:
            self._mappings.report(self.mapping.scope, self.mapping.uuid, result, reason)
        except Exception:  # a full disk must not stop the poller
            log.exception("mapping %s: recording its processing result failed", self.mapping.uuid)

    async def send_on_failure(self, record: Mapping[str, Any], *, shard: str | None = None) -> None:
        target = self.mapping.on_failure_destination
        if not target:
            return
        account = self.mapping.scope.account

        def client(service: str, region: str | None) -> Any:
            try:
                return self._outbound.client(account, service, region or None, CLIENT_CONFIG)
            except NoOutboundIdentity as exc:
                raise DestinationFailed(str(exc)) from None

        await self.run_blocking(
            functools.partial(
                destinations.send,
                client,
                target,
                record,
                mapping_uuid=self.mapping.uuid,
                shard=shard,
                at=self.clock.now(),
            )
        )

    def backoff(self, attempt: int) -> float:
        return compute_backoff(attempt, *self._backoff)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def function_role(self) -> str:
        try:
            rv = self._invoker.resolve(self.mapping.scope, self.mapping.function_arn, None)
        except AwsError:
            return ""
        return rv.role

    def observe_iterator_age(self, age_ms: float) -> None:
        if self._metrics is not None:
            name = self.mapping.function_arn.split(":")[6]
            dims = dimensions([("FunctionName", name)])
            self._metrics.observe(self.mapping.scope, LAMBDA, "IteratorAge", dims, age_ms)
