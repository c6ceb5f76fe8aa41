"""Trace headers: parsing, new ids, X-Ray's default sampling rule, what an invocation carries."""

from __future__ import annotations

import random
import re

from lambdad.observe import tracing_ids as ti

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
HEADER = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]")


def test_parse_keeps_fields_and_lineage() -> None:
    h = ti.parse(f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1")
    assert h == ti.TraceHeader(ROOT, "53995c3f42cd8ad8", True, (("Lineage", "a87bd80c:1"),))
    assert h.render() == f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1"


def test_parse_refuses_what_has_no_valid_root() -> None:
    for bad in (None, "", "Parent=53995c3f42cd8ad8", "Root=1-xyz-123", "Root=" + ROOT + "x"):
        assert ti.parse(bad) is None
    assert ti.parse("Root=" + ROOT + ";Sampled=?").sampled is None  # type: ignore[union-attr]
    assert ti.parse("Root=" + ROOT + ";Parent=nothex").parent is None  # type: ignore[union-attr]


def test_new_root_carries_the_epoch() -> None:
    root = ti.new_root(0x5759E988, random.Random(1))
    assert re.fullmatch(r"1-5759e988-[0-9a-f]{24}", root)


def test_sampler_reservoir_one_per_second_then_five_percent() -> None:
    draws = iter([0.5, 0.01, 0.5])
    sampler = ti.Sampler(draw=lambda: next(draws))
    assert sampler.sample(100.0) is True  # the reservoir
    assert sampler.sample(100.5) is False  # 0.5 >= 5 %
    assert sampler.sample(100.9) is True  # 0.01 < 5 %
    assert sampler.sample(101.0) is True  # a new second, a new reservoir
    assert sampler.sample(101.2) is False


def test_pass_through_without_header_is_not_sampled() -> None:
    d = ti.decide(None, ti.PASS_THROUGH, ti.Sampler(), 1000.0, random.Random(2))
    assert HEADER.fullmatch(d.header.render())
    assert d.header.sampled is False
    assert not d.record


def test_pass_through_keeps_the_callers_trace_and_decision() -> None:
    incoming = f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:2"
    d = ti.decide(incoming, ti.PASS_THROUGH, ti.Sampler(), 1000.0)
    assert d.header.render() == incoming
    assert not d.record  # PassThrough records nothing itself


def test_active_samples_and_parents_the_function_under_its_segment() -> None:
    d = ti.decide(f"Root={ROOT};Parent=53995c3f42cd8ad8", ti.ACTIVE, ti.Sampler(), 1000.0)
    assert d.record
    assert d.header.sampled is True
    assert d.header.root == ROOT
    assert d.header.parent == d.segment_id
    assert d.caller_parent == "53995c3f42cd8ad8"


def test_active_honours_a_caller_that_did_not_sample() -> None:
    d = ti.decide(f"Root={ROOT};Sampled=0", ti.ACTIVE, ti.Sampler(), 1000.0)
    assert not d.record
    assert d.header.sampled is False


def test_active_after_the_reservoir_uses_the_rate() -> None:
    sampler = ti.Sampler(draw=lambda: 0.9)
    first = ti.decide(None, ti.ACTIVE, sampler, 5.0)
    second = ti.decide(None, ti.ACTIVE, sampler, 5.1)
    assert first.record
    assert not second.record
