"""``AWS::SNS::Subscription`` of Protocol lambda: an http subscription on the operator's
SNS to lambdad's own ``/sns/...`` endpoint, signed with the account's outbound identity;
refused for another account's function, another protocol, or without an SNS endpoint;
and the planner lists it, saying why, where no SNS endpoint is configured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambdad.deploy import template
from lambdad.deploy.errors import UnsupportedResources
from lambdad.deploy.handlers import Env
from lambdad.deploy.plan import plan
from lambdad.deploy.records import ResourceRecord
from lambdad.deploy.sns_resources import SubscriptionHandler, SubscriptionRefused
from unit.deploy.deploy_fakes import IDENTITY

TOPIC = "arn:aws:sns:eu-west-1:123456789012:orders"
FN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
SUB = TOPIC + ":5b1f"


class FakeSns:
    def __init__(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls = calls

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((method, kwargs))
            return {"SubscriptionArn": SUB} if method == "subscribe" else {}

        return call


def _env(
    configured: bool = True,
) -> tuple[Env, list[tuple[str, dict[str, Any]]], list[tuple[str, str]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    asked: list[tuple[str, str]] = []

    def outbound(service: str, region: str) -> Any:
        asked.append((service, region))
        return FakeSns(calls)

    def no_client(name: str) -> Any:
        raise AssertionError(f"no {name} client: SNS is not lambdad's")

    env = Env(
        IDENTITY,
        no_client,
        lambda b, k: None,
        outbound=outbound if configured else None,
        own_url="http://lambdad.test:9550/",
    )
    return env, calls, asked


def test_a_lambda_subscription_is_an_http_one_to_lambdads_endpoint() -> None:
    env, calls, asked = _env()
    props = {"TopicArn": TOPIC, "Protocol": "lambda", "Endpoint": FN + ":live",
             "FilterPolicy": {"kind": ["order"]}}  # fmt: skip
    applied = SubscriptionHandler().create(env, "Sub", props, None)
    assert applied.physical_id == SUB
    assert asked == [("sns", "eu-west-1")]  # the topic's region
    assert calls == [
        (
            "subscribe",
            {
                "TopicArn": TOPIC,
                "Protocol": "http",
                "Endpoint": "http://lambdad.test:9550/sns/us-east-1/123456789012/fn:live",
                "Attributes": {"FilterPolicy": '{"kind": ["order"]}'},
                "ReturnSubscriptionArn": True,
            },
        )
    ]


def test_update_sets_changed_attributes_and_delete_unsubscribes() -> None:
    env, calls, _ = _env()
    old = {"TopicArn": TOPIC, "Protocol": "lambda", "Endpoint": FN, "FilterPolicy": "{}"}
    record = ResourceRecord("Sub", "AWS::SNS::Subscription", SUB, old, {"Ref": SUB})
    SubscriptionHandler().update(env, record, {**old, "FilterPolicy": '{"a": ["b"]}'})
    SubscriptionHandler().delete(env, record)
    assert calls == [
        (
            "set_subscription_attributes",
            {
                "SubscriptionArn": SUB,
                "AttributeName": "FilterPolicy",
                "AttributeValue": '{"a": ["b"]}',
            },
        ),
        ("unsubscribe", {"SubscriptionArn": SUB}),
    ]


@pytest.mark.parametrize(
    ("endpoint", "protocol", "configured"),
    [
        ("arn:aws:lambda:us-east-1:210987654321:function:theirs", "lambda", True),
        ("arn:aws:lambda:eu-west-1:123456789012:function:fn", "lambda", True),
        ("https://example.com/hook", "lambda", True),
        (FN, "https", True),
        (FN, "lambda", False),
    ],
)
def test_what_lambdad_does_not_subscribe(endpoint: str, protocol: str, configured: bool) -> None:
    env, calls, _ = _env(configured)
    props = {"TopicArn": TOPIC, "Protocol": protocol, "Endpoint": endpoint}
    with pytest.raises(SubscriptionRefused):
        SubscriptionHandler().create(env, "Sub", props, None)
    assert calls == []


def test_without_an_sns_endpoint_the_plan_lists_subscriptions_with_why() -> None:
    doc = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12"}},
            "Sub": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": TOPIC,
                    "Protocol": "lambda",
                    "Endpoint": {"Fn::GetAtt": ["Fn", "Arn"]},
                },
            },
        }
    }
    why = {"AWS::SNS::Subscription": "no SNS endpoint is configured"}
    with pytest.raises(UnsupportedResources) as info:
        plan(template.read(doc), {}, IDENTITY, {}, unavailable=why)
    assert "AWS::SNS::Subscription (Sub): no SNS endpoint is configured" in info.value.message
    skipped = plan(template.read(doc), {}, IDENTITY, {}, unavailable=why, skip_unsupported=True)
    assert [s.logical_id for s in skipped.steps] == ["Fn"]
    assert skipped.skipped == {"Sub": "no SNS endpoint is configured"}
    assert [s.logical_id for s in plan(template.read(doc), {}, IDENTITY, {}).steps] == [
        "Fn",
        "Sub",
    ]
