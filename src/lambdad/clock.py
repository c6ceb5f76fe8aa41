"""Time, injected: the real clock for the server, a fake one for unit tests."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...
    def today(self) -> date: ...
    def monotonic(self) -> float: ...
    def now_ms(self) -> int:
        """``now()`` in milliseconds since the epoch (log timestamps)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(UTC).date()

    def monotonic(self) -> float:
        return time.monotonic()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000  # no datetime: one per log event


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def today(self) -> date:
        return self._now.date()

    def monotonic(self) -> float:
        return self._mono

    def now_ms(self) -> int:
        return int(self._now.timestamp() * 1000)

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self._now += timedelta(seconds=seconds)
        self._mono += seconds
