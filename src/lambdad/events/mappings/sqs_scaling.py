"""How many batches an SQS mapping works on at once (pure), as AWS scales its pollers:
five to start, one more after a full batch (messages remain) at most every
``SCALE_UP_INTERVAL`` seconds (AWS adds up to 60 a minute) up to the cap
(``ScalingConfig.MaximumConcurrency``, else ``DEFAULT_CAP``), one fewer after an empty
receive down to the five, and one fewer after a throttle (the function's or the
account's concurrency is used up) down to one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

START: Final = 5
DEFAULT_CAP: Final = 1000
SCALE_UP_INTERVAL: Final = 1.0


@dataclass(slots=True)
class Scaler:
    cap: int
    active: int = 0
    last_up: float = float("-inf")

    @classmethod
    def for_limit(cls, maximum_concurrency: int | None) -> Scaler:
        return cls(cap=max(1, maximum_concurrency or DEFAULT_CAP))

    @property
    def floor(self) -> int:
        return min(START, self.cap)

    def start(self) -> int:
        """Workers to start with."""
        self.active = self.floor
        return self.active

    def after_batch(self, full: bool, now: float) -> int:
        """Workers to add after a batch (0 or 1); ``now`` on a monotonic clock."""
        if full and self.active < self.cap and now - self.last_up >= SCALE_UP_INTERVAL:
            self.active += 1
            self.last_up = now
            return 1
        return 0

    def after_empty(self) -> bool:
        """Whether the worker whose receive came back empty stops."""
        if self.active > self.floor:
            self.active -= 1
            return True
        return False

    def after_throttle(self) -> bool:
        """Whether the worker that was throttled stops."""
        if self.active > 1:
            self.active -= 1
            return True
        return False
