"""``GET /_lambdad/cost?month=YYYY-MM``: the signer's bill for a month (``lambdad cost``).

lambdad's own endpoint, signed for ``monitoring`` (so the CloudWatch responder answers
it): the usage of every version of the signer's functions in the signed region, priced
by ``observe.pricing`` with the operator's price table. The month defaults to this one
(UTC); ``function`` keeps one function's row (the free tier is still shared out over
all of them).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from lambdad.model.scope import Scope
from lambdad.observe.metrics_service import MetricsService
from lambdad.observe.pricing import Prices, Usage, bill, gross

PATH = "/_lambdad/cost"
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

Response = tuple[int, dict[str, str], bytes]


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"content-type": "application/json", "x-amzn-errortype": code}, body


async def cost_report(
    metrics: MetricsService,
    prices: Prices,
    scope: Scope,
    query: str,
    now: Callable[[], float] = time.time,
) -> Response:
    params = dict(parse_qsl(query))
    month = params.get("month") or time.strftime("%Y-%m", time.gmtime(now()))
    if not _MONTH.fullmatch(month):
        return _error(400, "InvalidParameterValueException", f"month must be YYYY-MM: {month!r}")
    rows = await metrics.usage(scope, month)
    usage = [Usage(*r) for r in rows]
    costs = bill(usage, prices)
    wanted = params.get("function")
    functions = [c.as_dict() for c in costs if wanted in (None, "", c.function)]
    doc = {
        "month": month,
        "account": scope.account,
        "region": scope.region,
        "prices": {
            "per_million_requests": prices.per_million_requests,
            "gb_second": dict(prices.gb_second),
            "storage_gb_second": prices.storage_gb_second,
            "provisioned_gb_second": dict(prices.provisioned_gb_second),
            "provisioned_duration_gb_second": dict(prices.provisioned_duration_gb_second),
            "free_requests": prices.free_requests,
            "free_gb_seconds": prices.free_gb_seconds,
        },
        "functions": functions,
        "versions": [
            {
                "function": u.function,
                "version": u.version,
                "architecture": u.architecture,
                "memory_mb": u.memory_mb,
                "storage_mb": u.storage_mb,
                "requests": u.requests,
                "billed_ms": u.billed_ms,
                "gb_seconds": u.gb_seconds,
                "provisioned_billed_ms": u.pc_billed_ms,
                "provisioned_gb_seconds": u.provisioned_gb_seconds,
                "storage_gb_seconds": u.storage_gb_seconds,
                "cost_before_free_tier_usd": gross(u, prices),
            }
            for u in usage
            if wanted in (None, "", u.function)
        ],
        "total_usd": sum(c.cost_usd for c in costs),
    }
    return 200, {"content-type": "application/json"}, json.dumps(doc).encode()
