"""The Prometheus text exposition of every function's running totals.

A ``prometheus_client`` collector reads ``MetricsService.totals`` at scrape time (after
folding what the recorder holds), so nothing is kept twice: counters of invocations,
errors, throttles and cold starts, and a duration histogram, per (account, region,
function). The families are built fresh per scrape; the registry holds only the
collector.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from lambdad.observe.metrics_fold import DURATION_BUCKETS_MS
from lambdad.observe.metrics_service import MetricsService

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LABELS = ("account", "region", "function_name")
_BOUNDS = [f"{ms / 1000:g}" for ms in DURATION_BUCKETS_MS] + ["+Inf"]


class _Totals(Collector):
    def __init__(self, metrics: MetricsService) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        self.metrics.fold_pending()
        totals = sorted(self.metrics.totals.items())
        counters = {
            "invocations": ("lambdad_invocations", "Invocations of the function."),
            "errors": ("lambdad_errors", "Invocations that ended in a function error."),
            "throttles": ("lambdad_throttles", "Invocation requests throttled."),
            "cold_starts": ("lambdad_cold_starts", "Invocations that started an environment."),
        }
        for attr, (name, doc) in counters.items():
            family = CounterMetricFamily(name, doc, labels=LABELS)
            for labels, t in totals:
                family.add_metric(list(labels), getattr(t, attr))
            yield family
        hist = HistogramMetricFamily(
            "lambdad_duration_seconds", "Invocation duration (the REPORT line's).", labels=LABELS
        )
        for labels, t in totals:
            running, buckets = 0, []
            for bound, n in zip(_BOUNDS, t.buckets, strict=True):
                running += n
                buckets.append((bound, running))
            hist.add_metric(list(labels), buckets, t.duration_sum_ms / 1000)
        yield hist


class PrometheusExport:
    def __init__(self, metrics: MetricsService) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Totals(metrics))

    def scrape(self) -> bytes:
        return generate_latest(self.registry)
