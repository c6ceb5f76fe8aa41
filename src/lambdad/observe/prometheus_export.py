"""The Prometheus text exposition of every function's running totals.

Counters of invocations, errors, throttles and cold starts, and a duration histogram,
per (account, region, function), read from ``MetricsService.totals``. Every sample
line is written by ``prometheus_client`` (``generate_latest``), once per function
and per change: a function whose totals did not move since the last scrape answers
with the lines it had then, so a scrape of a thousand mostly idle functions costs a
join, not a thousand formattings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric

from lambdad.observe.metrics_fold import DURATION_BUCKETS_MS, FunctionTotals
from lambdad.observe.metrics_service import MetricsService, Offload

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LABELS = ("account", "region", "function_name")
_BOUNDS = [f"{ms / 1000:g}" for ms in DURATION_BUCKETS_MS] + ["+Inf"]
_COUNTERS = {
    "invocations": ("lambdad_invocations", "Invocations of the function."),
    "errors": ("lambdad_errors", "Invocations that ended in a function error."),
    "throttles": ("lambdad_throttles", "Invocation requests throttled."),
    "cold_starts": ("lambdad_cold_starts", "Invocations that started an environment."),
}
Labels = tuple[str, str, str]


def _families(rows: list[tuple[Labels, FunctionTotals]]) -> list[Metric]:
    out: list[Metric] = []
    for attr, (name, doc) in _COUNTERS.items():
        family = CounterMetricFamily(name, doc, labels=LABELS)
        for labels, t in rows:
            family.add_metric(list(labels), getattr(t, attr))
        out.append(family)
    hist = HistogramMetricFamily(
        "lambdad_duration_seconds", "Invocation duration (the REPORT line's).", labels=LABELS
    )
    for labels, t in rows:
        running, buckets = 0, []
        for bound, n in zip(_BOUNDS, t.buckets, strict=True):
            running += n
            buckets.append((bound, running))
        hist.add_metric(list(labels), buckets, t.duration_sum_ms / 1000)
    out.append(hist)
    return out


class _Once:
    """What ``generate_latest`` reads: a fixed list of families."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _blocks(text: str) -> list[tuple[str, str]]:
    """(header lines, sample lines) of each family in an exposition, in order."""
    heads: list[list[str]] = []
    samples: list[list[str]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# HELP"):
            heads.append([line])
            samples.append([])
        elif line.startswith("#"):
            heads[-1].append(line)
        else:
            samples[-1].append(line)
    return [("".join(h), "".join(s)) for h, s in zip(heads, samples, strict=True)]


def _render(rows: list[tuple[Labels, FunctionTotals]]) -> list[tuple[str, str]]:
    return _blocks(generate_latest(_Once(_families(rows))).decode())


class PrometheusExport:
    """``scrape`` takes a snapshot of what changed on the event loop and writes the
    text on a worker thread (``offload``), so that a first scrape of a thousand
    functions never holds the loop; scrapes are serialised (the cache is the writer's)."""

    def __init__(self, metrics: MetricsService, offload: Offload | None = None) -> None:
        self.metrics = metrics
        self._offload = offload
        self._headers = [h for h, _ in _render([])]
        # labels -> (the totals' signature when rendered, its lines per family)
        self._cache: dict[Labels, tuple[tuple[int, int], list[str]]] = {}
        self._scraping = asyncio.Lock()

    async def scrape(self) -> bytes:
        async with self._scraping:
            await self.metrics.refresh()
            snapshot = self._snapshot()
            if self._offload is None:
                return self._write(snapshot)
            body: bytes = await self._offload(self._write, snapshot)
            return body

    def render(self) -> bytes:
        """``scrape`` without the refresh, here and now."""
        return self._write(self._snapshot())

    def _snapshot(self) -> list[tuple[Labels, tuple[int, int], FunctionTotals | None]]:
        """Every function, in order, with a copy of its totals if they moved since they
        were last written (every change moves the invocations or the throttles)."""
        out: list[tuple[Labels, tuple[int, int], FunctionTotals | None]] = []
        for labels, t in sorted(self.metrics.totals.items()):
            signature = (t.invocations, t.throttles)
            known = self._cache.get(labels)
            changed = known is None or known[0] != signature
            out.append((labels, signature, _copy(t) if changed else None))
        return out

    def _write(
        self, snapshot: list[tuple[Labels, tuple[int, int], FunctionTotals | None]]
    ) -> bytes:
        parts: list[list[str]] = [[] for _ in self._headers]
        for labels, signature, totals in snapshot:
            if totals is not None:
                lines = [s for _, s in _render([(labels, totals)])]
                self._cache[labels] = (signature, lines)
            for i, text in enumerate(self._cache[labels][1]):
                parts[i].append(text)
        return "".join(h + "".join(p) for h, p in zip(self._headers, parts, strict=True)).encode()


def _copy(t: FunctionTotals) -> FunctionTotals:
    out = FunctionTotals()
    out.merge(t)
    return out
