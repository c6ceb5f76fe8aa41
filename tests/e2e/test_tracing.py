"""Tracing as users see it: the caller's ``X-Amzn-Trace-Id`` in the function's
``_X_AMZN_TRACE_ID``; an ``Active`` function's segments read back with boto3's
``xray.batch_get_traces``; what the function's X-Ray SDK and Powertools' ``Tracer``
(vendored into its zip) and a plain UDP datagram send, in the same trace; one trace
across a URL, a function and the function it invokes; the spans an OTLP collector
receives; bad X-Ray requests.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aws_xray_sdk
import pytest
import wrapt
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from e2e.helpers import (
    PRIMARY,
    ROLE,
    LambdadServer,
    make_zip,
    permit_url,
    send,
    sign_headers,
)

ECHO_TRACE = """
import os

def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "request_id": context.aws_request_id}
"""

# Sends a subsegment with the X-Ray SDK, and one by hand over UDP (the daemon protocol).
XRAY_FUNCTION = """
import json, os, socket, time
from aws_xray_sdk.core import xray_recorder

def handler(event, context):
    with xray_recorder.in_subsegment("sdk-work") as sub:
        sub.put_annotation("order", "42")
    fields = dict(p.split("=", 1) for p in os.environ["_X_AMZN_TRACE_ID"].split(";"))
    now = time.time()
    doc = {"type": "subsegment", "trace_id": fields["Root"], "parent_id": fields["Parent"],
           "id": os.urandom(8).hex(), "name": "udp-work", "start_time": now, "end_time": now}
    host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b'{"format": "json", "version": 1}\\n' + json.dumps(doc).encode(),
                 (host, int(port)))
    return {"daemon": os.environ["AWS_XRAY_DAEMON_ADDRESS"],
            "missing": os.environ.get("AWS_XRAY_CONTEXT_MISSING")}
"""


def _root() -> str:
    return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def _package_files(module: Any) -> dict[str, bytes]:
    """A pure-Python package's files, to vendor into a function's zip."""
    path = Path(module.__file__)
    if path.name != "__init__.py":  # a module of one file
        return {path.name: path.read_bytes()}
    top = path.parent
    files = {}
    for path in top.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".json"):
            files[f"{top.name}/{path.relative_to(top)}"] = path.read_bytes()
    return files


class _Collector:
    """A tiny OTLP/HTTP receiver: decodes each protobuf export it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[tuple[str, Any]]:
        out = []
        for req in list(self.requests):
            for rs in req.resource_spans:
                service = next(a.value.string_value for a in rs.resource.attributes
                               if a.key == "service.name")  # fmt: skip
                out.extend((service, span) for ss in rs.scope_spans for span in ss.spans)
        return out


@pytest.fixture(scope="module")
def collector() -> Iterator[_Collector]:
    c = _Collector()
    yield c
    c.server.shutdown()
    c.server.server_close()


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, collector: _Collector
) -> Iterator[LambdadServer]:
    server = LambdadServer(
        tmp_path_factory.mktemp("tracing") / "data",
        env={"LAMBDAD_OTLP_ENDPOINT": collector.url, "LAMBDAD_OTLP_INTERVAL": "0.2"},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _create(server: LambdadServer, name: str, files: dict[str, Any], **params: Any) -> None:
    lam = server.client("lambda")
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip(files)}, Timeout=30, **params,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )


def _invoke_with_header(
    server: LambdadServer, name: str, header: str, kind: str = "RequestResponse"
) -> dict[str, Any]:
    lam = server.client("lambda")

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    lam.meta.events.register_first("before-sign.lambda.Invoke", add_header)
    try:
        out = lam.invoke(FunctionName=name, Payload=b"{}", InvocationType=kind)
    finally:
        lam.meta.events.unregister("before-sign.lambda.Invoke", add_header)
    if kind == "Event":
        assert out["StatusCode"] == 202
        return {}
    assert "FunctionError" not in out, out["Payload"].read()
    result: dict[str, Any] = json.loads(out["Payload"].read())
    return result


