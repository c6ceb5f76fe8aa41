"""EventBridge on lambdad: builds the bus, rule, target and event services over one
store, the delivery to Lambda targets, EventBridge Scheduler (``scheduler``) and the
one timer service both fire from, and names the API operations
(``AWSEvents.<Operation>``) the platform hands to ``api/events_api.py``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control.policies import PolicyService
from lambdad.events.buses import BusService
from lambdad.events.dead_letters import DeadLetters
from lambdad.events.delivery import RuleDelivery
from lambdad.events.put_events import EventIntake
from lambdad.events.rule_store import EventStore
from lambdad.events.rules import RuleService
from lambdad.events.scheduler.service import Scheduler
from lambdad.events.scheduler.store import SchedulerStore
from lambdad.events.scheduler.ticks import SchedulerTicks
from lambdad.events.targets import TargetService
from lambdad.events.timer import ScheduleTimer
from lambdad.invoke.async_invoke import AsyncInvokeService
from lambdad.invoke.destinations import DestinationSender
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

Operation = Callable[[Scope, dict[str, Any]], Awaitable[dict[str, Any]]]


class EventBridge:
    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        async_invoker: AsyncInvokeService,
        policies: PolicyService,
        clock: Clock,
        sender: DestinationSender,
    ) -> None:
        events = EventStore(store)
        dead_letters = DeadLetters(sender)
        self.delivery = RuleDelivery(
            async_invoker, policies, settings.max_async_payload, dead_letters
        )
        schedules = SchedulerStore(store)
        ticks = SchedulerTicks(
            schedules,
            events,
            async_invoker,
            dead_letters,
            clock,
            max_payload=settings.max_async_payload,
            time_scale=settings.schedule_time_scale,
        )
        self.timer = ScheduleTimer(
            events,
            self.delivery,
            clock,
            time_scale=settings.schedule_time_scale,
            poll_interval=settings.schedule_poll_interval,
            scheduled=ticks,
        )
        self.scheduler = Scheduler(schedules, ticks, self.timer, clock)
        self.buses = BusService(events, clock)
        self.rules = RuleService(events, self.buses, self.timer, clock)
        self.targets = TargetService(events, self.rules)
        self.intake = EventIntake(events, self.buses, self.delivery, clock)

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateEventBus": self.buses.create_event_bus,
            "DeleteEventBus": self.buses.delete_event_bus,
            "DescribeEventBus": self.buses.describe_event_bus,
            "ListEventBuses": self.buses.list_event_buses,
            "PutRule": self.rules.put_rule,
            "DescribeRule": self.rules.describe_rule,
            "ListRules": self.rules.list_rules,
            "EnableRule": self.rules.enable_rule,
            "DisableRule": self.rules.disable_rule,
            "DeleteRule": self.rules.delete_rule,
            "PutTargets": self.targets.put_targets,
            "RemoveTargets": self.targets.remove_targets,
            "ListTargetsByRule": self.targets.list_targets_by_rule,
            "PutEvents": self.intake.put_events,
            "TestEventPattern": self.intake.test_event_pattern,
        }
