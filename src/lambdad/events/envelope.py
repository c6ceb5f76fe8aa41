"""The events EventBridge delivers, built from a PutEvents entry or a schedule's tick.
Pure: ids and times are passed in.

Both have AWS's envelope: ``version`` "0", ``id`` (the ``EventId`` PutEvents returned),
``detail-type``, ``source``, ``account``, ``time`` (UTC, seconds, ``Z``), ``region``,
``resources`` and ``detail``. A scheduled event is ``"detail-type": "Scheduled Event"``
from ``aws.events``, naming its rule in ``resources``, with the tick as its ``time``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lambdad.model.scope import Scope

Event = dict[str, Any]


def aws_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EntryError(Exception):
    """A PutEvents entry EventBridge refuses: its ``ErrorCode`` and ``ErrorMessage``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def entry_event(scope: Scope, entry: Mapping[str, Any], event_id: str, now: datetime) -> Event:
    """The event a PutEvents entry becomes, or ``EntryError``."""
    for field in ("Source", "DetailType", "Detail"):
        if not entry.get(field):
            raise EntryError(
                "InvalidArgument",
                f"Parameter {field} is not valid. Reason: {field} is a required argument.",
            )
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        raise EntryError("MalformedDetail", "Detail is malformed.")
    return {
        "version": "0",
        "id": event_id,
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": scope.account,
        "time": aws_time(_entry_time(entry.get("Time"), now)),
        "region": scope.region,
        "resources": list(entry.get("Resources") or []),
        "detail": detail,
    }


def scheduled_event(scope: Scope, rule_arn: str, event_id: str, tick: datetime) -> Event:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": scope.account,
        "time": aws_time(tick),
        "region": scope.region,
        "resources": [rule_arn],
        "detail": {},
    }


def _entry_time(value: Any, now: datetime) -> datetime:
    """An entry's ``Time`` (epoch seconds on the wire, or ISO 8601), else now."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return now
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value
    return now
