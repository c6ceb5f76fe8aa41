"""The alarm operations check the CloudWatch model's constraints first, in the words
CloudWatch answers them with (``ValidationError``), before the rules between members."""

from __future__ import annotations

import pytest

from lambdad.api.cloudwatch_alarms import check_model
from lambdad.api.cloudwatch_wire import CloudWatchError

ALARM = {
    "AlarmName": "a",
    "MetricName": "Errors",
    "Namespace": "AWS/Lambda",
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "GreaterThanThreshold",
}


def _refused(operation: str, params: dict[str, object]) -> str:
    with pytest.raises(CloudWatchError) as refused:
        check_model(operation, params)
    assert (refused.value.code, refused.value.status) == ("ValidationError", 400)
    return refused.value.message


def test_an_empty_alarm_name_is_answered_as_recorded() -> None:
    # Recorded from CloudWatch (the AWS SDK for JavaScript's end-to-end tests).
    assert _refused("PutMetricAlarm", {**ALARM, "AlarmName": ""}) == (
        "1 validation error detected: Value '' at 'alarmName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1"
    )


def test_ranges_enums_and_missing_members() -> None:
    check_model("PutMetricAlarm", ALARM)
    periods = _refused("PutMetricAlarm", {**ALARM, "EvaluationPeriods": 0})
    assert periods.endswith(
        "at 'evaluationPeriods' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    statistic = _refused("PutMetricAlarm", {**ALARM, "Statistic": "Median"})
    assert statistic.endswith(
        "Member must satisfy enum value set: [SampleCount, Average, Sum, Minimum, Maximum]"
    )
    assert "at 'unit'" in _refused("PutMetricAlarm", {**ALARM, "Unit": "Parsecs"})
    two = _refused("PutMetricAlarm", {**ALARM, "AlarmName": "x" * 256, "Period": 0})
    assert two.startswith("2 validation errors detected: ")
    assert "Value null at 'alarmNames'" in _refused("DeleteAlarms", {})
    assert "at 'maxRecords'" in _refused("DescribeAlarms", {"MaxRecords": 101})
    assert "at 'stateValue'" in _refused("DescribeAlarms", {"StateValue": "RED"})
    assert "at 'scanBy'" in _refused("DescribeAlarmHistory", {"ScanBy": "Sideways"})


def test_set_alarm_state_answers_as_recorded() -> None:
    # LocalStack's AWS-validated snapshot: the enum in CloudWatch's order, not the model's.
    state = {"AlarmName": "a", "StateValue": "INVALID", "StateReason": "test"}
    assert _refused("SetAlarmState", state) == (
        "1 validation error detected: Value 'INVALID' at 'stateValue' failed to satisfy "
        "constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
    )
    with pytest.raises(CloudWatchError) as refused:
        check_model("SetAlarmState", state)
    assert refused.value.shape == "ValidationException"  # botocore's QueryErrorCode
