"""The Prometheus text of functions' running totals, written by ``prometheus_client``.

Per (account, region, function): counters of invocations, errors, throttles and cold
starts, and a duration histogram. ``families`` builds them as ``prometheus_client``
metric families (what ``generate_latest`` writes the whole exposition from).

A scrape of a thousand functions has some 22,000 samples, and ``generate_latest``
spends microseconds on each (sorting and escaping its labels, naming it, formatting
its value). So the exposition is written in two parts, both by ``prometheus_client``:

- ``Prefixes``: once per function, its lines but for their values (names and labels,
  as bytes with a ``%b`` for each value). ``generate_latest`` writes one template
  sample per function with the function's labels and ``le``; the bucket, counter,
  count and sum lines are cut from it.
- ``Lines.blocks``: per change, each line's value, ``floatToGoString`` of it
  (memoised within a scrape: most counts repeat), put in with one ``%`` per family.

``HEADERS`` are ``generate_latest``'s ``# HELP``/``# TYPE`` lines of each family.
``tests/unit/observe/test_prometheus_text.py`` holds the two to ``generate_latest``
over ``families``, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate
from typing import NamedTuple

from prometheus_client import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from lambdad.observe.metrics_fold import DURATION_BUCKETS_MS, FunctionTotals

LABELS = ("account", "region", "function_name")
Labels = tuple[str, str, str]
BOUNDS = [f"{ms / 1000:g}" for ms in DURATION_BUCKETS_MS] + ["+Inf"]
COUNTERS = {
    "invocations": ("lambdad_invocations", "Invocations of the function."),
    "errors": ("lambdad_errors", "Invocations that ended in a function error."),
    "throttles": ("lambdad_throttles", "Invocation requests throttled."),
    "cold_starts": ("lambdad_cold_starts", "Invocations that started an environment."),
}
HISTOGRAM = ("lambdad_duration_seconds", "Invocation duration (the REPORT line's).")


class Counts(NamedTuple):
    """A copy of one function's ``FunctionTotals``, in ``COUNTERS`` order."""

    invocations: int
    errors: int
    throttles: int
    cold_starts: int
    duration_sum_ms: float
    buckets: tuple[int, ...]

    @classmethod
    def of(cls, t: FunctionTotals) -> Counts:
        return cls(
            t.invocations, t.errors, t.throttles, t.cold_starts, t.duration_sum_ms, tuple(t.buckets)
        )


def families(rows: list[tuple[Labels, Counts]]) -> list[Metric]:
    """The exposition's metric families, one sample per function (or set of them)."""
    out: list[Metric] = []
    for attr, (name, doc) in COUNTERS.items():
        family = CounterMetricFamily(name, doc, labels=LABELS)
        for labels, c in rows:
            family.add_metric(list(labels), getattr(c, attr))
        out.append(family)
    hist = HistogramMetricFamily(*HISTOGRAM, labels=LABELS)
    for labels, c in rows:
        running, buckets = 0, []
        for bound, n in zip(BOUNDS, c.buckets, strict=True):
            running += n
            buckets.append((bound, running))
        hist.add_metric(list(labels), buckets, c.duration_sum_ms / 1000)
    out.append(hist)
    return out


class _Collect:
    """What ``generate_latest`` reads: a fixed list of families."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


def exposition(metrics: list[Metric]) -> str:
    return generate_latest(_Collect(metrics)).decode()


def _headers() -> list[bytes]:
    lines = exposition(families([])).encode().splitlines(keepends=True)
    return [b"".join(lines[i : i + 2]) for i in range(0, 10, 2)]


HEADERS = _headers()
_LE = "0"  # the template's le: a bound no bucket has


class Prefixes(NamedTuple):
    """One function's sample lines but for their values (``%b``), in exposition order."""

    counters: tuple[bytes, ...]  # each counter's line, COUNTERS order
    histogram: bytes  # the histogram's lines: every bucket's, _count's, _sum's

    @classmethod
    def of_all(cls, labels: list[Labels]) -> list[Prefixes]:
        """Each function's, from one ``generate_latest`` of a template sample apiece."""
        template = Metric("t", "", "unknown")
        template.samples = [
            Sample("t", {**dict(zip(LABELS, k, strict=True)), "le": _LE}, 0) for k in labels
        ]
        lines = exposition([template]).splitlines()[2:]
        return [cls._cut(line[1 : line.rindex(" ")]) for line in lines]

    @classmethod
    def _cut(cls, with_le: str) -> Prefixes:
        # Labels go in name order: account, function_name, le, region.
        head, _, tail = with_le.replace("%", "%%").partition(f'le="{_LE}"')
        plain = head[:-1] + tail
        counters = tuple(f"{name}_total{plain} %b\n".encode() for name, _ in COUNTERS.values())
        bucket = f'{HISTOGRAM[0]}_bucket{head}le="'
        buckets = f'"{tail} %b\n{bucket}'.join(BOUNDS)
        histogram = (
            f'{bucket}{buckets}"{tail} %b\n'
            f"{HISTOGRAM[0]}_count{plain} %b\n{HISTOGRAM[0]}_sum{plain} %b\n"
        )
        return cls(counters, histogram.encode())


def go_string(value: float) -> str:
    """A sample's value as ``generate_latest`` writes it."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


class _Memo(dict[int, bytes]):
    def __missing__(self, n: int) -> bytes:
        text = self[n] = go_string(n).encode()
        return text


class Lines:
    """Sample lines written within one scrape (sharing its memo of integer values)."""

    def __init__(self) -> None:
        self._ints = _Memo()

    def blocks(self, p: Prefixes, c: Counts) -> list[bytes]:
        """The function's lines in each family (``HEADERS`` order)."""
        ints = self._ints
        invocations, errors, throttles, cold = p.counters
        running = list(map(ints.__getitem__, accumulate(c.buckets)))
        running += (running[-1], go_string(c.duration_sum_ms / 1000).encode())
        return [
            invocations % ints[c.invocations],
            errors % ints[c.errors],
            throttles % ints[c.throttles],
            cold % ints[c.cold_starts],
            p.histogram % tuple(running),
        ]
