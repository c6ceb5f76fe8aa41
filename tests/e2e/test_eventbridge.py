"""EventBridge rules end to end: boto3's ``events`` client and the AWS CLI against a real
server, Lambda targets run through the async queue, what they received read back from
their logs through the Logs API.

One server for the module with schedule time scaled (``LAMBDAD_SCHEDULE_TIME_SCALE``):
a rule's minute lasts 0.6 s, so ``rate(1 minute)`` fires without waiting a minute.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import ROLE, AwsCliError, LambdadServer, handler_zip, serving
from e2e.invoke_support import log_messages, wait_until

TIME_SCALE = 0.01  # a schedule minute lasts 0.6 s

# Prints the event it got, on one line, behind a marker the test looks for.
RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event, sort_keys=True))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    env = {
        "LAMBDAD_SANDBOX": "process",
        "LAMBDAD_ASYNC_POLL_INTERVAL": "0.1",
        "LAMBDAD_SCHEDULE_TIME_SCALE": str(TIME_SCALE),
        "LAMBDAD_SCHEDULE_POLL_INTERVAL": "0.2",
    }
    srv = LambdadServer(tmp_path_factory.mktemp("eventbridge") / "data", env=env)
    with serving(srv):
        yield srv


@pytest.fixture
def events(server: LambdadServer) -> Any:
    return server.client("events")


@pytest.fixture
def recorder(server: LambdadServer) -> Iterator[Callable[[], dict[str, Any]]]:
    """``recorder()`` -> a new function (printing its events) as CreateFunction answers."""
    lam = server.client("lambda")
    made: list[str] = []

    def create() -> dict[str, Any]:
        name = f"eb-{uuid.uuid4().hex[:10]}"
        fn: dict[str, Any] = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": handler_zip(RECORDER)},
        )
        made.append(name)
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        return fn

    yield create
    for name in made:
        lam.delete_function(FunctionName=name)


def allow_rule(server: LambdadServer, function: str, rule_arn: str) -> None:
    server.client("lambda").add_permission(
        FunctionName=function,
        StatementId=f"events-{uuid.uuid4().hex[:8]}",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )


def received(server: LambdadServer, function: str) -> list[dict[str, Any]]:
    """The events the function printed (none before its first run made its log group)."""
    try:
        messages = log_messages(server, function)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return []
    return [json.loads(m.split("EVENT ", 1)[1]) for m in messages if m.startswith("EVENT ")]


def wait_for_event(server: LambdadServer, function: str, event_id: str) -> None:
    wait_until(
        lambda: any(e.get("id") == event_id for e in received(server, function)),
        f"event {event_id} in the log of {function}",
    )


def pattern_rule(events: Any, name: str, **extra: Any) -> str:
    arn: str = events.put_rule(
        Name=name,
        EventPattern=json.dumps(
            {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}]}}
        ),
        **extra,
    )["RuleArn"]
    return arn


def put_order(events: Any, total: int, **extra: Any) -> dict[str, Any]:
    entry = {
        "Source": "shop.orders",
        "DetailType": "Order Placed",
        "Detail": json.dumps({"total": total}),
        **extra,
    }
    out: dict[str, Any] = events.put_events(Entries=[entry])
    return out


def test_put_events_runs_the_target_with_the_aws_event(
    server: LambdadServer, events: Any, recorder: Any
) -> None:
    fn = recorder()
    rule = f"orders-{uuid.uuid4().hex[:8]}"
    arn = pattern_rule(events, rule)
    assert arn == f"arn:aws:events:us-east-1:{fn['FunctionArn'].split(':')[4]}:rule/{rule}"
    allow_rule(server, fn["FunctionName"], arn)
    out = events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": fn["FunctionArn"]}])
    assert out["FailedEntryCount"] == 0

    small = put_order(events, 5)  # does not match: numeric > 100
    big = put_order(events, 250, Resources=["arn:aws:shop:order/1"])
    assert small["FailedEntryCount"] == big["FailedEntryCount"] == 0
    event_id = big["Entries"][0]["EventId"]

    wait_for_event(server, fn["FunctionName"], event_id)
    got = received(server, fn["FunctionName"])
    assert len(got) == 1
    event = got[0]
    assert event["id"] == event_id
    assert event["version"] == "0"
    assert event["detail-type"] == "Order Placed"
    assert event["source"] == "shop.orders"
    assert event["account"] == fn["FunctionArn"].split(":")[4]
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:shop:order/1"]
    assert event["detail"] == {"total": 250}
    assert event["time"].endswith("Z")

    events.remove_targets(Rule=rule, Ids=["fn"])
    events.delete_rule(Name=rule)


def test_input_transformer_shapes_what_the_target_gets(
    server: LambdadServer, events: Any, recorder: Any
) -> None:
    fn = recorder()
    rule = f"shaped-{uuid.uuid4().hex[:8]}"
    arn = pattern_rule(events, rule)
    allow_rule(server, fn["FunctionName"], arn)
    events.put_targets(
        Rule=rule,
        Targets=[
            {
                "Id": "shaped",
                "Arn": fn["FunctionArn"],
                "InputTransformer": {
                    "InputPathsMap": {"total": "$.detail.total", "src": "$.source"},
                    "InputTemplate": (
                        '{"amount": <total>, "text": "<src> spent <total>",'
                        ' "rule": "<aws.events.rule-name>"}'
                    ),
                },
            }
        ],
    )
    put_order(events, 300)
    wait_until(lambda: bool(received(server, fn["FunctionName"])), "the transformed event")
    assert received(server, fn["FunctionName"]) == [
        {"amount": 300, "text": "shop.orders spent 300", "rule": rule}
    ]


def test_no_permission_no_invoke(server: LambdadServer, events: Any, recorder: Any) -> None:
    allowed, denied = recorder(), recorder()
    rule = f"perm-{uuid.uuid4().hex[:8]}"
    arn = pattern_rule(events, rule)
    allow_rule(server, allowed["FunctionName"], arn)
    # A permission for another rule's ARN does not let this rule in.
    allow_rule(server, denied["FunctionName"], arn + "-other")
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "a", "Arn": allowed["FunctionArn"]},
            {"Id": "d", "Arn": denied["FunctionArn"]},
        ],
    )
    event_id = put_order(events, 500)["Entries"][0]["EventId"]
    wait_for_event(server, allowed["FunctionName"], event_id)
    # The allowed target ran from the same queue: the denied one would have by now.
    assert received(server, denied["FunctionName"]) == []


def test_disabled_rule_does_not_fire(server: LambdadServer, events: Any, recorder: Any) -> None:
    fn = recorder()
    off, on = f"off-{uuid.uuid4().hex[:8]}", f"on-{uuid.uuid4().hex[:8]}"
    off_arn = pattern_rule(events, off, State="DISABLED")
    on_arn = events.put_rule(Name=on, EventPattern=json.dumps({"source": ["shop.marker"]}))[
        "RuleArn"
    ]
    for rule, arn in ((off, off_arn), (on, on_arn)):
        allow_rule(server, fn["FunctionName"], arn)
        events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": fn["FunctionArn"]}])
    assert events.describe_rule(Name=off)["State"] == "DISABLED"
    put_order(events, 999)
    marker = events.put_events(
        Entries=[{"Source": "shop.marker", "DetailType": "Marker", "Detail": "{}"}]
    )["Entries"][0]["EventId"]
    wait_for_event(server, fn["FunctionName"], marker)
    assert [e["source"] for e in received(server, fn["FunctionName"])] == ["shop.marker"]

    events.enable_rule(Name=off)
    event_id = put_order(events, 999)["Entries"][0]["EventId"]
    wait_for_event(server, fn["FunctionName"], event_id)


def test_rate_rule_fires_scheduled_events(
    server: LambdadServer, events: Any, recorder: Any
) -> None:
    fn = recorder()
    rule = f"every-minute-{uuid.uuid4().hex[:8]}"
    arn = server.aws(
        "events", "put-rule", "--name", rule, "--schedule-expression", "rate(1 minute)"
    )["RuleArn"]
    allow_rule(server, fn["FunctionName"], arn)
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": fn["FunctionArn"]}])
    # A scaled minute is 0.6 s: two ticks within a few seconds.
    wait_until(lambda: len(received(server, fn["FunctionName"])) >= 2, "two ticks", timeout=15)
    first, second = received(server, fn["FunctionName"])[:2]
    for event in (first, second):
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["resources"] == [arn]
        assert event["detail"] == {}
    assert first["id"] != second["id"]

    events.disable_rule(Name=rule)
    seen = len(received(server, fn["FunctionName"]))
    # Another rule's ticks tell the time: three of them later, the disabled rule has not
    # fired again (one tick queued before DisableRule may still run).
    clock_fn = recorder()
    clock_rule = f"clock-{uuid.uuid4().hex[:8]}"
    clock_arn = events.put_rule(Name=clock_rule, ScheduleExpression="rate(1 minute)")["RuleArn"]
    allow_rule(server, clock_fn["FunctionName"], clock_arn)
    events.put_targets(Rule=clock_rule, Targets=[{"Id": "t", "Arn": clock_fn["FunctionArn"]}])
    wait_until(lambda: len(received(server, clock_fn["FunctionName"])) >= 3, "three ticks", 15)
    assert len(received(server, fn["FunctionName"])) <= seen + 1
    for name in (rule, clock_rule):
        events.remove_targets(Rule=name, Ids=["t"])
    server.aws("events", "delete-rule", "--name", clock_rule)
    server.aws("events", "delete-rule", "--name", rule)


def test_bad_pattern_and_bad_schedule_get_aws_errors(server: LambdadServer, events: Any) -> None:
    with pytest.raises(ClientError) as bad_pattern:
        events.put_rule(Name="bad-pattern", EventPattern='{"source": "not-an-array"}')
    assert bad_pattern.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert bad_pattern.value.response["Error"]["Message"].startswith(
        "Event pattern is not valid. Reason: "
    )
    assert bad_pattern.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    with pytest.raises(AwsCliError) as bad_cron:
        server.aws(
            "events", "put-rule", "--name", "bad-cron", "--schedule-expression", "cron(0 12 * * *)"
        )
    assert "ValidationException" in bad_cron.value.stderr
    assert "Parameter ScheduleExpression is not valid." in bad_cron.value.stderr

    with pytest.raises(ClientError) as neither:
        events.put_rule(Name="neither")
    assert neither.value.response["Error"]["Message"] == (
        "Parameter(s) EventPattern or ScheduleExpression must be specified."
    )
    with pytest.raises(ClientError) as missing:
        events.describe_rule(Name="no-such-rule")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rules_targets_and_buses_as_scripts_see_them(
    server: LambdadServer, events: Any, recorder: Any
) -> None:
    fn = recorder()
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    assert bus_arn.endswith(f":event-bus/{bus}")
    assert {b["Name"] for b in events.list_event_buses()["EventBuses"]} >= {"default", bus}
    rule = "on-custom-bus"
    arn = events.put_rule(
        Name=rule, EventBusName=bus, EventPattern='{"source": ["a"]}', Description="d"
    )["RuleArn"]
    assert arn.endswith(f":rule/{bus}/{rule}")
    described = events.describe_rule(Name=rule, EventBusName=bus)
    assert (described["Description"], described["State"], described["EventBusName"]) == (
        "d",
        "ENABLED",
        bus,
    )
    assert [r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]] == [rule]

    out = events.put_targets(
        Rule=rule,
        EventBusName=bus,
        Targets=[
            {
                "Id": "fn",
                "Arn": fn["FunctionArn"],
                "Input": '{"fixed": true}',
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
            },
            {"Id": "queue", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"},
        ],
    )
    assert out["FailedEntryCount"] == 1
    assert out["FailedEntries"][0]["TargetId"] == "queue"
    targets = events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
    assert [t["Id"] for t in targets] == ["fn"]
    assert targets[0]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}

    with pytest.raises(ClientError) as refused:
        events.delete_rule(Name=rule, EventBusName=bus)
    assert (
        refused.value.response["Error"]["Message"] == "Rule can't be deleted since it has targets."
    )
    with pytest.raises(ClientError) as scheduled:
        events.put_rule(Name="tick", EventBusName=bus, ScheduleExpression="rate(5 minutes)")
    assert scheduled.value.response["Error"]["Message"] == (
        "ScheduleExpression is supported only on the default event bus."
    )
    assert (
        events.test_event_pattern(
            EventPattern='{"source": ["a"]}',
            Event=json.dumps(
                {
                    "id": "1",
                    "account": "1",
                    "source": "a",
                    "time": "2024-01-01T00:00:00Z",
                    "region": "us-east-1",
                    "detail-type": "t",
                    "resources": [],
                    "detail": {},
                }
            ),
        )["Result"]
        is True
    )
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["fn"])
    events.delete_rule(Name=rule, EventBusName=bus)
    events.delete_event_bus(Name=bus)
    with pytest.raises(ClientError):
        events.describe_event_bus(Name=bus)


def test_put_events_entry_errors(events: Any) -> None:
    out = events.put_events(
        Entries=[
            {"Source": "a", "DetailType": "t", "Detail": "not json"},
            {"DetailType": "t", "Detail": "{}"},
            {"Source": "a", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"},
            {"Source": "a", "DetailType": "t", "Detail": "{}"},
        ]
    )
    assert out["FailedEntryCount"] == 3
    codes = [e.get("ErrorCode") for e in out["Entries"]]
    assert codes == ["MalformedDetail", "InvalidArgument", "InvalidArgument", None]
    assert "EventId" in out["Entries"][3]
