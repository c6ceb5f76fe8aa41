"""CloudFormation's intrinsic functions, evaluated over what is known.

``resolve`` evaluates an expression completely or raises ``Unknown`` when it needs an
attribute of a resource that does not exist yet (a version's number before it is
published). ``resolve_known`` is what the planner uses: it evaluates all it can and
leaves each part that needs such an attribute as a ``Deferred`` expression, which the
executor resolves once the resource exists. ``AWS::NoValue`` removes the member or
element it is the value of.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdad.deploy.errors import ValidationError


class Unknown(Exception):
    """An attribute that is known only once its resource has been created."""

    def __init__(self, logical_id: str, attribute: str | None) -> None:
        super().__init__(logical_id, attribute)
        self.logical_id = logical_id
        self.attribute = attribute


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


@dataclass(frozen=True, slots=True)
class Deferred:
    """An expression to evaluate when the attributes it needs exist."""

    expression: Any


# (logical id, attribute or None for Ref) -> value; raises Unknown.
Attributes = Callable[[str, "str | None"], Any]


@dataclass(frozen=True, slots=True)
class Context:
    parameters: Mapping[str, Any]
    conditions: Mapping[str, bool]
    resources: frozenset[str]
    attribute: Attributes
    mappings: Mapping[str, Any]


_SUB = re.compile(r"\$\{([^}]*)\}")


def resolve(expr: Any, ctx: Context) -> Any:
    """``expr`` with every intrinsic function evaluated (Unknown: an attribute needed is
    not known yet; ValidationError: the expression is malformed)."""
    if isinstance(expr, list):
        return [v for v in (resolve(e, ctx) for e in expr) if v is not NO_VALUE]
    if not isinstance(expr, dict):
        return expr
    if len(expr) == 1:
        ((key, arg),) = expr.items()
        fn = _FUNCTIONS.get(key)
        if fn is not None:
            return fn(arg, ctx)
        if key.startswith("Fn::"):
            raise ValidationError(f"Template format error: Unsupported function {key}")
    out = {}
    for k, v in expr.items():
        value = resolve(v, ctx)
        if value is not NO_VALUE:
            out[k] = value
    return out


def resolve_known(expr: Any, ctx: Context) -> Any:
    """``expr`` evaluated where it can be; the parts that need unknown attributes are
    left as ``Deferred`` (at the smallest enclosing function)."""
    try:
        return resolve(expr, ctx)
    except Unknown:
        pass
    if isinstance(expr, list):
        return [v for v in (resolve_known(e, ctx) for e in expr) if v is not NO_VALUE]
    if isinstance(expr, dict) and not _is_function(expr):
        out = {}
        for k, v in expr.items():
            value = resolve_known(v, ctx)
            if value is not NO_VALUE:
                out[k] = value
        return out
    return Deferred(expr)


def complete(value: Any, ctx: Context) -> Any:
    """A ``resolve_known`` result with its ``Deferred`` parts evaluated."""
    if isinstance(value, Deferred):
        return resolve(value.expression, ctx)
    if isinstance(value, list):
        return [v for v in (complete(e, ctx) for e in value) if v is not NO_VALUE]
    if isinstance(value, dict):
        out = {k: complete(v, ctx) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}
    return value


def has_deferred(value: Any) -> bool:
    if isinstance(value, Deferred):
        return True
    if isinstance(value, list):
        return any(has_deferred(v) for v in value)
    if isinstance(value, dict):
        return any(has_deferred(v) for v in value.values())
    return False


def _is_function(expr: dict[str, Any]) -> bool:
    return len(expr) == 1 and next(iter(expr)) in _FUNCTIONS


def _ref(arg: Any, ctx: Context) -> Any:
    if not isinstance(arg, str):
        raise ValidationError("Template format error: Ref takes a name")
    if arg in ctx.parameters:
        return ctx.parameters[arg]
    if arg in ctx.resources:
        return ctx.attribute(arg, None)
    raise ValidationError(
        f"Template format error: Unresolved resource dependencies [{arg}] in the Resources "
        "block of the template"
    )


def _get_att(arg: Any, ctx: Context) -> Any:
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
        raise ValidationError("Template error: Fn::GetAtt takes [LogicalId, Attribute]")
    logical, attr = arg[0], resolve(arg[1], ctx)
    if logical not in ctx.resources:
        raise ValidationError(
            f"Template error: instance of Fn::GetAtt references undefined resource {logical}"
        )
    return ctx.attribute(logical, str(attr))


def _sub(arg: Any, ctx: Context) -> str:
    if isinstance(arg, str):
        text, names = arg, {}
    elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
        text, names = arg[0], resolve(arg[1], ctx)
        if not isinstance(names, dict):
            raise ValidationError("Template error: Fn::Sub's variables must be an object")
    else:
        raise ValidationError("Template error: Fn::Sub takes a string or [string, variables]")

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        name = name.strip()
        if name in names:
            value = names[name]
        elif "." in name and name.split(".", 1)[0] in ctx.resources:
            value = _get_att(name.split(".", 1), ctx)
        else:
            value = _ref(name, ctx)
        return _text(value)

    return _SUB.sub(one, text)


def _join(arg: Any, ctx: Context) -> str:
    if not (isinstance(arg, list) and len(arg) == 2):
        raise ValidationError("Template error: Fn::Join takes [delimiter, [values]]")
    delimiter, values = resolve(arg[0], ctx), resolve(arg[1], ctx)
    if not isinstance(values, list):
        raise ValidationError("Template error: Fn::Join's second argument must be a list")
    return str(delimiter).join(_text(v) for v in values)


def _if(arg: Any, ctx: Context) -> Any:
    if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
        raise ValidationError("Template error: Fn::If takes [condition, then, else]")
    if arg[0] not in ctx.conditions:
        raise ValidationError(f"Template error: unresolved condition dependency {arg[0]} in Fn::If")
    return resolve(arg[1] if ctx.conditions[arg[0]] else arg[2], ctx)


def _select(arg: Any, ctx: Context) -> Any:
    if not (isinstance(arg, list) and len(arg) == 2):
        raise ValidationError("Template error: Fn::Select takes [index, list]")
    index, values = resolve(arg[0], ctx), resolve(arg[1], ctx)
    try:
        i = int(index)
    except (TypeError, ValueError):
        raise ValidationError("Template error: Fn::Select's index must be a number") from None
    if not isinstance(values, list) or not 0 <= i < len(values):
        raise ValidationError(
            f"Template error: Fn::Select cannot select nonexistent value at index {i}"
        )
    return values[i]


def _split(arg: Any, ctx: Context) -> list[str]:
    if not (isinstance(arg, list) and len(arg) == 2):
        raise ValidationError("Template error: Fn::Split takes [delimiter, string]")
    delimiter, text = resolve(arg[0], ctx), resolve(arg[1], ctx)
    if not isinstance(delimiter, str) or not isinstance(text, str):
        raise ValidationError("Template error: Fn::Split takes strings")
    return text.split(delimiter)


def _base64(arg: Any, ctx: Context) -> str:
    return base64.b64encode(_text(resolve(arg, ctx)).encode()).decode()


def _find_in_map(arg: Any, ctx: Context) -> Any:
    if not (isinstance(arg, list) and len(arg) == 3):
        raise ValidationError("Template error: Fn::FindInMap takes [map, top key, second key]")
    keys = [_text(resolve(a, ctx)) for a in arg]
    try:
        return ctx.mappings[keys[0]][keys[1]][keys[2]]
    except (KeyError, TypeError):
        raise ValidationError(
            f"Template error: Unable to get mapping for {keys[0]}::{keys[1]}::{keys[2]}"
        ) from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    raise ValidationError(f"Template error: cannot use {value!r} as a string")


_FUNCTIONS: dict[str, Callable[[Any, Context], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::If": _if,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::Base64": _base64,
    "Fn::FindInMap": _find_in_map,
}
