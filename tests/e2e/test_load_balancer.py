"""Application load balancers end to end: a balancer, a ``lambda`` target group, the
permission ELB needs, a listener and rules made with boto3's ``elbv2``; requests sent
with ``requests`` to the API port with the balancer's ``DNSName`` as ``Host``. The ALB
event with and without multi-value headers, rules, fixed responses, and ALB's 502."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from e2e.helpers import LambdadServer, free_port, handler_zip

NewFunction = Callable[..., dict[str, Any]]
ECHO = (
    "import json\n"
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'statusDescription': '200 OK',\n"
    "            'headers': {'Content-Type': 'application/json'}, 'body': json.dumps(event)}\n"
)


def test_load_balancer_with_a_lambda_target(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    function = new_function(handler_zip(ECHO))
    elb = lambdad.client("elbv2")
    name = unique_name("lb")[:20].rstrip("-")
    balancer = elb.create_load_balancer(Name=name, Subnets=["subnet-1", "subnet-2"])[
        "LoadBalancers"
    ][0]
    assert balancer["DNSName"].endswith(f".{lambdad.region}.elb.localhost")
    assert balancer["State"] == {"Code": "active"}
    group = elb.create_target_group(Name=name, TargetType="lambda")["TargetGroups"][0]
    targets = [{"Id": function["FunctionArn"]}]
    with pytest.raises(ClientError) as refused:
        elb.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=targets)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    lambdad.client().add_permission(
        FunctionName=function["FunctionName"], StatementId="elb",
        Action="lambda:InvokeFunction", Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=group["TargetGroupArn"],
    )  # fmt: skip
    elb.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=targets)
    forward = [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]
    with pytest.raises(ClientError) as taken:  # the API port itself is taken
        elb.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=lambdad.port,
            DefaultActions=forward,
        )  # fmt: skip
    assert taken.value.response["Error"]["Code"] == "InvalidConfigurationRequest"
    port = free_port()
    listener = elb.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=port,
        DefaultActions=forward,
    )["Listeners"][0]  # fmt: skip
    elb.create_rule(
        ListenerArn=listener["ListenerArn"], Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/health*"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "200", "ContentType": "text/plain", "MessageBody": "fine"}}],
    )  # fmt: skip
    elb.create_rule(
        ListenerArn=listener["ListenerArn"], Priority=20,
        Conditions=[{"Field": "path-pattern", "Values": ["/old/*"]}],
        Actions=[{"Type": "redirect", "RedirectConfig": {
            "Path": "/new/#{path}", "StatusCode": "HTTP_301"}}],
    )  # fmt: skip
    with pytest.raises(ClientError) as looping:  # a redirect that changes nothing
        elb.create_rule(
            ListenerArn=listener["ListenerArn"], Priority=30,
            Conditions=[{"Field": "path-pattern", "Values": ["/loop"]}],
            Actions=[{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_302"}}],
        )  # fmt: skip
    assert looping.value.response["Error"]["Code"] == "ValidationError"
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert [r["Priority"] for r in rules] == ["10", "20", "default"]
    assert rules[1]["Actions"][0]["RedirectConfig"] == {
        "Protocol": "#{protocol}", "Port": "#{port}", "Host": "#{host}",
        "Path": "/new/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301",
    }  # fmt: skip
    moved = requests.get(f"http://127.0.0.1:{port}/old/page?id=7", allow_redirects=False,
                         timeout=30)  # fmt: skip
    assert moved.status_code == 301
    assert moved.headers["location"] == f"http://127.0.0.1:{port}/new/old/page?id=7"
    assert moved.headers["server"] == "awselb/2.0"
    host = {"Host": balancer["DNSName"]}

    answer = requests.get(
        f"{lambdad.endpoint}/a/b?x=1&x=2", headers={**host, "X-Twice": "1"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["server"] == "awselb/2.0"
    event = answer.json()
    assert event["requestContext"] == {"elb": {"targetGroupArn": group["TargetGroupArn"]}}
    assert (event["httpMethod"], event["path"]) == ("GET", "/a/b")
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["headers"]["x-twice"] == "1"
    assert "multiValueHeaders" not in event
    health = requests.get(f"{lambdad.endpoint}/health", headers=host, timeout=30)
    assert (health.status_code, health.text) == (200, "fine")
    # The listener's own port on loopback, without the balancer's name.
    own = requests.post(f"http://127.0.0.1:{port}/own?k=v", data=b"x", timeout=30)
    assert own.status_code == 200, own.text
    assert own.json()["path"] == "/own"
    assert own.json()["headers"]["x-forwarded-port"] == str(port)

    elb.modify_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"],
        Attributes=[{"Key": "lambda.multi_value_headers.enabled", "Value": "true"}],
    )
    # With multi-value headers on, the function answers with `headers`, which ALB ignores.
    multi = requests.get(f"{lambdad.endpoint}/m?x=1&x=2", headers=host, timeout=30)
    assert multi.status_code == 200
    assert multi.headers["content-type"] == "application/octet-stream"
    event = multi.json()
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert "headers" not in event

    elb.deregister_targets(TargetGroupArn=group["TargetGroupArn"], Targets=targets)
    assert requests.get(f"{lambdad.endpoint}/a", headers=host, timeout=30).status_code == 503
    elb.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
    assert requests.get(f"{lambdad.endpoint}/a", headers=host, timeout=30).status_code == 404
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=30)
    elb.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
    assert all(g["TargetGroupName"] != name for g in elb.describe_target_groups()["TargetGroups"])


def test_load_balancer_control_answers_as_elb_does(
    lambdad: LambdadServer,
    new_balancer: Callable[[str], dict[str, Any]],
    unique_name: Callable[[str], str],
) -> None:
    """ELB's idempotent creates, its errors and their words, and its pages, through
    boto3 (server-side validation) and the AWS CLI."""
    elb = lambdad.client("elbv2", parameter_validation=False)
    name = unique_name("ex")[:24].rstrip("-")
    balancer = new_balancer(name)
    # Created again with the same settings: the same balancer; with others: refused.
    again = elb.create_load_balancer(Name=name)["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == balancer["LoadBalancerArn"]

    def error(call: Callable[..., Any], **params: Any) -> tuple[int, str, str]:
        with pytest.raises(ClientError) as refused:
            call(**params)
        answer = refused.value.response
        status = answer["ResponseMetadata"]["HTTPStatusCode"]
        return status, answer["Error"]["Code"], answer["Error"]["Message"]

    assert error(elb.create_load_balancer, Name=name, Scheme="internal") == (
        400, "DuplicateLoadBalancerName",
        f"A load balancer with the same name '{name}' exists, but with different settings",
    )  # fmt: skip
    assert error(elb.create_load_balancer, Name=name, Scheme="bogus") == (
        400, "ValidationError",
        "1 validation error detected: Value 'bogus' at 'scheme' failed to satisfy "
        "constraint: Member must satisfy enum value set: [internet-facing, internal]",
    )  # fmt: skip
    assert error(elb.describe_load_balancers, Names=[f"{name}-gone"]) == (
        400, "LoadBalancerNotFound", f"Load balancers '[{name}-gone]' not found",
    )  # fmt: skip
    assert error(elb.delete_load_balancer, LoadBalancerArn="web") == (
        400, "ValidationError", "'web' is not a valid load balancer ARN",
    )  # fmt: skip
    assert error(elb.create_target_group, Name="x" * 33, TargetType="lambda")[2] == (
        f"Target group name '{'x' * 33}' cannot be longer than '32' characters"
    )
    assert error(elb.describe_rules) == (
        400, "ValidationError", "You must specify either listener rule ARNs or a listener ARN",
    )  # fmt: skip
    new_balancer(f"{name}-2")
    first = elb.describe_load_balancers(PageSize=1)
    assert len(first["LoadBalancers"]) == 1
    rest = elb.describe_load_balancers(PageSize=400, Marker=first["NextMarker"])
    assert "NextMarker" not in rest
    # boto3's paginator follows NextMarker and sees every balancer once; so does the
    # CLI's (--max-items / --starting-token wrap the marker in its own token).
    pages = elb.get_paginator("describe_load_balancers").paginate(PageSize=1)
    names = [b["LoadBalancerName"] for page in pages for b in page["LoadBalancers"]]
    assert sorted(n for n in names if n.startswith(name)) == [name, f"{name}-2"]
    assert len(names) == len(set(names))
    head = lambdad.aws("elbv2", "describe-load-balancers", "--max-items", "1")
    tail = lambdad.aws("elbv2", "describe-load-balancers", "--starting-token", head["NextToken"])
    cli_names = [b["LoadBalancerName"] for b in head["LoadBalancers"] + tail["LoadBalancers"]]
    assert cli_names == names


def test_listeners_reopen_after_a_restart(
    lambdad_factory: Callable[..., LambdadServer], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = lambdad_factory(data_dir=data_dir, env={"LAMBDAD_SANDBOX": "process"})
    elb = first.client("elbv2")
    balancer = elb.create_load_balancer(Name="again")["LoadBalancers"][0]
    port = free_port()
    fixed = {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "still here"}
    elb.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=port,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": fixed}],
    )  # fmt: skip
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).text == "still here"
    assert first.stop() == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=30)
    lambdad_factory(data_dir=data_dir, env={"LAMBDAD_SANDBOX": "process"})
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).text == "still here"
