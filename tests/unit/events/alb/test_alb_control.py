"""The elbv2 control operations over an in-memory store: balancers, lambda target
groups and the permission RegisterTargets needs, listeners, rules and their errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.events.alb.errors import ElbError
from lambdad.events.alb.service import LoadBalancing
from lambdad.model.scope import Scope
from unit.events.apigw.conftest import SCOPE, ChildStore

FUNCTION = "arn:aws:lambda:us-east-1:111111111111:function:f"
Call = Callable[[str, dict[str, Any]], dict[str, Any]]


class _Policies:
    def __init__(self) -> None:
        self.allow = False

    def allows_service(
        self, owner: Scope, name: str, qualifier: str | None, service: str, source_arn: str
    ) -> bool:
        return self.allow and service == "elasticloadbalancing.amazonaws.com"


@pytest.fixture
def policies() -> _Policies:
    return _Policies()


@pytest.fixture
def elb(policies: _Policies) -> Call:
    clock = FakeClock(datetime(2024, 5, 1, tzinfo=UTC))
    service = LoadBalancing(ChildStore(), clock, policies, 9550)  # type: ignore[arg-type]
    service.listening.bind_error = lambda port: "busy" if port == 1 else None  # type: ignore[method-assign]
    operations = service.operations()
    return lambda name, params: operations[name](SCOPE, params)


def _setup(elb: Call, policies: _Policies) -> tuple[str, str]:
    balancer = elb("CreateLoadBalancer", {"Name": "web"})["LoadBalancers"][0]
    group = elb("CreateTargetGroup", {"Name": "fn", "TargetType": "lambda"})["TargetGroups"][0]
    policies.allow = True
    elb("RegisterTargets", {"TargetGroupArn": group["TargetGroupArn"],
                            "Targets": [{"Id": FUNCTION}]})  # fmt: skip
    return balancer["LoadBalancerArn"], group["TargetGroupArn"]


def test_balancer_names_and_dns(elb: Call) -> None:
    balancer = elb("CreateLoadBalancer", {"Name": "web", "Subnets": ["s-1"]})["LoadBalancers"][0]
    assert balancer["LoadBalancerArn"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/web/"
    )
    assert balancer["DNSName"].startswith("web-")
    assert balancer["DNSName"].endswith(".us-east-1.elb.localhost")
    again = elb("CreateLoadBalancer", {"Name": "web"})["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == balancer["LoadBalancerArn"]
    for bad in ("-web", "internal-x", "a" * 33, "no_underscores"):
        with pytest.raises(ElbError):
            elb("CreateLoadBalancer", {"Name": bad})
    with pytest.raises(ElbError) as missing:
        elb("DescribeLoadBalancers", {"Names": ["nope"]})
    assert missing.value.code == "LoadBalancerNotFound"


def test_target_groups_need_the_permission(elb: Call, policies: _Policies) -> None:
    with pytest.raises(ElbError):
        elb("CreateTargetGroup", {"Name": "ip", "TargetType": "ip"})
    with pytest.raises(ElbError):
        elb("CreateTargetGroup", {"Name": "p", "TargetType": "lambda", "Port": 80})
    group = elb("CreateTargetGroup", {"Name": "fn", "TargetType": "lambda"})["TargetGroups"][0]
    assert group["HealthCheckEnabled"] is False
    register = {"TargetGroupArn": group["TargetGroupArn"], "Targets": [{"Id": FUNCTION}]}
    with pytest.raises(ElbError) as denied:
        elb("RegisterTargets", register)
    assert (denied.value.code, denied.value.elb_status) == ("AccessDenied", 403)
    policies.allow = True
    elb("RegisterTargets", register)
    (health,) = elb("DescribeTargetHealth", {"TargetGroupArn": group["TargetGroupArn"]})[
        "TargetHealthDescriptions"
    ]
    assert health["Target"] == {"Id": FUNCTION}
    with pytest.raises(ElbError):
        elb("RegisterTargets", {**register, "Targets": [{"Id": FUNCTION}, {"Id": FUNCTION}]})
    attributes = elb("ModifyTargetGroupAttributes", {
        "TargetGroupArn": group["TargetGroupArn"],
        "Attributes": [{"Key": "lambda.multi_value_headers.enabled", "Value": "true"}],
    })["Attributes"]  # fmt: skip
    assert attributes == [{"Key": "lambda.multi_value_headers.enabled", "Value": "true"}]


def test_listeners_and_rules(elb: Call, policies: _Policies) -> None:
    balancer_arn, group_arn = _setup(elb, policies)
    forward = [{"Type": "forward", "TargetGroupArn": group_arn}]
    made = {"LoadBalancerArn": balancer_arn, "Protocol": "HTTP", "Port": 8080,
            "DefaultActions": forward}  # fmt: skip
    listener = elb("CreateListener", made)["Listeners"][0]
    assert listener["Port"] == 8080
    with pytest.raises(ElbError) as duplicate:
        elb("CreateListener", {"LoadBalancerArn": balancer_arn, "Port": 8080,
                               "DefaultActions": forward})  # fmt: skip
    assert duplicate.value.code == "DuplicateListener"
    with pytest.raises(ElbError) as busy:
        elb("CreateListener", {"LoadBalancerArn": balancer_arn, "Port": 1,
                               "DefaultActions": forward})  # fmt: skip
    assert busy.value.code == "InvalidConfigurationRequest"
    with pytest.raises(ElbError):
        elb("CreateListener", {"LoadBalancerArn": balancer_arn, "Port": 81, "DefaultActions": [
            {"Type": "forward", "TargetGroupArn": group_arn.replace("fn", "other")}]})  # fmt: skip
    rule = {"ListenerArn": listener["ListenerArn"], "Priority": 5, "Actions": forward,
            "Conditions": [{"Field": "path-pattern", "Values": ["/a*"]}]}  # fmt: skip
    elb("CreateRule", rule)
    with pytest.raises(ElbError) as taken:
        elb("CreateRule", rule)
    assert taken.value.code == "PriorityInUse"
    with pytest.raises(ElbError):
        elb("CreateRule", {**rule, "Priority": 6, "Conditions": [{"Field": "cookie"}]})
    # Exactly one action that answers (forward, fixed-response or redirect) per list.
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}
    moved = {"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301", "Path": "/b"}}
    for actions in ([*forward, fixed], [fixed, moved]):
        with pytest.raises(ElbError) as mixed:
            elb("CreateRule", {**rule, "Priority": 7, "Actions": actions})
        assert mixed.value.code == "ValidationError"
    rules = elb("DescribeRules", {"ListenerArn": listener["ListenerArn"]})["Rules"]
    assert [(r["Priority"], r["IsDefault"]) for r in rules] == [("5", False), ("default", True)]
    with pytest.raises(ElbError) as in_use:
        elb("DeleteTargetGroup", {"TargetGroupArn": group_arn})
    assert in_use.value.code == "ResourceInUse"
    groups = elb("DescribeTargetGroups", {"TargetGroupArns": [group_arn]})["TargetGroups"]
    assert groups[0]["LoadBalancerArns"] == [balancer_arn]
    elb("DeleteListener", {"ListenerArn": listener["ListenerArn"]})
    assert elb("DescribeListeners", {"LoadBalancerArn": balancer_arn})["Listeners"] == []
    elb("DeleteTargetGroup", {"TargetGroupArn": group_arn})


def test_creating_again_answers_the_same_or_refuses_other_settings(elb: Call) -> None:
    made = elb("CreateLoadBalancer", {"Name": "web", "Subnets": ["s-1", "s-2"]})
    again = elb("CreateLoadBalancer", {"Name": "web", "Subnets": ["s-2", "s-1"]})
    # Answered as created (a datetime, not the stored number: the XML needs one).
    assert again == made
    assert isinstance(again["LoadBalancers"][0]["CreatedTime"], datetime)
    with pytest.raises(ElbError) as other:
        elb("CreateLoadBalancer", {"Name": "web", "Scheme": "internal"})
    assert other.value.code == "DuplicateLoadBalancerName"
    assert other.value.message == (
        "A load balancer with the same name 'web' exists, but with different settings"
    )
    group = {"Name": "fn", "TargetType": "lambda", "HealthCheckPath": "/up"}
    assert elb("CreateTargetGroup", group) == elb("CreateTargetGroup", group)
    with pytest.raises(ElbError) as differs:
        elb("CreateTargetGroup", {**group, "HealthCheckPath": "/down"})
    assert differs.value.code == "DuplicateTargetGroupName"


def test_names_arns_and_pages(elb: Call, policies: _Policies) -> None:
    balancer_arn, group_arn = _setup(elb, policies)
    for i in range(3):
        elb("CreateLoadBalancer", {"Name": f"more-{i}"})
    with pytest.raises(ElbError) as missing:
        elb("DescribeLoadBalancers", {"Names": ["web", "gone"]})
    assert missing.value.message == "Load balancers '[gone]' not found"
    for op, params in (
        ("DescribeLoadBalancers", {"LoadBalancerArns": ["web"]}),
        ("DeleteLoadBalancer", {"LoadBalancerArn": group_arn}),
        ("DescribeTargetHealth", {"TargetGroupArn": balancer_arn}),
    ):
        with pytest.raises(ElbError) as invalid:
            elb(op, params)
        assert invalid.value.code == "ValidationError"
        assert "is not a valid" in invalid.value.message
    seen, marker = [], None
    while True:
        page = elb(
            "DescribeLoadBalancers", {"PageSize": 3, **({"Marker": marker} if marker else {})}
        )
        seen += [b["LoadBalancerName"] for b in page["LoadBalancers"]]
        marker = page.get("NextMarker")
        if marker is None:
            break
    assert sorted(seen) == ["more-0", "more-1", "more-2", "web"]
    forward = [{"Type": "forward", "TargetGroupArn": group_arn}]
    listener = elb("CreateListener", {"LoadBalancerArn": balancer_arn, "Port": 8080,
                                      "DefaultActions": forward})["Listeners"][0]  # fmt: skip
    with pytest.raises(ElbError) as duplicate:
        elb("CreateListener", {"LoadBalancerArn": balancer_arn, "Port": 8080,
                               "DefaultActions": forward})  # fmt: skip
    assert duplicate.value.message == (
        f"A listener already exists on this port for this load balancer '{balancer_arn}'"
    )
    rules = elb("DescribeRules", {"ListenerArn": listener["ListenerArn"], "PageSize": 1})
    assert len(rules["Rules"]) == 1
    assert "NextMarker" not in rules  # only the default rule


def test_rules_conditions_and_what_describe_needs(elb: Call, policies: _Policies) -> None:
    balancer_arn, group_arn = _setup(elb, policies)
    forward = [{"Type": "forward", "TargetGroupArn": group_arn}]
    listener = elb("CreateListener", {"LoadBalancerArn": balancer_arn, "Port": 8080,
                                      "DefaultActions": forward})["Listeners"][0]  # fmt: skip
    rule = {"ListenerArn": listener["ListenerArn"], "Priority": 5, "Actions": forward}
    with pytest.raises(ElbError) as two:
        elb("CreateRule", {**rule, "Conditions": [{"Field": "path-pattern",
                                                   "Values": ["/a", "/b"]}]})  # fmt: skip
    assert two.value.message == (
        "The 'path-pattern' field contains too many values; the limit is '1'"
    )
    several = {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a", "/b"]}}
    elb("CreateRule", {**rule, "Conditions": [several]})
    for op, needs in (("DescribeListeners", "LoadBalancerArn"), ("DescribeRules", "ListenerArn")):
        with pytest.raises(ElbError) as bare:
            elb(op, {})
        assert bare.value.code == "ValidationError", needs


def test_attribute_keys_and_values_are_told_apart(elb: Call) -> None:
    group = elb("CreateTargetGroup", {"Name": "fn", "TargetType": "lambda"})["TargetGroups"][0]
    arn = group["TargetGroupArn"]
    attributes = [{"Key": "x.y", "Value": "1"}]
    with pytest.raises(ElbError) as key:
        elb("ModifyTargetGroupAttributes", {"TargetGroupArn": arn, "Attributes": attributes})
    assert key.value.message == "Target group attribute key 'x.y' is not recognized"
    multi = "lambda.multi_value_headers.enabled"
    attributes = [{"Key": multi, "Value": "yes"}]
    with pytest.raises(ElbError) as value:
        elb("ModifyTargetGroupAttributes", {"TargetGroupArn": arn, "Attributes": attributes})
    assert "'yes'" in value.value.message
    assert "not recognized" not in value.value.message
