"""PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions
and DescribeAlarmHistory: the parameters checked, the alarm kept.

What an alarm does (evaluation, state changes, their events and actions) is
``observe.alarms``'; this module checks what CloudWatch checks of a request and shapes
the documents. As on CloudWatch, the model's constraints (required members, lengths,
ranges, enums) are checked first and answered as ``ValidationError`` "1 validation
error detected: Value '' at 'alarmName' failed to satisfy constraint: Member must have
length greater than or equal to 1" (recorded from CloudWatch by the AWS SDK for
JavaScript's end-to-end tests); the rules between members come after.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from typing import Any

import botocore.session

from lambdad.api.cloudwatch_params import Params, check_period, page_token, required
from lambdad.api.cloudwatch_shapes import model
from lambdad.api.cloudwatch_wire import CloudWatchError, combination, invalid
from lambdad.api.constraints import ShapeChecker
from lambdad.errors import ValidationException
from lambdad.model.scope import Scope
from lambdad.observe.alarm_actions import ACTION_LISTS, MAX_ACTIONS, action_problem
from lambdad.observe.alarm_history import ITEM_TYPES
from lambdad.observe.alarm_state import OPERATORS, TREAT_MISSING
from lambdad.observe.alarms import AlarmService
from lambdad.observe.metric_stats import STATISTICS, percentile_of

_CONFIG = (
    "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
    "ThresholdMetricId",
)  # fmt: skip


class AlarmOperations:
    def __init__(self, alarms: AlarmService, now: Callable[[], float]) -> None:
        self.alarms = alarms
        self.now = now

    async def put_metric_alarm(self, scope: Scope, p: Params) -> dict[str, Any]:
        check_model("PutMetricAlarm", p)
        required(p, "AlarmName", "EvaluationPeriods", "ComparisonOperator")
        if p["ComparisonOperator"] not in OPERATORS:
            raise invalid(
                f"The value {p['ComparisonOperator']} for parameter ComparisonOperator "
                "is not supported."
            )
        low = p.get("EvaluateLowSampleCountPercentile")
        if low is not None and low not in ("evaluate", "ignore"):
            # botocore: "Valid Values: evaluate | ignore" (wording lambdad's).
            raise invalid(
                f"The value {low} for parameter EvaluateLowSampleCountPercentile is invalid."
            )
        if p.get("TreatMissingData", "missing") not in TREAT_MISSING:
            raise invalid(
                f"The value {p['TreatMissingData']} for parameter TreatMissingData is invalid."
            )
        if p.get("Metrics"):
            for member in _NOT_WITH_METRICS:
                if p.get(member) is not None:
                    raise CloudWatchError(
                        "ValidationException",
                        "ValidationError",
                        f"{member} should not be set if list of Metrics is set.",
                    )
        else:
            required(p, "MetricName", "Namespace", "Period", "Threshold")
            period = int(p["Period"])
            # An alarm's period is 10, 20, 30 or a multiple of 60 (botocore's
            # documentation); a metric's may be 1 or 5 as well, but not 20.
            if period < 60 and period not in (10, 20, 30):
                raise invalid("The parameter Period must be 10, 20, 30 or a multiple of 60.")
            if period >= 60:
                check_period(period)
            window = period * int(p["EvaluationPeriods"])
            if period >= 3600 and window > 604_800:
                raise CloudWatchError(
                    "ValidationException",
                    "ValidationError",
                    "Metrics cannot be checked across more than a week (EvaluationPeriods * "
                    "Period must be <= 604800) for alarms using period >= 3600",
                )
            if period < 3600 and window > 86_400:
                raise CloudWatchError(
                    "ValidationException",
                    "ValidationError",
                    "Metrics cannot be checked across more than a day (EvaluationPeriods * "
                    "Period must be <= 86400)",
                )
            stat = p.get("Statistic") or p.get("ExtendedStatistic")
            if stat is None or (stat not in STATISTICS and percentile_of(stat) is None):
                raise invalid("Exactly one of Statistic and ExtendedStatistic must be specified.")
        evaluation = int(p["EvaluationPeriods"])
        if evaluation < 1 or int(p.get("DatapointsToAlarm") or 1) > evaluation:
            raise invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
        for member in ACTION_LISTS.values():
            _check_actions(member, p.get(member) or [], scope.region)
        name = p["AlarmName"]
        doc: dict[str, Any] = {k: p[k] for k in _CONFIG if k in p}
        doc |= {
            "AlarmName": name,
            "AlarmArn": f"arn:aws:cloudwatch:{scope.region}:{scope.account}:alarm:{name}",
            "ActionsEnabled": p.get("ActionsEnabled", True) is not False,
        }
        await self.alarms.configure(scope, doc)
        return {}

    async def describe_alarms(self, scope: Scope, p: Params) -> dict[str, Any]:
        check_model("DescribeAlarms", p)
        if p.get("AlarmNames") and p.get("AlarmNamePrefix") is not None:
            raise combination("AlarmNamePrefix and AlarmNames.member are mutually exclusive")
        names = set(p.get("AlarmNames") or ())
        prefix = p.get("AlarmNamePrefix") or ""
        most = int(p["MaxRecords"]) if p.get("MaxRecords") is not None else 50
        if not 1 <= most <= 100:
            raise invalid("The parameter MaxRecords must be between 1 and 100.")
        after = _after(p.get("NextToken"))
        # Metric alarms only unless AlarmTypes names them ("If you omit this parameter,
        # only metric alarms are returned"); the children and parents asked about are
        # composite alarms' relations, and lambdad keeps no composite alarm: none.
        types = p.get("AlarmTypes") or ["MetricAlarm"]
        if (
            "MetricAlarm" not in types
            or p.get("ChildrenOfAlarmName")
            or p.get("ParentsOfAlarmName")
        ):
            return {"MetricAlarms": [], "CompositeAlarms": []}
        out: list[dict[str, Any]] = []
        action_prefix = p.get("ActionPrefix") or ""
        for alarm in await self.alarms.alarms(scope):
            name = alarm["AlarmName"]
            if (names and name not in names) or not name.startswith(prefix) or name <= after:
                continue
            if action_prefix and not any(a.startswith(action_prefix) for a in _actions_of(alarm)):
                continue
            alarm = await self.alarms.evaluated(scope, alarm)
            if p.get("StateValue") and alarm["StateValue"] != p["StateValue"]:
                continue
            if len(out) == most:
                return {
                    "MetricAlarms": out,
                    "CompositeAlarms": [],
                    "NextToken": _token(out[-1]["AlarmName"]),
                }
            out.append(_DESCRIBED_DEFAULTS | alarm)
        return {"MetricAlarms": out, "CompositeAlarms": []}

    async def describe_alarms_for_metric(self, scope: Scope, p: Params) -> dict[str, Any]:
        """The standard alarms on the metric (its dimensions all named), narrowed by the
        statistic, period and unit given; not metric math or composite alarms."""
        check_model("DescribeAlarmsForMetric", p)
        dims = sorted((d.get("Name"), d.get("Value")) for d in p.get("Dimensions") or [])
        out = []
        for alarm in await self.alarms.alarms(scope):
            if alarm.get("Metrics") or (alarm.get("Namespace"), alarm.get("MetricName")) != (
                p["Namespace"],
                p["MetricName"],
            ):
                continue
            mine = sorted((d["Name"], d["Value"]) for d in alarm.get("Dimensions") or [])
            if mine != dims or any(
                p.get(k) is not None and p[k] != alarm.get(k)
                for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")
            ):
                continue
            out.append(_DESCRIBED_DEFAULTS | await self.alarms.evaluated(scope, alarm))
        return {"MetricAlarms": out}

    async def delete_alarms(self, scope: Scope, p: Params) -> dict[str, Any]:
        check_model("DeleteAlarms", p)
        required(p, "AlarmNames")
        await self.alarms.delete(scope, list(p["AlarmNames"]))
        return {}

    async def set_alarm_state(self, scope: Scope, p: Params) -> dict[str, Any]:
        check_model("SetAlarmState", p)
        required(p, "AlarmName", "StateValue", "StateReason")
        if p["StateValue"] not in ACTION_LISTS:
            raise invalid(f"The value {p['StateValue']} for parameter StateValue is invalid.")
        data = p.get("StateReasonData")
        if data:
            try:
                json.loads(data)
            except ValueError:
                raise CloudWatchError(
                    "InvalidFormatFault", "InvalidFormat", "StateReasonData is not valid JSON."
                ) from None
        name = p["AlarmName"]
        if not await self.alarms.set_state(scope, name, p["StateValue"], p["StateReason"], data):
            # Recorded from CloudWatch: 404 and no message at all.
            raise CloudWatchError("ResourceNotFound", "ResourceNotFound", "", 404)
        return {}

    async def enable_alarm_actions(self, scope: Scope, p: Params) -> dict[str, Any]:
        check_model("EnableAlarmActions", p)
        required(p, "AlarmNames")
        await self.alarms.set_actions_enabled(scope, list(p["AlarmNames"]), True)
        return {}

    async def disable_alarm_actions(self, scope: Scope, p: Params) -> dict[str, Any]:
        check_model("DisableAlarmActions", p)
        required(p, "AlarmNames")
        await self.alarms.set_actions_enabled(scope, list(p["AlarmNames"]), False)
        return {}

    async def describe_alarm_history(self, scope: Scope, p: Params) -> dict[str, Any]:
        check_model("DescribeAlarmHistory", p)
        kind = p.get("HistoryItemType")
        if kind in _CONTRIBUTOR_ITEM_TYPES:
            return {"AlarmHistoryItems": []}  # items of multi-contributor alarms: none here
        if kind is not None and kind not in ITEM_TYPES:
            raise invalid(f"The value {kind} for parameter HistoryItemType is invalid.")
        most = int(p["MaxRecords"]) if p.get("MaxRecords") is not None else 100
        if not 1 <= most <= 100:
            raise invalid("The parameter MaxRecords must be between 1 and 100.")
        types = p.get("AlarmTypes") or ["MetricAlarm"]
        if "MetricAlarm" not in types:
            return {"AlarmHistoryItems": []}  # composite alarms: none here
        start = p["StartDate"].timestamp() if p.get("StartDate") else 0.0
        end = p["EndDate"].timestamp() if p.get("EndDate") else self.now() + 1
        items = [
            i
            for i in await self.alarms.history(scope, start, end)
            if (not p.get("AlarmName") or i.alarm_name == p["AlarmName"])
            and (kind is None or i.item_type == kind)
        ]
        if p.get("ScanBy", "TimestampDescending") == "TimestampDescending":
            items.reverse()
        skip = page_token(p.get("NextToken"))
        page = items[skip : skip + most]
        out: dict[str, Any] = {"AlarmHistoryItems": [i.described() for i in page]}
        if skip + most < len(items):
            out["NextToken"] = str(skip + most)
        return out


# What PutMetricAlarm refuses beside Metrics (a metric math or multi-metric alarm).
_NOT_WITH_METRICS = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic",
                     "Dimensions", "Period", "Unit")  # fmt: skip


# Enums CloudWatch lists in another order than the model's, as recorded from it
# (LocalStack's AWS-validated snapshot of SetAlarmState with StateValue INVALID).
_AS_RECORDED: dict[str, dict[str, Any]] = {
    "StateValue": {"enum": ["INSUFFICIENT_DATA", "ALARM", "OK"]},
}


@functools.cache
def _checker() -> ShapeChecker:
    shapes = botocore.session.get_session().get_service_data("cloudwatch")["shapes"]
    return ShapeChecker(shapes, _AS_RECORDED)


def check_model(operation: str, p: Params) -> None:
    """Refuse ``p`` as CloudWatch does when it breaks the model's constraints."""
    shape = model().operation_model(operation).input_shape
    violations = _checker().violations(shape.name, p) if shape is not None else []
    if violations:
        message = ValidationException.for_violations(violations).message
        raise CloudWatchError("ValidationException", "ValidationError", message)


