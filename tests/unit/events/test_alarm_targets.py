"""Alarm actions run against fakes: SNS published with the alarm account's identity,
functions invoked asynchronously only when their policy allows CloudWatch."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdad.errors import ResourceNotFoundException
from lambdad.events.alarm_targets import SERVICE_PRINCIPAL, AlarmTargets
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.scope import Scope
from lambdad.outbound import NoOutboundIdentity

ACCOUNT, REGION = "111122223333", "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ops"
AT = datetime(2026, 12, 6, tzinfo=UTC)
ALARM = {
    "AlarmName": "errors",
    "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:errors",
    "Namespace": "AWS/Lambda",
    "MetricName": "Errors",
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 1,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "StateValue": "ALARM",
    "StateReason": "crossed",
    "StateUpdatedTimestamp": AT,
}
PREVIOUS = ALARM | {"StateValue": "OK"}


class Sns:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.published: list[dict[str, str]] = []

    def publish(self, **kwargs: str) -> dict[str, str]:
        if self.fail:
            error = {"Error": {"Code": "NotFound", "Message": "Topic does not exist"}}
            raise ClientError(error, "Publish")  # type: ignore[arg-type]
        self.published.append(kwargs)
        return {"MessageId": "1"}


class Identities:
    def __init__(self, sns: Sns, allowed: set[str]) -> None:
        self.sns, self.allowed = sns, allowed
        self.asked: list[tuple[str, str, str | None]] = []

    def client(self, account: str, service: str, region: str | None, config: Any = None) -> Sns:
        self.asked.append((account, service, region))
        if account not in self.allowed:
            raise NoOutboundIdentity(account)
        return self.sns


class Invoker:
    def __init__(self) -> None:
        self.accepted: list[InvokeRequest] = []

    async def accept(self, req: InvokeRequest, *, limit: int, operation: str) -> str:
        if req.function_name == "missing":
            raise ResourceNotFoundException("Function not found: missing")
        self.accepted.append(req)
        return req.request_id


class Policies:
    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        self.asked: list[tuple[Any, ...]] = []

    def allows_service(self, owner: Scope, name: str, qualifier: str | None, service: str,
                       source_arn: str, source_account: str | None = None) -> bool:  # fmt: skip
        self.asked.append((owner, name, qualifier, service, source_arn, source_account))
        return name in self.allowed


async def _inline(fn: Any, *args: Any) -> Any:
    return fn(*args)


def targets(sns: Sns, invoker: Invoker, allowed_functions: set[str]) -> AlarmTargets:
    return AlarmTargets(
        Identities(sns, {ACCOUNT}),  # type: ignore[arg-type]
        invoker,  # type: ignore[arg-type]
        Policies(allowed_functions),  # type: ignore[arg-type]
        _inline,
        1024 * 1024,
    )


def test_sns_action_publishes_cloudwatchs_notification() -> None:
    sns = Sns()
    runner = targets(sns, Invoker(), set())
    (outcome,) = asyncio.run(runner.run(ACCOUNT, REGION, ALARM, PREVIOUS, [TOPIC]))
    assert outcome.succeeded
    (sent,) = sns.published
    assert sent["TopicArn"] == TOPIC
    assert sent["Subject"] == 'ALARM: "errors" in US East (N. Virginia)'
    message = json.loads(sent["Message"])
    assert (message["OldStateValue"], message["NewStateValue"]) == ("OK", "ALARM")
    assert outcome.published == sent["Message"]
    assert runner.identities.asked == [(ACCOUNT, "sns", REGION)]  # type: ignore[attr-defined]


def test_sns_failures_are_outcomes() -> None:
    runner = targets(Sns(fail=True), Invoker(), set())
    (refused,) = asyncio.run(runner.run(ACCOUNT, REGION, ALARM, PREVIOUS, [TOPIC]))
    assert not refused.succeeded
    assert refused.error == "NotFound: Topic does not exist"
    # An account with no upstream identity: nothing is sent, with lambdad's or any other.
    stranger = "444455556666"
    (none,) = asyncio.run(
        targets(Sns(), Invoker(), set()).run(stranger, REGION, ALARM, PREVIOUS, [TOPIC])
    )
    assert not none.succeeded
    assert stranger in none.error


def test_lambda_action_invokes_asynchronously_when_the_policy_allows() -> None:
    invoker = Invoker()
    runner = targets(Sns(), invoker, {"heal"})
    actions = [
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:heal:live",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other",
        f"arn:aws:lambda:{REGION}:999988887777:function:missing",
        "arn:aws:automate:us-east-1:ec2:stop",
    ]
    healed, denied, missing, ec2 = asyncio.run(
        runner.run(ACCOUNT, REGION, ALARM, PREVIOUS, actions)
    )
    assert healed.succeeded
    (request,) = invoker.accepted
    assert (request.scope, request.function_name, request.qualifier) == (
        Scope(ACCOUNT, REGION),
        "heal",
        "live",
    )
    assert request.invocation_type == "Event"
    payload = json.loads(request.payload)
    assert payload["alarmArn"] == ALARM["AlarmArn"]
    assert payload["alarmData"]["state"]["value"] == "ALARM"
    assert not denied.succeeded
    assert SERVICE_PRINCIPAL in denied.error
    assert not missing.succeeded  # another account's function: its policy is asked
    assert not ec2.succeeded
    assert ec2.error == "lambdad cannot execute arn:aws:automate:us-east-1:ec2:stop"
    asked = runner.policies.asked  # type: ignore[attr-defined]
    assert asked[0] == (Scope(ACCOUNT, REGION), "heal", "live", SERVICE_PRINCIPAL,
                        ALARM["AlarmArn"], ACCOUNT)  # fmt: skip
    assert asked[2][0] == Scope("999988887777", REGION)


def test_a_missing_function_fails_the_action() -> None:
    runner = targets(Sns(), Invoker(), {"missing"})
    (outcome,) = asyncio.run(
        runner.run(ACCOUNT, REGION, ALARM, PREVIOUS,
                   [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:missing"])
    )  # fmt: skip
    assert not outcome.succeeded
    assert outcome.error == "ResourceNotFoundException: Function not found: missing"


def test_one_accounts_publishes_never_hold_every_worker() -> None:
    """At most PER_ACCOUNT publishes of one account at once: another account's publish
    goes ahead while the first account's wait."""
    from lambdad.events.alarm_targets import PER_ACCOUNT

    other = "444455556666"
    release = asyncio.Event()
    running: list[str] = []

    async def slow(fn: Any, *args: Any) -> Any:
        running.append(args[0])
        await release.wait()
        return fn(*args)

    runner = AlarmTargets(
        Identities(Sns(), {ACCOUNT, other}),  # type: ignore[arg-type]
        Invoker(),  # type: ignore[arg-type]
        Policies(set()),  # type: ignore[arg-type]
        slow,
        1024 * 1024,
    )

    async def go() -> list[Any]:
        mine = [runner.run(ACCOUNT, REGION, ALARM, PREVIOUS, [TOPIC]) for _ in range(5)]
        theirs = runner.run(other, REGION, ALARM, PREVIOUS, [f"arn:aws:sns:{REGION}:{other}:t"])
        tasks = [asyncio.ensure_future(c) for c in [*mine, theirs]]
        for _ in range(5):
            await asyncio.sleep(0)
        assert running == [ACCOUNT] * PER_ACCOUNT + [other]
        release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(go())
    assert all(outcome.succeeded for (outcome,) in results)
    assert running.count(ACCOUNT) == 5
    assert runner._slots == {}


def test_own_threads_publish_and_close() -> None:
    sns = Sns()
    runner = AlarmTargets(
        Identities(sns, {ACCOUNT}),  # type: ignore[arg-type]
        Invoker(),  # type: ignore[arg-type]
        Policies(set()),  # type: ignore[arg-type]
        None,
        1024 * 1024,
    )
    (outcome,) = asyncio.run(runner.run(ACCOUNT, REGION, ALARM, PREVIOUS, [TOPIC]))
    runner.close()
    assert outcome.succeeded
    assert len(sns.published) == 1
