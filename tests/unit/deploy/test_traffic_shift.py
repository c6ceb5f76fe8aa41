"""An alias's traffic-shifting deployment over fake Lambda and CloudWatch clients, a
fake clock and real (in-memory) CodeDeploy records: hooks, stages, alarms, rollback,
and what a restart does to a deployment left running; the CodeDeploy API's hook
reports."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lambdad.api.context import RequestContext
from lambdad.api.sigv4 import Principal
from lambdad.deploy.codedeploy_api import CodeDeployApi
from lambdad.deploy.codedeploy_records import CodeDeployRecords
from lambdad.deploy.handlers import Env
from lambdad.deploy.stack_records import Where
from lambdad.deploy.traffic_shift import DeploymentFailed, recover, run
from lambdad.model.credential import Credential
from lambdad.store.sqlite import SqliteStore
from unit.deploy.deploy_fakes import IDENTITY

HERE = Where(IDENTITY.account, IDENTITY.region)
POLICY = {
    "CodeDeployLambdaAliasUpdate": {
        "ApplicationName": "app",
        "DeploymentGroupName": "group",
        "BeforeAllowTrafficHook": "pre",
        "AfterAllowTrafficHook": "post",
    }
}
PROPS = {"FunctionName": "fn", "Name": "live", "FunctionVersion": "2", "UpdatePolicy": POLICY}


class World:
    """Lambda (invoke: the hook reports ``hook_status``) and CloudWatch, on a clock that
    moves only when the deployment sleeps."""

    def __init__(self, records: CodeDeployRecords, hook_status: str = "Succeeded") -> None:
        self.records = records
        self.hook_status = hook_status
        self.now = 0.0
        self.alarm_at: float | None = None
        self.hooks: list[str] = []
        self.updates: list[tuple[float, str, dict[str, float]]] = []

    # lambda
    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "Event"
        event = json.loads(Payload)
        self.hooks.append(FunctionName)
        self.records.report_hook(
            HERE, event["DeploymentId"], event["LifecycleEventHookExecutionId"], self.hook_status
        )
        return {"StatusCode": 202}

    # cloudwatch
    def describe_alarms(self, AlarmNames: list[str], StateValue: str) -> dict[str, Any]:
        firing = self.alarm_at is not None and self.now >= self.alarm_at
        return {"MetricAlarms": [{"AlarmName": n} for n in AlarmNames] if firing else []}

    def client(self, name: str) -> Any:
        return self

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def env(self) -> Env:
        return Env(
            IDENTITY, self.client, lambda b, k: None, sleep=self.sleep,
            monotonic=lambda: self.now, codedeploy=self.records, time_scale=0.01,
        )  # fmt: skip

    def update(self, **args: Any) -> None:
        weights = args["RoutingConfig"]["AdditionalVersionWeights"]
        self.updates.append((round(self.now, 2), args["FunctionVersion"], weights))

    # lambda, as the AliasHandler calls it
    def update_alias(self, **args: Any) -> dict[str, Any]:
        self.update(**args)
        return {}


SAM_ROLLBACK = {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}


def _records(
    store: SqliteStore,
    config: str = "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    rollback: dict[str, Any] = SAM_ROLLBACK,
) -> CodeDeployRecords:
    records = CodeDeployRecords(store)
    group = {"deploymentConfigName": config, "alarms": ["errors"], "autoRollback": rollback}
    records.put_group(HERE, "app", "group", group)
    return records


def _only_deployment(records: CodeDeployRecords) -> dict[str, Any]:
    (doc,) = [d for _, _, _, _, d in records.store.all_children("codedeploy-deployment")]
    return doc


def test_canary_with_hooks(store: SqliteStore) -> None:
    world = World(_records(store))
    run(world.env(), PROPS, "1", "2", world.update)
    assert world.hooks == ["pre", "post"]
    # 10% at once, all of it after 5 scaled minutes (3 s).
    assert world.updates[0] == (0.0, "1", {"2": 0.1})
    assert world.updates[1][1:] == ("2", {})
    assert world.updates[1][0] == pytest.approx(3.0, abs=0.05)
    doc = _only_deployment(world.records)
    assert doc["status"] == "Succeeded"
    assert [h["status"] for h in doc["hooks"].values()] == ["Succeeded", "Succeeded"]


def test_custom_linear_configuration(store: SqliteStore) -> None:
    records = _records(store, "halves")
    records.put_config(HERE, "halves", {"type": "TimeBasedLinear", "percentage": 50,
                                        "interval": 1})  # fmt: skip
    world = World(records)
    run(world.env(), PROPS, "1", "2", world.update)
    assert [(v, w) for _, v, w in world.updates] == [("1", {"2": 0.5}), ("2", {})]


def test_failed_hook_leaves_the_alias_alone(store: SqliteStore) -> None:
    world = World(_records(store), hook_status="Failed")
    with pytest.raises(DeploymentFailed, match="lifecycle hook pre reported Failed"):
        run(world.env(), PROPS, "1", "2", world.update)
    assert world.updates == []
    assert _only_deployment(world.records)["status"] == "Failed"


def test_alarm_rolls_back(store: SqliteStore) -> None:
    world = World(_records(store))
    world.alarm_at = 1.0
    with pytest.raises(DeploymentFailed, match="alarm\\(s\\) in ALARM state: errors"):
        run(world.env(), PROPS, "1", "2", world.update)
    assert [(v, w) for _, v, w in world.updates] == [("1", {"2": 0.1}), ("1", {})]
    assert world.hooks == ["pre"]
    doc = _only_deployment(world.records)
    assert (doc["status"], doc["errorCode"]) == ("Stopped", "ALARM_ACTIVE")
    assert doc["error"].endswith("the alias was rolled back")


def test_alarm_with_auto_rollback_off_stops_and_leaves_the_alias(store: SqliteStore) -> None:
    world = World(_records(store, rollback={"enabled": False, "events": []}))
    world.alarm_at = 1.0
    with pytest.raises(DeploymentFailed, match="stopped: alarm\\(s\\) in ALARM state: errors"):
        run(world.env(), PROPS, "1", "2", world.update)
    assert [(v, w) for _, v, w in world.updates] == [("1", {"2": 0.1})]
    doc = _only_deployment(world.records)
    assert doc["status"] == "Stopped"
    assert "automatic rollback is off" in doc["error"]
    assert doc["autoRollbackConfiguration"] == {"enabled": False, "events": []}
    got = "CodeDeploy_20141006.GetDeployment"
    info = _call(CodeDeployApi(world.records), got, {"deploymentId": doc["deploymentId"]})[1]
    assert info["deploymentInfo"]["status"] == "Stopped"
    assert info["deploymentInfo"]["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert info["deploymentInfo"]["autoRollbackConfiguration"]["enabled"] is False


def test_failed_post_hook_rolls_back_only_on_deployment_failure(store: SqliteStore) -> None:
    for events, last in ((["DEPLOYMENT_FAILURE"], ("1", {})), (["DEPLOYMENT_STOP_ON_ALARM"],
                                                              ("2", {}))):  # fmt: skip
        rollback = {"enabled": True, "events": events}
        world = World(_records(store, rollback=rollback), hook_status="Failed")
        props = {**PROPS, "UpdatePolicy": {"CodeDeployLambdaAliasUpdate": {
            "ApplicationName": "app", "DeploymentGroupName": "group",
            "AfterAllowTrafficHook": "post"}}}  # fmt: skip
        with pytest.raises(DeploymentFailed, match="failed: lifecycle hook post reported Failed"):
            run(world.env(), props, "1", "2", world.update)
        assert [(v, w) for _, v, w in world.updates][-1] == last


def test_missing_group_fails_before_anything_moves(store: SqliteStore) -> None:
    world = World(CodeDeployRecords(store))
    with pytest.raises(DeploymentFailed, match="No Deployment Group found for name: group"):
        run(world.env(), PROPS, "1", "2", world.update)


def test_restart_rolls_unfinished_deployments_back(store: SqliteStore) -> None:
    records = CodeDeployRecords(store)
    records.update_deployment(HERE, "d-AAAAAAAAA", status="InProgress", functionName="fn",
                              alias="live", oldVersion="1", newVersion="2")  # fmt: skip
    records.update_deployment(HERE, "d-BBBBBBBBB", status="Succeeded")
    restored: list[tuple[str, str]] = []
    done = recover(records, lambda where, doc: restored.append((doc["alias"], doc["oldVersion"])))
    assert done == ["d-AAAAAAAAA"]
    assert restored == [("live", "1")]
    assert records.deployment(HERE, "d-AAAAAAAAA")["status"] == "Stopped"  # type: ignore[index]
    got = "CodeDeploy_20141006.GetDeployment"
    info = _call(CodeDeployApi(records), got, {"deploymentId": "d-AAAAAAAAA"})[1]["deploymentInfo"]
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "INTERNAL_ERROR"
    assert "lambdad stopped during the deployment" in info["errorInformation"]["message"]


def _call(api: CodeDeployApi, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    principal = Principal(Credential("AKID", "secret", HERE.account), HERE.region, "codedeploy")
    ctx = RequestContext(principal, "req-1", "http://x", {})
    status, _, out = asyncio.run(api(ctx, target, json.dumps(body).encode()))
    return status, json.loads(out)


def test_hook_reports_through_the_api(store: SqliteStore) -> None:
    records = CodeDeployRecords(store)
    records.update_deployment(HERE, "d-AAAAAAAAA", status="InProgress")
    records.add_hook(HERE, "d-AAAAAAAAA", "hook-1", "pre")
    api = CodeDeployApi(records)
    put = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"
    ok = {"deploymentId": "d-AAAAAAAAA", "lifecycleEventHookExecutionId": "hook-1",
          "status": "Succeeded"}  # fmt: skip
    assert _call(api, put, ok) == (200, {"lifecycleEventHookExecutionId": "hook-1"})
    status, error = _call(api, put, ok)
    assert (status, error["__type"]) == (400, "LifecycleEventAlreadyCompletedException")
    for body, code in (
        ({**ok, "deploymentId": "d-ZZZZZZZZZ"}, "DeploymentDoesNotExistException"),
        ({**ok, "deploymentId": "nope"}, "InvalidDeploymentIdException"),
        ({**ok, "lifecycleEventHookExecutionId": "other"},
         "InvalidLifecycleEventHookExecutionIdException"),
        ({**ok, "status": "Pending"}, "InvalidLifecycleEventHookExecutionStatusException"),
        ({"status": "Failed"}, "DeploymentIdRequiredException"),
    ):  # fmt: skip
        assert _call(api, put, body)[1]["__type"] == code
    status, info = _call(api, "CodeDeploy_20141006.GetDeployment", {"deploymentId": "d-AAAAAAAAA"})
    assert info["deploymentInfo"]["status"] == "InProgress"
    assert _call(api, "CodeDeploy_20141006.ListApplications", {})[1]["__type"] == (
        "UnknownOperationException"
    )


class _Lambda:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update_alias(self, **args: Any) -> dict[str, Any]:
        self.updates.append(args)
        return {}


def test_a_stack_rollback_moves_the_alias_back_at_once(store: SqliteStore) -> None:
    from lambdad.deploy.lambda_resources import AliasHandler
    from lambdad.deploy.records import ResourceRecord

    lam = _Lambda()
    env = Env(IDENTITY, lambda name: lam, lambda b, k: None, codedeploy=CodeDeployRecords(store),
              rolling_back=True)  # fmt: skip
    record = ResourceRecord("FnAliaslive", "AWS::Lambda::Alias", "arn:alias", PROPS, {})
    AliasHandler().update(env, record, {**PROPS, "FunctionVersion": "1"})
    (args,) = lam.updates
    assert args["FunctionVersion"] == "1"
    assert args["RoutingConfig"] == {"AdditionalVersionWeights": {}}


def test_an_alias_that_cannot_be_moved_fails_the_deployment_and_says_so(
    store: SqliteStore,
) -> None:
    world = World(_records(store))

    def broken(**args: Any) -> None:
        raise RuntimeError("UpdateAlias refused")

    with pytest.raises(DeploymentFailed, match="UpdateAlias refused"):
        run(world.env(), PROPS, "1", "2", broken)
    doc = _only_deployment(world.records)
    assert (doc["status"], doc["errorCode"]) == ("Failed", "INTERNAL_ERROR")
    assert "the alias could not be rolled back" in doc["error"]


def test_a_failed_stack_update_puts_the_alias_back_without_auto_rollback(
    store: SqliteStore,
) -> None:
    """A group with no AutoRollbackConfiguration: the deployment stops with 10% on the
    new version, and the stack's rollback (the executor) moves the alias back."""
    from lambdad.deploy import template
    from lambdad.deploy.errors import ApplyFailed
    from lambdad.deploy.executor import execute
    from lambdad.deploy.lambda_resources import AliasHandler
    from lambdad.deploy.plan import plan
    from lambdad.deploy.records import ResourceRecord

    world = World(_records(store, rollback={}))
    world.alarm_at = 1.0
    alias = "AWS::Lambda::Alias"
    old_props = {"FunctionName": "fn", "Name": "live", "FunctionVersion": "1",
                 "UpdatePolicy": POLICY}  # fmt: skip
    previous = {"Live": ResourceRecord("Live", alias, "arn:alias", old_props, {"Ref": "arn:alias"})}
    body = {"Type": alias, "UpdatePolicy": POLICY, "Properties": {
        "FunctionName": "fn", "Name": "live", "FunctionVersion": "2"}}  # fmt: skip
    the_plan = plan(template.read({"Resources": {"Live": body}}), {}, IDENTITY, previous)
    reports: list[tuple[str, str]] = []
    with pytest.raises(ApplyFailed, match="alarm"):
        execute(the_plan, previous, world.env(), {alias: AliasHandler()},
                lambda lid, t, p, s, r: reports.append((lid, s)))  # fmt: skip
    assert [(v, w) for _, v, w in world.updates] == [("1", {"2": 0.1}), ("1", {})]
    assert reports[-2:] == [("Live", "UPDATE_IN_PROGRESS"), ("Live", "UPDATE_COMPLETE")]
