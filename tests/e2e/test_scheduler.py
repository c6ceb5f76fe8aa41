"""EventBridge Scheduler end to end: boto3's ``scheduler`` client and the AWS CLI against a
real server; schedules fire Lambda functions through the async queue (what they received
read back from their logs), a target that cannot be invoked goes to an SQS dead-letter
queue on a moto server, as an EventBridge rule's target does.

Schedule time is scaled (``LAMBDAD_SCHEDULE_TIME_SCALE``): a schedule's minute lasts 0.6 s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from e2e.aws_side import (
    module_server,
    moto_client,
    moto_env,
    queue_arn,
    receive,
)
from e2e.helpers import LambdadServer, active_function
from e2e.invoke_support import log_messages, wait_until

SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/scheduler-role"
RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event, sort_keys=True))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[LambdadServer]:
    env = moto_env(
        moto, "SQS",
        LAMBDAD_ASYNC_POLL_INTERVAL="0.1",
        LAMBDAD_SCHEDULE_TIME_SCALE="0.01",
        LAMBDAD_SCHEDULE_POLL_INTERVAL="0.2",
    )  # fmt: skip
    with module_server(tmp_path_factory, "scheduler", env) as srv:
        yield srv


@pytest.fixture
def scheduler(server: LambdadServer) -> Any:
    return server.client("scheduler")


@pytest.fixture(scope="module")
def recorder(server: LambdadServer) -> dict[str, Any]:
    """One function printing the events it gets, for the module."""
    lam = server.client("lambda")
    active_function(lam, "sched-recorder", RECORDER)
    fn: dict[str, Any] = lam.get_function_configuration(FunctionName="sched-recorder")
    return fn


def received(server: LambdadServer, function: str) -> list[dict[str, Any]]:
    try:
        messages = log_messages(server, function)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return []
    return [json.loads(m.split("EVENT ", 1)[1]) for m in messages if m.startswith("EVENT ")]


def target(fn: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Arn": fn["FunctionArn"], "RoleArn": SCHEDULER_ROLE, **extra}


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def test_rate_schedule_invokes_with_its_input(
    server: LambdadServer, scheduler: Any, recorder: dict[str, Any]
) -> None:
    tag = uuid.uuid4().hex[:8]
    arn = scheduler.create_schedule(
        Name=f"every-minute-{tag}",
        ScheduleExpression="rate(1 minute)",
        Target=target(
            recorder, Input=json.dumps({"tag": tag, "by": "<aws.scheduler.schedule-arn>"})
        ),
        FlexibleTimeWindow={"Mode": "OFF"},
    )["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/every-minute-{tag}"

    got = scheduler.get_schedule(Name=f"every-minute-{tag}")
    assert got["State"] == "ENABLED"
    assert got["GroupName"] == "default"
    assert got["ActionAfterCompletion"] == "NONE"
    assert got["Target"]["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": 86400,
        "MaximumRetryAttempts": 185,
    }
    assert isinstance(got["CreationDate"], datetime)

    def mine() -> list[dict[str, Any]]:
        return [e for e in received(server, "sched-recorder") if e.get("tag") == tag]

    # A rate without StartDate fires at once, then every (scaled) minute.
    wait_until(lambda: len(mine()) >= 2, "two ticks of the schedule")
    assert mine()[0] == {"tag": tag, "by": arn}

    listed = scheduler.list_schedules(NamePrefix=f"every-minute-{tag}")["Schedules"]
    assert [s["Arn"] for s in listed] == [arn]
    assert listed[0]["Target"] == {"Arn": recorder["FunctionArn"]}

    scheduler.delete_schedule(Name=f"every-minute-{tag}")
    with pytest.raises(ClientError) as exc:
        scheduler.get_schedule(Name=f"every-minute-{tag}")
    assert error(exc) == (
        404,
        "ResourceNotFoundException",
        f"Schedule every-minute-{tag} does not exist.",
    )


def test_one_time_schedule_in_a_zone_is_deleted_after_completion(
    server: LambdadServer, scheduler: Any, recorder: dict[str, Any]
) -> None:
    tag = uuid.uuid4().hex[:8]
    scheduler.create_schedule_group(Name=f"once-{tag}")
    # One (scaled) minute from now, on Tokyo's wall clock.
    soon = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(minutes=1)
    scheduler.create_schedule(
        Name="once",
        GroupName=f"once-{tag}",
        ScheduleExpression=f"at({soon:%Y-%m-%dT%H:%M:%S})",
        ScheduleExpressionTimezone="Asia/Tokyo",
        Target=target(recorder, Input=json.dumps({"once": tag})),
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1},
        ActionAfterCompletion="DELETE",
    )
    wait_until(
        lambda: any(e.get("once") == tag for e in received(server, "sched-recorder")),
        "the one-time schedule's invoke",
    )

    def gone() -> bool:
        return not scheduler.list_schedules(GroupName=f"once-{tag}")["Schedules"]

    wait_until(gone, "the completed schedule deleted")
    scheduler.delete_schedule_group(Name=f"once-{tag}")


def test_groups_and_errors(scheduler: Any, recorder: dict[str, Any]) -> None:
    tag = uuid.uuid4().hex[:8]
    group_arn = scheduler.create_schedule_group(Name=f"g-{tag}")["ScheduleGroupArn"]
    assert group_arn == f"arn:aws:scheduler:us-east-1:123456789012:schedule-group/g-{tag}"
    names = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    assert {"default", f"g-{tag}"} <= set(names)
    assert scheduler.get_schedule_group(Name=f"g-{tag}")["State"] == "ACTIVE"

    common = {"Target": target(recorder), "FlexibleTimeWindow": {"Mode": "OFF"}}
    scheduler.create_schedule(
        Name="daily", GroupName=f"g-{tag}", ScheduleExpression="cron(0 9 * * ? *)",
        State="DISABLED", **common,
    )  # fmt: skip
    cases: list[tuple[Callable[[], Any], tuple[int, str, str]]] = [
        (
            lambda: scheduler.create_schedule_group(Name=f"g-{tag}"),
            (409, "ConflictException", f"Schedule group g-{tag} already exists."),
        ),
        (
            lambda: scheduler.create_schedule(
                Name="daily", GroupName=f"g-{tag}", ScheduleExpression="rate(1 hour)", **common
            ),
            (409, "ConflictException", "Schedule daily already exists."),
        ),
        (
            lambda: scheduler.create_schedule(
                Name="x", ScheduleExpression="rate(0 minutes)", **common
            ),
            (400, "ValidationException", "Invalid Schedule Expression rate(0 minutes)."),
        ),
        (
            lambda: scheduler.create_schedule(
                Name="x",
                ScheduleExpression="rate(1 hour)",
                ScheduleExpressionTimezone="Mars/Olympus",
                **common,
            ),
            (400, "ValidationException", "Invalid Schedule Expression Timezone Mars/Olympus."),
        ),
        (
            lambda: scheduler.get_schedule(Name="daily", GroupName=f"nope-{tag}"),
            (404, "ResourceNotFoundException", f"Schedule group nope-{tag} does not exist."),
        ),
        (
            lambda: scheduler.update_schedule(
                Name=f"nope-{tag}", ScheduleExpression="rate(1 hour)", **common
            ),
            (404, "ResourceNotFoundException", f"Schedule nope-{tag} does not exist."),
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == expected
    with pytest.raises(ClientError) as exc:
        scheduler.create_schedule(
            Name="x", ScheduleExpression="rate(1 hour)",
            Target={**target(recorder), "RetryPolicy": {"MaximumRetryAttempts": 186}},
            FlexibleTimeWindow={"Mode": "OFF"},
        )  # fmt: skip
    assert error(exc)[:2] == (400, "ValidationException")
    assert "maximumRetryAttempts" in error(exc)[2]

    disabled = scheduler.list_schedules(GroupName=f"g-{tag}", State="DISABLED")["Schedules"]
    assert [s["Name"] for s in disabled] == ["daily"]
    # Deleting a group deletes its schedules.
    scheduler.delete_schedule_group(Name=f"g-{tag}")
    with pytest.raises(ClientError) as exc:
        scheduler.get_schedule_group(Name=f"g-{tag}")
    assert error(exc)[:2] == (404, "ResourceNotFoundException")


def test_a_target_that_cannot_be_invoked_goes_to_the_dead_letter_queue(
    scheduler: Any, moto: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    sqs = moto_client(moto, "sqs")
    url = sqs.create_queue(QueueName=f"sched-dlq-{tag}")["QueueUrl"]
    missing = f"arn:aws:lambda:us-east-1:123456789012:function:missing-{tag}"
    arn = scheduler.create_schedule(
        Name=f"broken-{tag}",
        ScheduleExpression="rate(5 minutes)",
        Target={
            "Arn": missing,
            "RoleArn": SCHEDULER_ROLE,
            "Input": json.dumps({"lost": tag}),
            "DeadLetterConfig": {"Arn": queue_arn(f"sched-dlq-{tag}")},
        },
        FlexibleTimeWindow={"Mode": "OFF"},
    )["ScheduleArn"]
    letter = receive(sqs, url)
    assert json.loads(letter["Body"]) == {"lost": tag}
    attrs = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attrs["ERROR_CODE"] == "ResourceNotFoundException"
    assert attrs["SCHEDULE_ARN"] == arn
    assert attrs["TARGET_ARN"] == missing
    scheduler.delete_schedule(Name=f"broken-{tag}")


def test_aws_cli_create_and_get_schedule(server: LambdadServer, recorder: dict[str, Any]) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    out = server.aws(
        "scheduler", "create-schedule", "--name", name,
        "--schedule-expression", "rate(1 minute)",
        "--target", json.dumps({"Arn": recorder["FunctionArn"], "RoleArn": SCHEDULER_ROLE}),
        "--flexible-time-window", '{"Mode":"OFF"}',
    )  # fmt: skip
    assert out["ScheduleArn"].endswith(f":schedule/default/{name}")
    got = server.aws("scheduler", "get-schedule", "--name", name)
    assert got["ScheduleExpression"] == "rate(1 minute)"
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    server.aws("scheduler", "delete-schedule", "--name", name)


def test_a_rule_target_without_permission_goes_to_its_dead_letter_queue(
    server: LambdadServer, recorder: dict[str, Any], moto: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    sqs = moto_client(moto, "sqs")
    url = sqs.create_queue(QueueName=f"rule-dlq-{tag}")["QueueUrl"]
    events = server.client("events")
    rule = events.put_rule(
        Name=f"orders-{tag}", EventPattern=json.dumps({"source": [f"shop.{tag}"]})
    )["RuleArn"]
    # No add-permission for events.amazonaws.com: the invoke is refused.
    events.put_targets(
        Rule=f"orders-{tag}",
        Targets=[
            {
                "Id": "fn",
                "Arn": recorder["FunctionArn"],
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": queue_arn(f"rule-dlq-{tag}")},
            }
        ],
    )
    entry = {"Source": f"shop.{tag}", "DetailType": "Order", "Detail": json.dumps({"n": 1})}
    event_id = events.put_events(Entries=[entry])["Entries"][0]["EventId"]

    letter = receive(sqs, url)
    body = json.loads(letter["Body"])
    assert (body["id"], body["source"], body["detail"]) == (event_id, f"shop.{tag}", {"n": 1})
    attrs = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attrs["RULE_ARN"] == rule
    assert attrs["TARGET_ARN"] == recorder["FunctionArn"]
    assert attrs["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attrs["RETRY_ATTEMPTS"] == "0"


def test_malformed_requests_get_scheduler_errors(server: LambdadServer) -> None:
    target = {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "RoleArn": SCHEDULER_ROLE}
    good = {
        "ScheduleExpression": "rate(1 hour)",
        "Target": target,
        "FlexibleTimeWindow": {"Mode": "OFF"},
    }
    cases = [
        ("POST", "/schedules/bad", b"{not json", 400),
        ("POST", "/schedules/bad", b"[1, 2]", 400),
        ("POST", "/schedules/bad", json.dumps({**good, "StartDate": "soon"}).encode(), 400),
        ("POST", "/schedules/bad", json.dumps({**good, "Target": "x"}).encode(), 400),
        ("POST", "/schedules/b%2Fad", json.dumps(good).encode(), 400),
        ("GET", "/schedules?MaxResults=lots", b"", 400),
        ("PATCH", "/schedules/bad", b"", 404),
        ("GET", "/nowhere", b"", 404),
    ]
    for method, path, body, status in cases:
        answer = server.request(method, path, body, service="scheduler")
        assert answer.status == status, (method, path, answer.body)
        assert answer.json()["Message"]
        assert answer.headers.get("x-amzn-errortype")
