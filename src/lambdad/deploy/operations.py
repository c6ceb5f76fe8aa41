"""Each CloudFormation operation of the subset: its parameters (as botocore's model
parses them) in, its result (in the model's output shape) out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.stack_records import Where
from lambdad.deploy.stacks import EnvFor, StackService
from lambdad.store.base import Doc

Params = Mapping[str, Any]
_LIVE_STACK = (
    "StackId", "StackName", "Description", "CreationTime", "LastUpdatedTime", "StackStatus",
    "StackStatusReason", "Capabilities", "Outputs",
)  # fmt: skip


def _parameters(doc: Doc) -> list[dict[str, str]]:
    """A stack's or change set's parameter values, NoEcho ones masked as AWS masks them."""
    hidden = set(doc.get("NoEcho") or [])
    given = doc.get("Parameters") or {}
    return [
        {"ParameterKey": k, "ParameterValue": "****" if k in hidden else v}
        for k, v in given.items()
    ]


def create_change_set(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    for required in ("StackName", "ChangeSetName"):
        if not p.get(required):
            raise ValidationError(
                f"1 validation error detected: Value null at "
                f"'{required[0].lower() + required[1:]}' failed to satisfy constraint: "
                "Member must not be null"
            )
    cs = s.create_change_set(w, p)
    return {"Id": cs["ChangeSetId"], "StackId": cs["StackId"]}


def describe_change_set(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    cs = dict(s.describe_change_set(w, p.get("StackName"), p.get("ChangeSetName", "")))
    cs["Parameters"] = _parameters(cs)
    # What AWS describes on every change set (lambdad has none of these to turn on).
    cs.update(NotificationARNs=[], RollbackConfiguration={}, IncludeNestedStacks=False)
    return cs


def execute_change_set(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    s.execute_change_set(w, p.get("StackName"), p.get("ChangeSetName", ""), env_for)
    return {}


def delete_change_set(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    cs = s.describe_change_set(w, p.get("StackName"), p.get("ChangeSetName", ""))
    s.records.delete_change_set(w, cs["StackName"], cs["ChangeSetName"])
    return {}


def _stack_view(doc: Doc) -> Doc:
    view = {k: doc[k] for k in _LIVE_STACK if k in doc}
    view["Parameters"] = _parameters(doc)
    # What AWS describes on every stack (SAM CLI reads EnableTerminationProtection
    # before it deletes one); lambdad has none of these features to turn on.
    view.update(
        EnableTerminationProtection=False,
        DisableRollback=False,
        NotificationARNs=[],
        RollbackConfiguration={},
        Tags=list(doc.get("Tags") or []),
        DriftInformation={"StackDriftStatus": "NOT_CHECKED"},
    )
    return view


def describe_stacks(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    name = p.get("StackName")
    if name and name.startswith("arn:") and s.records.get(w, name) is None:
        # A deleted stack is still described by its id, as on AWS.
        gone = [d for d in s.records.deleted(w, s.now()) if d["StackId"] == name]
        if gone:
            return {"Stacks": [_stack_view(gone[0])]}
    docs = [s.stack(w, name)] if name else s.records.all(w)
    return {"Stacks": [_stack_view(d) for d in docs]}


def describe_stack_events(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    doc = s.stack(w, p.get("StackName", ""))
    return {"StackEvents": list(reversed(doc.get("Events") or []))}


def describe_stack_resources(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    doc = s.stack(w, p.get("StackName", ""))
    status = "CREATE_COMPLETE" if doc["StackStatus"].startswith("CREATE") else "UPDATE_COMPLETE"
    when = doc.get("LastUpdatedTime") or doc["CreationTime"]
    rows = [
        {
            "StackName": doc["StackName"],
            "StackId": doc["StackId"],
            "LogicalResourceId": r["LogicalId"],
            "PhysicalResourceId": r["PhysicalId"],
            "ResourceType": r["Type"],
            "Timestamp": when,
            "ResourceStatus": status,
        }
        for r in doc.get("Resources") or []
        if not p.get("LogicalResourceId") or r["LogicalId"] == p["LogicalResourceId"]
    ]
    return {"StackResources": rows}


def describe_stack_resource(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    logical = p.get("LogicalResourceId") or ""
    rows = describe_stack_resources(s, w, {"StackName": p.get("StackName", "")}, env_for)
    found = [r for r in rows["StackResources"] if r["LogicalResourceId"] == logical]
    if not found:
        raise ValidationError(
            f"Resource {logical} does not exist for stack {p.get('StackName', '')}"
        )
    detail = dict(found[0])
    detail["LastUpdatedTimestamp"] = detail.pop("Timestamp")
    detail["DriftInformation"] = {"StackResourceDriftStatus": "NOT_CHECKED"}
    return {"StackResourceDetail": detail}


def list_stack_resources(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    # One page holds them all (a stack of lambdad's has at most a few hundred).
    rows = describe_stack_resources(s, w, {"StackName": p.get("StackName", "")}, env_for)
    summaries = [
        {
            "LogicalResourceId": r["LogicalResourceId"],
            "PhysicalResourceId": r["PhysicalResourceId"],
            "ResourceType": r["ResourceType"],
            "LastUpdatedTimestamp": r["Timestamp"],
            "ResourceStatus": r["ResourceStatus"],
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }
        for r in rows["StackResources"]
    ]
    return {"StackResourceSummaries": summaries}


def get_template(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    import json

    if p.get("ChangeSetName"):
        doc = s.describe_change_set(w, p.get("StackName"), p["ChangeSetName"])
        return {"TemplateBody": doc["TemplateBody"], "StagesAvailable": ["Original"]}
    doc = s.stack(w, p.get("StackName", ""))
    if p.get("TemplateStage") == "Processed":
        body = json.dumps(doc.get("ProcessedTemplate") or {})
    else:
        body = doc.get("TemplateBody", "")
    return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}


def delete_stack(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    s.delete_stack(w, p.get("StackName", ""), env_for)
    return {}


def list_stacks(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    wanted = set(p.get("StackStatusFilter") or [])
    rows = []
    for d in [*s.records.all(w), *s.records.deleted(w, s.now())]:
        if wanted and d["StackStatus"] not in wanted:
            continue
        row: Doc = {
            k: d[k]
            for k in (
                "StackId",
                "StackName",
                "CreationTime",
                "LastUpdatedTime",
                "DeletionTime",
                "StackStatus",
                "StackStatusReason",
            )
            if k in d
        }
        if d.get("Description"):
            row["TemplateDescription"] = d["Description"]
        rows.append(row)
    return {"StackSummaries": rows}


def list_change_sets(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    doc = s.stack(w, p.get("StackName", ""))
    keys = (
        "StackId",
        "StackName",
        "ChangeSetId",
        "ChangeSetName",
        "ExecutionStatus",
        "Status",
        "StatusReason",
        "CreationTime",
        "Description",
    )
    return {
        "Summaries": [
            {k: cs[k] for k in keys if cs.get(k) is not None}
            for _, cs in s.records.change_sets(w, doc["StackName"])
        ]
    }


def get_template_summary(s: StackService, w: Where, p: Params, env_for: EnvFor) -> Doc:
    from lambdad.deploy import template

    body = p.get("TemplateBody")
    if body is None and p.get("TemplateURL") and s.read_url is not None:
        body = s.read_url(w, p["TemplateURL"])
    if body is None:
        body = s.stack(w, p.get("StackName", "")).get("TemplateBody")
    if not body:
        raise ValidationError("Either Template URL or Template Body must be specified.")
    doc = template.parse_body(body)
    params = []
    for key, spec in (doc.get("Parameters") or {}).items():
        row = {
            "ParameterKey": key,
            "ParameterType": spec.get("Type"),
            "NoEcho": bool(spec.get("NoEcho", False)),
        }
        if "Default" in spec:
            row["DefaultValue"] = str(spec["Default"])
        if spec.get("Description"):
            row["Description"] = spec["Description"]
        if spec.get("AllowedValues"):
            row["ParameterConstraints"] = {"AllowedValues": [str(v) for v in spec["AllowedValues"]]}
        params.append(row)
    types = sorted(
        {str(r.get("Type")) for r in (doc.get("Resources") or {}).values() if isinstance(r, dict)}
    )
    transform = doc.get("Transform")
    return {
        "Parameters": params,
        "Description": doc.get("Description"),
        "ResourceTypes": types,
        "Version": doc.get("AWSTemplateFormatVersion"),
        "DeclaredTransforms": transform
        if isinstance(transform, list)
        else [transform]
        if transform
        else [],
    }


OPERATIONS: dict[str, Callable[[StackService, Where, Params, EnvFor], Doc]] = {
    "CreateChangeSet": create_change_set,
    "DescribeChangeSet": describe_change_set,
    "ExecuteChangeSet": execute_change_set,
    "DeleteChangeSet": delete_change_set,
    "ListChangeSets": list_change_sets,
    "DescribeStacks": describe_stacks,
    "DescribeStackEvents": describe_stack_events,
    "DescribeStackResources": describe_stack_resources,
    "DescribeStackResource": describe_stack_resource,
    "ListStackResources": list_stack_resources,
    "GetTemplate": get_template,
    "DeleteStack": delete_stack,
    "ListStacks": list_stacks,
    "GetTemplateSummary": get_template_summary,
}
