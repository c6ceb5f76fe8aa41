"""CloudWatch alarm actions, as a user sets them up: ``put_metric_alarm`` on a function's
``Errors`` with an SNS topic (moto's, with an SQS queue subscribed) and a Lambda function
as its ``AlarmActions``; a failing invocation puts the alarm in ALARM on the server's
own evaluation timer, the queue receives CloudWatch's notification, the second function
is invoked with the alarm's payload, and ``describe_alarm_history`` shows the actions
run (and the one that failed). Then ``set_alarm_state`` runs the OK actions, and not at
all while the alarm's actions are disabled, and another tenant's alarm naming the same
topic publishes nothing: its account has no upstream identity of its own.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.aws_side import (
    MOTO_ACCOUNT,
    MOTO_REGION,
    module_server,
    moto_client,
    moto_env,
    queue_arn,
    receive,
    wait_for,
)
from e2e.helpers import OTHER, AwsCliError, LambdadServer, active_function
from e2e.invoke_support import wait_for_log

FAILING = """
def handler(event, context):
    raise ValueError("asked to fail")
"""
CATCHER = """
import json


def handler(event, context):
    print("CAUGHT " + json.dumps(event))
    return {}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: str) -> Iterator[LambdadServer]:
    env = moto_env(
        moto,
        "SNS",
        "SQS",
        LAMBDAD_METRICS_ALARM_INTERVAL="0.5",
        LAMBDAD_ASYNC_POLL_INTERVAL="0.1",
    )
    with module_server(tmp_path_factory, "alarm-actions", env) as srv:
        yield srv


@pytest.fixture
def topic(moto: str) -> tuple[str, str]:
    """A topic with a queue subscribed to it: (topic ARN, queue URL), each test's own
    (a message read and not deleted comes back after the visibility timeout: a test
    never reads another's)."""
    sqs, sns = moto_client(moto, "sqs"), moto_client(moto, "sns")
    tag = uuid.uuid4().hex[:8]
    url = sqs.create_queue(QueueName=f"alarms-{tag}")["QueueUrl"]
    arn = sns.create_topic(Name=f"alarms-{tag}")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(f"alarms-{tag}"))
    return arn, url


def _history(cw: Any, alarm: str, count: int) -> list[dict[str, Any]]:
    """The alarm's Action items, oldest first, once there are ``count``."""

    def items() -> list[dict[str, Any]]:
        got = cw.describe_alarm_history(
            AlarmName=alarm, HistoryItemType="Action", ScanBy="TimestampAscending"
        )["AlarmHistoryItems"]
        return got if len(got) >= count else []

    found: list[dict[str, Any]] = wait_for(items)
    return found


