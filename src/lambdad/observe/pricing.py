"""What a month of invocations costs, as AWS prices Lambda (pure).

Per version: requests, GB-seconds (billed milliseconds x memory), and ephemeral
storage GB-seconds over the free 512 MB (billed milliseconds x the storage beyond
it), priced by architecture. The free tier (1M requests and 400,000 GB-seconds a
month by default) is the account's, across functions and architectures: each usage
row gets its share of it in proportion to its requests and GB-seconds, so that the
functions' costs add up to the account's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FREE_STORAGE_MB = 512


@dataclass(frozen=True, slots=True)
class Prices:
    per_million_requests: float = 0.20
    gb_second: Mapping[str, float] = field(
        default_factory=lambda: {"x86_64": 0.0000166667, "arm64": 0.0000133334}
    )
    storage_gb_second: float = 0.0000000309
    # Provisioned concurrency: per GB-second allocated, and per GB-second of duration
    # on it (instead of gb_second); the free tier does not cover either.
    provisioned_gb_second: Mapping[str, float] = field(
        default_factory=lambda: {"x86_64": 0.0000041667, "arm64": 0.0000033334}
    )
    provisioned_duration_gb_second: Mapping[str, float] = field(
        default_factory=lambda: {"x86_64": 0.0000097222, "arm64": 0.0000077778}
    )
    free_requests: int = 1_000_000
    free_gb_seconds: float = 400_000.0


@dataclass(frozen=True, slots=True)
class Usage:
    function: str
    version: str
    architecture: str
    memory_mb: int
    storage_mb: int
    requests: int
    billed_ms: int  # on demand
    pc_billed_ms: int = 0  # on provisioned concurrency
    pc_allocated_mb_ms: int = 0  # provisioned concurrency held

    @property
    def gb_seconds(self) -> float:
        """On-demand duration x memory (what the free tier's GB-seconds cover)."""
        return self.billed_ms / 1000 * self.memory_mb / 1024

    @property
    def provisioned_duration_gb_seconds(self) -> float:
        return self.pc_billed_ms / 1000 * self.memory_mb / 1024

    @property
    def provisioned_gb_seconds(self) -> float:
        return self.pc_allocated_mb_ms / 1000 / 1024

    @property
    def storage_gb_seconds(self) -> float:
        billed = self.billed_ms + self.pc_billed_ms
        return billed / 1000 * max(0, self.storage_mb - FREE_STORAGE_MB) / 1024


@dataclass(slots=True)
class FunctionCost:
    function: str
    requests: int = 0
    gb_seconds: float = 0.0
    storage_gb_seconds: float = 0.0
    provisioned_gb_seconds: float = 0.0
    provisioned_duration_gb_seconds: float = 0.0
    free_requests: float = 0.0
    free_gb_seconds: float = 0.0
    cost_before_free_tier_usd: float = 0.0
    cost_usd: float = 0.0
    architectures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "function": self.function,
            "requests": self.requests,
            "gb_seconds": self.gb_seconds,
            "storage_gb_seconds": self.storage_gb_seconds,
            "provisioned_gb_seconds": self.provisioned_gb_seconds,
            "provisioned_duration_gb_seconds": self.provisioned_duration_gb_seconds,
            "architectures": sorted(self.architectures),
            "free_tier": {
                "requests": self.free_requests,
                "gb_seconds": self.free_gb_seconds,
            },
            "cost_before_free_tier_usd": self.cost_before_free_tier_usd,
            "cost_usd": self.cost_usd,
        }


def gross(u: Usage, prices: Prices) -> float:
    """What one usage row costs before the free tier."""
    return (
        u.requests * prices.per_million_requests / 1_000_000
        + u.gb_seconds * _by_arch(prices.gb_second, u.architecture)
        + u.storage_gb_seconds * prices.storage_gb_second
        + u.provisioned_gb_seconds * _by_arch(prices.provisioned_gb_second, u.architecture)
        + u.provisioned_duration_gb_seconds
        * _by_arch(prices.provisioned_duration_gb_second, u.architecture)
    )


def _by_arch(table: Mapping[str, float], architecture: str) -> float:
    return table.get(architecture, table.get("x86_64", 0.0))


def bill(usage: Iterable[Usage], prices: Prices) -> list[FunctionCost]:
    """One ``FunctionCost`` per function (sorted by name), free tier applied."""
    rows = list(usage)
    total_requests = sum(u.requests for u in rows)
    total_gbs = sum(u.gb_seconds for u in rows)
    free_req = min(total_requests, prices.free_requests)
    free_gbs = min(total_gbs, prices.free_gb_seconds)
    out: dict[str, FunctionCost] = {}
    for u in rows:
        fc = out.setdefault(u.function, FunctionCost(u.function))
        price = _by_arch(prices.gb_second, u.architecture)
        row_free_req = free_req * u.requests / total_requests if total_requests else 0.0
        row_free_gbs = free_gbs * u.gb_seconds / total_gbs if total_gbs else 0.0
        request_price = prices.per_million_requests / 1_000_000
        row_gross = gross(u, prices)
        fc.requests += u.requests
        fc.gb_seconds += u.gb_seconds
        fc.storage_gb_seconds += u.storage_gb_seconds
        fc.provisioned_gb_seconds += u.provisioned_gb_seconds
        fc.provisioned_duration_gb_seconds += u.provisioned_duration_gb_seconds
        fc.free_requests += row_free_req
        fc.free_gb_seconds += row_free_gbs
        fc.cost_before_free_tier_usd += row_gross
        # A row's free share never exceeds its own use; rounding may leave a -1e-22.
        fc.cost_usd += max(0.0, row_gross - row_free_req * request_price - row_free_gbs * price)
        if u.architecture not in fc.architectures:
            fc.architectures.append(u.architecture)
    for fc in out.values():
        # To a pico-dollar: what the free tier covers costs 0, not a subtraction's 1e-22.
        fc.cost_usd = round(fc.cost_usd, 12)
    return [out[k] for k in sorted(out)]
