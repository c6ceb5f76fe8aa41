from __future__ import annotations

from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.observe.metric_keys import LAMBDA, LAMBDAD, MetricKey, function_dimensions
from lambdad.observe.metrics_fold import fold, totals_of
from lambdad.observe.metrics_recorder import MetricsRecorder

SCOPE = Scope("111122223333", "us-east-1")
T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)


def version(invoked_as: str | None = None, ver: str = "$LATEST", **kw: object) -> RunnableVersion:
    return RunnableVersion(SCOPE, "fn", ver, "r", "00", invoked_as=invoked_as, **kw)  # type: ignore[arg-type]


def key(name: str, dims: tuple[tuple[str, str], ...] = (), ns: str = LAMBDA) -> MetricKey:
    return MetricKey(SCOPE.account, SCOPE.region, ns, name, dims)


def recorder(times: list[float]) -> MetricsRecorder:
    it = iter(times)
    return MetricsRecorder(now=lambda: next(it))


FN = (("FunctionName", "fn"),)


def test_invocations_errors_and_durations_per_minute() -> None:
    rec = recorder([T0 + 1, T0 + 2, T0 + 3, T0 + 61])
    rv = version()
    rec.invoked(rv, 10.0, False, 100.0, 1, 1)
    rec.invoked(rv, 20.0, True, None, 2, 2)
    rec.invoked(rv, 30.0, False, None, 1, 1)
    rec.invoked(rv, 5.0, False, None, 1, 1)
    out = fold(rec.drain())
    inv = out.points[(key("Invocations", FN), int(T0))]
    assert inv.sum == 3
    assert inv.count == 3
    assert out.points[(key("Invocations", FN), int(T0) + 60)].sum == 1
    assert out.points[(key("Invocations"), int(T0))].sum == 3  # account-wide
    errors = out.points[(key("Errors", FN), int(T0))]
    assert (errors.sum, errors.count) == (1, 3)
    duration = out.points[(key("Duration", FN), int(T0))]
    assert (duration.min, duration.max, duration.sum) == (10.0, 30.0, 60.0)
    assert out.points[(key("ColdStarts", FN, LAMBDAD), int(T0))].sum == 1
    assert out.points[(key("InitDuration", FN, LAMBDAD), int(T0))].max == 100.0
    assert out.points[(key("ConcurrentExecutions", FN), int(T0))].max == 2
    assert out.points[(key("UnreservedConcurrentExecutions"), int(T0))].max == 2


def test_alias_invocations_count_under_resource_and_executed_version() -> None:
    rec = recorder([T0, T0])
    rec.invoked(version("live", "3"), 1.0, False, None)
    rec.invoked(version("3", "3"), 1.0, False, None)
    out = fold(rec.drain())
    live = (("FunctionName", "fn"), ("Resource", "fn:live"))
    executed = (("ExecutedVersion", "3"), *live)
    assert out.points[(key("Invocations", live), int(T0))].sum == 1
    assert out.points[(key("Invocations", executed), int(T0))].sum == 1
    v3 = (("FunctionName", "fn"), ("Resource", "fn:3"))
    assert out.points[(key("Invocations", v3), int(T0))].sum == 1
    assert out.points[(key("Invocations", FN), int(T0))].sum == 2
    assert function_dimensions("fn", "$LATEST", "$LATEST") == [FN]


def test_throttles_and_observed_values() -> None:
    rec = recorder([T0, T0])
    rec.throttled(SCOPE, "fn", None)
    rec.observe(SCOPE, LAMBDA, "AsyncEventAge", FN, 250.0)
    out = fold(rec.drain())
    assert out.points[(key("Throttles", FN), int(T0))].sum == 1
    assert out.points[(key("Throttles"), int(T0))].sum == 1
    assert out.points[(key("AsyncEventAge", FN), int(T0))].max == 250.0
    assert out.totals[(SCOPE.account, SCOPE.region, "fn")].throttles == 1


def test_usage_bills_whole_milliseconds_by_month_and_the_failed_init() -> None:
    rec = recorder([T0, T0, T0])
    rv = version(memory_mb=512, architectures=("arm64",), ephemeral_storage_mb=1024)
    rec.invoked(rv, 1.2, False, None)
    rec.invoked(rv, 0.3, False, None)
    rec.invoked(rv, 0.0, True, 7.5)  # an init failure: its init is billed
    out = fold(rec.drain())
    ((k, (requests, billed, on_provisioned, allocated)),) = out.usage.items()
    assert (k.architecture, k.memory_mb, k.storage_mb, k.month) == ("arm64", 512, 1024, "2027-01")
    assert (requests, billed) == (3, 2 + 1 + 8)
    assert (on_provisioned, allocated) == (0, 0)


def test_usage_on_provisioned_concurrency_is_billed_apart() -> None:
    rec = recorder([T0, T0])
    rec.invoked(version(), 2.5, False, None, provisioned=True)
    rec.invoked(version(), 1.5, False, None)
    ((_, acc),) = fold(rec.drain()).usage.items()
    assert acc == [2, 2, 3, 0]


def test_prometheus_totals_and_buckets() -> None:
    rec = recorder([T0, T0])
    rec.invoked(version(), 4.0, False, 1.0)
    rec.invoked(version(), 7000.0, True, None)
    t = fold(rec.drain()).totals[(SCOPE.account, SCOPE.region, "fn")]
    assert (t.invocations, t.errors, t.cold_starts) == (2, 1, 1)
    assert t.buckets[0] == 1
    assert sum(t.buckets) == 2
    assert t.duration_sum_ms == 7004.0


def test_totals_of_pending_events_are_the_folds_totals() -> None:
    rec = recorder([T0 + i * 30 for i in range(7)])
    other = RunnableVersion(Scope("444455556666", "eu-west-1"), "fn", "3", "r", "00")
    rec.invoked(version(), 4.0, False, 1.0)
    rec.invoked(version("live", "2"), 70.0, True, None)  # an alias, the next minute
    rec.invoked(other, 0.5, False, 2.0)
    rec.throttled(SCOPE, "fn", None)
    rec.throttled(SCOPE, "never-ran", "live")
    first = rec.drain()
    rec.invoked(version(), 20_000.0, False, None)
    rec.invoked(other, 1e6, True, None)
    second = rec.peek()
    both = fold(first)
    fold(second, both)
    assert totals_of([first, second]) == both.totals
    assert totals_of([]) == {}


def test_disabled_recorder_records_nothing_and_drain_starts_afresh() -> None:
    off = MetricsRecorder(enabled=False)
    off.invoked(version(), 1.0, False, None)
    assert len(off.drain()) == 0
    on = recorder([T0])
    on.invoked(version(), 1.0, False, None)
    assert len(on.drain()) == 1
    assert len(on.drain()) == 0
