"""The executor: applies a plan, step by step, through the resource handlers.

Each step's ``Deferred`` properties are completed from what earlier steps created. If
a step fails, everything this run created is deleted and everything it updated (the
failed update too: it may have half-happened) is put back, newest first, and
``ApplyFailed`` says which step failed and why; each action (and each rollback action)
is reported as a stack event as it happens. Deletions come last; one that fails is
reported and leaves the stack as applied (as CloudFormation's clean-up phase does).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdad.deploy.errors import ApplyFailed
from lambdad.deploy.handlers import Env, Handler
from lambdad.deploy.intrinsics import Context, Unknown, complete
from lambdad.deploy.plan import Action, Plan, Step
from lambdad.deploy.records import Deployment, ResourceRecord

log = logging.getLogger(__name__)

# (logical id, type, physical id, status, reason)
Report = Callable[[str, str, str, str, str], None]


@dataclass(frozen=True, slots=True)
class Result:
    deployment: dict[str, ResourceRecord]
    outputs: dict[str, tuple[Any, str | None]]


_STATUS = {
    Action.CREATE: "CREATE",
    Action.REPLACE: "CREATE",
    Action.UPDATE: "UPDATE",
    Action.DELETE: "DELETE",
}


def execute(
    plan: Plan,
    previous: Deployment,
    env: Env,
    handlers: Mapping[str, Handler],
    report: Report,
    keep: Callable[[list[ResourceRecord]], None] = lambda records: None,
) -> Result:
    """Apply ``plan``; ``keep`` is given the stack's resources after each change (so
    that what exists is recorded even if the process stops half-way)."""
    records: dict[str, ResourceRecord] = dict(previous)

    def attribute(logical_id: str, name: str | None) -> Any:
        rec = records.get(logical_id)
        if rec is None or (name or "Ref") not in rec.attributes:
            raise Unknown(logical_id, name)
        return rec.attributes[name or "Ref"]

    applied = [s for s in plan.steps if s.action is not Action.DELETE]
    ctx = Context(
        plan.parameters,
        plan.conditions,
        frozenset(s.logical_id for s in applied),
        attribute,
        plan.mappings,
    )
    undo: list[tuple[ResourceRecord | None, ResourceRecord]] = []  # (before, after)
    for step in applied:
        if step.action is Action.UNCHANGED:
            continue
        status = _STATUS[step.action]
        report(step.logical_id, step.type, "", f"{status}_IN_PROGRESS", "")
        try:
            new = _apply(step, ctx, env, handlers[step.type])
        except Exception as exc:
            reason = _reason(exc)
            log.info("stack %s: %s failed: %s", env.identity.stack_name, step.logical_id, reason)
            report(step.logical_id, step.type, "", f"{status}_FAILED", reason)
            maybe = _maybe_created(step, ctx, env, handlers[step.type])
            if maybe is not None:
                undo.append((None, maybe))
            attempted = _attempted(step, ctx)
            if attempted is not None:
                undo.append((step.previous, attempted))
            stranded = _rollback(undo, env, handlers, report)
            raise ApplyFailed(step.logical_id, reason, tuple(stranded)) from exc
        before = records.get(step.logical_id) if step.action is Action.UPDATE else None
        undo.append((before, new))
        records[step.logical_id] = new
        keep(_applied_first(records, step, new))
        report(step.logical_id, step.type, new.physical_id, f"{status}_COMPLETE", "")

    for step in plan.steps:
        if step.action is Action.DELETE and step.previous is not None:
            _delete(step, env, handlers, report)
            if records.get(step.logical_id) is step.previous:
                del records[step.logical_id]
                keep(list(records.values()))

    order = [s.logical_id for s in applied]
    deployment = {lid: records[lid] for lid in order if lid in records}
    outputs = {}
    for key, (value, description) in plan.outputs.items():
        try:
            outputs[key] = (complete(value, ctx), description)
        except Exception as exc:  # the resources are applied; one output cannot be read
            report(
                f"Outputs.{key}", "AWS::CloudFormation::Output", "", "OUTPUT_FAILED", _reason(exc)
            )
    return Result(deployment, outputs)


def _maybe_created(step: Step, ctx: Context, env: Env, handler: Handler) -> ResourceRecord | None:
    """A resource a failed create may have left (it failed after its first call, while
    waiting): known by the name its handler gives it, deleted with the rollback (a
    deletion of what does not exist is one)."""
    planned = getattr(handler, "planned_id", None)  # only handlers that name resources
    if step.action not in (Action.CREATE, Action.REPLACE) or planned is None:
        return None
    try:
        props = complete(dict(step.properties or {}), ctx)
        physical = planned(env, step.logical_id, props, step.previous)
    except Exception:
        return None
    return ResourceRecord(step.logical_id, step.type, physical, props, {}, step.deletion_policy)


def _attempted(step: Step, ctx: Context) -> ResourceRecord | None:
    """A failed update may have changed part of its resource (an alias a stopped
    traffic shift left at 10%): rolled back to its previous properties like the updates
    that completed, as CloudFormation re-applies a failed resource's previous state."""
    old = step.previous
    if step.action is not Action.UPDATE or old is None:
        return None
    try:
        props = complete(dict(step.properties or {}), ctx)
    except Exception:  # failed before anything was asked of the resource
        return None
    return ResourceRecord(
        old.logical_id, old.type, old.physical_id, props, old.attributes, step.deletion_policy
    )


