"""An alarm's history items, as DescribeAlarmHistory answers them (pure).

CloudWatch records three kinds: ``ConfigurationUpdate`` (created, updated, deleted),
``StateUpdate`` (from one state to another) and ``Action`` (an action run, or that
failed), each with a one-line ``HistorySummary`` and a JSON ``HistoryData``. Items are
kept 30 days, the alarm's deletion notwithstanding (``KEEP_SECONDS``).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdad.observe.alarm_actions import ActionOutcome

Alarm = dict[str, Any]
CONFIGURATION, STATE, ACTION = "ConfigurationUpdate", "StateUpdate", "Action"
ITEM_TYPES = (CONFIGURATION, STATE, ACTION)
KEEP_SECONDS = 30 * 86400
_VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class HistoryItem:
    alarm_name: str
    at: float
    item_type: str
    summary: str
    data: str

    def described(self) -> dict[str, Any]:
        return {
            "AlarmName": self.alarm_name,
            "AlarmType": "MetricAlarm",
            "Timestamp": datetime.fromtimestamp(self.at, UTC),
            "HistoryItemType": self.item_type,
            "HistorySummary": self.summary,
            "HistoryData": self.data,
        }


def _camel(value: Any) -> Any:
    """An alarm's configuration as its history data writes it (``alarmName``...)."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_CHANGES = {"Create": "created", "Update": "updated", "Delete": "deleted"}
_MEMBERS = {"Create": "createdAlarm", "Update": "updatedAlarm", "Delete": "deletedAlarm"}


def configuration_item(
    alarm: Alarm, change: str, at: float, original: Alarm | None = None
) -> HistoryItem:
    """``change``: ``Create``, ``Update`` or ``Delete``."""
    data: dict[str, Any] = {"version": _VERSION, "type": change, _MEMBERS[change]: _camel(alarm)}
    if original is not None:
        data["originalAlarm"] = _camel(original)
    name = alarm["AlarmName"]
    summary = f'Alarm "{name}" {_CHANGES[change]}'
    return HistoryItem(name, at, CONFIGURATION, summary, json.dumps(data))


def _state(alarm: Alarm) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stateValue": alarm["StateValue"],
        "stateReason": alarm.get("StateReason", ""),
    }
    if alarm.get("StateReasonData"):
        with contextlib.suppress(ValueError):
            out["stateReasonData"] = json.loads(alarm["StateReasonData"])
    return out


def state_item(alarm: Alarm, previous: Alarm, at: float) -> HistoryItem:
    data = {"version": _VERSION, "oldState": _state(previous), "newState": _state(alarm)}
    return HistoryItem(
        alarm["AlarmName"],
        at,
        STATE,
        f"Alarm updated from {previous['StateValue']} to {alarm['StateValue']}",
        json.dumps(data),
    )


def action_item(alarm: Alarm, outcome: ActionOutcome, at: float, state_at: float) -> HistoryItem:
    data: dict[str, Any] = {
        "actionState": "Succeeded" if outcome.succeeded else "Failed",
        "stateUpdateTimestamp": int(state_at * 1000),
    }
    if outcome.succeeded:
        data["notificationResource"] = outcome.action
        data["publishedMessage"] = outcome.published
        summary = f"Successfully executed action {outcome.action}"
    else:
        data["error"] = outcome.error
        summary = f'Failed to execute action {outcome.action}. Received error: "{outcome.error}"'
    return HistoryItem(alarm["AlarmName"], at, ACTION, summary, json.dumps(data))