# HistoryItemType values of alarms with contributors (Metrics Insights queries grouped
# by a key): valid in CloudWatch's model, never recorded by lambdad.
_CONTRIBUTOR_ITEM_TYPES = frozenset({"AlarmContributorStateUpdate", "AlarmContributorAction"})

# What DescribeAlarms always shows, though PutMetricAlarm left it out.
_DESCRIBED_DEFAULTS: dict[str, Any] = {
    "ActionsEnabled": True,
    "OKActions": [],
    "AlarmActions": [],
    "InsufficientDataActions": [],
    "Dimensions": [],
}


def _token(name: str) -> str:
    """A DescribeAlarms NextToken: the last name of its page (names sort), opaque."""
    return base64.urlsafe_b64encode(f"after:{name}".encode()).decode()


def _after(token: str | None) -> str:
    if not token:
        return ""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith("after:"):
        raise CloudWatchError(
            "InvalidNextToken", "InvalidNextToken", "The service couldn't process the NextToken."
        )
    return text.removeprefix("after:")


def _actions_of(alarm: dict[str, Any]) -> list[str]:
    return [a for member in ACTION_LISTS.values() for a in alarm.get(member) or []]


def _check_actions(member: str, actions: list[str], region: str) -> None:
    if len(actions) > MAX_ACTIONS:
        raise invalid(f"The collection {member} must not have a size greater than {MAX_ACTIONS}.")
    for arn in actions:
        problem = action_problem(str(arn), region)
        if problem is not None:
            raise CloudWatchError("ValidationError", "ValidationError", problem)
