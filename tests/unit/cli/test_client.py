"""The client commands' pure parts: endpoint choice, --since, --payload, log following."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
import pytest

from lambdad.cli.client import LogFollower, parse_since, read_payload
from lambdad.cli.target import DEFAULT_ENDPOINT, find_endpoint

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.mark.parametrize(
    ("environ", "service", "expected"),
    [
        ({}, "lambda", DEFAULT_ENDPOINT),
        ({"AWS_ENDPOINT_URL": "http://a:1/"}, "lambda", "http://a:1"),
        (
            {"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_LAMBDA": "http://b:2"},
            "lambda",
            "http://b:2",
        ),
        ({"AWS_ENDPOINT_URL_LAMBDA": " "}, "lambda", DEFAULT_ENDPOINT),
        ({"AWS_ENDPOINT_URL_LAMBDA": "http://b:2"}, "logs", "http://b:2"),
        (
            {
                "AWS_ENDPOINT_URL_LAMBDA": "http://b:2",
                "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": "http://c:3",
            },
            "logs",
            "http://c:3",
        ),
    ],
)
def test_find_endpoint_prefers_the_most_specific_variable(
    environ: dict[str, str], service: str, expected: str
) -> None:
    assert find_endpoint(environ, service) == expected


@pytest.mark.parametrize(
    ("value", "seconds_ago"),
    [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800), (" 5 m ", 300)],
)
def test_parse_since_durations(value: str, seconds_ago: int) -> None:
    assert parse_since(value, NOW) == NOW_MS - seconds_ago * 1000


def test_parse_since_iso_times_default_to_utc() -> None:
    assert parse_since("2024-05-01T11:00:00", NOW) == NOW_MS - 3600 * 1000
    assert parse_since("2024-05-01T13:00:00+02:00", NOW) == NOW_MS - 3600 * 1000


def test_parse_since_refuses_garbage() -> None:
    with pytest.raises(click.BadParameter):
        parse_since("yesterday", NOW)


def test_read_payload_is_the_text_given_or_nothing() -> None:
    # @FILE and @- are exercised end to end (tests/e2e/test_cli_client.py).
    assert read_payload(None) == b""
    assert read_payload('{"a": 1}') == b'{"a": 1}'


class FakeLogs:
    """FilterLogEvents over a list, two events a page."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, ts: int, message: str) -> None:
        self.events.append({"eventId": str(len(self.events)), "timestamp": ts, "message": message})

    def filter_log_events(self, **params: Any) -> dict[str, Any]:
        matching = [e for e in self.events if e["timestamp"] >= params["startTime"]]
        start = int(params.get("nextToken", 0))
        page: dict[str, Any] = {"events": matching[start : start + 2]}
        if start + 2 < len(matching):
            page["nextToken"] = str(start + 2)
        return page


def test_log_follower_hands_out_each_event_once_across_pages_and_polls() -> None:
    logs = FakeLogs()
    logs.add(100, "before the start")
    for i in range(3):
        logs.add(200, f"a{i}")
    follower = LogFollower(logs, "/aws/lambda/f", 150)
    assert [e["message"] for e in follower.poll()] == ["a0", "a1", "a2"]
    assert follower.poll() == []
    # A late event with the same timestamp as the newest seen, then later ones.
    logs.add(200, "a3")
    logs.add(300, "b0")
    assert [e["message"] for e in follower.poll()] == ["a3", "b0"]
    logs.add(300, "b1")
    assert [e["message"] for e in follower.poll()] == ["b1"]
    assert follower.poll() == []
