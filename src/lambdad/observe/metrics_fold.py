"""From raw recorded events to per-minute metric points, usage and running totals.

``fold`` is pure: the events a ``MetricsRecorder`` drained go in; out come the
CloudWatch points of each minute (every Lambda metric under each of its dimension
sets, ``metric_keys.function_dimensions``), the billable usage of each version by
month (requests, billed milliseconds: the REPORT line's rounding), and the running
totals per function that the Prometheus exposition reads. Invocations are grouped
first, so the cost grows with the number of (minute, function, version) groups, not
with the number of events times the number of series.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from lambdad.model.version import RunnableVersion
from lambdad.observe.metric_keys import LAMBDA, LAMBDAD, MetricKey, function_dimensions
from lambdad.observe.metric_stats import Stats
from lambdad.observe.metrics_recorder import Invoked, Pending

# The Prometheus duration histogram's upper bounds, in milliseconds (+Inf implied).
DURATION_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 900000)

PointKey = tuple[MetricKey, int]  # (series, start of its minute in epoch seconds)
FunctionKey = tuple[str, str, str]  # (account, region, function name)


class UsageKey(NamedTuple):
    account: str
    region: str
    function: str
    version: str
    architecture: str
    memory_mb: int
    storage_mb: int
    month: str  # YYYY-MM, UTC


@dataclass(slots=True)
class FunctionTotals:
    """Running totals of one function (Prometheus counters and its histogram)."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    duration_sum_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS_MS) + 1))

    def merge(self, other: FunctionTotals) -> None:
        self.invocations += other.invocations
        self.errors += other.errors
        self.throttles += other.throttles
        self.cold_starts += other.cold_starts
        self.duration_sum_ms += other.duration_sum_ms
        for i, n in enumerate(other.buckets):
            self.buckets[i] += n


@dataclass(slots=True)
class Folded:
    points: dict[PointKey, Stats] = field(default_factory=dict)
    # [requests, billed ms, billed ms on provisioned concurrency, provisioned MB-ms]
    usage: dict[UsageKey, list[int]] = field(default_factory=dict)
    totals: dict[tuple[str, str, str], FunctionTotals] = field(default_factory=dict)
    units: dict[MetricKey, str] = field(default_factory=dict)

    def add(self, key: MetricKey, minute: int, value: float, count: float = 1.0) -> None:
        self.stats(key, minute).add(value, count)

    def stats(self, key: MetricKey, minute: int) -> Stats:
        s = self.points.get((key, minute))
        if s is None:
            s = self.points[(key, minute)] = Stats()
        return s

    def function(self, account: str, region: str, name: str) -> FunctionTotals:
        k = (account, region, name)
        t = self.totals.get(k)
        if t is None:
            t = self.totals[k] = FunctionTotals()
        return t


def billed_ms(duration_ms: float) -> int:
    """Whole milliseconds, rounded up, at least one (the REPORT line's Billed Duration)."""
    return max(1, math.ceil(duration_ms))