def _apply(step: Step, ctx: Context, env: Env, handler: Handler) -> ResourceRecord:
    props = complete(dict(step.properties or {}), ctx)
    if step.action is Action.UPDATE and step.previous is not None:
        done = handler.update(env, step.previous, props)
    else:
        done = handler.create(env, step.logical_id, props, step.previous)
    return ResourceRecord(
        step.logical_id, step.type, done.physical_id, props, done.attributes, step.deletion_policy
    )


def _delete(step: Step, env: Env, handlers: Mapping[str, Handler], report: Report) -> None:
    rec = step.previous
    assert rec is not None
    if step.deletion_policy == "Retain":
        report(rec.logical_id, rec.type, rec.physical_id, "DELETE_SKIPPED", "DeletionPolicy Retain")
        return
    report(rec.logical_id, rec.type, rec.physical_id, "DELETE_IN_PROGRESS", "")
    try:
        handlers[rec.type].delete(env, rec)
    except Exception as exc:
        report(rec.logical_id, rec.type, rec.physical_id, "DELETE_FAILED", _reason(exc))
        return
    report(rec.logical_id, rec.type, rec.physical_id, "DELETE_COMPLETE", "")


def delete_all(
    deployment: Deployment, env: Env, handlers: Mapping[str, Handler], report: Report
) -> list[ResourceRecord]:
    """Delete every resource, newest first; the records that could not be deleted."""
    left = []
    for rec in reversed(list(deployment.values())):
        if rec.deletion_policy == "Retain":
            report(
                rec.logical_id, rec.type, rec.physical_id, "DELETE_SKIPPED", "DeletionPolicy Retain"
            )
            continue
        report(rec.logical_id, rec.type, rec.physical_id, "DELETE_IN_PROGRESS", "")
        try:
            handlers[rec.type].delete(env, rec)
        except Exception as exc:
            report(rec.logical_id, rec.type, rec.physical_id, "DELETE_FAILED", _reason(exc))
            left.append(rec)
            continue
        report(rec.logical_id, rec.type, rec.physical_id, "DELETE_COMPLETE", "")
    return left


def _applied_first(
    records: dict[str, ResourceRecord], step: Step, new: ResourceRecord
) -> list[ResourceRecord]:
    """The stack's resources now; a replaced resource's old half kept beside the new
    one until it is deleted (both exist)."""
    out = list(records.values())
    if step.action is Action.REPLACE and step.previous is not None:
        old = step.previous
        out.append(ResourceRecord(old.logical_id + "#replaced", old.type, old.physical_id,
                                  old.properties, old.attributes, old.deletion_policy))  # fmt: skip
    return out


def _rollback(
    undo: list[tuple[ResourceRecord | None, ResourceRecord]],
    env: Env,
    handlers: Mapping[str, Handler],
    report: Report,
) -> list[ResourceRecord]:
    """Undo, newest first; the created resources that could not be deleted."""
    env = dataclasses.replace(env, rolling_back=True)
    stranded = []
    for before, after in reversed(undo):
        handler = handlers[after.type]
        try:
            if before is None:
                report(
                    after.logical_id,
                    after.type,
                    after.physical_id,
                    "DELETE_IN_PROGRESS",
                    "Rollback",
                )
                handler.delete(env, after)
                report(
                    after.logical_id, after.type, after.physical_id, "DELETE_COMPLETE", "Rollback"
                )
            else:
                report(
                    after.logical_id,
                    after.type,
                    after.physical_id,
                    "UPDATE_IN_PROGRESS",
                    "Rollback",
                )
                handler.update(env, after, before.properties)
                report(
                    after.logical_id, after.type, after.physical_id, "UPDATE_COMPLETE", "Rollback"
                )
        except Exception as exc:
            report(after.logical_id, after.type, after.physical_id, "ROLLBACK_FAILED", _reason(exc))
            if before is None:
                stranded.append(after)
    return stranded


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(exc) or type(exc).__name__