def _eventually(probe: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen in {timeout} s")
        time.sleep(0.1)


def test_callers_trace_header_reaches_the_function(traced: LambdadServer) -> None:
    name = f"trace-echo-{uuid.uuid4().hex[:8]}"
    _create(traced, name, {"app.py": ECHO_TRACE})
    root = _root()
    header = f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1"
    got = _invoke_with_header(traced, name, header)
    assert got["trace"] == header  # PassThrough: the caller's trace, as it came
    assert got["request_id"]
    # Without a header, lambdad makes one in X-Ray's format, not sampled (PassThrough).
    out = json.loads(traced.client("lambda").invoke(FunctionName=name)["Payload"].read())
    fields = dict(p.split("=", 1) for p in out["trace"].split(";"))
    assert fields["Sampled"] == "0"
    assert len(fields["Root"]) == 35
    assert fields["Root"] != root
    assert len(fields["Parent"]) == 16


def test_active_function_segments_sdk_subsegments_and_otlp(
    traced: LambdadServer, collector: _Collector
) -> None:
    name = f"trace-active-{uuid.uuid4().hex[:8]}"
    files: dict[str, Any] = {"app.py": XRAY_FUNCTION}
    files.update(_package_files(aws_xray_sdk))
    files.update(_package_files(wrapt))
    _create(traced, name, files, TracingConfig={"Mode": "Active"})
    root = _root()
    got = _invoke_with_header(traced, name, f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1")
    assert got["missing"] == "LOG_ERROR"
    assert got["daemon"].startswith("127.0.0.1:")
    xray = traced.client("xray")

    def segments() -> dict[str, dict[str, Any]] | None:
        traces = xray.batch_get_traces(TraceIds=[root])["Traces"]
        if not traces:
            return None
        docs = [json.loads(s["Document"]) for s in traces[0]["Segments"]]
        by_origin = {d.get("origin"): d for d in docs}
        function = by_origin.get("AWS::Lambda::Function")
        if function is None:
            return None
        names = {s["name"] for s in function.get("subsegments", [])}
        return by_origin if {"sdk-work", "udp-work"} <= names else None

    by_origin = _eventually(segments, "the function's own subsegments")
    service, function = by_origin["AWS::Lambda"], by_origin["AWS::Lambda::Function"]
    assert service["parent_id"] == "53995c3f42cd8ad8"
    assert function["parent_id"] == service["id"]
    assert function["aws"]["function_arn"].endswith(f":function:{name}")
    names = [s["name"] for s in function["subsegments"]]
    assert {"Initialization", "Invocation", "Overhead", "sdk-work", "udp-work"} <= set(names)
    sdk = next(s for s in function["subsegments"] if s["name"] == "sdk-work")
    assert sdk["annotations"] == {"order": "42"}
    # Summaries find it; another account sees nothing of it.
    summaries = xray.get_trace_summaries(
        StartTime=time.time() - 300, EndTime=time.time() + 5, FilterExpression=f'service("{name}")'
    )["TraceSummaries"]
    assert [s["Id"] for s in summaries] == [root]
    other = traced.client("xray", account="210987654321")
    assert other.batch_get_traces(TraceIds=[root])["Traces"] == []
    # The collector gets the same trace as spans.
    trace_id = bytes.fromhex(root[2:].replace("-", ""))
    spans = _eventually(
        lambda: {s.name for _, s in collector.spans() if s.trace_id == trace_id} >= {
            "Invocation", "sdk-work", "udp-work"
        } and collector.spans(),
        "the OTLP spans",
    )  # fmt: skip
    services = {svc for svc, s in spans if s.trace_id == trace_id}
    assert services == {name}
    # An asynchronous invoke runs in the trace of the request that queued it.
    later = _root()
    _invoke_with_header(traced, name, f"Root={later};Sampled=1", "Event")
    _eventually(
        lambda: xray.get_trace_graph(TraceIds=[later])["Services"], "the async invoke's trace"
    )


def test_put_trace_segments_refuses_bad_documents(traced: LambdadServer) -> None:
    xray = traced.client("xray")
    root = _root()
    good = {"trace_id": root, "id": uuid.uuid4().hex[:16], "name": "client",
            "start_time": time.time(), "end_time": time.time()}  # fmt: skip
    out = xray.put_trace_segments(
        TraceSegmentDocuments=[json.dumps(good), "{not json", json.dumps({"id": "x"})]
    )
    assert len(out["UnprocessedTraceSegments"]) == 2
    [trace] = xray.batch_get_traces(TraceIds=[root])["Traces"]
    assert json.loads(trace["Segments"][0]["Document"])["name"] == "client"
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.get_trace_summaries(StartTime=1, EndTime=2, FilterExpression="nonsense ((")


CALLER = """
import json, os
import boto3

def handler(event, context):
    # The function's SDK passes its _X_AMZN_TRACE_ID on as the X-Amzn-Trace-Id of its call.
    out = boto3.client("lambda").invoke(FunctionName=os.environ["CALLEE"], Payload=b"{}")
    return {"statusCode": 200, "body": out["Payload"].read().decode()}
"""


def test_a_trace_connects_a_url_a_function_and_the_function_it_invokes(
    traced: LambdadServer,
) -> None:
    callee, caller = (f"trace-{k}-{uuid.uuid4().hex[:8]}" for k in ("callee", "caller"))
    active = {"Mode": "Active"}
    _create(traced, callee, {"app.py": ECHO_TRACE}, TracingConfig=active)
    _create(
        traced, caller, {"app.py": CALLER}, TracingConfig=active,
        Environment={"Variables": {"CALLEE": callee}},
    )  # fmt: skip
    lam = traced.client("lambda")
    url = lam.create_function_url_config(FunctionName=caller, AuthType="NONE")["FunctionUrl"]
    permit_url(lam, caller)
    url_id = url.split("//", 1)[1].split(".", 1)[0]
    root = _root()
    req = urllib.request.Request(
        f"{traced.endpoint}/lambda-url/{url_id}/",
        headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=1"},
    )
    with urllib.request.urlopen(req, timeout=60) as answer:
        inner = json.loads(answer.read())
    assert inner["trace"].startswith(f"Root={root};")  # the callee ran in the same trace
    xray = traced.client("xray")

    def both() -> list[dict[str, Any]] | None:
        traces = xray.batch_get_traces(TraceIds=[root])["Traces"]
        docs = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
        functions = [d for d in docs if d["origin"] == "AWS::Lambda::Function"]
        return docs if len(functions) == 2 else None

    docs = _eventually(both, "both functions' segments")
    by_name = {(d["name"], d["origin"]): d for d in docs}
    caller_function = by_name[(caller, "AWS::Lambda::Function")]
    callee_service = by_name[(callee, "AWS::Lambda")]
    assert callee_service["parent_id"] == caller_function["id"]
    graph = xray.get_trace_graph(TraceIds=[root])["Services"]
    assert {(s["Name"], s["Type"]) for s in graph} >= {
        (caller, "AWS::Lambda"), (callee, "AWS::Lambda::Function")
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/TraceSummaries", b'{"StartTime": 1e400, "EndTime": 1e400}', 400),
        ("/TraceSummaries", b'{"StartTime": true, "EndTime": 2}', 400),
        ("/TraceSummaries", b'{"StartTime": 1, "EndTime": 2, "NextToken": "zz"}', 400),
        ("/Traces", b'{"TraceIds": "x"}', 400),
        ("/TraceSegments", b"\xff\xfe", 400),
        # A segment whose subsegments are not a list is refused, not kept to fail later.
        ("/TraceSegments", json.dumps({"TraceSegmentDocuments": [json.dumps({
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "a" * 16, "name": "n",
            "start_time": 1, "end_time": 2, "subsegments": 5})]}).encode(), 200),
        ("/TraceSummaries", b'{"StartTime": 0, "EndTime": 9999999999}', 200),
    ],
)  # fmt: skip
def test_bad_xray_input_gets_xray_errors(
    traced: LambdadServer, path: str, body: bytes, status: int
) -> None:
    url = traced.endpoint + path
    headers = {"Content-Type": "application/json"}
    signed = sign_headers("POST", url, body, headers, PRIMARY, traced.region, "xray")
    answer = send(traced.endpoint, "POST", path, body, signed)
    assert answer.status == status, answer.body
    if status == 200 and path == "/TraceSegments":
        assert answer.json()["UnprocessedTraceSegments"][0]["Id"] == "a" * 16
    if status != 200:
        assert answer.error_type
        assert "Message" in answer.json()
    assert "Traceback" not in traced.stderr()


POWERTOOLS_FUNCTION = """
from aws_lambda_powertools import Tracer

tracer = Tracer(service="orders")

@tracer.capture_method
def work():
    tracer.put_annotation("order", "7")

@tracer.capture_lambda_handler
def handler(event, context):
    work()
    return {"ok": True}
"""


def test_powertools_tracer_subsegments_join_the_trace(traced: LambdadServer) -> None:
    powertools = pytest.importorskip("aws_lambda_powertools")
    import jmespath
    import typing_extensions

    name = f"trace-powertools-{uuid.uuid4().hex[:8]}"
    files: dict[str, Any] = {"app.py": POWERTOOLS_FUNCTION}
    for module in (powertools, jmespath, typing_extensions, aws_xray_sdk, wrapt):
        files.update(_package_files(module))
    _create(traced, name, files, TracingConfig={"Mode": "Active"}, MemorySize=512)
    root = _root()
    assert _invoke_with_header(traced, name, f"Root={root};Sampled=1") == {"ok": True}
    xray = traced.client("xray")

    def handler_subsegment() -> dict[str, Any] | None:
        for trace in xray.batch_get_traces(TraceIds=[root])["Traces"]:
            for seg in trace["Segments"]:
                doc = json.loads(seg["Document"])
                for sub in doc.get("subsegments", []):
                    if sub["name"] == "## handler" and sub.get("subsegments"):
                        return dict(sub)
        return None

    sub = _eventually(handler_subsegment, "Powertools' handler subsegment")
    assert sub["annotations"]["ColdStart"] is True
    assert sub["annotations"]["Service"] == "orders"
    [work] = sub["subsegments"]
    assert work["name"] == "## app.work"
    assert work["annotations"]["order"] == "7"
