"""How long each resolution of a metric is kept, and what it becomes after.

CloudWatch keeps 1-minute points for 15 days, 5-minute points for 63 days and
1-hour points for 455 days; each tier, past its age, is merged into the next
coarser one (its statistics merge exactly: ``metric_stats``). The ages are settings;
``tiers`` is the plan the store carries out.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86400


@dataclass(frozen=True, slots=True)
class Tier:
    period: int  # seconds per point
    keep: int  # seconds a point of this period is kept
    coarser: int | None  # what it becomes after (None: dropped)


@dataclass(frozen=True, slots=True)
class Retention:
    minute_days: float = 15.0
    five_minute_days: float = 63.0
    hour_days: float = 455.0

    def tiers(self) -> list[Tier]:
        return [
            Tier(60, int(self.minute_days * DAY), 300),
            Tier(300, int(self.five_minute_days * DAY), 3600),
            Tier(3600, int(self.hour_days * DAY), None),
        ]

    def oldest(self) -> int:
        """How far back (seconds) any point is kept."""
        return int(max(self.minute_days, self.five_minute_days, self.hour_days) * DAY)


def aligned(start: float, end: float, period: int) -> tuple[int, int]:
    """A query's [start, end) widened to whole periods, as CloudWatch aligns it."""
    lo = int(start // period) * period
    hi = -int(-end // period) * period
    return lo, max(hi, lo + period)


def bucket_of(ts: int, start: int, period: int) -> int:
    """The start of the query period a point starting at ``ts`` falls in."""
    return start + (ts - start) // period * period
