"""ELB's own checks of names, ARNs and page markers, in AWS's words."""

from __future__ import annotations

import pytest

from lambdad.events.alb import checks
from lambdad.events.alb.errors import ElbError
from lambdad.model.scope import Scope

SCOPE = Scope("123456789012", "us-east-1")
ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef"


def test_balancer_names() -> None:
    assert checks.balancer_name_problem("web-1") is None
    assert checks.balancer_name_problem("a" * 33) == (
        f"The load balancer name '{'a' * 33}' cannot be longer than '32' characters"
    )
    assert checks.balancer_name_problem("api.example") == (
        "The load balancer name 'api.example' can only contain characters that are "
        "alphanumeric characters and hyphens(-)"
    )
    assert checks.balancer_name_problem("-web") is not None
    assert checks.balancer_name_problem("internal-web") is not None


def test_target_group_names() -> None:
    assert checks.group_name_problem("fn-1") is None
    assert checks.group_name_problem("x" * 33) == (
        f"Target group name '{'x' * 33}' cannot be longer than '32' characters"
    )
    assert checks.group_name_problem("a.b") == (
        "Target group name 'a.b' can only contain characters that are alphanumeric "
        "characters or hyphens(-)"
    )
    problem = checks.group_name_problem("a--b")
    assert problem is not None
    assert problem.startswith("1 validation error detected: Value 'a--b' at ")


def test_an_arn_of_another_kind_region_or_account_is_not_valid() -> None:
    checks.check_arn(SCOPE, "load balancer", ARN)
    for bad, kind in (
        ("garbage", "load balancer"),
        (ARN.replace("us-east-1", "eu-west-1"), "load balancer"),
        (ARN.replace("123456789012", "210987654321"), "load balancer"),
        (ARN, "target group"),
    ):
        with pytest.raises(ElbError) as refused:
            checks.check_arn(SCOPE, kind, bad)
        assert refused.value.code == "ValidationError"
        assert refused.value.message == f"'{bad}' is not a valid {kind} ARN"


def test_pages_and_markers() -> None:
    items = list(range(5))
    first, marker = checks.page(items, {"PageSize": 2})
    assert first == [0, 1]
    assert marker is not None
    second, marker = checks.page(items, {"PageSize": 2, "Marker": marker})
    assert second == [2, 3]
    last, marker = checks.page(items, {"PageSize": 2, "Marker": marker})
    assert (last, marker) == ([4], None)
    assert checks.page(items, {}) == (items, None)
    with pytest.raises(ElbError) as bad:
        checks.page(items, {"Marker": "zzz"})
    assert bad.value.code == "ValidationError"


def test_names_not_found_names_them() -> None:
    error = checks.names_not_found("LoadBalancerNotFound", ["a", "b"])
    assert (error.code, error.message) == (
        "LoadBalancerNotFound",
        "Load balancers '[a, b]' not found",
    )
