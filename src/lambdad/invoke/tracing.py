"""The invoke path's side of tracing: the header each invocation carries, and the
segments of the ones lambdad records.

``decide`` runs on every invocation (observe/tracing_ids.py: the caller's trace kept,
the sampling decision of ``TracingConfig``); ``recorded`` and ``throttled`` run only for
an ``Active`` function's sampled invocations, and hand their segments to the trace store
(whose exporter sends them on off the invoke path).
"""

from __future__ import annotations

import time

from lambdad.environments.environment import Invocation, InvocationResult
from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.observe import tracing_ids
from lambdad.observe.tracing_ids import Decision, Sampler
from lambdad.observe.tracing_segments import InvocationTiming, invocation_segments
from lambdad.observe.tracing_store import TraceStore


class InvokeTracing:
    def __init__(self, store: TraceStore | None = None, sampler: Sampler | None = None) -> None:
        self.store = store
        self.sampler = sampler if sampler is not None else Sampler()

    def decide(self, incoming: str | None, mode: str, now: float, scope: Scope) -> Decision:
        decision = tracing_ids.decide(incoming, mode, self.sampler, now)
        if decision.header.sampled and self.store is not None:
            # What the function's X-Ray SDK sends for this trace is kept for its account.
            self.store.claim(decision.header.root, scope)
        return decision

    def recorded(
        self,
        rv: RunnableVersion,
        inv: Invocation,
        trace: Decision,
        started: float,
        result: InvocationResult,
    ) -> None:
        if self.store is None:
            return
        timing = InvocationTiming(
            request_id=inv.request_id,
            function_name=rv.name,
            function_arn=inv.function_arn,
            account=rv.scope.account,
            started=started,
            ended=time.time(),
            duration_ms=result.duration_ms,
            init_duration_ms=result.init_duration_ms,
            function_error=result.function_error,
            error_type=result.error_type,
        )
        self.store.put(rv.scope, invocation_segments(timing, trace))

    def throttled(
        self, rv: RunnableVersion, inv: Invocation, trace: Decision, started: float
    ) -> None:
        if self.store is None:
            return
        timing = InvocationTiming(
            request_id=inv.request_id,
            function_name=rv.name,
            function_arn=inv.function_arn,
            account=rv.scope.account,
            started=started,
            ended=time.time(),
            throttled=True,
        )
        self.store.put(rv.scope, invocation_segments(timing, trace))
