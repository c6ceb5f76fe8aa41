"""The console reads a function's logs where its LoggingConfig sends them: the Logs tab
(its configuration read once per open tab) and the functions page's last invocation, in
a custom group other functions may share (found by the function's stream names)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lambdad.console.aws import Aws
from lambdad.console.door import Console
from lambdad.console.last_invocation import NEWEST, day_prefixes, owns
from lambdad.console.layout import log_text
from lambdad.console.saved_events import SavedEvents
from lambdad.model.scope import Scope
from unit.console.test_console_door import KEY, Recorder, call, signed_in

CONFIG = {"FunctionName": "f", "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/my/app"}}


NEWEST_FIRST = [  # another function's stream, then f's
    {"logStreamName": "2026/01/01/g[$LATEST]b", "lastEventTimestamp": 2_000},
    {"logStreamName": "2026/01/01/f[$LATEST]a", "lastEventTimestamp": 1_000},
]


def _console(
    asked: list[tuple[str, dict[str, Any]]],
    streams: Callable[[dict[str, Any]], dict[str, Any]] = lambda p: {"logStreams": NEWEST_FIRST},
    rec: Recorder | None = None,
) -> Console:
    rec = rec or Recorder()

    def logs(name: str, out: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
        def op(scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
            asked.append((name, params))
            return out(params)

        return op

    event = {"eventId": "1", "timestamp": 900, "message": "from f\n"}
    aws = Aws(
        {
            "GetFunction": rec.op("GetFunction", {"Configuration": CONFIG}),
            "GetFunctionConfiguration": rec.op("GetFunctionConfiguration", CONFIG),
            "ListFunctions": rec.op("ListFunctions", {"Functions": [CONFIG]}),
        },
        logs_ops={
            "FilterLogEvents": logs("FilterLogEvents", lambda p: {"events": [event]}),
            "DescribeLogStreams": logs("DescribeLogStreams", streams),
        },
    )
    keys = {KEY.access_key_id: KEY}
    return Console(aws, keys.get, lambda: 1000.0, "us-east-1", SavedEvents())


def test_the_logs_tab_reads_the_custom_group_and_the_configuration_once() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    rec = Recorder()
    c = _console(asked, rec=rec)
    cookie, _ = signed_in(c)
    page = call(c, "GET", "/console/functions/f/logs", cookie=cookie)
    assert page[0] == 200
    assert b"<h2>/my/app</h2>" in page[2]
    assert b"from f" in page[2]
    # The page's polls name the group it found: no configuration read per poll.
    assert b'data-poll="/console/functions/f/logs.json?group=%2Fmy%2Fapp"' in page[2]
    for _ in range(3):
        polled = call(c, "GET", "/console/functions/f/logs.json?group=%2Fmy%2Fapp&since=0",
                      cookie=cookie)  # fmt: skip
        assert polled[0] == 200
        assert json.loads(polled[2])["events"][0]["message"] == "from f"
    assert [seen[0] for seen in rec.seen] == ["GetFunction"]
    # A poll that names no group reads the configuration for it.
    assert call(c, "GET", "/console/functions/f/logs.json?since=0", cookie=cookie)[0] == 200
    assert [seen[0] for seen in rec.seen] == ["GetFunction", "GetFunctionConfiguration"]
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


def test_a_quiet_function_in_a_busy_shared_group_is_found_by_its_stream_names() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    busy = [{"logStreamName": f"1970/01/01/g[$LATEST]{i}", "lastEventTimestamp": 5_000}
            for i in range(NEWEST)]  # fmt: skip

    def streams(params: dict[str, Any]) -> dict[str, Any]:
        if params.get("orderBy") == "LastEventTime":  # g's streams fill the newest page
            return {"logStreams": busy, "nextToken": "more"}
        if params["logStreamNamePrefix"] == "1969/12/31/f[":  # yesterday's environments
            return {"logStreams": [
                {"logStreamName": "1969/12/31/f[$LATEST]a", "lastEventTimestamp": 1_000},
                {"logStreamName": "1969/12/31/f[1]b", "lastEventTimestamp": 2_000},
            ]}  # fmt: skip
        return {"logStreams": []}

    c = _console(asked, streams)
    cookie, _ = signed_in(c)
    page = call(c, "GET", "/console/functions", cookie=cookie)
    assert b"1970-01-01 00:00:02" in page[2], page[2]
    prefixes = [p.get("logStreamNamePrefix") for n, p in asked if n == "DescribeLogStreams"]
    assert prefixes == [None, "1970/01/01/f[", "1969/12/31/f["]


def test_stream_names_and_their_prefixes() -> None:
    assert owns("f", "2026/01/01/f[$LATEST]abc")
    assert owns("f", "2026/01/01/f[3]abc")
    assert not owns("f", "2026/01/01/ff[$LATEST]abc")
    assert not owns("f", "2026/01/01/[$LATEST]abc")  # a function's own group's name
    assert not owns("f", "f[$LATEST]")
    assert day_prefixes("f", 86400 * 31 + 5, days=3) == [
        "1970/02/01/f[", "1970/01/31/f[", "1970/01/30/f[",
    ]  # fmt: skip


def test_a_traceback_joined_with_carriage_returns_shows_on_lines() -> None:
    joined = "[ERROR] ValueError: boom\rTraceback (most recent call last):\r  File x\r\n"
    shown = "[ERROR] ValueError: boom\nTraceback (most recent call last):\n  File x"
    assert log_text(joined) == shown
