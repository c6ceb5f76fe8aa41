"""The X-Ray daemon's datagrams, who they are kept for, OTLP spans, and filter expressions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdad.model.endpoints import relay_source
from lambdad.model.scope import Scope
from lambdad.observe import tracing_daemon, tracing_otlp
from lambdad.observe.tracing_filter import FilterError, compile_filter
from lambdad.observe.tracing_store import TraceStore

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
A = Scope("111111111111", "us-east-1")
SEGMENT = {"trace_id": ROOT, "id": "1111111111111111", "name": "fn", "origin": "AWS::Lambda",
           "start_time": 1.0, "end_time": 2.0, "fault": True,
           "subsegments": [{"id": "2222222222222222", "name": "Invocation",
                            "start_time": 1.2, "end_time": 1.9}]}  # fmt: skip
LOOSE = {"type": "subsegment", "trace_id": ROOT, "id": "3333333333333333",
         "parent_id": "1111111111111111", "name": "mine",
         "start_time": 1.3, "end_time": 1.4}  # fmt: skip


def _datagram(doc: Any, header: bytes = b'{"format": "json", "version": 1}') -> bytes:
    return header + b"\n" + json.dumps(doc).encode()


def test_parse_accepts_the_sdk_format_only() -> None:
    assert tracing_daemon.parse(_datagram(LOOSE)) == LOOSE
    assert tracing_daemon.parse(json.dumps(LOOSE).encode()) is None  # no header line
    assert tracing_daemon.parse(_datagram(LOOSE, b'{"format": "xml", "version": 1}')) is None
    assert tracing_daemon.parse(_datagram(LOOSE, b'{"format": "json", "version": 2}')) is None
    assert tracing_daemon.parse(_datagram({"id": "x"})) is None
    assert tracing_daemon.parse(b'{"format": "json", "version": 1}\n{nope') is None


def test_daemon_keeps_segments_for_the_traces_owner_only() -> None:
    store = TraceStore()
    daemon = tracing_daemon.XRayDaemon(store)
    daemon.datagram_received(_datagram(LOOSE), ("127.0.0.1", 5000))  # unknown trace
    assert store.all(A) == []
    store.claim(ROOT, A)
    daemon.datagram_received(_datagram(LOOSE), (relay_source("999999999999"), 5000))
    assert store.all(A) == []  # another account's environment
    daemon.datagram_received(_datagram(LOOSE), (relay_source(A.account), 5000))
    daemon.datagram_received(_datagram(LOOSE), ("127.0.0.1", 5000))  # the host's loopback
    assert len(store.all(A)[0].docs) == 2
    assert daemon.dropped == 2


def test_otlp_spans_keep_ids_parents_and_status() -> None:
    req = tracing_otlp.request([(A, [LOOSE]), (A, [SEGMENT])])
    [rs] = req.resource_spans
    attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
    assert attrs["service.name"] == "fn"
    assert attrs["cloud.account.id"] == A.account
    spans = {s.name: s for s in rs.scope_spans[0].spans}
    assert spans["fn"].trace_id.hex() == "5759e988bd862e3fe1be46a994272793"
    assert spans["fn"].kind == spans["fn"].SPAN_KIND_SERVER
    assert spans["fn"].status.code == spans["fn"].status.STATUS_CODE_ERROR
    assert spans["Invocation"].parent_span_id.hex() == "1111111111111111"
    assert spans["mine"].parent_span_id.hex() == "1111111111111111"
    assert spans["Invocation"].end_time_unix_nano == 1_900_000_000


def test_loose_subsegments_wait_one_batch_for_their_segment() -> None:
    ready, held = tracing_otlp.split_orphans([(A, [LOOSE])])
    assert (ready, held) == ([], [(A, [LOOSE])])
    ready, held = tracing_otlp.split_orphans([(A, [SEGMENT])], held)
    assert held == []


def _summary(**kw: Any) -> dict[str, Any]:
    base = {"ServiceIds": [{"Names": ["fn"]}], "HasFault": False, "HasError": True,
            "Duration": 1.5, "ResponseTime": 0.2, "Http": {"HttpStatus": 500},
            "Annotations": {"order": [{"AnnotationValue": {"StringValue": "42"}}]}}  # fmt: skip
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ('service("fn")', True),
        ('service(id(name: "fn"))', True),
        ('service("other")', False),
        ("error", True),
        ("fault", False),
        ("!fault AND error = true", True),
        ("duration > 1", True),
        ("responsetime >= 1", False),
        ("http.status = 500", True),
        ('annotation.order = "42"', True),
        ('annotation.order = "41" and error', False),
        ("", True),
    ],
)
def test_filter_expressions(expression: str, matches: bool) -> None:
    assert compile_filter(expression)(_summary()) is matches


def test_filter_refuses_what_it_does_not_know() -> None:
    with pytest.raises(FilterError):
        compile_filter("edge(a, b)")
