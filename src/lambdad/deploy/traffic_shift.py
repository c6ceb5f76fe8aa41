"""An alias update under a CodeDeploy ``UpdatePolicy`` (SAM's ``DeploymentPreference``),
run as CodeDeploy runs it: the BeforeAllowTraffic hook, then the new version's weight
raised stage by stage (traffic.py decides; the alias's ``AdditionalVersionWeights``
show it), the group's alarms watched all along, then the AfterAllowTraffic hook. A
hook that fails or times out fails the deployment, an alarm in ALARM stops it; either
way the stack update fails (CloudFormation then rolls the stack back). The deployment
puts the alias back on the old version itself where the group's
``AutoRollbackConfiguration`` names that event (SAM's groups name all of them);
otherwise the deployment leaves it as it was, and the stack's rollback moves it back
(the executor undoes a failed update as it undoes the completed ones).

A hook is the named function, invoked asynchronously with ``DeploymentId`` and
``LifecycleEventHookExecutionId``; it reports through CodeDeploy's
``PutLifecycleEventHookExecutionStatus`` (codedeploy_api.py). Time is scaled by
``Env.time_scale`` (the operator's ``deployment_time_scale``): 0.01 makes a 5-minute
canary last 3 s. The stack update waits for the deployment, as CloudFormation does.

When a stack update fails after the alias moved (a later resource failed), the
rollback puts the alias back at once: no traffic shifting, no hooks.

A deployment outlives no server: one found unfinished at start-up is rolled back
(``recover``): the alias returns to its old version with no extra weights, and the
stack, marked failed at start-up, deploys again to move it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from lambdad.deploy import traffic
from lambdad.deploy.codedeploy_records import CodeDeployRecords, new_deployment_id
from lambdad.deploy.handlers import Env
from lambdad.deploy.stack_records import Where, now_iso

log = logging.getLogger(__name__)
POLICY = "CodeDeployLambdaAliasUpdate"
# CodeDeploy's hook timeout (an hour), in deployment seconds; never under a minute real.
HOOK_TIMEOUT = 3600.0
MIN_HOOK_WAIT = 60.0
# The longest real sleep between looks at the alarms.
POLL = 1.0


class DeploymentFailed(Exception):
    pass


class _HookFailed(DeploymentFailed):
    pass


class _AlarmStopped(DeploymentFailed):
    pass


def policy_of(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    policy = (props.get("UpdatePolicy") or {}).get(POLICY)
    return policy if isinstance(policy, Mapping) else None


def run(env: Env, props: Mapping[str, Any], old: str, new: str, update: Callable[..., Any]) -> None:
    """Move the alias of ``props`` from version ``old`` to ``new``; ``update(**args)`` is
    UpdateAlias. Raises DeploymentFailed when the deployment fails or stops (the alias
    back on ``old`` where the group's automatic rollback covers that event)."""
    policy = policy_of(props) or {}
    records = env.codedeploy
    if records is None:  # no CodeDeploy here: moved at once
        update(FunctionVersion=new, RoutingConfig={"AdditionalVersionWeights": {}})
        return
    where = Where(env.identity.account, env.identity.region)
    app, group_name = str(policy.get("ApplicationName")), str(policy.get("DeploymentGroupName"))
    group = records.group(where, app, group_name)
    if group is None:
        raise DeploymentFailed(f"No Deployment Group found for name: {group_name}")
    stages = traffic.schedule(_routing(records, where, group["deploymentConfigName"]))
    rollback = traffic.auto_rollback(group.get("autoRollback"))
    deployment_id = new_deployment_id()
    records.update_deployment(
        where, deployment_id,
        applicationName=app, deploymentGroupName=group_name,
        deploymentConfigName=group["deploymentConfigName"], status="InProgress",
        functionName=props["FunctionName"], alias=props["Name"], oldVersion=old, newVersion=new,
        createTime=now_iso(time.time()), stackId=env.identity.stack_id,
        autoRollbackConfiguration=rollback.to_doc(),
    )  # fmt: skip
    log.info("deployment %s: %s:%s %s -> %s", deployment_id, props["Name"], app, old, new)
    applied = 0.0
    try:
        _hook(env, records, where, deployment_id, policy.get("BeforeAllowTrafficHook"))
        start = env.monotonic()
        while True:
            elapsed = (env.monotonic() - start) / max(env.time_scale, 1e-9)
            move = traffic.decide(stages, elapsed, applied, _alarming(env, group["alarms"]))
            if isinstance(move, traffic.Stop):
                raise _AlarmStopped(move.reason)
            if isinstance(move, traffic.Complete):
                break
            if isinstance(move, traffic.Shift):
                version, weights = traffic.weights(old, new, move.weight)
                update(FunctionVersion=version, RoutingConfig={"AdditionalVersionWeights": weights})
                applied = move.weight
                continue
            env.sleep(min(POLL, max(move.seconds * env.time_scale, 0.01)))
        _hook(env, records, where, deployment_id, policy.get("AfterAllowTrafficHook"))
    except Exception as exc:
        reason = str(exc) if isinstance(exc, DeploymentFailed) else f"{type(exc).__name__}: {exc}"
        end = traffic.ending(isinstance(exc, _AlarmStopped), isinstance(exc, _HookFailed), rollback)
        # An UpdateAlias that raised may have moved the alias all the same.
        moved = applied > 0 or not isinstance(exc, DeploymentFailed)
        if moved and end.roll_back:
            try:
                update(FunctionVersion=old, RoutingConfig={"AdditionalVersionWeights": {}})
                reason += "; the alias was rolled back"
            except Exception as again:
                reason += f"; the alias could not be rolled back: {again}"
        elif moved:
            reason += "; automatic rollback is off: the alias was left as it was"
        records.update_deployment(
            where, deployment_id, status=end.status, error=reason, errorCode=end.code
        )
        log.info("deployment %s %s: %s", deployment_id, end.status.lower(), reason)
        message = f"CodeDeploy deployment {deployment_id} {end.status.lower()}: {reason}"
        raise DeploymentFailed(message) from None
    records.update_deployment(where, deployment_id, status="Succeeded")


def _routing(records: CodeDeployRecords, where: Where, name: str) -> traffic.Routing:
    if name in traffic.PREDEFINED:
        return traffic.PREDEFINED[name]
    doc = records.config(where, name)
    if doc is None:
        raise DeploymentFailed(f"No deployment configuration found for name: {name}")
    return traffic.Routing(doc["type"], int(doc["percentage"]), int(doc["interval"]))


def _alarming(env: Env, names: list[str]) -> list[str]:
    if not names:
        return []
    found = env.client("cloudwatch").describe_alarms(AlarmNames=names, StateValue="ALARM")
    return [a["AlarmName"] for a in found.get("MetricAlarms") or []]


def _hook(
    env: Env, records: CodeDeployRecords, where: Where, deployment_id: str, function: Any
) -> None:
    if not function:
        return
    execution_id = str(uuid.uuid4())
    records.add_hook(where, deployment_id, execution_id, str(function))
    payload = {"DeploymentId": deployment_id, "LifecycleEventHookExecutionId": execution_id}
    env.lambda_client.invoke(
        FunctionName=str(function), InvocationType="Event", Payload=json.dumps(payload).encode()
    )
    deadline = env.monotonic() + max(HOOK_TIMEOUT * env.time_scale, MIN_HOOK_WAIT)
    while True:
        doc = records.deployment(where, deployment_id) or {}
        status = (doc.get("hooks") or {}).get(execution_id, {}).get("status", "Pending")
        if status == "Succeeded":
            return
        if status == "Failed":
            raise _HookFailed(f"lifecycle hook {function} reported Failed")
        if env.monotonic() > deadline:
            raise _HookFailed(f"lifecycle hook {function} did not report in time")
        env.sleep(0.1)


def recover(
    records: CodeDeployRecords, restore: Callable[[Where, Mapping[str, Any]], None]
) -> list[str]:
    """At start-up: deployments an earlier run left unfinished are rolled back (the
    alias on its old version, no extra weights) and marked Stopped, with CodeDeploy's
    code for a stop of its own doing (INTERNAL_ERROR: no one called StopDeployment, as
    MANUAL_STOP would say). Their ids."""
    done = []
    for where, doc in list(records.unfinished()):
        try:
            restore(where, doc)
        except Exception as exc:
            log.warning("deployment %s: alias not restored: %s", doc.get("deploymentId"), exc)
        records.update_deployment(
            where, doc["deploymentId"], status="Stopped", errorCode="INTERNAL_ERROR",
            error="lambdad stopped during the deployment: the alias was rolled back",
        )  # fmt: skip
        done.append(str(doc["deploymentId"]))
    return done
