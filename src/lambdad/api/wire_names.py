"""Member names and wire names of a rest-json model's structures, both ways.

Some models name a structure's members on the wire otherwise than botocore's member
names (``apigatewayv2``: member ``Name``, wire ``name``; ``apigateway``'s ``Resources``
lists its ``items`` as ``item``): ``locationName`` says so. Operations are written
against member names; ``to_members`` renames a request body's keys, at every depth,
and ``to_wire`` renames an output's, writing timestamps (kept as epoch seconds) in
the shape's format: ISO 8601 where the model says so, else epoch seconds, as
rest-json's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

Shape = dict[str, Any]


def to_members(shapes: Mapping[str, Shape], shape_name: str, value: Any) -> Any:
    """``value`` (shaped ``shape_name``) with wire names turned into member names;
    unknown keys are dropped, as a service ignores them."""
    shape = shapes[shape_name]
    kind = shape["type"]
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for member, ref in shape["members"].items():
            if ref.get("location"):
                continue
            wire = ref.get("locationName", member)
            if wire in value and value[wire] is not None:
                out[member] = to_members(shapes, ref["shape"], value[wire])
        return out
    if kind == "list" and isinstance(value, list):
        return [to_members(shapes, shape["member"]["shape"], v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_members(shapes, shape["value"]["shape"], v) for k, v in value.items()}
    return value


def to_wire(shapes: Mapping[str, Shape], shape_name: str, value: Any) -> Any:
    """``value`` (shaped ``shape_name``, member names) as the wire carries it; members
    the shape does not have are left out."""
    shape = shapes[shape_name]
    kind = shape["type"]
    if kind == "structure" and isinstance(value, Mapping):
        out = {}
        for member, ref in shape["members"].items():
            if member in value and value[member] is not None and not ref.get("location"):
                wire = ref.get("locationName", member)
                out[wire] = to_wire(shapes, ref["shape"], value[member])
        return out
    if kind == "list" and isinstance(value, list):
        return [to_wire(shapes, shape["member"]["shape"], v) for v in value]
    if kind == "map" and isinstance(value, Mapping):
        return {k: to_wire(shapes, shape["value"]["shape"], v) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, int | float):
        if shape.get("timestampFormat") == "iso8601":
            return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return int(value)
    return value
