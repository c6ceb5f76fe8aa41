from __future__ import annotations

import json

from lambdad.model.scope import Scope
from lambdad.observe.emf import extract, record
from lambdad.observe.metrics_fold import fold
from lambdad.observe.metrics_recorder import MetricsRecorder


def line(**doc: object) -> str:
    base = {
        "_aws": {
            "Timestamp": 1_800_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"], ["service", "env"]],
                    "Metrics": [{"Name": "Orders", "Unit": "Count"}, {"Name": "Latency"}],
                }
            ],
        },
        "service": "orders",
        "env": "dev",
        "Orders": 2,
        "Latency": [10, 20],
    }
    base.update(doc)
    return json.dumps(base)


def test_points_per_dimension_set_with_their_values() -> None:
    points = extract(line())
    assert {(p.name, p.dims, p.values) for p in points} == {
        ("Orders", (("service", "orders"),), (2.0,)),
        ("Orders", (("env", "dev"), ("service", "orders")), (2.0,)),
        ("Latency", (("service", "orders"),), (10.0, 20.0)),
        ("Latency", (("env", "dev"), ("service", "orders")), (10.0, 20.0)),
    }
    assert {p.at_ms for p in points} == {1_800_000_000_000}


def test_lines_that_are_not_emf_or_break_its_rules_declare_nothing() -> None:
    assert extract("START RequestId: x") == []
    assert extract('{"_aws": "nope"}') == []
    assert extract('not json "_aws"') == []
    assert extract(line(Orders="many", Latency=[1, "x"])) == []
    assert {p.dims for p in extract(line(env=None))} == {(("service", "orders"),)}
    bad_ns = json.loads(line())
    bad_ns["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "AWS/Lambda"
    assert extract(json.dumps(bad_ns)) == []


def test_a_prefixed_line_is_read_from_its_json() -> None:
    assert len(extract("2026-01-01T00:00:00Z\tid\tINFO\t" + line())) == 4


def test_record_into_the_recorder() -> None:
    rec = MetricsRecorder(now=lambda: 1.0)
    scope = Scope("111122223333", "us-east-1")
    record(rec, scope, line())
    points = fold(rec.drain()).points
    latency = [s for (k, _), s in points.items() if k.name == "Latency" and len(k.dims) == 1]
    assert [(s.count, s.sum) for s in latency] == [(2, 30.0)]
    assert {ts for (_, ts) in points} == {1_800_000_000}


def test_units_of_the_definitions_are_kept() -> None:
    points = extract(line())
    assert {(p.name, p.unit) for p in points} == {("Orders", "Count"), ("Latency", None)}
    rec = MetricsRecorder(now=lambda: 1.0)
    record(rec, Scope("111122223333", "us-east-1"), line())
    units = fold(rec.drain()).units
    assert {(k.name, len(k.dims)): u for k, u in units.items()} == {
        ("Orders", 1): "Count",
        ("Orders", 2): "Count",
    }
