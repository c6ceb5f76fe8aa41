"""A rule's conditions as ELB checks them when the rule is made."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.events.alb.conditions import condition_problem, conditions_problem

FIELDS = "path-pattern,host-header,http-header,http-request-method,query-string,source-ip"


@pytest.mark.parametrize(
    "condition",
    [
        {"Field": "path-pattern", "Values": ["/a*"]},
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a", "/b*"]}},
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}},
        {
            "Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": "X-Kind", "Values": ["a*"]},
        },
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET", "X_Y"]}},
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Value": "v"}]}},
        {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}},
    ],
)
def test_conditions_elb_takes(condition: dict[str, Any]) -> None:
    assert condition_problem(condition) is None


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"Field": "cookie"}, f"Condition field 'cookie' must be one of '[{FIELDS}]'"),
        ({"Field": "path-pattern"}, "A condition value must be specified"),
        ({"Field": "path-pattern", "Values": ["/a", "/b"]},
         "The 'path-pattern' field contains too many values; the limit is '1'"),
        ({"Field": "path-pattern", "Values": ["/a"], "PathPatternConfig": {"Values": ["/b"]}},
         "You cannot provide both Values and 'PathPatternConfig' for a condition of type "
         "'path-pattern'"),
        ({"Field": "host-header", "Values": ["x" * 129]},
         "The 'host-header' value is too long; the limit is '128'"),
        ({"Field": "http-request-method", "Values": ["GET"]},
         "The 'Values' field is not compatible with 'http-request-method'"),
        ({"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["get"]}},
         "The 'http-request-method' value is invalid; the allowed characters are A-Z, "
         "hyphen and underscore"),
        ({"Field": "source-ip"}, "A 'SourceIpConfig' must be specified with 'source-ip'"),
        ({"Field": "source-ip", "SourceIpConfig": {"Values": []}},
         "A 'source-ip' value must be specified"),
        ({"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "x" * 41}},
         "The 'HttpHeaderName' value is too long; the limit is '40'"),
        ({"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "k"}]}},
         "A 'Value' must be specified in 'QueryStringKeyValuePair'"),
    ],
)  # fmt: skip
def test_conditions_elb_refuses(condition: dict[str, Any], problem: str) -> None:
    assert condition_problem(condition) == problem


def test_the_first_problem_is_told() -> None:
    good = {"Field": "path-pattern", "Values": ["/a"]}
    assert conditions_problem([good, {"Field": "source-ip"}, {"Field": "x"}]) == (
        "A 'SourceIpConfig' must be specified with 'source-ip'"
    )
    assert conditions_problem([good]) is None
