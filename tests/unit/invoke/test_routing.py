"""Alias routing by weight (lambdad.invoke.routing)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lambdad.invoke.routing import Route, choose_version


def test_no_weights_always_primary() -> None:
    route = Route("3")
    for d in (0.0, 0.5, 0.999):
        assert choose_version(route, lambda d=d: d) == "3"


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.0, "2"), (0.2999, "2"), (0.3, "1"), (0.9999, "1")],
)
def test_additional_version_takes_the_first_slice(draw: float, expected: str) -> None:
    assert choose_version(Route("1", {"2": 0.3}), lambda: draw) == expected


def test_weight_zero_never_and_one_always() -> None:
    assert choose_version(Route("1", {"2": 0.0}), lambda: 0.0) == "1"
    assert choose_version(Route("1", {"2": 1.0}), lambda: 0.99999) == "2"


def test_split_converges_to_the_weight() -> None:
    rng = random.Random(7)
    counts = Counter(choose_version(Route("1", {"2": 0.3}), rng.random) for _ in range(10_000))
    assert abs(counts["2"] / 10_000 - 0.3) < 0.02


def test_route_from_alias_document() -> None:
    doc = {"FunctionVersion": "4", "RoutingConfig": {"AdditionalVersionWeights": {"5": 0.25}}}
    assert Route.from_alias(doc) == Route("4", {"5": 0.25})
    assert Route.from_alias({"FunctionVersion": "$LATEST"}) == Route("$LATEST", {})
