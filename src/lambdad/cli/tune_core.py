"""Power tuning's decisions (pure): what a REPORT line says, the statistics of one
memory size's invocations, its cost per invocation, and which size to pick.

``lambdad tune`` (``cli.tune``) runs the invocations and feeds their log tails here;
nothing in this module does I/O. The choice follows AWS Lambda Power Tuning's
strategies: ``cost`` (cheapest, ties to the faster), ``speed`` (fastest median, ties
to the cheaper), and ``balanced`` (the least ``w x cost/max cost + (1 - w) x
duration/max duration``, w = 0.5). A size with any failed invocation is reported but
never chosen: a size that runs out of memory or time is no answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Strategy = Literal["cost", "speed", "balanced"]
STRATEGIES: tuple[Strategy, ...] = ("cost", "speed", "balanced")
DEFAULT_SIZES = (128, 256, 512, 1024, 2048)
MIN_MEMORY, MAX_MEMORY = 128, 10240

_REPORT = re.compile(
    r"^REPORT RequestId: \S+\tDuration: (?P<duration>[\d.]+) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
    r"(?:Max Memory Used: (?P<used>\d+) MB)?",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of one invocation's REPORT log line."""

    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_used_mb: int | None


@dataclass(frozen=True, slots=True)
class Sample:
    """One invocation: its REPORT line (None if the tail had none) and its error, if
    it failed (the ``FunctionError`` kind, or the API error that refused it)."""

    report: Report | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SizeResult:
    memory_mb: int
    invocations: int
    errors: int
    median_ms: float | None  # over the successful invocations
    p99_ms: float | None
    billed_median_ms: float | None
    max_memory_used_mb: int | None
    cost_usd: float | None  # mean per invocation, every billed invocation counted

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def eligible(self) -> bool:
        return self.errors == 0 and self.median_ms is not None and self.cost_usd is not None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Memory sizes (MB) named by the run; None where no size qualifies."""

    cheapest: int | None
    fastest: int | None
    balanced: int | None
    recommended: int | None


def parse_report(log_tail: str) -> Report | None:
    """The last REPORT line of a ``LogType: Tail`` log, or None."""
    found = list(_REPORT.finditer(log_tail))
    if not found:
        return None
    m = found[-1]
    used = m.group("used")
    return Report(
        float(m.group("duration")),
        int(m.group("billed")),
        int(m.group("memory")),
        int(used) if used else None,
    )


def parse_sizes(text: str) -> tuple[int, ...]:
    """``128,256,512``: distinct sizes in MB, ascending; ValueError says what is wrong."""
    sizes: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise ValueError(f"{part!r} is not a memory size in MB")
        size = int(part)
        if not MIN_MEMORY <= size <= MAX_MEMORY:
            raise ValueError(f"{size} MB is outside {MIN_MEMORY}-{MAX_MEMORY} MB")
        sizes.add(size)
    return tuple(sorted(sizes))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


PriceFn = Callable[[int, int], float]
"""(requests, billed milliseconds in total) -> USD, at the size being summarised."""


def summarise(memory_mb: int, samples: Sequence[Sample], price: PriceFn) -> SizeResult:
    reports = [s.report for s in samples if s.report is not None]
    ok = [s.report.duration_ms for s in samples if s.report is not None and s.error is None]
    ok_billed = [float(s.report.billed_ms) for s in samples if s.report and s.error is None]
    used = [r.max_memory_used_mb for r in reports if r.max_memory_used_mb is not None]
    cost = (
        price(len(reports), sum(r.billed_ms for r in reports)) / len(reports) if reports else None
    )
    return SizeResult(
        memory_mb=memory_mb,
        invocations=len(samples),
        errors=sum(1 for s in samples if s.error is not None),
        median_ms=percentile(ok, 50) if ok else None,
        p99_ms=percentile(ok, 99) if ok else None,
        billed_median_ms=percentile(ok_billed, 50) if ok_billed else None,
        max_memory_used_mb=max(used) if used else None,
        cost_usd=cost,
    )


def _cost(r: SizeResult) -> float:
    assert r.cost_usd is not None
    return r.cost_usd


def _speed(r: SizeResult) -> float:
    assert r.median_ms is not None
    return r.median_ms


def choose(results: Sequence[SizeResult], strategy: Strategy, weight: float = 0.5) -> int | None:
    """The memory size ``strategy`` picks among the sizes without errors."""
    pool = [r for r in results if r.eligible]
    if not pool:
        return None
    if strategy == "cost":
        return min(pool, key=lambda r: (_cost(r), _speed(r), r.memory_mb)).memory_mb
    if strategy == "speed":
        return min(pool, key=lambda r: (_speed(r), _cost(r), r.memory_mb)).memory_mb
    top_cost = max(_cost(r) for r in pool) or 1.0
    top_speed = max(_speed(r) for r in pool) or 1.0

    def score(r: SizeResult) -> tuple[float, int]:
        value = weight * _cost(r) / top_cost + (1 - weight) * _speed(r) / top_speed
        return value, r.memory_mb

    return min(pool, key=score).memory_mb


def verdict(results: Sequence[SizeResult], strategy: Strategy) -> Verdict:
    return Verdict(
        cheapest=choose(results, "cost"),
        fastest=choose(results, "speed"),
        balanced=choose(results, "balanced"),
        recommended=choose(results, strategy),
    )
