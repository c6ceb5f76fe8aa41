"""Traffic shifting as CodeDeploy does it for a Lambda alias (SAM's
``DeploymentPreference``): the deployment configurations (AWS's predefined ones and a
template's ``AWS::CodeDeploy::DeploymentConfig``), the schedule of weights each one
gives the new version, and the decision of what a running deployment does next.

Pure: time is passed in (seconds since the traffic started shifting, already scaled by
the operator's ``deployment_time_scale``), and so are the alarms found in ALARM.

How a deployment ends when it does not succeed is CodeDeploy's too: an alarm stops it
(status ``Stopped``), anything else fails it (``Failed``), and the alias goes back to the
old version only where the group's ``AutoRollbackConfiguration`` names that event.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALL_AT_ONCE = "AllAtOnce"
CANARY = "TimeBasedCanary"
LINEAR = "TimeBasedLinear"
PREFIX = "CodeDeployDefault.Lambda"


@dataclass(frozen=True, slots=True)
class Routing:
    """How a configuration moves traffic: all at once, a canary ``percentage`` for
    ``interval`` minutes then the rest, or ``percentage`` more every ``interval``."""

    type: str
    percentage: int = 100
    interval: int = 0


def _predefined() -> dict[str, Routing]:
    table = {f"{PREFIX}AllAtOnce": Routing(ALL_AT_ONCE)}
    for minutes in (5, 10, 15, 30):
        table[f"{PREFIX}Canary10Percent{minutes}Minutes"] = Routing(CANARY, 10, minutes)
    for minutes in (1, 2, 3, 10):
        unit = "Minute" if minutes == 1 else "Minutes"
        table[f"{PREFIX}Linear10PercentEvery{minutes}{unit}"] = Routing(LINEAR, 10, minutes)
    return table


PREDEFINED: Mapping[str, Routing] = _predefined()


def from_properties(props: Mapping[str, Any]) -> Routing:
    """The routing of an ``AWS::CodeDeploy::DeploymentConfig``'s properties
    (ValueError saying what is wrong, as CodeDeploy refuses it)."""
    if props.get("ComputePlatform", "Lambda") != "Lambda":
        raise ValueError("lambdad serves deployment configurations of ComputePlatform Lambda")
    config = props.get("TrafficRoutingConfig")
    if not isinstance(config, Mapping):
        raise ValueError("TrafficRoutingConfig is required for the Lambda compute platform")
    kind = config.get("Type")
    if kind == ALL_AT_ONCE:
        return Routing(ALL_AT_ONCE)
    if kind not in (CANARY, LINEAR):
        raise ValueError(f"TrafficRoutingConfig Type {kind!r} is not one of AllAtOnce, "
                         "TimeBasedCanary, TimeBasedLinear")  # fmt: skip
    part = config.get(kind)
    word = "Canary" if kind == CANARY else "Linear"
    if not isinstance(part, Mapping):
        raise ValueError(f"TrafficRoutingConfig {kind} is required for Type {kind}")
    try:
        percentage = int(part[f"{word}Percentage"])
        interval = int(part[f"{word}Interval"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{kind} needs integers {word}Percentage and {word}Interval") from None
    if not 1 <= percentage <= 99 or interval < 1:
        raise ValueError(f"{word}Percentage must be 1-99 and {word}Interval at least 1 minute")
    return Routing(kind, percentage, interval)


@dataclass(frozen=True, slots=True)
class Stage:
    """From ``at`` seconds after the shift starts, the new version has ``weight``."""

    at: float
    weight: float


def schedule(routing: Routing) -> tuple[Stage, ...]:
    """The stages of a deployment, the last one at weight 1 (all the traffic)."""
    if routing.type == ALL_AT_ONCE:
        return (Stage(0.0, 1.0),)
    step = routing.percentage / 100
    interval = routing.interval * 60.0
    if routing.type == CANARY:
        return (Stage(0.0, step), Stage(interval, 1.0))
    count = math.ceil(100 / routing.percentage)
    return tuple(Stage(i * interval, min(1.0, (i + 1) * step)) for i in range(count))


@dataclass(frozen=True, slots=True)
class Shift:
    weight: float


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class Complete:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    """An alarm went off: the deployment stops (rolled back or not: ``ending``)."""

    reason: str


Move = Shift | Wait | Complete | Stop


def decide(
    stages: Sequence[Stage], elapsed: float, applied: float, alarming: Sequence[str]
) -> Move:
    """What a deployment does now: ``applied`` is the weight the alias has (0 before the
    first shift), ``alarming`` the watched alarms in ALARM (any one stops it)."""
    if alarming:
        names = ", ".join(sorted(alarming))
        return Stop(f"alarm(s) in ALARM state: {names}")
    due = [s for s in stages if s.at <= elapsed]
    if due and due[-1].weight > applied:
        return Shift(due[-1].weight)
    if applied >= 1.0:
        return Complete()
    later = [s.at for s in stages if s.at > elapsed]
    return Wait(later[0] - elapsed) if later else Complete()


def weights(old: str, new: str, weight: float) -> tuple[str, dict[str, float]]:
    """The alias's FunctionVersion and AdditionalVersionWeights at ``weight`` of the new
    version: the old one stays the alias's version until all traffic moves."""
    if weight >= 1.0:
        return new, {}
    return old, {new: round(weight, 5)}


# CodeDeploy's AutoRollbackEvent values.
ON_FAILURE = "DEPLOYMENT_FAILURE"
ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
ON_REQUEST = "DEPLOYMENT_STOP_ON_REQUEST"
EVENTS = (ON_FAILURE, ON_ALARM, ON_REQUEST)


@dataclass(frozen=True, slots=True)
class AutoRollback:
    """A deployment group's ``AutoRollbackConfiguration`` as the template gave it
    (``enabled``, the ``named`` events); ``events`` are those that put the alias back on
    its old version (none unless enabled, CodeDeploy's default)."""

    enabled: bool = False
    named: frozenset[str] = frozenset()

    @property
    def events(self) -> frozenset[str]:
        """Enabled with no events named (CodeDeploy's documentation is silent on it)
        rolls back on failures and alarms."""
        if not self.enabled:
            return frozenset()
        return self.named or frozenset({ON_FAILURE, ON_ALARM})

    def to_doc(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "events": sorted(self.named)}


def auto_rollback(config: Any) -> AutoRollback:
    """From a template's ``AutoRollbackConfiguration`` (``Enabled``, ``Events``) or the
    record's ``{"enabled", "events"}``."""
    if isinstance(config, bool):  # a group recorded before events were kept
        config = {"enabled": config}
    if not isinstance(config, Mapping):
        return AutoRollback()
    enabled = config.get("Enabled", config.get("enabled", False))
    named = config.get("Events", config.get("events")) or []
    return AutoRollback(
        enabled is True or str(enabled).lower() == "true",
        frozenset(str(e) for e in named if e in EVENTS),
    )


@dataclass(frozen=True, slots=True)
class Ending:
    """How a deployment that did not succeed ends: CodeDeploy's status and error code,
    and whether the alias goes back to the old version."""

    status: str
    code: str
    roll_back: bool


def ending(alarm: bool, hook: bool, rollback: AutoRollback) -> Ending:
    """An alarm stops a deployment; a hook's failure or anything else fails it."""
    if alarm:
        return Ending("Stopped", "ALARM_ACTIVE", ON_ALARM in rollback.events)
    code = "HOOK_EXECUTION_FAILURE" if hook else "INTERNAL_ERROR"
    return Ending("Failed", code, ON_FAILURE in rollback.events)
