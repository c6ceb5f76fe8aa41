from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lambdad.observe.alarm_messages import (
    lambda_payload,
    region_name,
    sns_message,
    sns_subject,
    state_change_entry,
)

ARN = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:errors"
AT = datetime(2026, 12, 6, 5, 30, 42, 236000, tzinfo=UTC)
BEFORE = datetime(2026, 12, 6, 5, 20, 0, tzinfo=UTC)


def alarm(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "AlarmName": "errors",
        "AlarmArn": ARN,
        "AlarmDescription": "the function fails",
        "AlarmActions": ["arn:aws:sns:eu-west-1:111122223333:ops"],
        "OKActions": [],
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": "f"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmConfigurationUpdatedTimestamp": BEFORE,
        "StateValue": "ALARM",
        "StateReason": "Threshold Crossed: 1 out of the last 1 datapoints [2] breached",
        "StateUpdatedTimestamp": AT,
    }
    return doc | over


PREVIOUS = alarm(StateValue="OK", StateReason="fine", StateUpdatedTimestamp=BEFORE)


def test_sns_notification_is_cloudwatchs_message() -> None:
    message = sns_message(alarm(), PREVIOUS, "111122223333", "eu-west-1")
    assert message["AlarmName"] == "errors"
    assert message["AlarmDescription"] == "the function fails"
    assert message["AWSAccountId"] == "111122223333"
    assert message["NewStateValue"] == "ALARM"
    assert message["OldStateValue"] == "OK"
    assert message["NewStateReason"].startswith("Threshold Crossed")
    assert message["StateChangeTime"] == "2026-12-06T05:30:42.236+0000"
    assert message["AlarmConfigurationUpdatedTimestamp"] == "2026-12-06T05:20:00.000+0000"
    assert message["Region"] == "Europe (Ireland)"
    assert message["AlarmArn"] == ARN
    assert message["AlarmActions"] == ["arn:aws:sns:eu-west-1:111122223333:ops"]
    assert message["InsufficientDataActions"] == []
    assert message["Trigger"] == {
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Unit": None,
        "Dimensions": [{"value": "f", "name": "FunctionName"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    }
    json.dumps(message)  # what is published: JSON, every value plain


def test_trigger_names_extended_statistics_and_sample_count() -> None:
    trigger = sns_message(
        alarm(Statistic=None, ExtendedStatistic="p99"), PREVIOUS, "1", "us-east-1"
    )["Trigger"]
    assert trigger["StatisticType"] == "ExtendedStatistic"
    assert trigger["ExtendedStatistic"] == "p99"
    assert "Statistic" not in trigger
    counted = sns_message(alarm(Statistic="SampleCount"), PREVIOUS, "1", "us-east-1")
    assert counted["Trigger"]["Statistic"] == "SAMPLE_COUNT"


def test_metric_math_trigger_lists_its_queries() -> None:
    queries = [
        {"Id": "e", "Expression": "m / 2", "ReturnData": True},
        {
            "Id": "m",
            "MetricStat": {
                "Metric": {"Namespace": "Shop", "MetricName": "Orders", "Dimensions": []},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
    ]
    doc = alarm(Metrics=queries, MetricName=None, Namespace=None)
    trigger = sns_message(doc, PREVIOUS, "1", "us-east-1")["Trigger"]
    assert [q["id"] for q in trigger["Metrics"]] == ["e", "m"]
    assert trigger["Metrics"][0]["expression"] == "m / 2"
    assert trigger["Metrics"][1]["metricStat"]["metric"]["name"] == "Orders"


def test_subject_names_the_state_alarm_and_region() -> None:
    assert sns_subject(alarm(), "us-east-1") == 'ALARM: "errors" in US East (N. Virginia)'
    assert sns_subject(alarm(StateValue="OK"), "eu-west-1") == 'OK: "errors" in Europe (Ireland)'
    long = sns_subject(alarm(AlarmName="x" * 255), "us-east-1")
    assert len(long) == 100
    assert long.endswith("...")


def test_unknown_region_is_named_by_its_code() -> None:
    assert region_name("moon-1") == "moon-1"
    assert sns_subject(alarm(), "moon-1") == 'ALARM: "errors" in moon-1'


def test_lambda_payload_wraps_the_events_detail() -> None:
    payload = lambda_payload(alarm(), PREVIOUS, "111122223333", "eu-west-1")
    assert payload["source"] == "aws.cloudwatch"
    assert payload["alarmArn"] == ARN
    assert payload["accountId"] == "111122223333"
    assert payload["region"] == "eu-west-1"
    assert payload["time"] == "2026-12-06T05:30:42.236+0000"
    data = payload["alarmData"]
    assert data["alarmName"] == "errors"
    assert data["state"]["value"] == "ALARM"
    assert data["previousState"] == {
        "value": "OK",
        "reason": "fine",
        "timestamp": "2026-12-06T05:20:00.000+0000",
    }
    assert data["configuration"]["description"] == "the function fails"
    (metric,) = data["configuration"]["metrics"]
    assert metric["metricStat"]["metric"] == {
        "namespace": "AWS/Lambda",
        "name": "Errors",
        "dimensions": {"FunctionName": "f"},
    }
    assert metric["metricStat"]["stat"] == "Sum"
    # The same detail as the EventBridge event's.
    entry = state_change_entry(alarm(), PREVIOUS)
    assert json.loads(entry["Detail"]) == data
    assert entry["Resources"] == [ARN]


def test_set_state_reason_data_rides_along() -> None:
    data = lambda_payload(alarm(StateReasonData='{"a": 1}'), PREVIOUS, "1", "us-east-1")
    assert data["alarmData"]["state"]["reasonData"] == '{"a": 1}'
    assert "reasonData" not in data["alarmData"]["previousState"]
