"""``AWS::SNS::Subscription`` of Protocol ``lambda`` (what SAM's ``SNS`` event makes).

lambdad is not SNS: the topic lives on the SNS-compatible service the operator
configured (``LAMBDAD_SNS_ENDPOINT`` / ``AWS_ENDPOINT_URL_SNS``). A subscription is made
there, signed with the account's outbound identity (outbound.py), with Protocol ``http``
to lambdad's own subscription endpoint for the function
(``/sns/REGION/ACCOUNT/FUNCTION[:QUALIFIER]``, events/sns_door.py), which confirms it
and turns each notification into an asynchronous invoke. The physical id is the
SubscriptionArn; a deletion unsubscribes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdad.deploy.handlers import Applied, Env, error_code
from lambdad.deploy.records import ResourceRecord

PROTOCOL = "lambda"
# Attributes SetSubscriptionAttributes changes in place (JSON documents as strings).
_IN_PLACE = ("FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "DeliveryPolicy")
_GONE = frozenset({"NotFound", "NotFoundException", "ResourceNotFoundException"})


class SubscriptionRefused(Exception):
    """A subscription lambdad cannot make (said in the stack's events)."""


@dataclass(frozen=True, slots=True)
class FunctionTarget:
    region: str
    account: str
    name: str
    qualifier: str | None


def function_target(endpoint: str, region: str, account: str) -> FunctionTarget:
    """The function a ``lambda`` subscription's Endpoint names: an ARN of the stack's
    own account and region (a name alone means the stack's), never another's."""
    parts = str(endpoint).split(":")
    if len(parts) in (7, 8) and parts[0] == "arn" and parts[2] == "lambda":
        if parts[5] != "function":
            raise SubscriptionRefused(f"Endpoint {endpoint} is not a function ARN")
        if (parts[3], parts[4]) != (region, account):
            raise SubscriptionRefused(
                f"Endpoint {endpoint} is not a function of account {account} in {region}"
            )
        qualifier = parts[7] if len(parts) == 8 else None
        return FunctionTarget(region, account, parts[6], qualifier)
    if len(parts) in (1, 2) and parts[0] and "/" not in endpoint:
        return FunctionTarget(region, account, parts[0], parts[1] if len(parts) == 2 else None)
    raise SubscriptionRefused(f"Endpoint {endpoint} is not a function name or ARN")


def push_url(own_url: str, target: FunctionTarget) -> str:
    """lambdad's HTTP subscription endpoint for the function."""
    tail = f":{target.qualifier}" if target.qualifier else ""
    base = own_url.rstrip("/")
    return f"{base}/sns/{target.region}/{target.account}/{target.name}{tail}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _topic_region(topic_arn: str, default: str) -> str:
    parts = str(topic_arn).split(":")
    return parts[3] if len(parts) == 6 and parts[0] == "arn" and parts[3] else default


class SubscriptionHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        protocol = str(props.get("Protocol", ""))
        if protocol != PROTOCOL:
            raise SubscriptionRefused(
                f"Protocol {protocol!r}: lambdad makes subscriptions of Protocol lambda only"
            )
        i = env.identity
        topic = str(props["TopicArn"])
        target = function_target(props["Endpoint"], i.region, i.account)
        attributes = {n: _text(props[n]) for n in _IN_PLACE if n in props}
        made = _sns(env, topic).subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint=push_url(env.own_url, target),
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        arn = str(made["SubscriptionArn"])
        return Applied(arn, {"Ref": arn, "Arn": arn})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        sns = _sns(env, str(props["TopicArn"]))
        for name in _IN_PLACE:
            if props.get(name) != record.properties.get(name):
                value = _text(props[name]) if name in props else ""
                sns.set_subscription_attributes(
                    SubscriptionArn=record.physical_id, AttributeName=name, AttributeValue=value
                )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        sns = _sns(env, str(record.properties.get("TopicArn", "")))
        try:
            sns.unsubscribe(SubscriptionArn=record.physical_id)
        except Exception as exc:
            if error_code(exc) not in _GONE:
                raise


def _sns(env: Env, topic_arn: str) -> Any:
    if env.outbound is None:
        raise SubscriptionRefused(
            "no SNS endpoint is configured in lambdad (LAMBDAD_SNS_ENDPOINT or "
            "AWS_ENDPOINT_URL_SNS)"
        )
    return env.outbound("sns", _topic_region(topic_arn, env.identity.region))
