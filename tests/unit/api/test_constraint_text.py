"""Values and constraints written as AWS writes them in validation messages."""

from __future__ import annotations

from lambdad.api.constraint_text import constraint_list, render
from lambdad.api.protocol import ServiceModel

SHAPES = ServiceModel.load("lambda").shapes


def test_lists_maps_doubles_and_booleans_are_rendered_as_java_would() -> None:
    assert render(SHAPES, SHAPES["ArchitecturesList"], ["x86_64", "arm64"]) == "[x86_64, arm64]"
    weights = SHAPES["AdditionalVersionWeights"]
    assert render(SHAPES, weights, {"$LATEST": 0.5, "2": 1}) == "{$LATEST=0.5, 2=1.0}"
    assert render(SHAPES, SHAPES["Weight"], 2) == "2.0"
    assert render(SHAPES, {"type": "boolean"}, True) == "true"
    assert render(SHAPES, weights, "not a map") == "not a map"


def test_every_constraint_of_a_shape_is_named_in_aws_order() -> None:
    assert constraint_list(SHAPES["AdditionalVersion"]) == [
        "Member must have length less than or equal to 1024",
        "Member must have length greater than or equal to 1",
        "Member must satisfy regular expression pattern: [0-9]+",
    ]
    assert constraint_list(SHAPES["Weight"]) == [
        "Member must have value less than or equal to 1.0",
        "Member must have value greater than or equal to 0.0",
    ]
    assert constraint_list(SHAPES["Architecture"]) == [
        "Member must satisfy enum value set: [x86_64, arm64]"
    ]
