"""PutEvents and TestEventPattern: events entering a bus, matched against every enabled
rule with an ``EventPattern`` on it, each match delivered to the rule's targets.

PutEvents answers once every match is queued durably, all of a request's matches in
one write: an event it returned an ``EventId`` for runs even if the server is killed
right after. Entries are checked one
by one; a refused entry gets its ``ErrorCode`` and ``ErrorMessage`` in place of an
``EventId`` and counts in ``FailedEntryCount``, and the others go on.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from lambdad.clock import Clock
from lambdad.errors import ValidationException
from lambdad.events.buses import BusService
from lambdad.events.delivery import RuleDelivery
from lambdad.events.envelope import EntryError, entry_event
from lambdad.events.eventbridge_errors import InvalidEventPatternException
from lambdad.events.names import bus_of
from lambdad.events.patterns import EventPattern, InvalidEventPattern, compile_pattern
from lambdad.events.rule_store import EventStore
from lambdad.events.rules import is_enabled
from lambdad.model.scope import Scope
from lambdad.store.base import Doc
from lambdad.store.queue import NewEvent

Params = dict[str, Any]
# AWS: the entries of one request total at most 256 KB.
MAX_ENTRIES_BYTES = 256 * 1024
_ENVELOPE = ("id", "account", "source", "time", "region", "detail-type")


class EventIntake:
    def __init__(
        self, events: EventStore, buses: BusService, delivery: RuleDelivery, clock: Clock
    ) -> None:
        self.events = events
        self.buses = buses
        self.delivery = delivery
        self.clock = clock
        # The enabled rules with a pattern of each bus, compiled, while no rule changes.
        self._routes: dict[tuple[Scope, str], list[tuple[EventPattern, Doc]]] = {}
        self._routes_generation = -1

    async def put_events(self, scope: Scope, p: Params) -> dict[str, Any]:
        entries = p["Entries"]
        if len(json.dumps(entries)) > MAX_ENTRIES_BYTES:
            raise ValidationException("Total size of the entries in the request is over the limit.")
        now = self.clock.now()
        results: list[dict[str, str]] = []
        planned: list[NewEvent] = []
        for entry in entries:
            event_id = str(uuid.uuid4())
            try:
                bus = bus_of(scope, entry.get("EventBusName"))
                if not self.buses.exists(scope, bus):
                    raise EntryError("InvalidArgument", f"Event bus {bus} does not exist.")
                event = entry_event(scope, entry, event_id, now)
            except (EntryError, ValidationException) as exc:
                code = exc.code if isinstance(exc, EntryError) else "InvalidArgument"
                results.append({"ErrorCode": code, "ErrorMessage": exc.message})
                continue
            planned += self._route(scope, bus, event, entry.get("TraceHeader"))
            results.append({"EventId": event_id})
        await self.delivery.enqueue(planned)
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def _route(
        self, scope: Scope, bus: str, event: dict[str, Any], trace_id: str | None = None
    ) -> list[NewEvent]:
        planned: list[NewEvent] = []
        for pattern, rule in self._rules_of(scope, bus):
            if pattern.matches(event):
                planned += self.delivery.plan(scope, rule, event, trace_id)
        return planned

    def _rules_of(self, scope: Scope, bus: str) -> list[tuple[EventPattern, Doc]]:
        if self._routes_generation != self.events.rules_generation:
            self._routes.clear()
            self._routes_generation = self.events.rules_generation
        routes = self._routes.get((scope, bus))
        if routes is None:
            routes = self._routes[(scope, bus)] = [
                (compile_pattern(rule["EventPattern"]), rule)
                for _, rule in self.events.list_rules(scope, bus)
                if rule.get("EventPattern") and is_enabled(rule)
            ]
        return routes

    async def test_event_pattern(self, scope: Scope, p: Params) -> dict[str, Any]:
        try:
            pattern = compile_pattern(p["EventPattern"])
        except InvalidEventPattern as exc:
            raise InvalidEventPatternException(exc.message) from None
        try:
            event = json.loads(p["Event"])
        except ValueError:
            event = None
        if not isinstance(event, dict) or any(k not in event for k in _ENVELOPE):
            raise ValidationException("Parameter Event is not valid.")
        return {"Result": pattern.matches(event)}