def test_errors_alarm_notifies_its_topic_and_invokes_a_function(
    server: LambdadServer, moto: str, topic: tuple[str, str]
) -> None:
    lam, cw = server.client("lambda"), server.client("cloudwatch")
    sqs = moto_client(moto, "sqs")
    topic_arn, queue_url = topic
    tag = uuid.uuid4().hex[:8]
    failing = active_function(lam, f"failing-{tag}", FAILING)
    catcher = active_function(lam, f"catcher-{tag}", CATCHER)
    catcher_arn = lam.get_function(FunctionName=catcher)["Configuration"]["FunctionArn"]
    alarm = f"errors-{tag}"
    alarm_arn = f"arn:aws:cloudwatch:{MOTO_REGION}:{MOTO_ACCOUNT}:alarm:{alarm}"
    lam.add_permission(
        FunctionName=catcher, StatementId="alarms", Action="lambda:InvokeFunction",
        Principal="lambda.alarms.cloudwatch.amazonaws.com", SourceArn=alarm_arn,
        SourceAccount=MOTO_ACCOUNT,
    )  # fmt: skip
    missing_topic = f"arn:aws:sns:{MOTO_REGION}:{MOTO_ACCOUNT}:no-such-topic-{tag}"
    cw.put_metric_alarm(
        AlarmName=alarm, AlarmDescription="the function fails",
        Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
        Dimensions=[{"Name": "FunctionName", "Value": failing}],
        # Two periods, one to alarm: an invocation just before a minute ends still counts.
        Period=60, EvaluationPeriods=2, DatapointsToAlarm=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic_arn, catcher_arn, missing_topic], OKActions=[topic_arn],
    )  # fmt: skip

    out = lam.invoke(FunctionName=failing, Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"

    # No DescribeAlarms: the server's own evaluation finds the alarm's state changed.
    envelope = json.loads(receive(sqs, queue_url, timeout=20)["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == f'ALARM: "{alarm}" in US East (N. Virginia)'
    message = json.loads(envelope["Message"])
    assert message["AlarmName"] == alarm
    assert message["AlarmDescription"] == "the function fails"
    assert message["AWSAccountId"] == MOTO_ACCOUNT
    assert (message["OldStateValue"], message["NewStateValue"]) == ("INSUFFICIENT_DATA", "ALARM")
    # CloudWatch's words: "... [1.0 (06/12/26 08:00:00)] was greater than or equal to ..."
    assert re.fullmatch(
        r"Threshold Crossed: 1 out of the last 2 datapoints \[1\.0 \(\d\d/\d\d/\d\d "
        r"\d\d:\d\d:\d\d\)\] was greater than or equal to the threshold \(1\.0\) "
        r"\(minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition\)\.",
        message["NewStateReason"],
    ), message["NewStateReason"]
    assert message["Region"] == "US East (N. Virginia)"
    assert message["AlarmArn"] == alarm_arn
    trigger = message["Trigger"]
    assert (trigger["MetricName"], trigger["Namespace"]) == ("Errors", "AWS/Lambda")
    assert (trigger["StatisticType"], trigger["Statistic"]) == ("Statistic", "SUM")
    assert trigger["Dimensions"] == [{"value": failing, "name": "FunctionName"}]
    assert (trigger["Period"], trigger["EvaluationPeriods"], trigger["DatapointsToAlarm"]) == (
        60,
        2,
        1,
    )
    assert trigger["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert trigger["Threshold"] == 1.0

    logged = wait_for_log(server, catcher, "CAUGHT", timeout=20)
    (caught,) = [json.loads(m.split("CAUGHT ", 1)[1]) for m in logged if "CAUGHT" in m]
    assert caught["source"] == "aws.cloudwatch"
    assert caught["alarmArn"] == alarm_arn
    assert caught["accountId"] == MOTO_ACCOUNT
    assert caught["alarmData"]["alarmName"] == alarm
    assert caught["alarmData"]["state"]["value"] == "ALARM"
    assert caught["alarmData"]["previousState"]["value"] == "INSUFFICIENT_DATA"

    actions = _history(cw, alarm, 3)
    summaries = {a["HistorySummary"] for a in actions}
    assert f"Successfully executed action {topic_arn}" in summaries
    assert f"Successfully executed action {catcher_arn}" in summaries
    (failed,) = [
        json.loads(a["HistoryData"]) for a in actions if missing_topic in a["HistorySummary"]
    ]
    assert failed["actionState"] == "Failed"
    assert "NotFound" in failed["error"]
    states = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
    assert [s["HistorySummary"] for s in states["AlarmHistoryItems"]] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    ]


def test_set_alarm_state_runs_ok_actions_unless_disabled(
    server: LambdadServer, moto: str, topic: tuple[str, str]
) -> None:
    cw, sqs = server.client("cloudwatch"), moto_client(moto, "sqs")
    topic_arn, queue_url = topic
    alarm = f"manual-{uuid.uuid4().hex[:8]}"
    # A metric nothing writes: the timer leaves the state where SetAlarmState puts it.
    cw.put_metric_alarm(
        AlarmName=alarm, Namespace="Quiet", MetricName="Nothing", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, TreatMissingData="ignore",
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic_arn], OKActions=[topic_arn],
    )  # fmt: skip
    cw.disable_alarm_actions(AlarmNames=[alarm])
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="quiet test")
    (described,) = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    assert (described["StateValue"], described["ActionsEnabled"]) == ("ALARM", False)

    cw.enable_alarm_actions(AlarmNames=[alarm])
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="all clear")
    # Only the OK notification: the ALARM change ran no action while disabled.
    envelope = json.loads(receive(sqs, queue_url, timeout=20)["Body"])
    assert envelope["Subject"] == f'OK: "{alarm}" in US East (N. Virginia)'
    message = json.loads(envelope["Message"])
    assert (message["OldStateValue"], message["NewStateValue"]) == ("ALARM", "OK")
    assert message["NewStateReason"] == "all clear"
    assert not sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages")

    # The alarms of a metric, through the CLI.
    found = server.aws("cloudwatch", "describe-alarms-for-metric", "--namespace", "Quiet",
                       "--metric-name", "Nothing", "--period", "60")  # fmt: skip
    assert alarm in [a["AlarmName"] for a in found["MetricAlarms"]]
    # Metric alarms are described unless AlarmTypes leaves them out.
    only_composite = cw.describe_alarms(AlarmNames=[alarm], AlarmTypes=["CompositeAlarm"])
    assert (only_composite["MetricAlarms"], only_composite["CompositeAlarms"]) == ([], [])
    # Bad input is answered as CloudWatch answers it: the model's constraints first.
    unchecked = server.client("cloudwatch", parameter_validation=False)
    with pytest.raises(ClientError) as empty:
        unchecked.put_metric_alarm(
            AlarmName="", Namespace="Quiet", MetricName="Nothing", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    assert empty.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    error = dict(empty.value.response["Error"])
    error.pop("QueryErrorCode", None)  # botocore's, from the JSON protocol's header
    assert error == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "1 validation error detected: Value '' at 'alarmName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
    }
    with pytest.raises(ClientError) as week:
        unchecked.put_metric_alarm(
            AlarmName="weeks", Namespace="Quiet", MetricName="Nothing", Statistic="Sum",
            Period=86400, EvaluationPeriods=8, Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    assert week.value.response["Error"]["Message"] == (
        "Metrics cannot be checked across more than a week (EvaluationPeriods * Period must "
        "be <= 604800) for alarms using period >= 3600"
    )
    with pytest.raises(AwsCliError) as both:
        server.aws("cloudwatch", "describe-alarms", "--alarm-names", alarm,
                   "--alarm-name-prefix", "manual-")  # fmt: skip
    assert "(InvalidParameterCombination)" in str(both.value)
    assert "AlarmNamePrefix and AlarmNames.member are mutually exclusive" in str(both.value)


def test_another_tenants_alarm_cannot_publish_with_the_servers_identity(
    server: LambdadServer, moto: str, topic: tuple[str, str]
) -> None:
    # OTHER has no LAMBDAD_OUTBOUND_CREDENTIALS and is not trusted with lambdad's own.
    cw, sqs = server.client("cloudwatch", account=OTHER.account_id), moto_client(moto, "sqs")
    topic_arn, queue_url = topic
    alarm = f"foreign-{uuid.uuid4().hex[:8]}"
    cw.put_metric_alarm(
        AlarmName=alarm, Namespace="Quiet", MetricName="Nothing", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, TreatMissingData="ignore",
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic_arn],
    )  # fmt: skip
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="try it")
    (item,) = _history(cw, alarm, 1)
    assert item["HistorySummary"].startswith(f"Failed to execute action {topic_arn}")
    assert OTHER.account_id in json.loads(item["HistoryData"])["error"]
    assert not sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages")


