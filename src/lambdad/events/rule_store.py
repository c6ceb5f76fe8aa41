"""Where EventBridge's buses, rules (with their targets) and schedules are kept.

All of it lives in the metadata store's children, per (account, region):

- a custom bus: kind ``events-bus``, key its name (the ``default`` bus always exists
  and is never stored);
- a rule: kind ``events-rule``, under its bus, key its name; its targets are part of
  its document (a rule has at most five);
- a scheduled rule's timing: kind ``events-schedule``, in one cross-account table
  (account and region empty) keyed ``ACCOUNT/REGION/RULE``, so the timer service reads
  every schedule with one query: ``{"Anchor": epoch, "Next": epoch}``.

The store's ``name`` column holds ``events:<bus>`` (``store.scoped_docs``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.scoped_docs import ScopedDocs

DEFAULT_BUS = "default"
BUS_KIND = "events-bus"
RULE_KIND = "events-rule"
SCHEDULE_KIND = "events-schedule"
_BUSES = "events:"
_SCHEDULES = "events:schedules"


def _bus_name(bus: str) -> str:
    return f"events:{bus}"


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """A scheduled rule (on the default bus), or a Scheduler schedule (``rule`` starting
    ``scheduler:``), and when it fires next, as stored. ``tick`` is the schedule
    instant that fire is for, when it differs (a flexible time window fires later)."""

    scope: Scope
    rule: str
    anchor: float
    next: float | None
    tick: float | None = None


class EventStore:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self._buses = ScopedDocs(store, BUS_KIND)
        self._rules = ScopedDocs(store, RULE_KIND)
        # Bumped by every write of a rule: what was read of rules before is stale.
        self.rules_generation = 0

    # -- buses -------------------------------------------------------------------------

    def get_bus(self, scope: Scope, name: str) -> Doc | None:
        return self._buses.get(scope, _BUSES, name)

    def put_bus(self, scope: Scope, name: str, doc: Doc) -> None:
        self._buses.put(scope, _BUSES, name, doc)

    def delete_bus(self, scope: Scope, name: str) -> None:
        self._buses.delete(scope, _BUSES, name)

    def list_buses(self, scope: Scope) -> list[tuple[str, Doc]]:
        return self._buses.list(scope, _BUSES)

    # -- rules -------------------------------------------------------------------------

    def get_rule(self, scope: Scope, bus: str, name: str) -> Doc | None:
        return self._rules.get(scope, _bus_name(bus), name)

    def put_rule(self, scope: Scope, bus: str, name: str, doc: Doc) -> None:
        self._rules.put(scope, _bus_name(bus), name, doc)
        self.rules_generation += 1

    def delete_rule(self, scope: Scope, bus: str, name: str) -> None:
        self._rules.delete(scope, _bus_name(bus), name)
        self.rules_generation += 1

    def list_rules(self, scope: Scope, bus: str) -> list[tuple[str, Doc]]:
        return self._rules.list(scope, _bus_name(bus))

    # -- schedules ---------------------------------------------------------------------

    def schedules(self) -> list[ScheduleEntry]:
        out = []
        for key, doc in self.store.list_children(SCHEDULE_KIND, "", "", _SCHEDULES):
            account, region, rule = key.split("/", 2)
            out.append(
                ScheduleEntry(
                    Scope(account, region), rule, doc["Anchor"], doc["Next"], doc.get("Tick")
                )
            )
        return out

    def get_schedule(self, scope: Scope, rule: str) -> ScheduleEntry | None:
        doc = self.store.get_child(SCHEDULE_KIND, "", "", _SCHEDULES, _schedule_key(scope, rule))
        if doc is None:
            return None
        return ScheduleEntry(scope, rule, doc["Anchor"], doc["Next"], doc.get("Tick"))

    def put_schedule(self, entry: ScheduleEntry) -> None:
        self.store.put_child(
            SCHEDULE_KIND,
            "",
            "",
            _SCHEDULES,
            _schedule_key(entry.scope, entry.rule),
            {"Anchor": entry.anchor, "Next": entry.next}
            | ({} if entry.tick is None else {"Tick": entry.tick}),
        )

    def delete_schedule(self, scope: Scope, rule: str) -> None:
        self.store.delete_child(SCHEDULE_KIND, "", "", _SCHEDULES, _schedule_key(scope, rule))


def _schedule_key(scope: Scope, rule: str) -> str:
    return f"{scope.account}/{scope.region}/{rule}"
