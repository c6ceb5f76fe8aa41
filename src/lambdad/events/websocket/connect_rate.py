"""API Gateway's quota on new WebSocket connections: 500 a second per account and
Region, across all its WebSocket APIs (AWS's quotas page), as a token bucket per
owner (pure: the caller passes the time). Past it an upgrade is answered 429 before
``$connect`` runs; open connections are not counted (AWS bounds them only by this
rate and the 2-hour duration; the API port bounds them apart, ``api/limits.py``)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

MAX_OWNERS: Final = 10_000


class ConnectRate:
    def __init__(self, per_second: int = 500) -> None:
        self.per_second = per_second
        self._buckets: dict[Hashable, tuple[float, int]] = {}  # owner -> (tokens, at ms)

    def take(self, owner: Hashable, now_ms: int) -> bool:
        """Whether ``owner`` may open one more connection now (counted when True)."""
        held = self._buckets.get(owner)
        tokens = float(self.per_second)
        if held is not None:
            elapsed = max(now_ms - held[1], 0)
            tokens = min(tokens, held[0] + elapsed * self.per_second / 1000)
        if tokens < 1:
            return False
        if held is None and len(self._buckets) >= MAX_OWNERS:
            self._buckets.clear()
        self._buckets[owner] = (tokens - 1, now_ms)
        return True