def test_a_state_set_by_hand_holds_until_the_next_evaluation(lambdad: LambdadServer) -> None:
    """On the session server (alarms evaluated once a minute): read at once, an alarm
    keeps the state SetAlarmState gave it, as CloudWatch's recorded answers show."""
    cw = lambdad.client("cloudwatch")
    held = f"held-{uuid.uuid4().hex[:8]}"
    cw.put_metric_alarm(
        AlarmName=held, Namespace="Quiet", MetricName="Nothing", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    (created,) = cw.describe_alarms(AlarmNames=[held])["MetricAlarms"]
    assert created["StateTransitionedTimestamp"] == created["StateUpdatedTimestamp"]
    cw.set_alarm_state(AlarmName=held, StateValue="ALARM", StateReason="testing alarm")
    (described,) = cw.describe_alarms(AlarmNames=[held])["MetricAlarms"]
    assert (described["StateValue"], described["StateReason"]) == ("ALARM", "testing alarm")
    cw.delete_alarms(AlarmNames=[held])
    with pytest.raises(ClientError) as gone:
        cw.set_alarm_state(AlarmName=held, StateValue="OK", StateReason="test")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert gone.value.response["Error"]["Code"] == "ResourceNotFound"
    assert gone.value.response["Error"]["Message"] == ""
