"""Logs Insights queries over records: parsing, the fields discovered, each command
and aggregate, as the CloudWatch documentation's examples use them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdad.observe.insights_eval import record_of
from lambdad.observe.insights_parse import parse_query
from lambdad.observe.insights_run import run
from lambdad.observe.insights_syntax import MalformedQueryException

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def report(i: int, duration: float, used: int, init: float | None = None) -> str:
    line = (
        f"REPORT RequestId: r{i}\tDuration: {duration:.2f} ms\tBilled Duration: "
        f"{int(duration) + 1} ms\tMemory Size: 128 MB\tMax Memory Used: {used} MB"
    )
    return line + (f"\tInit Duration: {init:.2f} ms" if init is not None else "")


def records(messages: list[str], step_ms: int = 60_000) -> list[dict[str, Any]]:
    out = []
    for i, message in enumerate(messages):
        record = record_of(
            T0 + i * step_ms, message, "2026/01/01/[$LATEST]abc", "1:/aws/lambda/f", 0
        )
        record["@ptr"] = f"p{i}"
        out.append(record)
    return out


def query(text: str, messages: list[str], step_ms: int = 60_000) -> list[dict[str, str]]:
    outcome = run(parse_query(text), records(messages, step_ms), 1000)
    return [{cell["field"]: cell["value"] for cell in row} for row in outcome.rows]


def test_report_lines_give_lambdas_fields() -> None:
    rec = records([report(1, 12.5, 40, init=150.25)])[0]
    assert rec["@type"] == "REPORT"
    assert rec["@requestId"] == "r1"
    assert rec["@duration"] == 12.5
    assert rec["@billedDuration"] == 13
    assert rec["@memorySize"] == 128_000_000
    assert rec["@maxMemoryUsed"] == 40_000_000
    assert rec["@initDuration"] == 150.25


def test_json_messages_are_flattened() -> None:
    rec = records([json.dumps({"level": "ERROR", "ctx": {"user": "u1"}, "tags": ["a", "b"]})])[0]
    assert rec["level"] == "ERROR"
    assert rec["ctx.user"] == "u1"
    assert rec["tags.1"] == "b"


def test_aws_example_provisioned_memory_and_usage() -> None:
    lines = [report(i, 10.0 + i, 30 + i) for i in range(5)] + [
        "START RequestId: x Version: $LATEST"
    ]
    rows = query(
        'filter @type = "REPORT" | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB, '
        "min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB, "
        "avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB, "
        "max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB",
        lines,
    )
    assert rows == [
        {
            "provisonedMemoryMB": "128",
            "smallestMemoryRequestMB": "30",
            "avgMemoryUsedMB": "32",
            "maxMemoryUsedMB": "34",
        }
    ]


def test_stats_by_bin_counts_per_period_in_time_order() -> None:
    lines = [report(i, 5.0, 30) for i in range(6)]  # one a minute
    rows = query(
        'filter @type = "REPORT" | stats count(*) as n, pct(@duration, 99) by bin(2m)', lines
    )
    assert [r["n"] for r in rows] == ["2", "2", "2"]
    assert rows[0]["bin(2m)"] == "2026-01-01 00:00:00.000"
    assert rows[1]["bin(2m)"] == "2026-01-01 00:02:00.000"
    assert rows[0]["pct(@duration, 99)"] == "5"


def test_fields_filter_sort_limit_and_ptr() -> None:
    lines = ["ERROR one", "INFO two", "ERROR three", "ERROR four"]
    rows = query(
        "fields @timestamp, @message | filter @message like /ERROR/ "
        "| sort @timestamp desc | limit 2",
        lines,
    )
    assert [r["@message"] for r in rows] == ["ERROR four", "ERROR three"]
    assert set(rows[0]) == {"@timestamp", "@message", "@ptr"}
    assert rows[0]["@timestamp"] == "2026-01-01 00:03:00.000"


def test_like_with_a_string_is_a_substring_and_regex_flags_apply() -> None:
    lines = ["Timeout reached", "timeout again", "fine"]
    assert len(query('filter @message like "Timeout"', lines)) == 1
    assert len(query("filter @message like /(?i)timeout/", lines)) == 2
    assert len(query("filter @message like /timeout/i", lines)) == 2
    assert len(query('filter @message not like "Timeout"', lines)) == 2


def test_parse_with_a_glob_and_a_regex_then_stats_by_the_parsed_field() -> None:
    lines = ["user=ann action=get", "user=bob action=put", "user=ann action=put"]
    rows = query(
        'parse @message "user=* action=*" as who, what | stats count(*) by who | sort who', lines
    )
    assert rows == [{"who": "ann", "count(*)": "2"}, {"who": "bob", "count(*)": "1"}]
    rows = query(r"parse @message /user=(?<who>\w+)/ | filter who = 'bob' | display who", lines)
    assert rows == [{"who": "bob", "@ptr": "p1"}]


def test_comparisons_in_lists_and_arithmetic() -> None:
    lines = [json.dumps({"code": c, "ms": m}) for c, m in ((200, 10), (500, 30), (404, 20))]
    assert len(query("filter code in [500, 404]", lines)) == 2
    assert len(query("filter code >= 400 and ms < 25", lines)) == 1
    rows = query("filter code = 500 | fields ms * 2 as double", lines)
    assert rows[0]["double"] == "60"
    assert query("stats sum(ms) as total, count_distinct(code) as codes", lines) == [
        {"total": "60", "codes": "3"}
    ]


def test_dedup_and_missing_fields_are_left_out() -> None:
    lines = [json.dumps({"id": 1}), json.dumps({"id": 1}), "plain"]
    rows = query("fields id | dedup id", lines)
    assert len(rows) == 2  # id 1 once, and the line without an id


@pytest.mark.parametrize(
    "bad",
    ["", "fields", "stats @message", "nonsense x", "filter (a = 1", "limit 0", "limit 20000",
     "parse @message \"a*b*\" as one", "filter x = /[/"],
)  # fmt: skip
def test_outside_the_subset_is_refused(bad: str) -> None:
    with pytest.raises(MalformedQueryException):
        parse_query(bad)
