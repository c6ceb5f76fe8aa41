"""The server's price table as ``GET /_lambdad/cost`` publishes it (its ``prices``
object), turned back into ``observe.pricing.Prices``, and what a number of
invocations at one configuration costs before the free tier, by the same formula the
bill uses (``observe.pricing.gross``). ``lambdad tune`` prices its memory sizes with
it, so that there is one price formula and one table: the server's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.observe.pricing import Prices, Usage, gross


def prices_from_doc(doc: Mapping[str, Any]) -> Prices:
    """``Prices`` from the ``prices`` object of a cost report (defaults where absent)."""
    base = Prices()

    def table(key: str, default: Mapping[str, float]) -> dict[str, float]:
        value = doc.get(key)
        if not isinstance(value, Mapping):
            return dict(default)
        return {str(k): float(v) for k, v in value.items()}

    return Prices(
        per_million_requests=float(doc.get("per_million_requests", base.per_million_requests)),
        gb_second=table("gb_second", base.gb_second),
        storage_gb_second=float(doc.get("storage_gb_second", base.storage_gb_second)),
        provisioned_gb_second=table("provisioned_gb_second", base.provisioned_gb_second),
        provisioned_duration_gb_second=table(
            "provisioned_duration_gb_second", base.provisioned_duration_gb_second
        ),
        free_requests=int(doc.get("free_requests", base.free_requests)),
        free_gb_seconds=float(doc.get("free_gb_seconds", base.free_gb_seconds)),
    )


def on_demand_cost_usd(
    prices: Prices,
    *,
    architecture: str,
    memory_mb: int,
    storage_mb: int,
    requests: int,
    billed_ms: int,
) -> float:
    """What ``requests`` on-demand invocations billed ``billed_ms`` in total cost,
    before the free tier."""
    usage = Usage("", "", architecture, memory_mb, storage_mb, requests, billed_ms)
    return gross(usage, prices)
