"""Synchronous invocation: from an Invoke request to the function's answer.

Resolve the version (another account's function only if its resource policy allows
the caller; an alias routes each request by weight), check the payload, take a
concurrency lease, take an environment (a provisioned one, one from the warm pool,
or a new one: a cold start), hand it the event, and shape the answer the way the
Invoke API returns it. ``api/`` and ``events/`` call ``InvokeService.invoke`` alike;
the asynchronous path calls ``resolve`` and ``run``, so every invocation runs
under a lease.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambdad.config import Settings
from lambdad.control.functions import FunctionService
from lambdad.environments.environment import Invocation, InvocationResult
from lambdad.environments.pool import Checkout, EnvironmentPool
from lambdad.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    RequestTooLargeException,
    TooManyRequestsException,
)
from lambdad.invoke import lease_metrics
from lambdad.invoke.cache import ResolveCache
from lambdad.invoke.leases import FunctionKey, Lease, LeaseKind, Leases
from lambdad.invoke.response_stream import ResponseStream
from lambdad.invoke.routing import Draw, Route, choose_version
from lambdad.invoke.tracing import InvokeTracing
from lambdad.model.arn import LATEST, cached_function_ref, function_arn, merge_qualifier
from lambdad.model.ids import new_uuid4
from lambdad.model.scope import Scope
from lambdad.model.version import ACTIVE, RunnableVersion
from lambdad.observe.metrics_recorder import MetricsRecorder

if TYPE_CHECKING:
    from lambdad.control.aliases import AliasService
    from lambdad.control.policies import PolicyService
    from lambdad.environments.provisioned import ProvisionedManager

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InvokeRequest:
    scope: Scope
    function_name: str
    qualifier: str | None = None
    payload: bytes = b""
    invocation_type: str = "RequestResponse"
    log_type: str = "None"
    client_context: str | None = None
    request_id: str = ""
    # The caller's execution role, when it signed with a role session: matched by the
    # resource policy of another account's function besides the caller's account.
    role_arn: str = ""
    caller_arn: str = ""  # the session's assumed-role ARN, which refusals name
    trace_id: str | None = None  # the caller's X-Amzn-Trace-Id, if it sent one
    # The payload is JSON the platform wrote itself (a front door's event, from
    # json.dumps): only its size is checked, it is not parsed again.
    payload_is_json: bool = False


@dataclass(frozen=True, slots=True)
class InvokeResponse:
    status: int
    payload: bytes
    executed_version: str | None
    function_error: str | None = None
    log_result: str | None = None
    result: InvocationResult | None = None


class InvokeService:
    def __init__(
        self,
        settings: Settings,
        functions: FunctionService,
        pool: EnvironmentPool,
        *,
        leases: Leases | None = None,
        aliases: AliasService | None = None,
        policies: PolicyService | None = None,
        provisioned: ProvisionedManager | None = None,
        draw: Draw = random.random,
        resolved: ResolveCache | None = None,
        metrics: MetricsRecorder | None = None,
        tracing: InvokeTracing | None = None,
    ) -> None:
        self.settings = settings
        self.functions = functions
        self.pool = pool
        self.leases = leases
        self.aliases = aliases
        self.policies = policies
        self.provisioned = provisioned
        self.draw = draw
        # No database round trip on a warm invoke (invoke/cache.py). The platform builds
        # it first, so it forgets a changed version before anything else hears of it.
        self.resolved = resolved if resolved is not None else ResolveCache(functions)
        # Invocations, errors, throttles, durations (observe/metrics_recorder.py).
        self.metrics = metrics if metrics is not None and metrics.enabled else None
        # Trace headers and, under TracingConfig Active, segments (invoke/tracing.py).
        self.tracing = tracing if tracing is not None else InvokeTracing()

    def resolve(
        self,
        caller: Scope,
        function_name: str,
        qualifier: str | None,
        role_arn: str = "",
        caller_arn: str = "",
    ) -> RunnableVersion:
        """The version one invocation runs.

        Another account's function (named by ARN) only if the resource policy of the
        qualifier named allows the caller ``lambda:InvokeFunction``; an alias picks its
        primary or additional version by weight, per invocation.
        """
        ref = _parse_ref(function_name)
        qualifier = merge_qualifier(ref, qualifier)
        if ref.region not in (None, caller.region):
            # Another region is another world: answered as the function service answers.
            return self.functions.resolve(caller, function_name, qualifier)
        owner = caller
        if ref.account not in (None, caller.account):
            owner = Scope(str(ref.account), caller.region)
            if self.policies is None:
                raise self.functions.not_found(owner, ref.name)
            self.policies.authorize(
                caller, owner, ref.name, qualifier, principal_arn=role_arn, caller_arn=caller_arn
            )
        version = qualifier
        if (
            self.aliases is not None
            and qualifier is not None
            and qualifier != LATEST
            and not qualifier.isdigit()
        ):
            doc = self.aliases.get_doc(owner, ref.name, qualifier)
            if doc is not None:
                version = choose_version(Route.from_alias(doc), self.draw)
        return self.resolved.resolve_as(owner, ref.name, version, qualifier)

    def check_payload(
        self,
        payload: bytes,
        limit: int,
        operation: str,
        *,
        error: type[RequestTooLargeException] = RequestTooLargeException,
        is_json: bool = False,
    ) -> bytes:
        """The payload to hand the function (``{}`` for an empty one), refused (with
        ``error``) if it is over ``limit``, or if it is not JSON (unless ``is_json``
        says it is: the platform's own)."""
        if len(payload) > limit:
            raise error(f"Request must be smaller than {limit} bytes for the {operation} operation")
        if is_json and payload:
            return payload
        if not payload.strip():
            return b"{}"
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidRequestContentException(
                "Could not parse request body into json: Could not parse payload into json: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        return payload

    @staticmethod
    def _client_context(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            decoded = base64.b64decode(value, validate=True).decode()
            json.loads(decoded)
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidRequestContentException(
                "Client context must be a valid Base64-encoded JSON object."
            ) from None
        if len(value) > 3583:
            raise InvalidParameterValueException("Client context must be less than 3583 bytes.")
        return decoded

    async def invoke(
        self, req: InvokeRequest, stream: ResponseStream | None = None
    ) -> InvokeResponse:
        """Invoke as ``Invoke`` does (``stream``: where a response the function streams
        goes as it arrives, for ``InvokeWithResponseStream`` and streaming URLs)."""
        rv = self.resolve(req.scope, req.function_name, req.qualifier, req.role_arn, req.caller_arn)
        if req.invocation_type == "DryRun":
            return InvokeResponse(204, b"", rv.version)
        payload = self.check_payload(
            req.payload,
            self.settings.max_sync_payload,
            "InvokeFunction",
            error=RequestEntityTooLargeException,  # AWS's name, not botocore's
            is_json=req.payload_is_json,
        )
        client_context = self._client_context(req.client_context)
        request_id = req.request_id or new_uuid4()
        if stream is not None:
            stream.executed_version = rv.version
        try:
            result = await self.run(
                rv, payload, request_id, client_context, req.trace_id, stream=stream
            )
        finally:
            if stream is not None:
                stream.end()  # whatever happened (a failed init never reached the runtime)
        if stream is not None and stream.streaming and self.metrics is not None:
            # AWS's two metrics of streamed responses: bytes, and bytes per second.
            seconds = max(result.duration_ms, 1.0) / 1000
            for metric, value in (
                ("StreamedOutboundBytes", stream.size),
                ("StreamedOutboundThroughput", stream.size / seconds),
            ):
                self.metrics.function_value(rv.scope, metric, rv.name, rv.invoked_as, value)
        log_result = None
        if req.log_type == "Tail":
            log_result = base64.b64encode(result.log_tail).decode()
        return InvokeResponse(
            200, result.payload, rv.version, result.function_error, log_result, result
        )

    async def run(
        self,
        rv: RunnableVersion,
        payload: bytes,
        request_id: str,
        client_context: str | None = None,
        trace_id: str | None = None,
        *,
        stream: ResponseStream | None = None,
    ) -> InvocationResult:
        """``trace_id``: the X-Ray header the invocation carries (an event source's, with
        its recursion lineage), else a new one."""
        if rv.state != ACTIVE:
            rv.check_invocable()  # a SnapStart version whose snapshot is not ready
        timeout = rv.timeout_s
        # The ARN the caller invoked: with the alias or version it named, if any.
        qualifier = rv.invoked_as
        scope = rv.scope
        started = time.time()
        trace = self.tracing.decide(trace_id, rv.tracing_mode, started, scope)
        inv = Invocation(
            request_id=request_id,
            payload=payload,
            function_arn=_function_arn(scope.region, scope.account, rv.name, qualifier),
            deadline_ms=int((started + timeout) * 1000),
            client_context=client_context,
            trace_id=trace.header.render(),
            stream=stream,
        )
        # The lease first, given back last: what ``async with leases.acquire(...)``
        # around the checkout does, without an async generator per invoke.
        leases = self.leases
        metrics = self.metrics
        lease = None
        concurrency = unreserved = claimed = 0
        if leases is not None:
            key = _function_key(scope.account, scope.region, rv.name)
            try:
                lease = leases.grant(key, qualifier)
            except TooManyRequestsException:
                if metrics is not None:
                    metrics.throttled(scope, rv.name, qualifier)
                if trace.record:
                    self.tracing.throttled(rv, inv, trace, started)
                raise
            if metrics is not None:
                concurrency, unreserved, claimed = lease_metrics.sample(
                    metrics, leases, key, lease, qualifier
                )
        try:
            async with self._checkout(rv, lease) as checkout:
                # The deadline counts from the moment the event is handed over.
                inv.deadline_ms = int((time.time() + timeout) * 1000)
                result = await checkout.env.invoke(inv, cold=checkout.cold)
        except TooManyRequestsException:
            # The pool's throttles (scale-up rate, a version's MaxExecutionEnvironments).
            if metrics is not None:
                metrics.throttled(scope, rv.name, qualifier)
            raise
        finally:
            if leases is not None and lease is not None:
                leases.release(lease)
        if metrics is not None:
            metrics.invoked(
                rv,
                result.duration_ms,
                result.function_error is not None,
                result.init_duration_ms,
                concurrency or 1,
                unreserved,
                claimed,
                lease is not None and lease.kind is LeaseKind.PROVISIONED,
            )
        if trace.record:
            self.tracing.recorded(rv, inv, trace, started, result)
        return result

    def _checkout(
        self, rv: RunnableVersion, lease: Lease | None
    ) -> contextlib.AbstractAsyncContextManager[Checkout]:
        if (
            lease is not None
            and lease.kind is LeaseKind.PROVISIONED
            and self.provisioned is not None
        ):
            return self.provisioned.checkout(rv)
        return self.pool.checkout(rv)


# Per invoke, for the few functions a server runs: parsed names, ARNs and lease keys.
_parse_ref = cached_function_ref
_function_arn = functools.lru_cache(maxsize=4096)(function_arn)
_function_key = functools.lru_cache(maxsize=4096)(FunctionKey)
