"""EventBridge rules: PutRule, DescribeRule, ListRules, EnableRule, DisableRule and
DeleteRule over the stored documents (``rule_store``).

A rule matches events by ``EventPattern`` (checked by the one pattern matcher) and/or
fires on a ``ScheduleExpression`` (default bus only, as on AWS; the timer service is
told of every change). PutRule replaces the rule's settings but keeps its targets;
DeleteRule is refused while the rule has targets and is a no-op for a missing rule.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from lambdad.clock import Clock
from lambdad.errors import ValidationException
from lambdad.events.buses import BusService
from lambdad.events.eventbridge_errors import InvalidEventPatternException
from lambdad.events.names import bus_of, rule_arn, rule_not_found
from lambdad.events.patterns import InvalidEventPattern, compile_pattern
from lambdad.events.rule_store import DEFAULT_BUS, EventStore
from lambdad.events.schedules import CronSchedule, Rate, parse_rule_expression
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

log = logging.getLogger(__name__)

Params = dict[str, Any]
LIST_LIMIT = 100
_FIELDS = ("EventPattern", "ScheduleExpression", "Description", "RoleArn")


class Schedules(Protocol):
    """The timer service's view of a scheduled rule's lifetime (``events/timer.py``)."""

    def plan(self, scope: Scope, rule: str, expression: Rate | CronSchedule) -> None: ...

    def forget(self, scope: Scope, rule: str) -> None: ...


class RuleService:
    def __init__(
        self, events: EventStore, buses: BusService, schedules: Schedules, clock: Clock
    ) -> None:
        self.events = events
        self.buses = buses
        self.schedules = schedules
        self.clock = clock

    def rule_doc(self, scope: Scope, bus: str, name: str) -> Doc:
        doc = self.events.get_rule(scope, bus, name)
        if doc is None:
            raise rule_not_found(name, bus)
        return doc

    async def put_rule(self, scope: Scope, p: Params) -> dict[str, Any]:
        name = p["Name"]
        bus = bus_of(scope, p.get("EventBusName"))
        pattern, schedule = p.get("EventPattern"), p.get("ScheduleExpression")
        if not pattern and not schedule:
            raise ValidationException(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        if schedule and bus != DEFAULT_BUS:
            raise ValidationException(
                "ScheduleExpression is supported only on the default event bus."
            )
        if pattern:
            try:
                compile_pattern(pattern)
            except InvalidEventPattern as exc:
                raise InvalidEventPatternException(exc.message) from None
        expression = parse_rule_expression(schedule) if schedule else None
        self.buses.require(scope, bus)
        old = self.events.get_rule(scope, bus, name)
        doc: Doc = {
            "Name": name,
            "EventBusName": bus,
            "State": p.get("State") or "ENABLED",
            "CreatedBy": scope.account,
            "Targets": old["Targets"] if old else [],
        }
        doc.update({k: p[k] for k in _FIELDS if p.get(k)})
        self.events.put_rule(scope, bus, name, doc)
        if expression is None:
            self.schedules.forget(scope, name)
        elif old is None or old.get("ScheduleExpression") != schedule:
            self.schedules.plan(scope, name, expression)
        log.info("rule %s on bus %s of %s/%s put", name, bus, scope.account, scope.region)
        return {"RuleArn": rule_arn(scope, bus, name)}

    async def describe_rule(self, scope: Scope, p: Params) -> dict[str, Any]:
        bus = bus_of(scope, p.get("EventBusName"))
        return render(scope, self.rule_doc(scope, bus, p["Name"]), created_by=True)

    async def list_rules(self, scope: Scope, p: Params) -> dict[str, Any]:
        bus = bus_of(scope, p.get("EventBusName"))
        self.buses.require(scope, bus)
        prefix, after = p.get("NamePrefix") or "", p.get("NextToken") or ""
        rules = [
            doc
            for name, doc in self.events.list_rules(scope, bus)
            if name.startswith(prefix) and name > after
        ]
        limit = p.get("Limit") or LIST_LIMIT
        out: dict[str, Any] = {"Rules": [render(scope, d) for d in rules[:limit]]}
        if len(rules) > limit:
            out["NextToken"] = rules[limit - 1]["Name"]
        return out

    async def enable_rule(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self._set_state(scope, p, "ENABLED")

    async def disable_rule(self, scope: Scope, p: Params) -> dict[str, Any]:
        return self._set_state(scope, p, "DISABLED")

    def _set_state(self, scope: Scope, p: Params, state: str) -> dict[str, Any]:
        bus = bus_of(scope, p.get("EventBusName"))
        doc = self.rule_doc(scope, bus, p["Name"])
        doc["State"] = state
        self.events.put_rule(scope, bus, p["Name"], doc)
        return {}

    async def delete_rule(self, scope: Scope, p: Params) -> dict[str, Any]:
        bus = bus_of(scope, p.get("EventBusName"))
        doc = self.events.get_rule(scope, bus, p["Name"])
        if doc is None:
            return {}
        if doc["Targets"]:
            raise ValidationException("Rule can't be deleted since it has targets.")
        self.events.delete_rule(scope, bus, p["Name"])
        if bus == DEFAULT_BUS:
            self.schedules.forget(scope, p["Name"])
        return {}


def render(scope: Scope, doc: Doc, *, created_by: bool = False) -> dict[str, Any]:
    """A rule as DescribeRule (``created_by``) and ListRules answer it."""
    out: dict[str, Any] = {
        "Name": doc["Name"],
        "Arn": rule_arn(scope, doc["EventBusName"], doc["Name"]),
    }
    out.update({k: doc[k] for k in _FIELDS if k in doc})
    out["State"] = doc["State"]
    out["EventBusName"] = doc["EventBusName"]
    if created_by:
        out["CreatedBy"] = doc["CreatedBy"]
    return out


def is_enabled(doc: Doc) -> bool:
    return str(doc.get("State", "")).startswith("ENABLED")
