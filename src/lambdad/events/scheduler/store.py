"""Where Scheduler's schedule groups and schedules are kept, per (account, region), in
the metadata store's children:

- a group: kind ``scheduler-group``, key its name (the ``default`` group is written
  the first time it is needed, so that it has a creation date);
- a schedule: kind ``scheduler-schedule``, under its group, key its name.

The store's ``name`` column holds ``scheduler:...`` (``store.scoped_docs``). A
schedule's next fire is the timer service's, in ``rule_store``'s schedule table under
``timer_key``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore
from lambdad.store.scoped_docs import ScopedDocs

DEFAULT_GROUP = "default"
GROUP_KIND = "scheduler-group"
SCHEDULE_KIND = "scheduler-schedule"
_GROUPS = "scheduler:groups"
# Timer entries of schedules start with this; rule names never hold a colon.
TIMER_PREFIX = "scheduler:"


def _in_group(group: str) -> str:
    return f"scheduler:{group}"


@dataclass(frozen=True, slots=True)
class ScheduleRef:
    group: str
    name: str

    @property
    def timer_key(self) -> str:
        return f"{TIMER_PREFIX}{self.group}/{self.name}"

    @classmethod
    def from_timer_key(cls, key: str) -> ScheduleRef:
        group, _, name = key[len(TIMER_PREFIX) :].partition("/")
        return cls(group, name)


class SchedulerStore:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self._groups = ScopedDocs(store, GROUP_KIND)
        self._schedules = ScopedDocs(store, SCHEDULE_KIND)

    # -- groups --------------------------------------------------------------------------

    def get_group(self, scope: Scope, name: str) -> Doc | None:
        return self._groups.get(scope, _GROUPS, name)

    def put_group(self, scope: Scope, name: str, doc: Doc) -> None:
        self._groups.put(scope, _GROUPS, name, doc)

    def delete_group(self, scope: Scope, name: str) -> None:
        self._groups.delete(scope, _GROUPS, name)

    def list_groups(self, scope: Scope) -> list[tuple[str, Doc]]:
        return self._groups.list(scope, _GROUPS)

    # -- schedules -----------------------------------------------------------------------

    def get_schedule(self, scope: Scope, ref: ScheduleRef) -> Doc | None:
        return self._schedules.get(scope, _in_group(ref.group), ref.name)

    def put_schedule(self, scope: Scope, ref: ScheduleRef, doc: Doc) -> None:
        self._schedules.put(scope, _in_group(ref.group), ref.name, doc)

    def delete_schedule(self, scope: Scope, ref: ScheduleRef) -> None:
        self._schedules.delete(scope, _in_group(ref.group), ref.name)

    def list_schedules(self, scope: Scope, group: str) -> list[tuple[str, Doc]]:
        return self._schedules.list(scope, _in_group(group))
