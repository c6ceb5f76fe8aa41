from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lambdad.model.scope import Scope
from lambdad.model.version import RunnableVersion
from lambdad.observe.metrics_recorder import MetricsRecorder
from lambdad.observe.metrics_service import MetricsService
from lambdad.observe.prometheus_export import PrometheusExport
from lambdad.store.metrics_sqlite import SqliteMetricStorage

SCOPE = Scope("111122223333", "us-east-1")


@pytest.fixture
def metrics() -> Iterator[MetricsService]:
    storage = SqliteMetricStorage(":memory:")
    storage.open()
    yield MetricsService(storage, MetricsRecorder())
    storage.close()


def samples(body: bytes) -> dict[tuple[str, str, str], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, s.labels["function_name"], s.labels.get("le", ""))] = s.value
    return out


def test_totals_and_histogram_follow_each_scrape(metrics: MetricsService) -> None:
    export = PrometheusExport(metrics)
    assert samples(asyncio.run(export.scrape())) == {}
    a = RunnableVersion(SCOPE, "a", "$LATEST", "r", "00")
    b = RunnableVersion(SCOPE, "b", "$LATEST", "r", "00")
    metrics.recorder.invoked(a, 3.0, False, 50.0)
    metrics.recorder.invoked(b, 30.0, True, None)
    metrics.recorder.throttled(SCOPE, "b", None)
    got = samples(asyncio.run(export.scrape()))
    assert got[("lambdad_invocations_total", "a", "")] == 1
    assert got[("lambdad_cold_starts_total", "a", "")] == 1
    assert got[("lambdad_errors_total", "b", "")] == 1
    assert got[("lambdad_throttles_total", "b", "")] == 1
    assert got[("lambdad_duration_seconds_bucket", "a", "0.005")] == 1
    assert got[("lambdad_duration_seconds_bucket", "b", "0.025")] == 0
    assert got[("lambdad_duration_seconds_bucket", "b", "0.05")] == 1
    assert got[("lambdad_duration_seconds_sum", "b", "")] == pytest.approx(0.03)
    # Only b moves: a's cached lines stay right, b's are written again.
    metrics.recorder.invoked(b, 1.0, False, None)
    got = samples(asyncio.run(export.scrape()))
    assert got[("lambdad_invocations_total", "a", "")] == 1
    assert got[("lambdad_invocations_total", "b", "")] == 2
    assert got[("lambdad_duration_seconds_count", "b", "")] == 2


def test_the_text_is_written_off_the_event_loop(metrics: MetricsService) -> None:
    import threading

    threads: list[str] = []

    async def offload(fn, *args):  # type: ignore[no-untyped-def]
        def run():  # type: ignore[no-untyped-def]
            threads.append(threading.current_thread().name)
            return fn(*args)

        return await asyncio.to_thread(run)

    export = PrometheusExport(metrics, offload)
    metrics.recorder.invoked(RunnableVersion(SCOPE, "a", "$LATEST", "r", "00"), 3.0, False, None)
    got = samples(asyncio.run(export.scrape()))
    assert got[("lambdad_invocations_total", "a", "")] == 1
    assert threads
    assert threads[0] != threading.main_thread().name


def test_each_scrape_is_generate_latest_over_every_function(metrics: MetricsService) -> None:
    from lambdad.observe.prometheus_text import Counts, exposition, families

    def reference() -> bytes:
        metrics.fold_pending()  # what the scrape counted without folding it
        rows = [(k, Counts.of(t)) for k, t in sorted(metrics.totals.items())]
        return exposition(families(rows)).encode()

    export = PrometheusExport(metrics)
    versions = [RunnableVersion(SCOPE, f"f{i}", "$LATEST", "r", "00") for i in range(6)]
    for i, rv in enumerate(versions[:4]):
        metrics.recorder.invoked(rv, 2.0 + 100 * i, i % 2 == 1, 30.0 if i else None)
    assert asyncio.run(export.scrape()) == reference()
    # Some move, some are new, some stay: cached, rewritten and first lines together.
    metrics.recorder.invoked(versions[1], 7.5, False, None)
    metrics.recorder.throttled(SCOPE, "f2", None)
    for rv in versions[4:]:
        metrics.recorder.invoked(rv, 0.25, False, None)
    assert asyncio.run(export.scrape()) == reference()
    assert asyncio.run(export.scrape()) == reference()


def test_a_scrape_counts_events_being_folded_and_still_pending() -> None:
    """Never a count that goes back: what a refresh drained and has not merged yet is
    counted, and so is what was recorded after it."""
    storage = SqliteMetricStorage(":memory:")
    storage.open()
    release: asyncio.Event

    async def slow(fn, *args):  # type: ignore[no-untyped-def]
        await release.wait()
        return fn(*args)

    metrics = MetricsService(storage, MetricsRecorder(), offload=slow)
    export = PrometheusExport(metrics)
    a = RunnableVersion(SCOPE, "a", "$LATEST", "r", "00")

    async def run() -> list[float]:
        nonlocal release
        release = asyncio.Event()
        counts = []
        metrics.recorder.invoked(a, 3.0, False, None)
        counts.append(samples(await export.scrape())[("lambdad_invocations_total", "a", "")])
        refresh = asyncio.create_task(metrics.refresh())
        await asyncio.sleep(0)  # drained, its fold waiting
        assert not len(metrics.recorder.peek())
        metrics.recorder.invoked(a, 4.0, True, None)
        counts.append(samples(await export.scrape())[("lambdad_invocations_total", "a", "")])
        release.set()
        await refresh
        assert metrics.totals[(SCOPE.account, SCOPE.region, "a")].invocations == 1
        counts.append(samples(await export.scrape())[("lambdad_invocations_total", "a", "")])
        return counts

    assert asyncio.run(run()) == [1, 2, 2]
    storage.close()
