from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.observe.metric_keys import LAMBDA, MetricKey
from lambdad.observe.metric_stats import Stats
from lambdad.observe.metrics_recorder import MetricsRecorder
from lambdad.observe.metrics_retention import DAY, Retention, aligned
from lambdad.observe.metrics_service import MetricsService
from lambdad.store.metrics_sqlite import SqliteMetricStorage

SCOPE = Scope("111122223333", "us-east-1")
T0 = 1_800_000_000.0
FN = (("FunctionName", "fn"),)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def storage() -> Iterator[SqliteMetricStorage]:
    s = SqliteMetricStorage(":memory:")
    s.open()
    yield s
    s.close()


def service(storage: SqliteMetricStorage, clock: Clock) -> MetricsService:
    return MetricsService(storage, MetricsRecorder(now=clock), now=clock, compact_every=0)


def key(name: str) -> MetricKey:
    return MetricKey(SCOPE.account, SCOPE.region, LAMBDA, name, FN)


def test_reads_see_unflushed_invocations_and_merge_periods(storage: SqliteMetricStorage) -> None:
    clock = Clock()
    svc = service(storage, clock)
    rv = RunnableVersion(SCOPE, "fn", "$LATEST", "r", "00")
    svc.recorder.invoked(rv, 10.0, False, None)
    clock.t += 60
    svc.recorder.invoked(rv, 30.0, True, None)
    svc.recorder.invoked(rv, 20.0, False, None)

    got = asyncio.run(svc.datapoints([key("Invocations"), key("Duration")], T0, T0 + 300, 300))
    (inv,) = got[key("Invocations")].values()
    assert inv.sum == 3
    (dur,) = got[key("Duration")].values()
    assert (dur.min, dur.max, dur.count) == (10.0, 30.0, 3)
    per_minute = asyncio.run(svc.datapoints([key("Invocations")], T0, T0 + 120, 60))
    assert sorted((ts, s.sum) for ts, s in per_minute[key("Invocations")].items()) == [
        (int(T0), 1),
        (int(T0) + 60, 2),
    ]
    assert key("Errors") in asyncio.run(svc.series(SCOPE))
    assert asyncio.run(svc.series(Scope("999999999999", "us-east-1"))) == []


def test_flushes_merge_into_what_is_stored(storage: SqliteMetricStorage) -> None:
    clock = Clock()
    first = service(storage, clock)
    first.put(key("Custom"), T0, Stats.of([1.0, 2.0]))
    asyncio.run(first.flush())
    second = service(storage, clock)  # a restart: same store, nothing in memory
    second.put(key("Custom"), T0 + 5, Stats.of([3.0]))
    got = asyncio.run(second.datapoints([key("Custom")], T0, T0 + 60, 60))[key("Custom")]
    assert (got[int(T0)].count, got[int(T0)].sum) == (3, 6.0)


def test_old_minutes_become_five_minute_points_then_hours(storage: SqliteMetricStorage) -> None:
    clock = Clock()
    svc = service(storage, clock)
    for i in range(10):
        svc.put(key("Custom"), T0 + 60 * i, Stats.of([float(i)]))
    asyncio.run(svc.flush())
    clock.t = T0 + 16 * DAY
    asyncio.run(svc.flush())
    periods = {p for _, p, _, _ in storage.points([tuple(key("Custom"))], 0, 2**40)}  # type: ignore[list-item]
    assert periods == {300}
    got = asyncio.run(svc.datapoints([key("Custom")], T0, T0 + 600, 600))[key("Custom")]
    (s,) = got.values()
    assert (s.count, s.sum, s.max) == (10, 45.0, 9.0)
    clock.t = T0 + 64 * DAY
    asyncio.run(svc.flush())
    periods = {p for _, p, _, _ in storage.points([tuple(key("Custom"))], 0, 2**40)}  # type: ignore[list-item]
    assert periods == {3600}
    clock.t = T0 + 456 * DAY
    asyncio.run(svc.flush())
    assert storage.points([tuple(key("Custom"))], 0, 2**40) == []  # type: ignore[list-item]


def test_retention_tiers_and_alignment() -> None:
    tiers = Retention(minute_days=1).tiers()
    assert [(t.period, t.keep, t.coarser) for t in tiers] == [
        (60, DAY, 300),
        (300, 63 * DAY, 3600),
        (3600, 455 * DAY, None),
    ]
    assert aligned(125, 170, 60) == (120, 180)
    assert aligned(120, 120, 60) == (120, 180)


def test_high_water_folds_early_and_reads_wait_for_it(
    storage: SqliteMetricStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdad.observe import metrics_recorder

    monkeypatch.setattr(metrics_recorder, "HIGH_WATER", 3)
    clock = Clock()
    svc: MetricsService
    rec = MetricsRecorder(now=clock, on_high_water=lambda: svc.refresh_soon())
    svc = MetricsService(storage, rec, now=clock)
    rv = RunnableVersion(SCOPE, "fn", "$LATEST", "r", "00")

    async def scenario() -> float:
        for _ in range(4):
            rec.invoked(rv, 1.0, False, None)
        assert len(svc._refreshing) == 1  # started at the third, not waited for
        got = await svc.datapoints([key("Invocations")], T0, T0 + 60, 60)
        return got[key("Invocations")][int(T0)].sum

    assert asyncio.run(scenario()) == 4


def test_provisioned_allocation_accrues_per_version_and_month(storage: SqliteMetricStorage) -> None:
    clock = Clock()
    svc = service(storage, clock)
    svc.provisioned_allocated([(SCOPE, "fn", "3", "x86_64", 512, 512, 2)], 30.0)
    svc.provisioned_allocated([(SCOPE, "fn", "3", "x86_64", 512, 512, 2)], 30.0)
    (row,) = asyncio.run(svc.usage(SCOPE, "2027-01"))
    assert row == ("fn", "3", "x86_64", 512, 512, 0, 0, 0, 2 * 512 * 60_000)
