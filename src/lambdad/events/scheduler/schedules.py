"""Schedules: Create/Get/Update/Delete/ListSchedules, with Scheduler's checks.

A schedule is kept as its request gave it (dates as epoch seconds), with the defaults
Scheduler reports filled in (``State`` ENABLED, ``ActionAfterCompletion`` NONE, the
``UTC`` zone, a target's ``RetryPolicy`` of 185 attempts and a day). UpdateSchedule
replaces the whole schedule, as on AWS, and plans it anew from the time of the update.
lambdad's Scheduler invokes Lambda functions only: another target ARN is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from lambdad.clock import Clock
from lambdad.errors import ValidationException
from lambdad.events.rule_store import ScheduleEntry
from lambdad.events.scheduler.errors import ConflictException, schedule_not_found
from lambdad.events.scheduler.groups import GroupService
from lambdad.events.scheduler.plan import DEFAULT_MAX_EVENT_AGE, DEFAULT_MAX_RETRY_ATTEMPTS, Timing
from lambdad.events.scheduler.store import ScheduleRef, SchedulerStore
from lambdad.events.schedules import load_timezone, parse_schedule_expression, validate_window
from lambdad.events.targets import is_lambda_arn
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

Params = dict[str, Any]
LIST_LIMIT = 100
_DATES = ("StartDate", "EndDate")
_KEPT = (
    "ScheduleExpression", "StartDate", "EndDate", "Description", "ScheduleExpressionTimezone",
    "State", "KmsKeyArn", "Target", "FlexibleTimeWindow", "ActionAfterCompletion",
)  # fmt: skip


class Timer(Protocol):
    """The timer service's side that schedules see (``events.timer.ScheduleTimer``)."""

    def schedule(self, entry: ScheduleEntry) -> None: ...
    def forget(self, scope: Scope, rule: str) -> None: ...


class Planner(Protocol):
    def plan(self, scope: Scope, ref: ScheduleRef, doc: Doc) -> ScheduleEntry | None: ...


def schedule_arn(scope: Scope, ref: ScheduleRef) -> str:
    return f"arn:aws:scheduler:{scope.region}:{scope.account}:schedule/{ref.group}/{ref.name}"


def check_schedule(p: Params, now: float) -> None:
    """Scheduler's semantic checks of a Create/UpdateSchedule request (the model's
    constraints were checked by the API)."""
    expression = parse_schedule_expression(p["ScheduleExpression"])
    if p.get("ScheduleExpressionTimezone"):
        load_timezone(p["ScheduleExpressionTimezone"])
    dates = {k: datetime.fromtimestamp(epoch(p[k], k), UTC) for k in _DATES if k in p}
    validate_window(
        expression,
        start=dates.get("StartDate"),
        end=dates.get("EndDate"),
        now=datetime.fromtimestamp(now, UTC),
    )
    window = p["FlexibleTimeWindow"]
    if window["Mode"] == "FLEXIBLE" and window.get("MaximumWindowInMinutes") is None:
        raise ValidationException(
            "MaximumWindowInMinutes must be provided when FlexibleTimeWindow Mode is FLEXIBLE."
        )
    if window["Mode"] == "OFF" and window.get("MaximumWindowInMinutes") is not None:
        raise ValidationException(
            "MaximumWindowInMinutes is not allowed when FlexibleTimeWindow Mode is OFF."
        )
    arn = p["Target"]["Arn"]
    if not is_lambda_arn(arn):
        raise ValidationException(
            f"Invalid target arn {arn}: lambdad's EventBridge Scheduler invokes Lambda "
            "functions only."
        )


