"""True response streaming, end to end: a Node.js ``awslambda.streamifyResponse`` function
and a ``provided`` runtime that posts its response chunked, through boto3's
``invoke_with_response_stream`` and a ``RESPONSE_STREAM`` function URL read with
``requests`` streaming. The first piece reaches the client while the handler is still
running (the client receives it before the handler, a second later, writes the time
it writes its second piece: one host clock orders the two), errors mid-stream end it
with ``InvokeComplete``'s ``ErrorCode``, and a stream that never ends is cut at the
function's timeout."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests

from e2e.helpers import LambdadServer, make_zip

NewFunction = Callable[..., dict[str, Any]]

# With "pause", the handler writes, waits a second, then writes the time (ms since the
# epoch) at which it writes its second piece.
NODE_STREAMING = r"""
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (typeof event.body === 'string') {  // a URL's request: its body is the test's event
    event = JSON.parse(Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8'));
  }
  if (event.http) {
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201,
      headers: { 'Content-Type': 'text/plain', 'X-Streamed': 'yes' },
      cookies: ['a=1; Path=/', 'b=2'],
    });
  }
  responseStream.write('first;');
  if (event.pause) {
    await sleep(1000);
    responseStream.write(`${Date.now()};`);
  }
  if (event.fail) throw new Error('broke mid-stream');
  if (event.forever) {
    for (;;) { responseStream.write('tick;'); await sleep(100); }
  }
  responseStream.end('last');
});
"""

# A custom runtime in plain Python (no awslambdaric): it streams each invocation's
# response as three chunks, the last with the error trailers when asked to fail.
PROVIDED_BOOTSTRAP = r"""#!/usr/bin/env python3
import base64, http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)
while True:
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    res = conn.getresponse()
    event = json.loads(res.read())
    rid = res.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.close()
    conn = http.client.HTTPConnection(host, int(port))
    conn.putrequest("POST", f"/2018-06-01/runtime/invocation/{rid}/response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "text/plain")
    conn.endheaders()
    for piece in (b"alpha;", b"beta;"):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    if event.get("fail"):
        doc = {"errorType": "Custom.Failure", "errorMessage": "provided broke"}
        body = base64.b64encode(json.dumps(doc).encode()).decode()
        conn.send(b"0\r\nLambda-Runtime-Function-Error-Type: Custom.Failure\r\n"
                  + f"Lambda-Runtime-Function-Error-Body: {body}\r\n\r\n".encode())
    else:
        conn.send(b"0\r\n\r\n")
    conn.getresponse().read()
    conn.close()
"""


@pytest.fixture(scope="module")
def node_fn(lambdad: LambdadServer) -> str:
    client = lambdad.client()
    name = f"stream-node-{time.time_ns() % 10**9}"
    client.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Role="arn:aws:iam::123456789012:role/r",
        Handler="index.handler",
        Timeout=3,
        Code={"ZipFile": make_zip({"index.js": NODE_STREAMING})},
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    return name


def _events(lambdad: LambdadServer, fn: str, event: dict[str, Any]) -> Any:
    out = lambdad.client().invoke_with_response_stream(
        FunctionName=fn, Payload=json.dumps(event).encode(), LogType="Tail"
    )
    assert out["StatusCode"] == 200
    return out["EventStream"]


def _second_written_ms(rest: bytes) -> int:
    """The time the handler wrote its second piece (``<ms>;last``)."""
    stamp, _, tail = rest.partition(b";")
    assert tail == b"last"
    return int(stamp)


def test_node_chunks_reach_the_client_before_the_handler_finishes(
    lambdad: LambdadServer, node_fn: str
) -> None:
    stream = iter(_events(lambdad, node_fn, {"pause": True}))

    first = next(stream)
    received_first_ms = time.time() * 1000
    rest = list(stream)

    assert first == {"PayloadChunk": {"Payload": b"first;"}}
    chunks = b"".join(e["PayloadChunk"]["Payload"] for e in rest if "PayloadChunk" in e)
    assert received_first_ms < _second_written_ms(chunks)
    complete = rest[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert "START RequestId" in __import__("base64").b64decode(complete["LogResult"]).decode()


def test_node_error_mid_stream_ends_with_invoke_complete_error(
    lambdad: LambdadServer, node_fn: str
) -> None:
    events = list(_events(lambdad, node_fn, {"fail": True}))

    assert events[0] == {"PayloadChunk": {"Payload": b"first;"}}
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Error"
    assert complete["ErrorDetails"] == "broke mid-stream"


def test_a_stream_that_never_ends_is_cut_at_the_timeout(
    lambdad: LambdadServer, node_fn: str
) -> None:
    events = list(_events(lambdad, node_fn, {"forever": True}))

    ticks = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert ticks.startswith(b"first;tick;")
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in complete["ErrorDetails"]


def test_plain_invoke_of_a_streaming_function_gets_the_whole_response(
    lambdad: LambdadServer, node_fn: str
) -> None:
    out = lambdad.client().invoke(FunctionName=node_fn, Payload=b"{}")

    assert out["Payload"].read() == b"first;last"
    assert "FunctionError" not in out


def test_response_stream_url_takes_status_headers_and_cookies_from_the_prelude(
    lambdad: LambdadServer, node_fn: str
) -> None:
    client = lambdad.client()
    url = client.create_function_url_config(
        FunctionName=node_fn, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    client.add_permission(
        FunctionName=node_fn, StatementId="url", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    client.add_permission(
        FunctionName=node_fn, StatementId="url-invoke", Action="lambda:InvokeFunction",
        Principal="*",
    )  # fmt: skip
    host = {"Host": urlsplit(url).netloc}
    # The URL's event is the HTTP request: the handler reads its body as JSON here.
    body = json.dumps({"http": True, "pause": True})

    with requests.post(
        lambdad.endpoint + "/", data=body, headers=host, stream=True, timeout=30
    ) as answer:
        assert answer.status_code == 201, (answer.headers, answer.content)
        assert answer.headers["Content-Type"] == "text/plain"
        assert answer.headers["X-Streamed"] == "yes"
        assert answer.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2"]
        pieces = answer.iter_content(chunk_size=None)
        first = next(pieces)
        received_first_ms = time.time() * 1000
        rest = b"".join(pieces)

    assert first == b"first;"
    assert received_first_ms < _second_written_ms(rest)


def test_provided_runtime_streams_and_reports_trailer_errors(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    fn = new_function(
        make_zip({"bootstrap": PROVIDED_BOOTSTRAP}, mode=0o755),
        Runtime="provided.al2023",
        Handler="unused",
    )["FunctionName"]

    ok = list(_events(lambdad, fn, {}))
    failed = list(_events(lambdad, fn, {"fail": True}))

    payload = b"".join(e["PayloadChunk"]["Payload"] for e in ok if "PayloadChunk" in e)
    assert payload == b"alpha;beta;"
    assert "ErrorCode" not in ok[-1]["InvokeComplete"]
    assert failed[-1]["InvokeComplete"]["ErrorCode"] == "Custom.Failure"
    assert failed[-1]["InvokeComplete"]["ErrorDetails"] == "provided broke"
    # AWS's metric of streamed responses: both streamed their 11 bytes.
    now = datetime.now(UTC)
    points = lambdad.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="StreamedOutboundBytes",
        Dimensions=[{"Name": "FunctionName", "Value": fn}], Period=3600,
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5),
        Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    assert sum(p["Sum"] for p in points) == 22


def test_a_streaming_function_whose_init_fails_completes_with_the_error(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    source = "throw new Error('no init');\nexports.handler = awslambda.streamifyResponse(() => 1);"
    fn = new_function(
        make_zip({"index.js": source}), Runtime="nodejs20.x", Handler="index.handler"
    )["FunctionName"]

    events = list(_events(lambdad, fn, {}))

    assert [list(e) for e in events] == [["InvokeComplete"]]
    assert events[0]["InvokeComplete"]["ErrorCode"] == "Unhandled"
    assert "no init" in events[0]["InvokeComplete"]["ErrorDetails"]


def _stream_url(lambdad: LambdadServer, fn: str) -> str:
    """The function's RESPONSE_STREAM URL, made (with its permissions) if need be."""
    client = lambdad.client()
    try:
        url = client.get_function_url_config(FunctionName=fn)["FunctionUrl"]
    except client.exceptions.ResourceNotFoundException:
        url = client.create_function_url_config(
            FunctionName=fn, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
        )["FunctionUrl"]
    for sid, action, extra in (
        ("url", "lambda:InvokeFunctionUrl", {"FunctionUrlAuthType": "NONE"}),
        ("url-invoke", "lambda:InvokeFunction", {}),
    ):
        # (granted already when the test before ran)
        with contextlib.suppress(client.exceptions.ResourceConflictException):
            client.add_permission(FunctionName=fn, StatementId=sid, Action=action,
                                  Principal="*", **extra)  # fmt: skip
    return url


def test_a_url_stream_that_never_ends_is_cut_at_the_timeout(
    lambdad: LambdadServer, node_fn: str
) -> None:
    host = {"Host": urlsplit(_stream_url(lambdad, node_fn)).netloc}
    received = b""
    with requests.post(
        lambdad.endpoint + "/", data=json.dumps({"http": True, "forever": True}), headers=host,
        stream=True, timeout=30,
    ) as answer:  # fmt: skip
        assert answer.status_code == 201
        try:
            for piece in answer.iter_content(chunk_size=None):
                received += piece
        except requests.exceptions.ChunkedEncodingError:
            pass  # the stream is cut, as AWS cuts it at the timeout
    # The stream ended, which the function never does (it ticks for ever and writes no
    # "last"): its 3 s timeout cut it, after ticks that reached the client as written.
    assert received.startswith(b"first;tick;tick;")
    assert not received.endswith(b"last")
    again = requests.post(lambdad.endpoint + "/", data=json.dumps({"http": True}), headers=host,
                          timeout=30)  # fmt: skip
    assert (again.status_code, again.content) == (201, b"first;last")
    assert "Traceback" not in lambdad.stderr()


def test_httpx_reads_a_url_stream_as_it_is_written(lambdad: LambdadServer, node_fn: str) -> None:
    host = {"Host": urlsplit(_stream_url(lambdad, node_fn)).netloc}
    body = json.dumps({"http": True, "pause": True})
    with httpx.stream("POST", lambdad.endpoint + "/", content=body, headers=host,
                      timeout=30) as answer:  # fmt: skip
        assert answer.status_code == 201
        pieces = answer.iter_bytes()
        first = next(pieces)
        received_first_ms = time.time() * 1000
        rest = b"".join(pieces)
    assert first == b"first;"
    assert received_first_ms < _second_written_ms(rest)
