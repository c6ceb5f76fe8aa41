"""Alias routing: which version serves one invocation of a weighted alias.

An alias names a primary version and, optionally, one additional version with a
weight in [0, 1] (``RoutingConfig.AdditionalVersionWeights``). Each invocation
is routed on its own: with weight ``w`` the additional version runs with
probability ``w``, the primary otherwise. The choice is a pure function of the
route and one draw from an injected random source, so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# A uniform draw in [0, 1).
Draw = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Route:
    """Where an alias points: a primary version and weighted additional versions."""

    primary: str
    weights: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_alias(cls, alias: Mapping[str, object]) -> Route:
        """The route of a stored alias document (``FunctionVersion``, ``RoutingConfig``)."""
        routing = alias.get("RoutingConfig") or {}
        weights = routing.get("AdditionalVersionWeights") if isinstance(routing, dict) else None
        return cls(
            primary=str(alias["FunctionVersion"]),
            weights={str(k): float(v) for k, v in (weights or {}).items()},
        )


def choose_version(route: Route, draw: Draw = random.random) -> str:
    """The version that serves one invocation of ``route``.

    Additional versions take consecutive slices of [0, 1) in version order, each as
    wide as its weight; a draw past them all lands on the primary.
    """
    point = draw()
    edge = 0.0
    for version in sorted(route.weights, key=_version_key):
        edge += route.weights[version]
        if point < edge:
            return version
    return route.primary


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)
