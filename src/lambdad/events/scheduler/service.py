"""EventBridge Scheduler on lambdad: the group and schedule services over one store,
and the API operations (by the ``scheduler`` model's names) the platform hands to
``api/scheduler_api.py``. Its schedules fire from the timer service EventBridge's
rules use (``SchedulerTicks`` is handed to it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.events.scheduler.groups import GroupService
from lambdad.events.scheduler.schedules import ScheduleService, Timer
from lambdad.events.scheduler.store import SchedulerStore
from lambdad.events.scheduler.ticks import SchedulerTicks
from lambdad.model.scope import Scope

Operation = Callable[[Scope, dict[str, Any]], Awaitable[dict[str, Any]]]


class Scheduler:
    def __init__(
        self, store: SchedulerStore, ticks: SchedulerTicks, timer: Timer, clock: Clock
    ) -> None:
        self.groups = GroupService(store, clock, self._drop_group)
        self.schedules = ScheduleService(store, self.groups, timer, ticks, clock)

    def _drop_group(self, scope: Scope, group: str) -> None:
        self.schedules.drop_group(scope, group)

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateScheduleGroup": self.groups.create_schedule_group,
            "GetScheduleGroup": self.groups.get_schedule_group,
            "DeleteScheduleGroup": self.groups.delete_schedule_group,
            "ListScheduleGroups": self.groups.list_schedule_groups,
            "ListTagsForResource": self.groups.list_tags_for_resource,
            "TagResource": self.groups.tag_resource,
            "UntagResource": self.groups.untag_resource,
            "CreateSchedule": self.schedules.create_schedule,
            "GetSchedule": self.schedules.get_schedule,
            "UpdateSchedule": self.schedules.update_schedule,
            "DeleteSchedule": self.schedules.delete_schedule,
            "ListSchedules": self.schedules.list_schedules,
        }
