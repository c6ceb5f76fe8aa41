"""Target groups of type ``lambda``: creating, describing and deleting them, their one
function target, and their attributes (``lambda.multi_value_headers.enabled``).

As on AWS, ``RegisterTargets`` refuses a function whose resource policy does not let
``elasticloadbalancing.amazonaws.com`` invoke it for the target group (``AccessDenied``),
and a ``lambda`` target group has exactly one target and no protocol or port.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lambdad.clock import Clock
from lambdad.errors import AwsError
from lambdad.events.alb import checks, names
from lambdad.events.alb.errors import ElbError, invalid
from lambdad.events.alb.store import LB, TG, ElbStore
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope

Params = dict[str, Any]
# (owner, function name, qualifier, target group ARN) -> may ELB invoke it
Permitted = Callable[[Scope, str, "str | None", str], bool]
_DEFAULTS: Final = {
    "HealthCheckEnabled": False,
    "HealthCheckIntervalSeconds": 35,
    "HealthCheckTimeoutSeconds": 30,
    "HealthyThresholdCount": 5,
    "UnhealthyThresholdCount": 2,
    "HealthCheckPath": "/",
    "Matcher": {"HttpCode": "200"},
    "TargetType": "lambda",
    "IpAddressType": "ipv4",
}

# What a second CreateTargetGroup of a name must repeat to be answered, not refused.
_SETTINGS: Final = ("TargetType", "HealthCheckEnabled", "HealthCheckPath", "Matcher",
                    "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
                    "HealthyThresholdCount", "UnhealthyThresholdCount")  # fmt: skip


class TargetGroups:
    def __init__(self, store: ElbStore, clock: Clock, permitted: Permitted) -> None:
        self.store = store
        self.clock = clock
        self.permitted = permitted

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "CreateTargetGroup": self.create_target_group,
            "DescribeTargetGroups": self.describe_target_groups,
            "DeleteTargetGroup": self.delete_target_group,
            "RegisterTargets": self.register_targets,
            "DeregisterTargets": self.deregister_targets,
            "DescribeTargetHealth": self.describe_target_health,
            "ModifyTargetGroupAttributes": self.modify_attributes,
            "DescribeTargetGroupAttributes": self.describe_attributes,
        }

    def create_target_group(self, scope: Scope, params: Params) -> Params:
        name = params["Name"]
        problem = checks.group_name_problem(name)
        if problem is not None:
            raise invalid(problem)
        if params.get("TargetType") != "lambda":
            raise invalid("lambdad serves target groups of TargetType lambda only")
        if "Protocol" in params or "Port" in params:
            raise invalid(
                "Protocol and port cannot be specified for target groups with target type 'lambda'"
            )
        existing = [d for d in self.store.all(TG, scope) if d["Name"] == name]
        if existing:
            # Idempotent, as on AWS: the same settings answer the group there is.
            group = existing[0]["TargetGroup"]
            if any(params[k] != group.get(k) for k in _SETTINGS if k in params):
                raise ElbError(
                    "DuplicateTargetGroupName",
                    f"A target group with the same name '{name}' exists, "
                    "but with different settings",
                )
            return {"TargetGroups": [_view(self.store, scope, existing[0])]}
        arn = names.arn(scope.region, scope.account, f"targetgroup/{name}/{names.hex_id()}")
        given = {k: params[k] for k in _SETTINGS if k in params}
        group = {**_DEFAULTS, **given, "TargetGroupArn": arn, "TargetGroupName": name}
        doc = {
            "Name": name,
            "Arn": arn,
            "TargetGroup": group,
            "Targets": [],
            "Attributes": {names.MULTI_VALUE: "false"},
        }
        self.store.put(TG, scope, doc)
        return {"TargetGroups": [_view(self.store, scope, doc)]}

    def describe_target_groups(self, scope: Scope, params: Params) -> Params:
        docs = self.store.all(TG, scope)
        if params.get("LoadBalancerArn"):
            checks.check_arn(scope, "load balancer", params["LoadBalancerArn"])
        if params.get("TargetGroupArns"):
            for arn in params["TargetGroupArns"]:
                checks.check_arn(scope, "target group", arn)
            docs = [self.store.by_arn(TG, scope, arn) for arn in params["TargetGroupArns"]]
        elif params.get("Names"):
            docs = [d for d in docs if d["Name"] in params["Names"]]
            if len(docs) != len(set(params["Names"])):
                raise ElbError("TargetGroupNotFound", "One or more target groups not found")
        views = [_view(self.store, scope, d) for d in docs]
        if params.get("LoadBalancerArn"):
            views = [v for v in views if params["LoadBalancerArn"] in v["LoadBalancerArns"]]
        shown, marker = checks.page(views, params)
        return {"TargetGroups": shown} | ({"NextMarker": marker} if marker else {})

    def delete_target_group(self, scope: Scope, params: Params) -> Params:
        arn = params["TargetGroupArn"]
        checks.check_arn(scope, "target group", arn)
        with self.store.lock:
            found = [d for d in self.store.all(TG, scope) if d["Arn"] == arn]
            if not found:
                return {}  # deleting an unknown target group succeeds, as on AWS
            if _balancers_using(self.store, scope, arn):
                raise ElbError(
                    "ResourceInUse",
                    f"Target group '{arn}' is currently in use by a listener or a rule",
                )
            self.store.delete(TG, scope, found[0]["Name"])
        return {}

    def register_targets(self, scope: Scope, params: Params) -> Params:
        checks.check_arn(scope, "target group", params["TargetGroupArn"])
        targets = params["Targets"]
        if len(targets) != 1:
            raise invalid("You can register only one Lambda function with a target group")
        function_arn = targets[0]["Id"]
        try:
            ref = parse_function_ref(function_arn, field="targets.member.1.id")
        except AwsError:
            raise invalid(f"The target ID '{function_arn}' is not a valid Lambda ARN") from None
        if (ref.account or scope.account, ref.region or scope.region) != (
            scope.account,
            scope.region,
        ):
            raise invalid("The Lambda function must be in the target group's account and region")
        with self.store.edit(TG, scope, params["TargetGroupArn"]) as doc:
            if not self.permitted(scope, ref.name, ref.qualifier, doc["Arn"]):
                raise ElbError(
                    "AccessDenied",
                    "elasticloadbalancing principal does not have permission to invoke "
                    f"{function_arn} from target group {doc['Arn']}",
                    403,
                )
            doc["Targets"] = [function_arn]
        return {}

    def deregister_targets(self, scope: Scope, params: Params) -> Params:
        checks.check_arn(scope, "target group", params["TargetGroupArn"])
        gone = {t["Id"] for t in params["Targets"]}
        with self.store.edit(TG, scope, params["TargetGroupArn"]) as doc:
            doc["Targets"] = [t for t in doc["Targets"] if t not in gone]
        return {}

    def describe_target_health(self, scope: Scope, params: Params) -> Params:
        checks.check_arn(scope, "target group", params["TargetGroupArn"])
        doc = self.store.by_arn(TG, scope, params["TargetGroupArn"])
        health = {
            "State": "unavailable",
            "Reason": "Target.HealthCheckDisabled",
            "Description": "Health checks are disabled",
        }
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": t}, "TargetHealth": health} for t in doc["Targets"]
            ]
        }

    def modify_attributes(self, scope: Scope, params: Params) -> Params:
        checks.check_arn(scope, "target group", params["TargetGroupArn"])
        with self.store.edit(TG, scope, params["TargetGroupArn"]) as doc:
            for attribute in params["Attributes"]:
                key, value = attribute.get("Key"), attribute.get("Value")
                if key != names.MULTI_VALUE:
                    raise invalid(f"Target group attribute key '{key}' is not recognized")
                if value not in ("true", "false"):
                    # (wording lambdad's: no recorded answer found)
                    raise invalid(
                        f"Target group attribute '{key}' takes 'true' or 'false', not '{value}'"
                    )
                doc["Attributes"][key] = value
            attributes = doc["Attributes"]
        return {"Attributes": [{"Key": k, "Value": v} for k, v in attributes.items()]}

    def describe_attributes(self, scope: Scope, params: Params) -> Params:
        checks.check_arn(scope, "target group", params["TargetGroupArn"])
        doc = self.store.by_arn(TG, scope, params["TargetGroupArn"])
        return {"Attributes": [{"Key": k, "Value": v} for k, v in doc["Attributes"].items()]}


def target_group_arns(actions: list[Params]) -> list[str]:
    """The target groups a list of actions forwards to."""
    arns = []
    for action in actions:
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            arns.append(action["TargetGroupArn"])
        for group in (action.get("ForwardConfig") or {}).get("TargetGroups") or ():
            arns.append(group["TargetGroupArn"])
    return arns


def _balancers_using(store: ElbStore, scope: Scope, arn: str) -> list[str]:
    using = []
    for balancer in store.all(LB, scope):
        for listener in balancer["Listeners"].values():
            actions = list(listener["DefaultActions"])
            for rule in balancer["Rules"].values():
                if rule["ListenerArn"] == listener["ListenerArn"]:
                    actions += rule["Actions"]
            if arn in target_group_arns(actions):
                using.append(balancer["Arn"])
                break
    return using


def _view(store: ElbStore, scope: Scope, doc: Params) -> Params:
    return {**doc["TargetGroup"], "LoadBalancerArns": _balancers_using(store, scope, doc["Arn"])}
