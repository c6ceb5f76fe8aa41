"""Resources that make functions run: ``AWS::Lambda::EventSourceMapping`` (lambdad's
pollers) and ``AWS::Scheduler::Schedule`` (EventBridge Scheduler), each through its
own API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env, as_int, ignore_missing, pick
from lambdad.deploy.records import ResourceRecord

_MAPPING = (
    "FunctionName", "Enabled", "BatchSize", "MaximumBatchingWindowInSeconds",
    "FilterCriteria", "FunctionResponseTypes", "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError", "MaximumRetryAttempts", "ParallelizationFactor",
    "TumblingWindowInSeconds", "DestinationConfig", "ScalingConfig",
)  # fmt: skip
_FIRST_ONLY = ("EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "Tags")
_INTS = ("BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds",
         "MaximumRetryAttempts", "ParallelizationFactor", "TumblingWindowInSeconds")  # fmt: skip


class EventSourceMappingHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        p = as_int(props, *_INTS)
        args = pick(p, *_MAPPING, *_FIRST_ONLY)
        if "Tags" in args:
            args["Tags"] = {t["Key"]: t["Value"] for t in args["Tags"]}
        made = env.lambda_client.create_event_source_mapping(**args)
        uuid = made["UUID"]
        attrs = {"Ref": uuid, "Id": uuid}
        if made.get("EventSourceMappingArn"):
            attrs["EventSourceMappingArn"] = made["EventSourceMappingArn"]
        return Applied(uuid, attrs)

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        args = pick(as_int(props, *_INTS), *_MAPPING)
        env.lambda_client.update_event_source_mapping(UUID=record.physical_id, **args)
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        ignore_missing(
            lambda: env.lambda_client.delete_event_source_mapping(UUID=record.physical_id)
        )


_SCHEDULE = (
    "ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "EndDate",
    "Description", "State", "FlexibleTimeWindow", "Target", "GroupName", "KmsKeyArn",
    "ActionAfterCompletion",
)  # fmt: skip


class ScheduleHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        name = props.get("Name") or env.name_for(
            logical_id, 64, replaces.physical_id if replaces else ""
        )
        made = env.client("scheduler").create_schedule(Name=name, **_schedule_args(props))
        return Applied(name, {"Ref": name, "Arn": made["ScheduleArn"]})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        env.client("scheduler").update_schedule(Name=record.physical_id, **_schedule_args(props))
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        group = pick(record.properties, "GroupName")
        ignore_missing(
            lambda: env.client("scheduler").delete_schedule(Name=record.physical_id, **group)
        )


def _schedule_args(props: Mapping[str, Any]) -> dict[str, Any]:
    args = pick(props, *_SCHEDULE)
    window = dict(args.get("FlexibleTimeWindow") or {"Mode": "OFF"})
    args["FlexibleTimeWindow"] = as_int(window, "MaximumWindowInMinutes")
    if "Target" in args:
        target = dict(args["Target"])
        if "RetryPolicy" in target:
            target["RetryPolicy"] = as_int(
                target["RetryPolicy"], "MaximumEventAgeInSeconds", "MaximumRetryAttempts"
            )
        args["Target"] = target
    return args
