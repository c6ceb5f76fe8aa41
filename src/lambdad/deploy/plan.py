"""The planner: a template, parameter values and the previous deployment in, an ordered
list of steps out (as aws/chalice's deployer plans before it executes). Pure: no I/O.

Each resource is created, updated in place, replaced, left unchanged or deleted. A
property that needs an attribute known only once another resource exists (a version's
number) stays ``Deferred``; such a resource counts as changed. Steps come in dependency
order; deletions (resources gone from the template, and the old halves of replacements)
come last, in the reverse of the order they were applied in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdad.deploy import conditions, graph, parameters
from lambdad.deploy.errors import UnsupportedResources, ValidationError
from lambdad.deploy.intrinsics import Context, Unknown, has_deferred, resolve_known
from lambdad.deploy.kinds import KINDS
from lambdad.deploy.records import Deployment, ResourceRecord
from lambdad.deploy.template import Template


class Action(enum.Enum):
    CREATE = "Add"
    UPDATE = "Modify"
    REPLACE = "Replace"
    UNCHANGED = "None"
    DELETE = "Remove"


@dataclass(frozen=True, slots=True)
class Step:
    logical_id: str
    type: str
    action: Action
    # Resolved where known (``Deferred`` parts to complete); None for a deletion.
    properties: Mapping[str, Any] | None
    previous: ResourceRecord | None = None
    deletion_policy: str = "Delete"


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    parameters: Mapping[str, Any]
    conditions: Mapping[str, bool]
    mappings: Mapping[str, Any]
    # Output key -> (value, description), values resolved where known.
    outputs: Mapping[str, tuple[Any, str | None]] = field(default_factory=dict)
    # Logical id -> why it is not applied (only when the caller asked to skip).
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action is not Action.UNCHANGED)


def plan(
    template: Template,
    given: Mapping[str, str],
    identity: parameters.StackIdentity,
    previous: Deployment,
    *,
    skip_unsupported: bool = False,
    unavailable: Mapping[str, str] | None = None,
) -> Plan:
    """``unavailable``: types lambdad serves that this server cannot apply, with why
    (listed as unsupported types are)."""
    check_known(template)
    params = {**parameters.values(template.parameters, given), **parameters.pseudo(identity)}
    known: dict[str, dict[str, Any]] = {}

    def attribute(logical_id: str, name: str | None) -> Any:
        value = known.get(logical_id, {}).get(name or "Ref", _MISSING)
        if value is _MISSING:
            raise Unknown(logical_id, name)
        return value

    bare = Context(params, {}, frozenset(), attribute, template.mappings)
    conds = conditions.evaluate(template.conditions, bare)
    active = {
        lid: r
        for lid, r in template.resources.items()
        if r.condition is None or conds.get(r.condition, False)
    }
    ctx = Context(params, conds, frozenset(active), attribute, template.mappings)
    deps = {
        lid: (graph.references(r.properties) & set(active)) | set(r.depends_on)
        for lid, r in active.items()
    }
    _check_attributes(template, active)
    skipped = _skipped(active, deps, skip_unsupported, unavailable or {})
    applied = [lid for lid in graph.order(deps) if lid not in skipped]

    steps: list[Step] = []
    replaced: list[ResourceRecord] = []
    for lid in applied:
        res = active[lid]
        props = resolve_known(dict(res.properties), ctx)
        prev = previous.get(lid)
        action = _action(res.type, props, prev)
        if action is Action.UNCHANGED and prev is not None:
            known[lid] = dict(prev.attributes)
        elif action is Action.UPDATE and prev is not None:
            stable = KINDS[res.type].stable
            known[lid] = {k: v for k, v in prev.attributes.items() if k in stable}
        if action is Action.REPLACE and prev is not None:
            replaced.append(prev)
        steps.append(Step(lid, res.type, action, props, prev, res.deletion_policy))

    gone = [r for lid, r in previous.items() if lid not in applied]
    for rec in reversed([*replaced, *gone]):
        policy = rec.deletion_policy
        steps.append(Step(rec.logical_id, rec.type, Action.DELETE, None, rec, policy))

    outputs = {}
    for key, out in template.outputs.items():
        if out.condition is not None and not conds.get(out.condition, False):
            continue
        blocked = sorted(graph.references(out.value) & set(skipped))
        if blocked:
            skipped[f"Outputs.{key}"] = f"refers to {blocked[0]}, which is skipped"
            continue
        outputs[key] = (resolve_known(out.value, ctx), out.description)
    return Plan(tuple(steps), params, conds, template.mappings, outputs, skipped)


_MISSING = object()


def _action(type_: str, props: Any, prev: ResourceRecord | None) -> Action:
    if prev is None:
        return Action.CREATE
    if prev.type != type_:
        return Action.REPLACE
    deferred = has_deferred(props)
    if not deferred and props == dict(prev.properties):
        return Action.UNCHANGED
    kind = KINDS[type_]
    if kind.immutable:
        return Action.REPLACE
    for name in kind.replace_on:
        value = props.get(name)
        if has_deferred(value) or value != prev.properties.get(name):
            return Action.REPLACE
    return Action.UPDATE


def _skipped(
    active: Mapping[str, Any],
    deps: Mapping[str, set[str]],
    skip_unsupported: bool,
    unavailable: Mapping[str, str],
) -> dict[str, str]:
    unsupported: dict[str, list[str]] = {}
    for lid, res in active.items():
        if res.type not in KINDS or res.type in unavailable:
            unsupported.setdefault(res.type, []).append(lid)
    if not unsupported:
        return {}
    if not skip_unsupported:
        raise UnsupportedResources(unsupported, unavailable)
    skipped = {
        lid: unavailable.get(t) or f"{t} is not supported by lambdad"
        for t, ids in unsupported.items()
        for lid in ids
    }
    grew = True
    while grew:
        grew = False
        for lid, needs in deps.items():
            blocked = sorted(needs & set(skipped))
            if lid not in skipped and blocked:
                skipped[lid] = f"refers to {blocked[0]}, which is skipped"
                grew = True
    return skipped


def _check_attributes(template: Template, active: Mapping[str, Any]) -> None:
    """Every ``Fn::GetAtt`` names an attribute its resource's type has."""
    exprs = [r.properties for r in active.values()] + [o.value for o in template.outputs.values()]
    for expr in exprs:
        for logical, attr in sorted(graph.attributes(expr)):
            res = template.resources.get(logical)
            kind = KINDS.get(res.type) if res is not None else None
            if kind is not None and attr not in kind.attributes:
                raise ValidationError(
                    f"Template error: resource {logical} does not support attribute type "
                    f"{attr} in Fn::GetAtt"
                )


def check_known(template: Template) -> None:
    """Types are known; the template's references name something that exists."""
    names = (
        set(template.resources)
        | set(template.parameters)
        | set(parameters.pseudo(parameters.StackIdentity("", "", "", "")))
    )
    for lid, res in template.resources.items():
        for ref in graph.references(res.properties):
            if ref not in names:
                raise ValidationError(
                    f"Template format error: Unresolved resource dependencies [{ref}] in the "
                    f"Resources block of the template ({lid})"
                )
