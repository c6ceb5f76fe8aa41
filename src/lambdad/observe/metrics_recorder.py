"""The invoke path's side of metrics: one list append per event, nothing else.

``MetricsRecorder`` is called from the event loop by the invoke paths (sync, async,
event source mappings). It keeps what happened as raw tuples; ``drain`` hands them to
the fold (``metrics_fold``) off the hot path, and swaps in fresh lists so that the
next event never waits on it. No lock: everything that records runs on the event
loop, and a swap of two references is atomic for any thread that drains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.observe.metric_keys import LAMBDA, Dimensions, function_dimensions

# (epoch s, version, duration ms, failed, init ms or None, function concurrency,
#  unreserved concurrency in use in its world, concurrency claimed in its world,
#  ran on provisioned concurrency)
Invoked = tuple[float, RunnableVersion, float, bool, float | None, int, int, int, bool]
# (epoch s, scope, function name, qualifier invoked as)
Throttled = tuple[float, Scope, str, str | None]
# (epoch s, scope, namespace, metric name, dimensions, value)
Observed = tuple[float, Scope, str, str, Dimensions, float]

# Past this many pending events the recorder asks for an early drain: a long list of
# pending tuples makes each of the collector's full passes longer (measured: ~0.15 us a
# call up to ~10,000 pending, ~1 us at 50,000).
HIGH_WATER = 8192


@dataclass(slots=True)
class Pending:
    invoked: list[Invoked] = field(default_factory=list)
    throttled: list[Throttled] = field(default_factory=list)
    observed: list[Observed] = field(default_factory=list)
    # (scope, namespace, metric name, dimensions, unit) a series was given
    units: list[tuple[Scope, str, str, Dimensions, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.invoked) + len(self.throttled) + len(self.observed)


class MetricsRecorder:
    """``enabled=False`` records nothing (the benchmark's baseline, an operator's
    choice); ``on_high_water`` is called when the pending events pass ``HIGH_WATER``."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        now: Callable[[], float] = time.time,
        on_high_water: Callable[[], Any] | None = None,
    ) -> None:
        self.enabled = enabled
        self._now = now
        self._pending = Pending()
        self._on_high_water = on_high_water

    def invoked(
        self,
        rv: RunnableVersion,
        duration_ms: float,
        failed: bool,
        init_ms: float | None,
        concurrency: int = 0,
        unreserved: int = 0,
        claimed: int = 0,
        provisioned: bool = False,
    ) -> None:
        """One invocation ran (an init failure counts, with its init duration)."""
        if self.enabled:
            pending = self._pending.invoked
            pending.append(
                (
                    self._now(),
                    rv,
                    duration_ms,
                    failed,
                    init_ms,
                    concurrency,
                    unreserved,
                    claimed,
                    provisioned,
                )
            )
            if len(pending) == HIGH_WATER and self._on_high_water is not None:
                self._on_high_water()

    def throttled(self, scope: Scope, name: str, invoked_as: str | None) -> None:
        if self.enabled:
            self._pending.throttled.append((self._now(), scope, name, invoked_as))

    def observe(
        self,
        scope: Scope,
        namespace: str,
        name: str,
        dims: Dimensions,
        value: float,
        at: float | None = None,
    ) -> None:
        """Any other value of a series (a custom metric, a count of 1...): ``dims``
        sorted by name (``metric_keys.dimensions``); ``at`` in epoch seconds (now)."""
        if self.enabled:
            t = self._now() if at is None else at
            self._pending.observed.append((t, scope, namespace, name, dims, value))

    def unit(self, scope: Scope, namespace: str, name: str, dims: Dimensions, unit: str) -> None:
        """The unit a series' values are in (the embedded metric format names one)."""
        if self.enabled:
            self._pending.units.append((scope, namespace, name, dims, unit))

    def function_value(
        self,
        scope: Scope,
        metric: str,
        function: str,
        qualifier: str | None = None,
        value: float = 1.0,
    ) -> None:
        """A value of one of a function's ``AWS/Lambda`` series, under ``FunctionName``
        (and ``Resource`` when ``qualifier`` names a version or an alias): the async
        counts, ``AsyncEventAge``, an event source mapping's ``IteratorAge``..."""
        if self.enabled:
            now = self._now()
            observed = self._pending.observed
            for dims in function_dimensions(function, qualifier, "")[:2]:
                observed.append((now, scope, LAMBDA, metric, dims, value))

    def peek(self) -> Pending:
        """What was recorded since the last drain, left in place: to read on the event
        loop, at once (the next event adds to it; a drain swaps it out)."""
        return self._pending

    def drain(self) -> Pending:
        """What was recorded since the last drain; the recorder starts afresh."""
        out, self._pending = self._pending, Pending()
        return out
