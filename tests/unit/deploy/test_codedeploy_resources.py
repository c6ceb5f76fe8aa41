"""The CodeDeploy resources of SAM's DeploymentPreference, recorded for the alias's
traffic shifting, and the CloudWatch alarms a deployment group watches."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.deploy.codedeploy_records import CodeDeployRecords
from lambdad.deploy.codedeploy_resources import (
    AlarmHandler,
    ApplicationHandler,
    DeploymentConfigHandler,
    DeploymentGroupHandler,
)
from lambdad.deploy.handlers import Env
from lambdad.deploy.records import ResourceRecord
from lambdad.deploy.stack_records import Where
from lambdad.store.sqlite import SqliteStore
from unit.deploy.deploy_fakes import IDENTITY

HERE = Where(IDENTITY.account, IDENTITY.region)


class CloudWatch:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put_metric_alarm(self, **args: Any) -> None:
        self.calls.append(("put", args))

    def delete_alarms(self, **args: Any) -> None:
        self.calls.append(("delete", args))


def _env(store: SqliteStore, cloudwatch: CloudWatch | None = None) -> Env:
    return Env(IDENTITY, lambda name: cloudwatch, lambda b, k: None,
               codedeploy=CodeDeployRecords(store))  # fmt: skip


def test_group_with_a_custom_configuration_and_alarms(store: SqliteStore) -> None:
    env = _env(store)
    app = ApplicationHandler().create(env, "App", {"ComputePlatform": "Lambda"}, None)
    config_props = {"TrafficRoutingConfig": {"Type": "TimeBasedLinear",
                    "TimeBasedLinear": {"LinearPercentage": 20, "LinearInterval": 2}}}  # fmt: skip
    config = DeploymentConfigHandler().create(env, "Halves", config_props, None)
    group_props = {
        "ApplicationName": app.physical_id,
        "DeploymentConfigName": config.physical_id,
        "AlarmConfiguration": {"Enabled": True, "Alarms": [{"Name": "errors"}]},
        "AutoRollbackConfiguration": {"Enabled": True, "Events": ["DEPLOYMENT_FAILURE"]},
    }
    group = DeploymentGroupHandler().create(env, "Group", group_props, None)
    records = env.codedeploy
    assert records is not None
    assert records.config(HERE, config.physical_id) == {
        "type": "TimeBasedLinear", "percentage": 20, "interval": 2,
    }  # fmt: skip
    assert records.group(HERE, app.physical_id, group.physical_id) == {
        "deploymentConfigName": config.physical_id, "alarms": ["errors"],
        "autoRollback": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    }  # fmt: skip
    record = ResourceRecord("Group", "AWS::CodeDeploy::DeploymentGroup", group.physical_id,
                            group_props, group.attributes)  # fmt: skip
    DeploymentGroupHandler().delete(env, record)
    assert records.group(HERE, app.physical_id, group.physical_id) is None


def test_a_group_naming_an_unknown_configuration_is_refused(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="No deployment configuration found for name: Nope"):
        DeploymentGroupHandler().create(
            _env(store), "Group", {"ApplicationName": "a", "DeploymentConfigName": "Nope"}, None
        )
    with pytest.raises(ValueError, match="ComputePlatform Lambda"):
        ApplicationHandler().create(_env(store), "App", {"ComputePlatform": "Server"}, None)


def test_alarm_put_with_cloudwatch_types(store: SqliteStore) -> None:
    cloudwatch = CloudWatch()
    env = _env(store, cloudwatch)
    props = {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum",
             "Period": "60", "EvaluationPeriods": "1", "Threshold": "0",
             "ComparisonOperator": "GreaterThanThreshold", "ActionsEnabled": "false"}  # fmt: skip
    done = AlarmHandler().create(env, "Errors", props, None)
    ((_, args),) = cloudwatch.calls
    assert args["AlarmName"] == done.physical_id
    assert (args["Period"], args["Threshold"], args["ActionsEnabled"]) == (60, 0.0, False)
    assert done.attributes["Arn"].endswith(f":alarm:{done.physical_id}")
