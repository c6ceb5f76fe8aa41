"""Where Scheduler's schedule groups and schedules are kept, per (account, region), in
the metadata store's children:

- a group: kind ``scheduler-group``, key its name (the ``default`` group is written
  the first time it is needed, so that it has a creation date);
- a schedule: kind ``scheduler-schedule``, under its group, key its name.

The store's ``name`` column holds ``scheduler:...``: a colon never appears in a
function name, so deleting a function never touches these. A schedule's next fire is
the timer service's, in ``rule_store``'s schedule table under ``timer_key``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

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

    # -- groups --------------------------------------------------------------------------

    def get_group(self, scope: Scope, name: str) -> Doc | None:
        return self.store.get_child(GROUP_KIND, scope.account, scope.region, _GROUPS, name)

    def put_group(self, scope: Scope, name: str, doc: Doc) -> None:
        self.store.put_child(GROUP_KIND, scope.account, scope.region, _GROUPS, name, doc)

    def delete_group(self, scope: Scope, name: str) -> None:
        self.store.delete_child(GROUP_KIND, scope.account, scope.region, _GROUPS, name)

    def list_groups(self, scope: Scope) -> list[tuple[str, Doc]]:
        return self.store.list_children(GROUP_KIND, scope.account, scope.region, _GROUPS)

    # -- schedules -----------------------------------------------------------------------

    def get_schedule(self, scope: Scope, ref: ScheduleRef) -> Doc | None:
        return self.store.get_child(
            SCHEDULE_KIND, scope.account, scope.region, _in_group(ref.group), ref.name
        )

    def put_schedule(self, scope: Scope, ref: ScheduleRef, doc: Doc) -> None:
        self.store.put_child(
            SCHEDULE_KIND, scope.account, scope.region, _in_group(ref.group), ref.name, doc
        )

    def delete_schedule(self, scope: Scope, ref: ScheduleRef) -> None:
        self.store.delete_child(
            SCHEDULE_KIND, scope.account, scope.region, _in_group(ref.group), ref.name
        )

    def list_schedules(self, scope: Scope, group: str) -> list[tuple[str, Doc]]:
        return self.store.list_children(
            SCHEDULE_KIND, scope.account, scope.region, _in_group(group)
        )
