"""Checks every CloudWatch operation makes of its parameters, and a series' key."""

from __future__ import annotations

from typing import Any

from lambdad.api.cloudwatch_wire import CloudWatchError, invalid, missing
from lambdad.model.scope import Scope
from lambdad.observe.metric_keys import MetricKey, dimensions

Params = dict[str, Any]
# The longest period any point is kept at (455 days).
MAX_PERIOD = 455 * 86400


def required(params: Params, *names: str) -> None:
    for n in names:
        if params.get(n) in (None, ""):
            raise missing(n)


def metric_key(scope: Scope, namespace: str, name: str, dims: list[dict[str, Any]]) -> MetricKey:
    if len(dims) > 30:
        raise invalid("The collection Dimensions must not have a size greater than 30.")
    pairs = [(str(d.get("Name", "")), str(d.get("Value", ""))) for d in dims]
    if any(not n for n, _ in pairs):
        raise missing("Dimensions.member.Name")
    return MetricKey(scope.account, scope.region, namespace, name, dimensions(pairs))


def check_period(period: int) -> None:
    if (
        period < 1
        or (period >= 60 and period % 60)
        or (period < 60 and period not in (1, 5, 10, 30))
        or period > MAX_PERIOD
    ):
        raise invalid("The parameter Period must be a multiple of 60.")


def page_token(token: str | None) -> int:
    """Where a page starts: a NextToken lambdad gave (the count of items before it)."""
    if not token:
        return 0
    if not token.isdigit():
        raise CloudWatchError(
            "InvalidNextToken", "InvalidNextToken", "The service couldn't process the NextToken."
        )
    return int(token)
