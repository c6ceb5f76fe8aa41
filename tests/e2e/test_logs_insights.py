"""Logs Insights over a function's own logs, as users query them with boto3 and the
AWS CLI: REPORT fields, JSON fields, stats, and account isolation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from e2e.helpers import OTHER, LambdadServer, make_zip
from e2e.invoke_support import wait_for_log

SOURCE = (
    "import json\n"
    "def handler(event, context):\n"
    "    print(json.dumps({'level': event['level'], 'order': event['order']}))\n"
    "    return event\n"
)


def _results(logs: Any, **start: Any) -> list[dict[str, str]]:
    query_id = logs.start_query(**start)["queryId"]
    deadline = time.monotonic() + 10
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] in ("Complete", "Failed", "Cancelled"):
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)
    assert answer["status"] == "Complete", answer
    assert answer["statistics"]["recordsScanned"] > 0
    return [{c["field"]: c["value"] for c in row} for row in answer["results"]]


def test_report_and_json_fields_answer_queries(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    client, logs = lambdad.client("lambda"), lambdad.client("logs")
    name = new_function(make_zip({"app.py": SOURCE}))["FunctionName"]
    for order, level in enumerate(["INFO", "ERROR", "INFO", "ERROR", "ERROR"]):
        payload = json.dumps({"level": level, "order": order}).encode()
        client.invoke(FunctionName=name, Payload=payload)
    wait_for_log(lambdad, name, '"order": 4')
    wait_for_log(lambdad, name, "REPORT RequestId")
    group = f"/aws/lambda/{name}"
    now = int(time.time())
    window = {"logGroupName": group, "startTime": now - 600, "endTime": now + 60}

    rows = _results(
        logs, **window,
        queryString='filter @type = "REPORT" | stats count(*) as invocations, '
        "avg(@duration) as avgMs, max(@maxMemoryUsed / 1000 / 1000) as peakMB",
    )  # fmt: skip
    assert len(rows) == 1
    assert rows[0]["invocations"] == "5"
    assert float(rows[0]["avgMs"]) > 0
    assert float(rows[0]["peakMB"]) > 0

    rows = _results(
        logs, **window,
        queryString="fields order, level | filter level = 'ERROR' | sort order desc | limit 2",
    )  # fmt: skip
    assert [(r["order"], r["level"]) for r in rows] == [("4", "ERROR"), ("3", "ERROR")]
    assert all("@ptr" in r for r in rows)

    rows = _results(logs, **window, queryString="stats count(*) as n by level | sort level")
    counted = {r.get("level"): r["n"] for r in rows}
    assert counted["ERROR"] == "3"
    assert counted["INFO"] == "2"

    # A JSON filter pattern picks the same events through FilterLogEvents.
    found = logs.filter_log_events(logGroupName=group, filterPattern='{ $.level = "ERROR" }')
    assert sorted(json.loads(e["message"])["order"] for e in found["events"]) == [1, 3, 4]

    # The AWS CLI's spelling of the same.
    out = lambdad.aws(
        "logs", "start-query", "--log-group-name", group,
        "--start-time", str(now - 600), "--end-time", str(now + 60),
        "--query-string", "filter level = 'INFO' | stats count(*) as n",
    )  # fmt: skip
    assert out["queryId"]

    # Another account sees neither the query nor the group.
    foreign = lambdad.client("logs", account=OTHER.account_id)
    with pytest.raises(foreign.exceptions.ResourceNotFoundException):
        foreign.get_query_results(queryId=out["queryId"])
    arn = f"arn:aws:logs:{lambdad.region}:123456789012:log-group:{group}"
    with pytest.raises(foreign.exceptions.ResourceNotFoundException):
        foreign.start_query(
            logGroupIdentifiers=[arn], startTime=now - 600, endTime=now, queryString="limit 1"
        )
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(**window, queryString="stats nonsense(")
