"""``AWS::CodeDeploy::Application``, ``DeploymentGroup`` and ``DeploymentConfig`` (what
SAM's ``DeploymentPreference`` makes: recorded in ``CodeDeployRecords``, read by the
alias's traffic shifting, traffic_shift.py) and ``AWS::CloudWatch::Alarm`` (through
lambdad's CloudWatch API: the alarms a deployment group watches)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy import traffic
from lambdad.deploy.codedeploy_records import CodeDeployRecords
from lambdad.deploy.handlers import Applied, Env, ignore_missing, pick
from lambdad.deploy.records import ResourceRecord
from lambdad.deploy.stack_records import Where

DEFAULT_CONFIG = f"{traffic.PREFIX}AllAtOnce"


def _where(env: Env) -> Where:
    return Where(env.identity.account, env.identity.region)


def _records(env: Env) -> CodeDeployRecords:
    if env.codedeploy is None:
        raise RuntimeError("this lambdad keeps no CodeDeploy records")
    return env.codedeploy


def _named(env: Env, props: Mapping[str, Any], key: str, logical_id: str, replaces: Any) -> str:
    given = props.get(key)
    if given:
        return str(given)
    return env.name_for(logical_id, 100, replaces.physical_id if replaces else "")


def _kept(record: ResourceRecord) -> Applied:
    """The resource as it stands: an update with nothing to change here."""
    return Applied(record.physical_id, dict(record.attributes))


class _Written:
    """A named resource written whole (``_put``) when created and on every update."""

    name_key = ""

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        name = _named(env, props, self.name_key, logical_id, replaces)
        self._put(env, name, props)
        return Applied(name, self._attributes(env, name))

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        self._put(env, record.physical_id, props)
        return _kept(record)

    def _attributes(self, env: Env, name: str) -> dict[str, Any]:
        return {"Ref": name}

    def _put(self, env: Env, name: str, props: Mapping[str, Any]) -> None:
        raise NotImplementedError


class ApplicationHandler:
    """A name the deployment groups share; nothing else of it is used."""

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        if props.get("ComputePlatform", "Lambda") != "Lambda":
            raise ValueError("lambdad serves CodeDeploy applications of ComputePlatform Lambda")
        name = _named(env, props, "ApplicationName", logical_id, replaces)
        return Applied(name, {"Ref": name})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        return _kept(record)

    def delete(self, env: Env, record: ResourceRecord) -> None:
        return None


class DeploymentGroupHandler(_Written):
    name_key = "DeploymentGroupName"

    def delete(self, env: Env, record: ResourceRecord) -> None:
        app = str(record.properties.get("ApplicationName", ""))
        _records(env).delete_group(_where(env), app, record.physical_id)

    def _put(self, env: Env, name: str, props: Mapping[str, Any]) -> None:
        config = str(props.get("DeploymentConfigName") or DEFAULT_CONFIG)
        records = _records(env)
        if config not in traffic.PREDEFINED and records.config(_where(env), config) is None:
            raise ValueError(f"No deployment configuration found for name: {config}")
        alarm_config = props.get("AlarmConfiguration") or {}
        alarms = [str(a.get("Name")) for a in alarm_config.get("Alarms") or [] if a.get("Name")]
        rollback = props.get("AutoRollbackConfiguration") or {}
        doc = {
            "deploymentConfigName": config,
            "alarms": alarms if _true(alarm_config.get("Enabled", True)) else [],
            "autoRollback": traffic.auto_rollback(rollback).to_doc(),
        }
        records.put_group(_where(env), str(props.get("ApplicationName", "")), name, doc)


class DeploymentConfigHandler:
    """Immutable, as CodeDeploy's configurations are (kinds.py: any change replaces it)."""

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        routing = traffic.from_properties(props)
        name = _named(env, props, "DeploymentConfigName", logical_id, replaces)
        doc = {"type": routing.type, "percentage": routing.percentage, "interval": routing.interval}
        _records(env).put_config(_where(env), name, doc)
        return Applied(name, {"Ref": name})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        return _kept(record)

    def delete(self, env: Env, record: ResourceRecord) -> None:
        _records(env).delete_config(_where(env), record.physical_id)


_ALARM = (
    "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Unit", "ComparisonOperator", "TreatMissingData",
    "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId",
)  # fmt: skip


class AlarmHandler(_Written):
    name_key = "AlarmName"

    def _attributes(self, env: Env, name: str) -> dict[str, Any]:
        i = env.identity
        arn = f"arn:{i.partition}:cloudwatch:{i.region}:{i.account}:alarm:{name}"
        return {"Ref": name, "Arn": arn}

    def delete(self, env: Env, record: ResourceRecord) -> None:
        client = env.client("cloudwatch")
        ignore_missing(lambda: client.delete_alarms(AlarmNames=[record.physical_id]))

    def _put(self, env: Env, name: str, props: Mapping[str, Any]) -> None:
        args = pick(props, *_ALARM)
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in props:
                args[key] = int(props[key])
        if "Threshold" in props:
            args["Threshold"] = float(props["Threshold"])
        if "ActionsEnabled" in args:
            args["ActionsEnabled"] = _true(args["ActionsEnabled"])
        env.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
