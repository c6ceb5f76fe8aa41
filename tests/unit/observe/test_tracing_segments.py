"""The segments Lambda records for an Active function's invocation, and the trace store."""

from __future__ import annotations

import random

import pytest

from lambdad.model.scope import Scope
from lambdad.observe import tracing_ids as ti
from lambdad.observe.tracing_segments import InvocationTiming, invocation_segments
from lambdad.observe.tracing_store import TraceStore, problem

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def _decision() -> ti.Decision:
    return ti.decide(f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1", ti.ACTIVE, ti.Sampler(), 0)


def _timing(**kw: object) -> InvocationTiming:
    base: dict[str, object] = dict(
        request_id="r-1", function_name="fn", function_arn=ARN, account="123456789012",
        started=100.0, ended=100.5, duration_ms=300.0,
    )  # fmt: skip
    base.update(kw)
    return InvocationTiming(**base)  # type: ignore[arg-type]


def test_cold_invocation_has_service_and_function_segments() -> None:
    d = _decision()
    service, function = invocation_segments(_timing(init_duration_ms=150.0), d, random.Random(3))
    assert service["origin"] == "AWS::Lambda"
    assert service["parent_id"] == "53995c3f42cd8ad8"
    assert service["aws"]["request_id"] == "r-1"
    assert function["origin"] == "AWS::Lambda::Function"
    assert function["id"] == d.segment_id == d.header.parent
    assert function["parent_id"] == service["id"]
    assert function["aws"]["function_arn"] == ARN
    assert function["aws"]["cold_start"] is True
    names = [s["name"] for s in function["subsegments"]]
    assert names == ["Initialization", "Invocation", "Overhead"]
    init, invocation, _ = function["subsegments"]
    assert round(invocation["end_time"] - invocation["start_time"], 6) == 0.3
    assert round(init["end_time"] - init["start_time"], 6) == 0.15
    for doc in (service, function):
        assert problem(doc) is None


def test_warm_error_and_throttle() -> None:
    _, function = invocation_segments(
        _timing(function_error="Unhandled", error_type="ValueError"), _decision()
    )
    assert [s["name"] for s in function["subsegments"]] == ["Invocation", "Overhead"]
    assert function["fault"] is True
    cause = function["subsegments"][0]["cause"]["exceptions"][0]
    assert cause["type"] == "ValueError"
    [throttled] = invocation_segments(_timing(throttled=True), _decision())
    assert throttled["throttle"] is True
    assert throttled["error"] is True
    assert throttled["http"]["response"]["status"] == 429


def test_store_merges_loose_subsegments_and_keeps_accounts_apart() -> None:
    seen: list[int] = []
    store = TraceStore(on_put=lambda scope, docs: seen.append(len(docs)))
    a, b = Scope("111111111111", "us-east-1"), Scope("222222222222", "us-east-1")
    docs = invocation_segments(_timing(), _decision())
    store.claim(ROOT, a)
    store.put(a, docs)
    store.put(b, docs[:1])  # another account's copy: its own, and no claim on the trace
    sub = {
        "type": "subsegment", "trace_id": ROOT, "id": "aaaaaaaaaaaaaaaa",
        "parent_id": docs[1]["id"], "name": "mine", "start_time": 100.1, "end_time": 100.2,
    }  # fmt: skip
    assert problem(sub) is None
    store.put(a, [sub])
    [trace] = store.get(a, [ROOT])
    function = trace.segments()[1]
    assert "mine" in [s["name"] for s in function["subsegments"]]
    assert len(store.get(b, [ROOT])[0].docs) == 1
    assert store.owner(ROOT) == a
    assert seen == [2, 1, 1]


def test_problem_names_missing_fields() -> None:
    assert problem([]) is not None
    assert problem({"trace_id": "x", "id": "aaaaaaaaaaaaaaaa"}) == "Invalid trace_id"
    ok = {"trace_id": ROOT, "id": "aaaaaaaaaaaaaaaa", "name": "n", "start_time": 1.0}
    assert problem(ok) == "Missing end_time"
    assert problem({**ok, "in_progress": True}) is None


def test_store_drops_the_oldest_trace_past_its_cap() -> None:
    store = TraceStore(max_traces=2)
    scope = Scope("111111111111", "us-east-1")
    roots = [ti.new_root(1) for _ in range(3)]
    for root in roots:
        store.put(scope, [{"trace_id": root, "id": "a" * 16, "name": "n", "start_time": 1.0,
                           "end_time": 2.0}])  # fmt: skip
    assert [t.trace_id for t in store.all(scope)] == roots[1:]


@pytest.mark.parametrize(
    "change",
    [
        {"subsegments": 5},
        {"subsegments": [{"id": "b" * 16}]},
        {"parent_id": "not-hex"},
        {"aws": []},
        {"fault": "yes"},
        {"start_time": True},
        {"end_time": float("inf")},
        {"origin": 1},
    ],
)
def test_problem_refuses_fields_of_the_wrong_shape(change: dict[str, object]) -> None:
    ok = {"trace_id": ROOT, "id": "a" * 16, "name": "n", "start_time": 1.0, "end_time": 2.0}
    assert problem(ok) is None
    assert problem({**ok, **change}) is not None


def test_problem_refuses_subsegments_nested_too_deep() -> None:
    doc: dict[str, object] = {"id": "b" * 16, "name": "s", "start_time": 1.0, "end_time": 2.0}
    for _ in range(40):
        doc = {
            "id": "b" * 16,
            "name": "s",
            "start_time": 1.0,
            "end_time": 2.0,
            "subsegments": [doc],
        }
    assert problem({**doc, "trace_id": ROOT}) == "Subsegments nested too deep"