def epoch(value: Any, member: str) -> float:
    """A timestamp member as REST-JSON sends it (epoch seconds), or 400."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        seconds = float(value)
        datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ValidationException(f"Invalid {member} {value!r}: expected epoch seconds.") from None
    return seconds


def _document(p: Params, created: float, now: float) -> Doc:
    doc: Doc = {k: p[k] for k in _KEPT if p.get(k) is not None}
    for member in _DATES:
        if member in doc:
            doc[member] = epoch(doc[member], member)
    doc.setdefault("State", "ENABLED")
    doc.setdefault("ActionAfterCompletion", "NONE")
    doc.setdefault("ScheduleExpressionTimezone", "UTC")
    target = dict(doc["Target"])
    policy = dict(target.get("RetryPolicy") or {})
    policy.setdefault("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS)
    policy.setdefault("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE)
    target["RetryPolicy"] = policy
    doc["Target"] = target
    doc["CreationDate"] = created
    doc["LastModificationDate"] = now
    return doc


class ScheduleService:
    def __init__(
        self,
        store: SchedulerStore,
        groups: GroupService,
        timer: Timer,
        planner: Planner,
        clock: Clock,
    ) -> None:
        self.store = store
        self.groups = groups
        self.timer = timer
        self.planner = planner
        self.clock = clock

    def _ref(self, scope: Scope, p: Params) -> ScheduleRef:
        group, _ = self.groups.group_doc(scope, p.get("GroupName"))
        return ScheduleRef(group, p["Name"])

    def _put(self, scope: Scope, ref: ScheduleRef, doc: Doc) -> None:
        self.store.put_schedule(scope, ref, doc)
        entry = self.planner.plan(scope, ref, doc) if doc["State"] == "ENABLED" else None
        if entry is None:
            self.timer.forget(scope, ref.timer_key)
        else:
            self.timer.schedule(entry)

    async def create_schedule(self, scope: Scope, p: Params) -> dict[str, Any]:
        ref = self._ref(scope, p)
        now = self.clock.now().timestamp()
        check_schedule(p, now)
        if self.store.get_schedule(scope, ref) is not None:
            raise ConflictException(f"Schedule {ref.name} already exists.")
        self._put(scope, ref, _document(p, now, now))
        return {"ScheduleArn": schedule_arn(scope, ref)}

    async def update_schedule(self, scope: Scope, p: Params) -> dict[str, Any]:
        ref = self._ref(scope, p)
        now = self.clock.now().timestamp()
        current = self.store.get_schedule(scope, ref)
        if current is None:
            raise schedule_not_found(ref.name)
        check_schedule(p, now)
        self._put(scope, ref, _document(p, current["CreationDate"], now))
        return {"ScheduleArn": schedule_arn(scope, ref)}

    async def get_schedule(self, scope: Scope, p: Params) -> dict[str, Any]:
        ref = self._ref(scope, p)
        doc = self.store.get_schedule(scope, ref)
        if doc is None:
            raise schedule_not_found(ref.name)
        return {"Arn": schedule_arn(scope, ref), "GroupName": ref.group, "Name": ref.name, **doc}

    async def delete_schedule(self, scope: Scope, p: Params) -> dict[str, Any]:
        ref = self._ref(scope, p)
        if self.store.get_schedule(scope, ref) is None:
            raise schedule_not_found(ref.name)
        self.delete(scope, ref)
        return {}

    def delete(self, scope: Scope, ref: ScheduleRef) -> None:
        self.store.delete_schedule(scope, ref)
        self.timer.forget(scope, ref.timer_key)

    def drop_group(self, scope: Scope, group: str) -> None:
        for name, _ in self.store.list_schedules(scope, group):
            self.delete(scope, ScheduleRef(group, name))

    async def list_schedules(self, scope: Scope, p: Params) -> dict[str, Any]:
        if p.get("GroupName"):
            groups = [self.groups.group_doc(scope, p["GroupName"])[0]]
        else:
            self.groups.group_doc(scope, None)
            groups = [name for name, _ in self.store.list_groups(scope)]
        prefix, state = p.get("NamePrefix") or "", p.get("State")
        after = p.get("NextToken") or ""
        found = sorted(
            (f"{group}/{name}", ScheduleRef(group, name), doc)
            for group in groups
            for name, doc in self.store.list_schedules(scope, group)
            if name.startswith(prefix) and (state is None or doc["State"] == state)
        )
        found = [f for f in found if f[0] > after]
        limit = p.get("MaxResults") or LIST_LIMIT
        out: dict[str, Any] = {
            "Schedules": [
                {
                    "Arn": schedule_arn(scope, ref),
                    "Name": ref.name,
                    "GroupName": ref.group,
                    "State": doc["State"],
                    "CreationDate": doc["CreationDate"],
                    "LastModificationDate": doc["LastModificationDate"],
                    "Target": {"Arn": doc["Target"]["Arn"]},
                }
                for _, ref, doc in found[:limit]
            ]
        }
        if len(found) > limit:
            out["NextToken"] = found[limit - 1][0]
        return out


__all__ = ["ScheduleService", "Timing", "check_schedule", "schedule_arn"]
