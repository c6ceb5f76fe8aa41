"""What CloudWatch sends when an alarm changes state, in AWS's shapes (pure).

Three documents describe one state change: the EventBridge event's ``detail``
(``alarm_detail``), the payload a Lambda alarm action receives (``lambda_payload``:
the same ``alarmData`` with the alarm's ARN, account, region and time around it), and
the notification an SNS alarm action publishes (``sns_message``, with the subject
``sns_subject`` gives it: ``ALARM: "name" in US East (N. Virginia)``). Regions are
named as botocore's endpoint data names them.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Alarm = dict[str, Any]
# SNS takes subjects of at most 100 characters; an alarm's name may have 255.
SUBJECT_MAX = 100
# CloudWatch names statistics in its notifications as Java enums name them.
_STATISTIC_NAMES = {
    "SampleCount": "SAMPLE_COUNT",
    "Average": "AVERAGE",
    "Sum": "SUM",
    "Minimum": "MINIMUM",
    "Maximum": "MAXIMUM",
}


def event_time(t: datetime) -> str:
    """2017-01-12T16:30:42.236+0000"""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


@functools.cache
def _region_names() -> dict[str, str]:
    import botocore

    try:
        path = Path(botocore.__file__).parent / "data" / "endpoints.json"
        partitions = json.loads(path.read_text())["partitions"]
    except (OSError, ValueError, KeyError):
        return {}
    return {
        code: str(region.get("description", code))
        for partition in partitions
        for code, region in partition.get("regions", {}).items()
    }


def region_name(region: str) -> str:
    """``US East (N. Virginia)`` for ``us-east-1``; the code itself if unknown."""
    return _region_names().get(region, region)


def _metric(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": "m1",
        "metricStat": {
            "metric": {
                "namespace": alarm.get("Namespace"),
                "name": alarm.get("MetricName"),
                "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []},
            },
            "period": alarm.get("Period"),
            "stat": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
        },
        "returnData": True,
    }


def _query(query: dict[str, Any]) -> dict[str, Any]:
    """A ``MetricDataQuery`` of a metric-math alarm, as the alarm's events name it."""
    out: dict[str, Any] = {"id": query.get("Id")}
    stat = query.get("MetricStat")
    if stat:
        metric = stat.get("Metric") or {}
        out["metricStat"] = {
            "metric": {
                "namespace": metric.get("Namespace"),
                "name": metric.get("MetricName"),
                "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []},
            },
            "period": stat.get("Period"),
            "stat": stat.get("Stat"),
        }
    if query.get("Expression"):
        out["expression"] = query["Expression"]
    if query.get("Label"):
        out["label"] = query["Label"]
    out["returnData"] = query.get("ReturnData", True)
    return out


def _state(alarm: Alarm) -> dict[str, Any]:
    out = {
        "value": alarm["StateValue"],
        "reason": alarm.get("StateReason", ""),
        "timestamp": event_time(alarm["StateUpdatedTimestamp"]),
    }
    if alarm.get("StateReasonData"):
        out["reasonData"] = alarm["StateReasonData"]
    return out


def alarm_detail(alarm: Alarm, previous: Alarm) -> dict[str, Any]:
    """``alarmName``, ``state``, ``previousState``, ``configuration``: the event's detail
    and a Lambda action's ``alarmData``."""
    metrics = [_query(q) for q in alarm["Metrics"]] if alarm.get("Metrics") else [_metric(alarm)]
    return {
        "alarmName": alarm["AlarmName"],
        "state": _state(alarm),
        "previousState": _state(previous),
        "configuration": {"description": alarm.get("AlarmDescription", ""), "metrics": metrics},
    }


def state_change_entry(alarm: Alarm, previous: Alarm) -> dict[str, Any]:
    """The PutEvents entry of an alarm's state change, in AWS's shape."""
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Resources": [alarm["AlarmArn"]],
        "Detail": json.dumps(alarm_detail(alarm, previous)),
    }


def lambda_payload(alarm: Alarm, previous: Alarm, account: str, region: str) -> dict[str, Any]:
    """The event a Lambda alarm action invokes its function with."""
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm["AlarmArn"],
        "accountId": account,
        "time": event_time(alarm["StateUpdatedTimestamp"]),
        "region": region,
        "alarmData": alarm_detail(alarm, previous),
    }


def sns_subject(alarm: Alarm, region: str) -> str:
    subject = f'{alarm["StateValue"]}: "{alarm["AlarmName"]}" in {region_name(region)}'
    return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 3] + "..."


def _trigger(alarm: Alarm) -> dict[str, Any]:
    shared = {
        "Period": alarm.get("Period"),
        "EvaluationPeriods": alarm.get("EvaluationPeriods"),
        "DatapointsToAlarm": alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods"),
        "ComparisonOperator": alarm.get("ComparisonOperator"),
        "Threshold": alarm.get("Threshold"),
        "TreatMissingData": alarm.get("TreatMissingData") or "missing",
        "EvaluateLowSampleCountPercentile": alarm.get("EvaluateLowSampleCountPercentile") or "",
    }
    if alarm.get("Metrics"):
        return {"Metrics": [_query(q) for q in alarm["Metrics"]], **shared}
    out: dict[str, Any] = {
        "MetricName": alarm.get("MetricName"),
        "Namespace": alarm.get("Namespace"),
    }
    if alarm.get("ExtendedStatistic"):
        out["StatisticType"] = "ExtendedStatistic"
        out["ExtendedStatistic"] = alarm["ExtendedStatistic"]
    else:
        stat = str(alarm.get("Statistic"))
        out |= {"StatisticType": "Statistic", "Statistic": _STATISTIC_NAMES.get(stat, stat.upper())}
    out["Unit"] = alarm.get("Unit")
    out["Dimensions"] = [
        {"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions") or []
    ]
    return out | shared


def sns_message(alarm: Alarm, previous: Alarm, account: str, region: str) -> dict[str, Any]:
    """The notification an SNS alarm action publishes (its ``Message``, as JSON)."""
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": event_time(
            alarm.get("AlarmConfigurationUpdatedTimestamp") or alarm["StateUpdatedTimestamp"]
        ),
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm.get("StateReason", ""),
        "StateChangeTime": event_time(alarm["StateUpdatedTimestamp"]),
        "Region": region_name(region),
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": previous["StateValue"],
        "OKActions": list(alarm.get("OKActions") or []),
        "AlarmActions": list(alarm.get("AlarmActions") or []),
        "InsufficientDataActions": list(alarm.get("InsufficientDataActions") or []),
        "Trigger": _trigger(alarm),
    }
