"""Event buses: the ``default`` bus every account has in every region, and custom ones
(CreateEventBus, DescribeEventBus, ListEventBuses, DeleteEventBus). A custom bus is
deleted with its rules, as AWS does; the default bus cannot be deleted."""

from __future__ import annotations

from typing import Any

from lambdad.clock import Clock
from lambdad.errors import ValidationException
from lambdad.events.eventbridge_errors import ResourceAlreadyExistsException
from lambdad.events.names import bus_arn, bus_not_found
from lambdad.events.rule_store import DEFAULT_BUS, EventStore
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

Params = dict[str, Any]
LIST_LIMIT = 100


class BusService:
    def __init__(self, events: EventStore, clock: Clock) -> None:
        self.events = events
        self.clock = clock

    def exists(self, scope: Scope, bus: str) -> bool:
        return bus == DEFAULT_BUS or self.events.get_bus(scope, bus) is not None

    def require(self, scope: Scope, bus: str) -> None:
        if not self.exists(scope, bus):
            raise bus_not_found(bus)

    async def create_event_bus(self, scope: Scope, p: Params) -> dict[str, Any]:
        name = p["Name"]
        if p.get("EventSourceName"):
            raise ValidationException("Partner event sources are not supported by lambdad.")
        if self.exists(scope, name):
            raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
        now = self.clock.now().timestamp()
        doc: Doc = {"CreationTime": now, "LastModifiedTime": now}
        if p.get("Description"):
            doc["Description"] = p["Description"]
        self.events.put_bus(scope, name, doc)
        out: dict[str, Any] = {"EventBusArn": bus_arn(scope, name)}
        if "Description" in doc:
            out["Description"] = doc["Description"]
        return out

    async def describe_event_bus(self, scope: Scope, p: Params) -> dict[str, Any]:
        name = _name(p.get("Name"))
        doc = self._doc(scope, name)
        if doc is None:
            raise bus_not_found(name)
        return self._render(scope, name, doc)

    async def list_event_buses(self, scope: Scope, p: Params) -> dict[str, Any]:
        prefix = p.get("NamePrefix") or ""
        names = sorted({DEFAULT_BUS, *(n for n, _ in self.events.list_buses(scope))})
        names = [n for n in names if n.startswith(prefix) and n > (p.get("NextToken") or "")]
        limit = p.get("Limit") or LIST_LIMIT
        page = names[:limit]
        out: dict[str, Any] = {
            "EventBuses": [self._render(scope, n, self._doc(scope, n) or {}) for n in page]
        }
        if len(names) > limit:
            out["NextToken"] = page[-1]
        return out

    async def delete_event_bus(self, scope: Scope, p: Params) -> dict[str, Any]:
        name = p["Name"]
        if name == DEFAULT_BUS:
            raise ValidationException("Cannot delete event bus default.")
        for rule, _ in self.events.list_rules(scope, name):
            self.events.delete_rule(scope, name, rule)
        self.events.delete_bus(scope, name)
        return {}

    def _doc(self, scope: Scope, name: str) -> Doc | None:
        if name == DEFAULT_BUS:
            return {}
        return self.events.get_bus(scope, name)

    @staticmethod
    def _render(scope: Scope, name: str, doc: Doc) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": name, "Arn": bus_arn(scope, name)}
        for key in ("Description", "CreationTime", "LastModifiedTime"):
            if key in doc:
                out[key] = doc[key]
        return out


def _name(value: str | None) -> str:
    if value and value.startswith("arn:"):
        return value.rsplit("/", 1)[-1]
    return value or DEFAULT_BUS
