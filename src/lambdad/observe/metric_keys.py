"""What names a metric series: its world, namespace, name and dimensions.

A series is a ``MetricKey``: (account, region, namespace, metric name, dimensions),
the dimensions sorted by name so that the same set always names the same series (as
CloudWatch treats them: a set, order aside). Lambda's own names and dimensions are
AWS's: ``AWS/Lambda`` with ``FunctionName``, ``Resource`` (``name:qualifier`` for a
version or an alias) and ``ExecutedVersion`` (the version an alias ran); the
account-wide series have no dimensions. Cold starts and init durations, which AWS
keeps in Lambda Insights only, are lambdad's own namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

LAMBDA = "AWS/Lambda"
# lambdad's own series: ColdStarts, InitDuration (per FunctionName).
LAMBDAD = "Lambdad"
LATEST = "$LATEST"

Dimensions = tuple[tuple[str, str], ...]


class MetricKey(NamedTuple):
    account: str
    region: str
    namespace: str
    name: str
    dims: Dimensions = ()


def dimensions(pairs: Iterable[tuple[str, str]]) -> Dimensions:
    """A dimension set in its one spelling (sorted by name)."""
    return tuple(sorted(pairs))


def function_dimensions(name: str, invoked_as: str | None, version: str) -> list[Dimensions]:
    """The dimension sets an invocation of ``name`` counts under, besides the
    account-wide series: the function; the version or alias it was invoked as; for an
    alias, the version the alias ran."""
    out: list[Dimensions] = [(("FunctionName", name),)]
    if invoked_as is None or invoked_as == LATEST:
        return out
    resource = ("Resource", f"{name}:{invoked_as}")
    out.append((("FunctionName", name), resource))
    if not invoked_as.isdigit():
        out.append((("ExecutedVersion", version), ("FunctionName", name), resource))
    return out


def matches(dims: Dimensions, wanted: Iterable[tuple[str, str | None]]) -> bool:
    """ListMetrics' filter: every wanted dimension is present (with its value, if one
    is given)."""
    have = dict(dims)
    for name, value in wanted:
        if name not in have or (value is not None and have[name] != value):
            return False
    return True
