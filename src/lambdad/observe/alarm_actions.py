"""Which actions an alarm's state change runs, and what running one came to (pure).

An alarm runs the actions listed for the state it enters (``AlarmActions``,
``OKActions``, ``InsufficientDataActions``), once per change of state, and only while
``ActionsEnabled`` (true unless set false). lambdad runs two kinds: an SNS topic
(the notification ``alarm_messages.sns_message`` makes) and a Lambda function (an
asynchronous invoke with ``alarm_messages.lambda_payload``). ``ActionRunner`` is
what runs them (``events.alarm_targets``); each run ends in an ``ActionOutcome``
that the alarm's history keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lambdad.observe.alarm_state import ALARM, INSUFFICIENT, OK

Alarm = dict[str, Any]
ACTION_LISTS = {ALARM: "AlarmActions", OK: "OKActions", INSUFFICIENT: "InsufficientDataActions"}
MAX_ACTIONS = 5
SNS, LAMBDA = "sns", "lambda"
# ARNs AWS takes as alarm actions; lambdad runs the first two, the others fail.
_KNOWN = frozenset({SNS, LAMBDA, "automate", "autoscaling", "ssm", "ssm-incidents", "swf"})


def actions_enabled(alarm: Alarm) -> bool:
    return alarm.get("ActionsEnabled", True) is not False


def actions_for(alarm: Alarm, previous_state: str) -> list[str]:
    """The actions a change from ``previous_state`` to the alarm's state runs."""
    if alarm["StateValue"] == previous_state or not actions_enabled(alarm):
        return []
    return list(alarm.get(ACTION_LISTS[alarm["StateValue"]]) or [])


def action_kind(arn: str) -> str | None:
    """``sns``, ``lambda``, another service AWS alarms act on, or None (not an action)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[1].startswith("aws"):
        return None
    service = parts[2]
    return service if service in _KNOWN else None


def action_problem(arn: str, region: str) -> str | None:
    """Why PutMetricAlarm refuses ``arn`` as an action of an alarm in ``region``."""
    if action_kind(arn) is None:
        return f"Invalid arn syntax: {arn}"
    arn_region = arn.split(":")[3]
    if arn_region and arn_region != region:
        return f"Invalid region {arn_region} specified. Only {region} is supported."
    return None


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What running one action came to: ``published`` is what was sent (the SNS message
    or the invocation's payload), ``error`` why nothing was."""

    action: str
    succeeded: bool
    published: str = ""
    error: str = ""


class ActionRunner(Protocol):
    """Runs an alarm's actions for one state change; never raises (a failure is an
    outcome)."""

    async def run(
        self, account: str, region: str, alarm: Alarm, previous: Alarm, actions: Sequence[str]
    ) -> list[ActionOutcome]: ...
