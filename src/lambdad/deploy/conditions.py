"""The template's ``Conditions``: each evaluated once, from parameters only.

``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and ``Condition`` (another
condition by name); their arguments may use the value functions (``Ref`` to a
parameter, ``Fn::FindInMap``, ``Fn::Sub``...). A resource's attribute is not allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.intrinsics import Context, Unknown, resolve


def evaluate(conditions: Mapping[str, Any], ctx: Context) -> dict[str, bool]:
    """Every condition's value (ValidationError: malformed, or one refers to itself)."""
    done: dict[str, bool] = {}
    for name in conditions:
        _named(name, conditions, ctx, done, ())
    return done


def _named(
    name: str,
    conditions: Mapping[str, Any],
    ctx: Context,
    done: dict[str, bool],
    path: tuple[str, ...],
) -> bool:
    if name in done:
        return done[name]
    if name not in conditions:
        raise ValidationError(f"Template format error: Unresolved condition dependency {name}")
    if name in path:
        raise ValidationError(
            f"Template format error: Circular dependency between conditions: {list(path)}"
        )
    value = _expr(conditions[name], conditions, ctx, done, (*path, name))
    done[name] = value
    return value


def _expr(
    expr: Any,
    conditions: Mapping[str, Any],
    ctx: Context,
    done: dict[str, bool],
    path: tuple[str, ...],
) -> bool:
    if not (isinstance(expr, dict) and len(expr) == 1):
        raise ValidationError(
            f"Template format error: Conditions can only be boolean operations ({path[-1]})"
        )
    ((fn, arg),) = expr.items()
    if fn == "Condition":
        return _named(str(arg), conditions, ctx, done, path)
    if fn == "Fn::Equals":
        if not (isinstance(arg, list) and len(arg) == 2):
            raise ValidationError("Template error: Fn::Equals takes two values")
        left, right = (_value(a, ctx) for a in arg)
        return bool(_canonical(left) == _canonical(right))
    if fn == "Fn::Not":
        if not (isinstance(arg, list) and len(arg) == 1):
            raise ValidationError("Template error: Fn::Not takes one condition")
        return not _expr(arg[0], conditions, ctx, done, path)
    if fn in ("Fn::And", "Fn::Or"):
        if not (isinstance(arg, list) and 2 <= len(arg) <= 10):
            raise ValidationError(f"Template error: {fn} takes 2 to 10 conditions")
        values = [_expr(a, conditions, ctx, done, path) for a in arg]
        return all(values) if fn == "Fn::And" else any(values)
    raise ValidationError(
        f"Template format error: Conditions can only be boolean operations ({path[-1]})"
    )


def _value(expr: Any, ctx: Context) -> Any:
    try:
        return resolve(expr, ctx)
    except Unknown as exc:
        raise ValidationError(
            f"Template error: a condition cannot use the resource {exc.logical_id}"
        ) from None


def _canonical(value: Any) -> Any:
    # CloudFormation compares the values as strings ("1" equals 1).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value