def minute_of(t: float) -> int:
    return int(t // 60) * 60


def month_of(t: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(t))


def fold(pending: Pending, out: Folded | None = None) -> Folded:
    out = out if out is not None else Folded()
    _fold_invocations(pending, out)
    for t, scope, name, invoked_as in pending.throttled:
        m = minute_of(t)
        for dims in [(), *function_dimensions(name, invoked_as, "")[:2]]:
            out.add(MetricKey(scope.account, scope.region, LAMBDA, "Throttles", dims), m, 1.0)
        out.function(scope.account, scope.region, name).throttles += 1
    for scope, namespace, metric, dims, unit in pending.units:
        out.units[MetricKey(scope.account, scope.region, namespace, metric, dims)] = unit
    for t, scope, namespace, metric, dims, value in pending.observed:
        out.add(
            MetricKey(scope.account, scope.region, namespace, metric, dims), minute_of(t), value
        )
    return out


def _fold_invocations(pending: Pending, out: Folded) -> None:
    # (minute, account, region, name, invoked_as, version) -> the group's samples
    groups: dict[tuple[int, str, str, str, str | None, str], list[int]] = {}
    samples = pending.invoked
    for i, (t, rv, *_rest) in enumerate(samples):
        k = (minute_of(t), rv.scope.account, rv.scope.region, rv.name, rv.invoked_as, rv.version)
        groups.setdefault(k, []).append(i)
    # (minute, account, region) -> function -> its highest concurrency; [the highest
    # unreserved concurrency, the highest claimed]
    worlds: dict[tuple[int, str, str], tuple[dict[str, int], list[int]]] = {}
    for (m, account, region, name, invoked_as, version), idx in groups.items():
        rows = [samples[i] for i in idx]
        rv = rows[0][1]
        durations = Stats.of(r[2] for r in rows)
        errors = sum(1 for r in rows if r[3])
        inits = [r[4] for r in rows if r[4] is not None]
        n = len(rows)
        key_dims = [(), *function_dimensions(name, invoked_as, version)]
        for dims in key_dims:
            out.add(MetricKey(account, region, LAMBDA, "Invocations", dims), m, 1.0, n)
            # Errors is 1 or 0 per invocation: its Average is the error rate.
            err = out.stats(MetricKey(account, region, LAMBDA, "Errors", dims), m)
            if errors:
                err.add(1.0, errors)
            if n - errors:
                err.add(0.0, n - errors)
            out.stats(MetricKey(account, region, LAMBDA, "Duration", dims), m).merge(durations)
        fn_dims = key_dims[1]
        if inits:
            out.add(MetricKey(account, region, LAMBDAD, "ColdStarts", fn_dims), m, 1.0, len(inits))
            init = out.stats(MetricKey(account, region, LAMBDAD, "InitDuration", fn_dims), m)
            init.merge(Stats.of(inits))
        world = worlds.setdefault((m, account, region), ({}, [0, 0]))
        world[0][name] = max(world[0].get(name, 0), max(r[5] for r in rows))
        world[1][0] = max(world[1][0], max(r[6] for r in rows))
        world[1][1] = max(world[1][1], max(r[7] for r in rows))
        _usage(out, rows, rv, m)
        _totals(out.function(account, region, name), rows, errors, len(inits))
    for (m, account, region), (per_function, (unreserved, claimed)) in worlds.items():
        for name, peak in per_function.items():
            dims = (("FunctionName", name),)
            out.add(MetricKey(account, region, LAMBDA, "ConcurrentExecutions", dims), m, peak)
        total = sum(per_function.values())
        out.add(MetricKey(account, region, LAMBDA, "ConcurrentExecutions", ()), m, total)
        out.add(
            MetricKey(account, region, LAMBDA, "UnreservedConcurrentExecutions", ()), m, unreserved
        )
        out.add(MetricKey(account, region, LAMBDA, "ClaimedAccountConcurrency", ()), m, claimed)


def totals_of(pendings: Iterable[Pending]) -> dict[FunctionKey, FunctionTotals]:
    """The running totals ``fold`` would make of these events, and nothing else (a
    pass over the events: ``/metrics`` reads the events not yet folded with it)."""
    out: dict[FunctionKey, FunctionTotals] = {}
    invoked: dict[FunctionKey, list[Invoked]] = {}
    for pending in pendings:
        for row in pending.invoked:
            rv = row[1]
            k = (rv.scope.account, rv.scope.region, rv.name)
            rows = invoked.get(k)
            if rows is None:
                invoked[k] = [row]
            else:
                rows.append(row)
        for _t, scope, name, _invoked_as in pending.throttled:
            k = (scope.account, scope.region, name)
            t = out.get(k)
            if t is None:
                t = out[k] = FunctionTotals()
            t.throttles += 1
    for k, rows in invoked.items():
        t = out.get(k)
        if t is None:
            t = out[k] = FunctionTotals()
        errors = sum(1 for r in rows if r[3])
        _totals(t, rows, errors, sum(1 for r in rows if r[4] is not None))
    return out


def _usage(out: Folded, rows: list[Invoked], rv: RunnableVersion, minute: int) -> None:
    key = UsageKey(
        rv.scope.account,
        rv.scope.region,
        rv.name,
        rv.version,
        rv.architectures[0] if rv.architectures else "x86_64",
        rv.memory_mb,
        rv.ephemeral_storage_mb,
        month_of(minute),
    )
    acc = out.usage.setdefault(key, [0, 0, 0, 0])
    for _t, _rv, duration, _failed, init, _c, _u, _claimed, provisioned in rows:
        # An init that failed answers with no duration of its own: its init's is billed.
        acc[0] += 1
        acc[2 if provisioned else 1] += billed_ms(duration if duration > 0 else (init or 0.0))


def _totals(t: FunctionTotals, rows: list[Invoked], errors: int, cold: int) -> None:
    t.invocations += len(rows)
    t.errors += errors
    t.cold_starts += cold
    for r in rows:
        d = r[2]
        t.duration_sum_ms += d
        t.buckets[bisect.bisect_left(DURATION_BUCKETS_MS, d)] += 1
