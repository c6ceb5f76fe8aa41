"""How AWS writes a value and a shape's constraints in a validation message.

AWS's validation layer renders values as Java would: a list as ``[x86_64, arm64]``, a
map as ``{$LATEST=0.5}``, a double as ``2.0``, a boolean as ``true``. When a list item
or a map key or value breaks its shape, AWS names every constraint of that shape, not
only the one broken: ``[Member must have value less than or equal to 1.0, Member must
have value greater than or equal to 0.0, Member must not be null]`` (recorded on AWS,
LocalStack's snapshots of Lambda's validation errors, January 2026).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Shape = dict[str, Any]

_SIZED = ("string", "list", "map", "blob")
_FRACTIONAL = ("float", "double")
NOT_NULL = "Member must not be null"


def render(shapes: Mapping[str, Shape], shape: Shape, value: Any) -> str:
    """``value`` as AWS quotes it in a message, typed by ``shape``."""
    kind = shape.get("type")
    if kind == "list" and isinstance(value, list):
        member = shapes[shape["member"]["shape"]]
        return "[" + ", ".join(render(shapes, member, v) for v in value) + "]"
    if kind == "map" and isinstance(value, dict):
        inner = shapes[shape["value"]["shape"]]
        return "{" + ", ".join(f"{k}={render(shapes, inner, v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind in _FRACTIONAL and isinstance(value, (int, float)):
        return str(float(value))
    return str(value)


def bound(shape: Shape, key: str) -> str:
    """A shape's ``min`` or ``max`` as AWS writes it (``1.0`` for a double's bound)."""
    limit = shape[key]
    return str(float(limit)) if shape.get("type") in _FRACTIONAL else str(limit)


def constraint_list(shape: Shape) -> list[str]:
    """Every constraint of a scalar shape, in AWS's order: max, min, enum, pattern."""
    word = "length" if shape.get("type") in _SIZED else "value"
    out: list[str] = []
    if "max" in shape:
        out.append(f"Member must have {word} less than or equal to {bound(shape, 'max')}")
    if "min" in shape:
        out.append(f"Member must have {word} greater than or equal to {bound(shape, 'min')}")
    if shape.get("enum"):
        out.append(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
    if shape.get("pattern"):
        out.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
    return out


def is_scalar(shape: Shape) -> bool:
    return shape.get("type") not in ("structure", "list", "map")
