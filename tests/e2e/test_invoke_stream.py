"""InvokeWithResponseStream, end to end, through boto3: a buffered Python function's
result framed as PayloadChunk events and one InvokeComplete."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from e2e.helpers import LambdadServer, make_zip

SOURCE = """
def handler(event, context):
    print("streamed-log-line")
    if event.get("fail"):
        raise ValueError("boom")
    return {"echo": event, "pad": "x" * event.get("pad", 0)}
"""


@pytest.fixture
def fn(new_function: Callable[..., dict[str, Any]]) -> str:
    name: str = new_function(make_zip({"app.py": SOURCE}))["FunctionName"]
    return name


def _events(out: dict[str, Any]) -> list[dict[str, Any]]:
    return list(out["EventStream"])


def test_chunks_join_to_the_result_and_invoke_complete_ends_the_stream(
    lambdad: LambdadServer, fn: str
) -> None:
    event = {"a": 1, "pad": 200_000}
    out = lambdad.client().invoke_with_response_stream(
        FunctionName=fn, Payload=json.dumps(event).encode()
    )

    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert out["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = _events(out)
    chunks = [e["PayloadChunk"]["Payload"] for e in events[:-1]]
    assert len(chunks) > 1
    assert json.loads(b"".join(chunks)) == {"echo": event, "pad": "x" * 200_000}
    assert events[-1] == {"InvokeComplete": {}}


def test_a_function_error_is_reported_in_invoke_complete(lambdad: LambdadServer, fn: str) -> None:
    out = lambdad.client().invoke_with_response_stream(FunctionName=fn, Payload=b'{"fail": 1}')

    assert out["StatusCode"] == 200
    events = _events(out)
    assert [list(e) for e in events] == [["InvokeComplete"]]
    complete = events[0]["InvokeComplete"]
    assert complete["ErrorCode"] == "Unhandled"
    details = json.loads(complete["ErrorDetails"])
    assert (details["errorType"], details["errorMessage"]) == ("ValueError", "boom")


def test_log_type_tail_gives_the_log_result(lambdad: LambdadServer, fn: str) -> None:
    out = lambdad.client().invoke_with_response_stream(
        FunctionName=fn, Payload=b"{}", LogType="Tail"
    )

    complete = _events(out)[-1]["InvokeComplete"]
    assert "streamed-log-line" in base64.b64decode(complete["LogResult"]).decode()


def test_dry_run_streams_nothing(lambdad: LambdadServer, fn: str) -> None:
    out = lambdad.client().invoke_with_response_stream(FunctionName=fn, InvocationType="DryRun")

    assert out["StatusCode"] == 204
    assert _events(out) == []


def test_an_unknown_function_is_resource_not_found(lambdad: LambdadServer) -> None:
    client = lambdad.client()
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke_with_response_stream(FunctionName="no-such-function", Payload=b"{}")
