"""Listener rules: priority order, every condition field, and the default actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.events.alb.names import host_address
from lambdad.events.alb.rules import actions_for, choose_group
from lambdad.events.http.request import HttpRequest

DEFAULT = [{"Type": "forward", "TargetGroupArn": "default"}]


def _request(
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    ip: str = "10.0.0.5",
) -> HttpRequest:
    return HttpRequest(method, path, query, headers, b"", ip, datetime(2024, 5, 1, tzinfo=UTC),
                       "", "h")  # fmt: skip


def _rule(priority: int, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"Priority": str(priority), "Conditions": list(conditions),
            "Actions": [{"Type": "forward", "TargetGroupArn": f"tg{priority}"}]}  # fmt: skip


def _chosen(request: HttpRequest, *rules: dict[str, Any], host: str = "a.example") -> str:
    return str(actions_for(request, host, list(rules), DEFAULT)[0]["TargetGroupArn"])


def test_lowest_priority_first_and_default_last() -> None:
    rules = (_rule(20, {"Field": "path-pattern", "Values": ["/api/*"]}),
             _rule(10, {"Field": "path-pattern", "Values": ["/api/v1/*"]}))  # fmt: skip
    assert _chosen(_request(path="/api/v1/x"), *rules) == "tg10"
    assert _chosen(_request(path="/api/v2/x"), *rules) == "tg20"
    assert _chosen(_request(path="/other"), *rules) == "default"


@pytest.mark.parametrize(
    ("condition", "request_", "host", "matches"),
    [
        ({"Field": "path-pattern", "PathPatternConfig": {"Values": ["/img/?.png"]}},
         _request(path="/img/a.png"), "h", True),
        ({"Field": "path-pattern", "Values": ["/IMG*"]}, _request(path="/img"), "h", False),
        ({"Field": "host-header", "Values": ["*.Example"]}, _request(), "api.example:80", True),
        ({"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
         _request(method="GET"), "h", False),
        ({"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env",
                                                       "Values": ["PROD"]}},
         _request(headers=(("x-env", "prod"),)), "h", True),
        ({"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2*"}]}},
         _request(query="a=1&v=2.1"), "h", True),
        ({"Field": "query-string", "QueryStringConfig": {"Values": [{"Value": "x y"}]}},
         _request(query="q=x+y"), "h", True),
        ({"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}, _request(), "h",
         True),
        ({"Field": "source-ip", "SourceIpConfig": {"Values": ["192.168.0.0/16"]}}, _request(),
         "h", False),
    ],
)  # fmt: skip
def test_conditions(
    condition: dict[str, Any], request_: HttpRequest, host: str, matches: bool
) -> None:
    chosen = _chosen(request_, _rule(1, condition), host=host)
    assert chosen == ("tg1" if matches else "default")


def test_every_condition_must_hold() -> None:
    rule = _rule(1, {"Field": "path-pattern", "Values": ["/a"]},
                 {"Field": "http-request-method", "Values": ["POST"]})  # fmt: skip
    assert _chosen(_request(method="POST", path="/a"), rule) == "tg1"
    assert _chosen(_request(method="GET", path="/a"), rule) == "default"


def test_host_addresses() -> None:
    assert host_address("my-lb-0123456789.eu-west-1.elb.localhost:9550") == (
        "0123456789", "eu-west-1", 9550,
    )  # fmt: skip
    assert host_address("my-lb-0123456789.eu-west-1.elb.localhost") == (
        "0123456789", "eu-west-1", None,
    )  # fmt: skip
    assert host_address("127.0.0.1:9550") is None
    assert host_address(None) is None


def test_weighted_forwards() -> None:
    groups = [{"TargetGroupArn": "blue", "Weight": 3}, {"TargetGroupArn": "green", "Weight": 1}]
    weighted = [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]
    assert [choose_group(weighted, d) for d in (0.0, 0.5, 0.74, 0.75, 0.99)] == [
        "blue", "blue", "blue", "green", "green",
    ]  # fmt: skip
    assert choose_group([{"Type": "fixed-response"}], 0.5) is None
    assert choose_group(DEFAULT, 0.9) == "default"
