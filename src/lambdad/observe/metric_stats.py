"""One metric's values over one period: count, sum, min, max and a compact distribution.

``Stats`` is what every metric point holds, whatever its resolution (a minute, five
minutes, an hour): merging two is exact for the counts and the extremes, and the
distribution is a log-bucketed histogram (each bucket ~2% wide, so a percentile is
within ~1% of the true value, and exact when every value in its bucket is the same)
that merges by adding bucket counts. The statistics CloudWatch names (``Sum``,
``Average``, ``pNN``...) are read from it with ``statistic``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

# Successive bucket bounds grow by this factor (relative error of a percentile ~1%).
_GAMMA = 1.02
_LOG_GAMMA = math.log(_GAMMA)
# The bucket of zero and negative values (CloudWatch values are usually >= 0).
_NONPOSITIVE = -(2**31)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)")


def percentile_of(name: str) -> float | None:
    """The percentile an extended statistic names (``p99`` -> 99.0), else None."""
    m = _PERCENTILE.fullmatch(name)
    return float(m.group(1)) if m else None


def _bucket(value: float) -> int:
    if value <= 0:
        return _NONPOSITIVE
    return math.ceil(math.log(value) / _LOG_GAMMA)


class Stats:
    """A mutable accumulator (merged in place on the flush path, never shared)."""

    __slots__ = ("buckets", "count", "max", "min", "sum")

    def __init__(self) -> None:
        self.count = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.buckets: dict[int, float] = {}

    @classmethod
    def of(cls, values: Iterable[float]) -> Stats:
        s = cls()
        for v in values:
            s.add(v)
        return s

    def add(self, value: float, count: float = 1.0) -> None:
        self.count += count
        self.sum += value * count
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        b = _bucket(value)
        self.buckets[b] = self.buckets.get(b, 0.0) + count

    def add_summary(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """A StatisticSet (PutMetricData): no distribution, so its values count as the
        average for percentiles."""
        if count <= 0:
            return
        self.count += count
        self.sum += total
        self.min = min(self.min, minimum)
        self.max = max(self.max, maximum)
        b = _bucket(total / count)
        self.buckets[b] = self.buckets.get(b, 0.0) + count

    def merge(self, other: Stats) -> None:
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        for b, n in other.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0.0) + n

    def percentile(self, p: float) -> float:
        """The value below which ``p`` percent of the values lie (nearest rank)."""
        if self.count <= 0:
            return math.nan
        rank = max(1.0, math.ceil(p / 100.0 * self.count - 1e-9))
        # The extremes are known exactly.
        if rank >= self.count:
            return self.max
        if rank <= 1:
            return self.min
        seen = 0.0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                if b == _NONPOSITIVE:
                    return max(self.min, min(0.0, self.max))
                # The bucket's midpoint (in log space), clamped to what was seen.
                mid = 2 * _GAMMA**b / (_GAMMA + 1)
                return min(self.max, max(self.min, mid))
        return self.max

    def statistic(self, name: str) -> float | None:
        """A CloudWatch statistic (``Sum``, ``p99``...) of these values; None if unknown."""
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.sum
        if name == "Average":
            return self.sum / self.count if self.count else math.nan
        if name == "Minimum":
            return self.min
        if name == "Maximum":
            return self.max
        p = percentile_of(name)
        return None if p is None else self.percentile(p)

    def to_doc(self) -> list[Any]:
        return [self.count, self.sum, self.min, self.max, [[b, n] for b, n in self.buckets.items()]]

    @classmethod
    def from_doc(cls, doc: list[Any]) -> Stats:
        s = cls()
        s.count, s.sum, s.min, s.max = (float(x) for x in doc[:4])
        s.buckets = {int(b): float(n) for b, n in doc[4]}
        return s

    def copy(self) -> Stats:
        s = Stats()
        s.merge(self)
        return s

    def __repr__(self) -> str:
        return f"Stats(count={self.count:g}, sum={self.sum:g}, min={self.min:g}, max={self.max:g})"


def merged(parts: Iterable[Stats]) -> Stats:
    out = Stats()
    for p in parts:
        out.merge(p)
    return out
