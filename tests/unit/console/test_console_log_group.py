"""The console reads a function's logs where its LoggingConfig sends them: the Logs tab
and the functions page's last invocation, in a custom group other functions may share."""

from __future__ import annotations

from typing import Any

from lambdad.console.aws import Aws
from lambdad.console.door import Console
from lambdad.console.saved_events import SavedEvents
from lambdad.model.scope import Scope
from unit.console.test_console_door import KEY, Recorder, call, signed_in

CONFIG = {"FunctionName": "f", "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/my/app"}}


def _console(asked: list[tuple[str, dict[str, Any]]]) -> Console:
    rec = Recorder()

    def logs(name: str, out: dict[str, Any]) -> Any:
        def op(scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
            asked.append((name, params))
            return out

        return op

    streams = [  # newest first: another function's, then f's
        {"logStreamName": "2026/01/01/g[$LATEST]b", "lastEventTimestamp": 2_000},
        {"logStreamName": "2026/01/01/f[$LATEST]a", "lastEventTimestamp": 1_000},
    ]
    event = {"eventId": "1", "timestamp": 900, "message": "from f\n"}
    aws = Aws(
        {
            "GetFunction": rec.op("GetFunction", {"Configuration": CONFIG}),
            "GetFunctionConfiguration": rec.op("GetFunctionConfiguration", CONFIG),
            "ListFunctions": rec.op("ListFunctions", {"Functions": [CONFIG]}),
        },
        logs_ops={
            "FilterLogEvents": logs("FilterLogEvents", {"events": [event]}),
            "DescribeLogStreams": logs("DescribeLogStreams", {"logStreams": streams}),
        },
    )
    keys = {KEY.access_key_id: KEY}
    return Console(aws, keys.get, lambda: 1000.0, "us-east-1", SavedEvents())


def test_the_logs_tab_reads_the_custom_group() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    c = _console(asked)
    cookie, _ = signed_in(c)
    page = call(c, "GET", "/console/functions/f/logs", cookie=cookie)
    assert page[0] == 200
    assert b"<h2>/my/app</h2>" in page[2]
    assert b"from f" in page[2]
    polled = call(c, "GET", "/console/functions/f/logs.json?since=0", cookie=cookie)
    assert polled[0] == 200
    groups = {p["logGroupName"] for n, p in asked if n == "FilterLogEvents"}
    assert groups == {"/my/app"}


def test_the_last_invocation_is_the_functions_own_stream() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    c = _console(asked)
    cookie, _ = signed_in(c)
    page = call(c, "GET", "/console/functions", cookie=cookie)
    assert page[0] == 200
    (described,) = [p for n, p in asked if n == "DescribeLogStreams"]
    assert described["logGroupName"] == "/my/app"
    # g's newer stream is not f's invocation: f's own (1,000 ms) is shown.
    assert b"1970-01-01 00:00:01" in page[2], page[2]
