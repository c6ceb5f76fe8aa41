"""JSON filter patterns, with the examples of CloudWatch's filter pattern syntax."""

from __future__ import annotations

import json

import pytest

from lambdad.observe.json_filter import PatternError, matches, parse

EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "123.123.123.123",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
        "latency": 250,
        "user": {"name": "ann", "region": "eu-west-1"},
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', True),
        ("{ $.eventType = UpdateTrail }", True),
        ('{ $.eventType != "UpdateTrail" }', False),
        ('{ $.sourceIPAddress = "123.123.*" }', True),
        ('{ $.arrayKey[0] = "value" }', True),
        ("{ $.objectList[1].id = 2 }", True),
        ("{ $.latency > 200 }", True),
        ("{ $.latency >= 250 && $.latency < 251 }", True),
        ("{ $.latency < 200 || $.user.name = ann }", True),
        ('{ ($.user.region = "us-*" || $.user.region = "eu-*") && $.ThisFlag IS TRUE }', True),
        ("{ $.SomeObject IS NULL }", True),
        ("{ $.ThisFlag IS FALSE }", False),
        ("{ $.missing NOT EXISTS }", True),
        ("{ $.missing EXISTS }", False),
        ("{ $.user EXISTS }", True),
        ("{ $.missing = x }", False),
    ],
)
def test_documented_patterns(pattern: str, expected: bool) -> None:
    assert matches(parse(pattern), EVENT) is expected


def test_non_json_events_never_match() -> None:
    assert not matches(parse("{ $.missing NOT EXISTS }"), "plain text")
    assert not matches(parse("{ $.a = 1 }"), "{not json")


@pytest.mark.parametrize("bad", ["{ $.a = }", "{ $.a }", "$.a = 1", "{ $.a = 1", '{ $.a > "x" }'])
def test_malformed_patterns_are_refused(bad: str) -> None:
    with pytest.raises(PatternError):
        parse(bad)
