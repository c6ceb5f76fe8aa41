"""EventBridge's names for its resources: bus and rule ARNs, and which bus a request's
``EventBusName`` (a name or an ARN) means."""

from __future__ import annotations

from lambdad.errors import ResourceNotFoundException, ValidationException
from lambdad.events.rule_store import DEFAULT_BUS
from lambdad.model.scope import Scope


def bus_arn(scope: Scope, bus: str) -> str:
    return f"arn:aws:events:{scope.region}:{scope.account}:event-bus/{bus}"


def rule_arn(scope: Scope, bus: str, rule: str) -> str:
    # Rules on the default bus keep the ARN they had before custom buses existed.
    path = rule if bus == DEFAULT_BUS else f"{bus}/{rule}"
    return f"arn:aws:events:{scope.region}:{scope.account}:rule/{path}"


def bus_of(scope: Scope, value: str | None) -> str:
    """The bus ``EventBusName`` names: ``default`` when absent; an ARN must be this
    account's and region's (another's bus is not reachable from here)."""
    if not value:
        return DEFAULT_BUS
    if not value.startswith("arn:"):
        return value
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[2] != "events" or not parts[5].startswith("event-bus/"):
        raise ValidationException(
            f"Parameter {value} is not valid. Reason: Provided Arn is not in correct format."
        )
    if (parts[3], parts[4]) != (scope.region, scope.account):
        raise ResourceNotFoundException(
            f"Event bus {parts[5][len('event-bus/') :]} does not exist."
        )
    return parts[5][len("event-bus/") :]


def rule_not_found(rule: str, bus: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Rule {rule} does not exist on EventBus {bus}.")


def bus_not_found(bus: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Event bus {bus} does not exist.")
