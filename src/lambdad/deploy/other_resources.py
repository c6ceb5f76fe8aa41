"""``AWS::Events::Rule`` (PutRule and its targets through lambdad's EventBridge API) and
``AWS::IAM::Role`` (recorded: lambdad has no IAM API to call; the role's ARN is what
functions name as their execution role, and its ``AssumeRolePolicyDocument`` is
declared in the data directory's roles.json, store/roles.py, so that Lambda's role
check knows it)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env, ignore_missing, pick
from lambdad.deploy.records import ResourceRecord
from lambdad.model.role_policy import DEFAULT as DEFAULT_POLICY
from lambdad.model.role_policy import RolePolicy
from lambdad.model.role_policy import from_document as policy_from_document

_TARGET = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
)


class RuleHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        name = props.get("Name") or env.name_for(
            logical_id, 64, replaces.physical_id if replaces else ""
        )
        arn = self._put(env, name, props, [])
        bus = props.get("EventBusName")
        ref = f"{bus}|{name}" if bus and bus != "default" else name
        return Applied(ref, {"Ref": ref, "Arn": arn})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        name = record.physical_id.split("|")[-1]
        self._put(env, name, props, record.properties.get("Targets") or [])
        return Applied(record.physical_id, dict(record.attributes))

    def _put(
        self, env: Env, name: str, props: Mapping[str, Any], old_targets: list[dict[str, Any]]
    ) -> str:
        args: dict[str, Any] = {
            "Name": name,
            **pick(props, "ScheduleExpression", "State", "Description", "RoleArn", "EventBusName"),
        }
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        arn: str = env.events_client.put_rule(**args)["RuleArn"]
        bus = pick(props, "EventBusName")
        targets = [pick(t, *_TARGET) for t in props.get("Targets") or []]
        gone = sorted({t["Id"] for t in old_targets} - {t["Id"] for t in targets})
        if gone:
            env.events_client.remove_targets(Rule=name, Ids=gone, **bus)
        if targets:
            out = env.events_client.put_targets(Rule=name, Targets=targets, **bus)
            if out.get("FailedEntryCount"):
                entry = out["FailedEntries"][0]
                raise RuntimeError(f"target {entry.get('TargetId')}: {entry.get('ErrorMessage')}")
        return arn

    def delete(self, env: Env, record: ResourceRecord) -> None:
        name = record.physical_id.split("|")[-1]
        bus = pick(record.properties, "EventBusName")
        ids = [t["Id"] for t in record.properties.get("Targets") or []]
        if ids:
            ignore_missing(lambda: env.events_client.remove_targets(Rule=name, Ids=ids, **bus))
        ignore_missing(lambda: env.events_client.delete_rule(Name=name, **bus))


class RoleHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        name = props.get("RoleName") or env.name_for(
            logical_id, 64, replaces.physical_id if replaces else ""
        )
        i = env.identity
        path = props.get("Path") or "/"
        arn = f"arn:{i.partition}:iam::{i.account}:role{path}{name}"
        role_id = "AROA" + hashlib.sha256(arn.encode()).hexdigest()[:17].upper()
        self._declare(env, arn, props)
        return Applied(name, {"Ref": name, "Arn": arn, "RoleId": role_id})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        self._declare(env, str(record.attributes["Arn"]), props)
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        if env.roles is not None and "Arn" in record.attributes:
            env.roles.forget(str(record.attributes["Arn"]), env.identity.stack_id)

    def _declare(self, env: Env, arn: str, props: Mapping[str, Any]) -> None:
        # Without a trust policy the role stays in the stack only: unknown to the check.
        trust = props.get("AssumeRolePolicyDocument")
        if env.roles is not None and trust is not None:
            env.roles.declare(arn, trust, env.identity.stack_id, _inline_policy(props))


def _inline_policy(props: Mapping[str, Any]) -> RolePolicy | None:
    """What a session of the role may do: the default (Lambda and Logs; managed policies
    are not known here) and the statements of its inline ``Policies`` (a hook function's
    codedeploy:PutLifecycleEventHookExecutionStatus, say). None: no inline policies."""
    statements = list(DEFAULT_POLICY.statements)
    for entry in props.get("Policies") or []:
        document = entry.get("PolicyDocument") if isinstance(entry, Mapping) else None
        if isinstance(document, str):
            document = json.loads(document)
        raw = document.get("Statement") if isinstance(document, Mapping) else None
        for statement in [raw] if isinstance(raw, Mapping) else raw or []:
            # What the policy model does not read (NotAction, a Condition's Deny...) is
            # left out: the role keeps no more than it had before this was read.
            with contextlib.suppress(ValueError):
                statements.extend(policy_from_document({"Statement": [statement]}).statements)
    if len(statements) == len(DEFAULT_POLICY.statements):
        return None
    return RolePolicy(tuple(statements))
