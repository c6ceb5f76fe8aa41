"""A rule's targets: PutTargets, RemoveTargets and ListTargetsByRule.

Targets are kept in their rule's document, as given (``Id``, ``Arn``, the input
settings, ``RetryPolicy``, ``DeadLetterConfig``). lambdad delivers to Lambda functions
only: any other ARN is a failed entry, as AWS reports a target it cannot take, and the
others of the request are still put. A rule holds at most five targets.
"""

from __future__ import annotations

from typing import Any

from lambdad.errors import ValidationException
from lambdad.events.eventbridge_errors import LimitExceededException
from lambdad.events.names import bus_of
from lambdad.events.rule_store import EventStore
from lambdad.events.rules import RuleService
from lambdad.events.target_input import check_target
from lambdad.model.arn import parse_function_ref
from lambdad.model.scope import Scope

Params = dict[str, Any]
MAX_TARGETS = 5
LIST_LIMIT = 100


def is_lambda_arn(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) in (7, 8) and parts[:3] == ["arn", "aws", "lambda"] and parts[5] == "function"


class TargetService:
    def __init__(self, events: EventStore, rules: RuleService) -> None:
        self.events = events
        self.rules = rules

    async def put_targets(self, scope: Scope, p: Params) -> dict[str, Any]:
        bus = bus_of(scope, p.get("EventBusName"))
        doc = self.rules.rule_doc(scope, bus, p["Rule"])
        for target in p["Targets"]:
            check_target(target)
        failed: list[dict[str, str]] = []
        current = {t["Id"]: t for t in doc["Targets"]}
        for target in p["Targets"]:
            if not is_lambda_arn(target["Arn"]) or not _valid_ref(target["Arn"]):
                failed.append(
                    {
                        "TargetId": target["Id"],
                        "ErrorCode": "ValidationException",
                        "ErrorMessage": f"lambdad delivers to Lambda functions only; "
                        f"{target['Arn']} is not a Lambda function ARN.",
                    }
                )
                continue
            current[target["Id"]] = target
        if len(current) > MAX_TARGETS:
            raise LimitExceededException(
                "The requested resource exceeds the maximum number allowed."
            )
        doc["Targets"] = sorted(current.values(), key=lambda t: str(t["Id"]))
        self.events.put_rule(scope, bus, p["Rule"], doc)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    async def remove_targets(self, scope: Scope, p: Params) -> dict[str, Any]:
        bus = bus_of(scope, p.get("EventBusName"))
        doc = self.rules.rule_doc(scope, bus, p["Rule"])
        gone = set(p["Ids"])
        doc["Targets"] = [t for t in doc["Targets"] if t["Id"] not in gone]
        self.events.put_rule(scope, bus, p["Rule"], doc)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    async def list_targets_by_rule(self, scope: Scope, p: Params) -> dict[str, Any]:
        bus = bus_of(scope, p.get("EventBusName"))
        targets = self.rules.rule_doc(scope, bus, p["Rule"])["Targets"]
        after = p.get("NextToken") or ""
        targets = [t for t in targets if str(t["Id"]) > after]
        limit = p.get("Limit") or LIST_LIMIT
        out: dict[str, Any] = {"Targets": targets[:limit]}
        if len(targets) > limit:
            out["NextToken"] = targets[limit - 1]["Id"]
        return out


def _valid_ref(arn: str) -> bool:
    try:
        parse_function_ref(arn)
    except ValidationException:
        return False
    return True
