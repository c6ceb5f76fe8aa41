"""Checking a value against a botocore shape's constraints, as AWS reports violations.

``ShapeChecker.violations`` walks a request's parameters through the service model's
shapes (structures, lists, maps, strings, numbers, booleans, blobs, timestamps) and
names every constraint broken: a required member missing, a wrong type, a length,
range, enum or pattern not met, in AWS's words, with fields in lowerCamelCase
(``camel``). ``overrides`` are constraints AWS enforces that the published model
leaves out or states looser. A pattern only Java's regular expressions can compile is
not checked (AWS checks it; we cannot). Values and the constraints of list items and map
entries are written as AWS writes them (``constraint_text``): one error per list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdad.api.constraint_text import NOT_NULL, bound, constraint_list, is_scalar, render

Shape = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ShapeChecker:
    """The constraints of one service model's shapes (``protocol.ServiceModel``)."""

    shapes: Mapping[str, Shape]
    overrides: Mapping[str, Mapping[str, Any]]

    def violations(self, shape_name: str, value: Any) -> list[str]:
        """What ``value`` breaks of structure ``shape_name``'s constraints, in order."""
        out: list[str] = []
        self._validate_structure(shape_name, value, "", out)
        return out

    def _validate_structure(self, shape_name: str, value: Any, path: str, out: list[str]) -> None:
        shape = self.shapes[shape_name]
        if not isinstance(value, dict):
            out.append(_type_violation(value, path, "structure"))
            return
        for member in shape.get("required", []):
            if value.get(member) is None:
                out.append(
                    f"Value null at '{camel(_join(path, member))}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for member, ref in shape["members"].items():
            if member in value and value[member] is not None:
                self._validate(ref["shape"], value[member], _join(path, member), out)

    def _shape(self, shape_name: str) -> Shape:
        return {**self.shapes[shape_name], **self.overrides.get(shape_name, {})}

    def _validate(self, shape_name: str, value: Any, path: str, out: list[str]) -> None:
        shape = self._shape(shape_name)
        kind = shape["type"]
        if kind == "structure":
            self._validate_structure(shape_name, value, path, out)
        elif kind == "list":
            if not isinstance(value, list):
                out.append(_type_violation(value, path, "list"))
                return
            shown = render(self.shapes, shape, value)
            _check_length(shape, len(value), shown, path, out)
            member_name = shape["member"]["shape"]
            member = self._shape(member_name)
            if shape.get("enum"):
                # A list AWS checks whole against a value set (``overrides``).
                if any(item not in shape["enum"] for item in value):
                    out.append(
                        f"Value '{shown}' at '{camel(path)}' failed to satisfy constraint: "
                        f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]"
                    )
            elif is_scalar(member):
                found: list[str] = []
                for item in value:
                    self._validate(member_name, item, path, found)
                if found:  # one error for the list, naming all its items' constraints
                    out.append(
                        f"Value '{shown}' at '{camel(path)}' failed to satisfy constraint: "
                        "Member must satisfy constraint: "
                        f"[{', '.join([*constraint_list(member), NOT_NULL])}]"
                    )
            else:
                for item in value:
                    self._validate(member_name, item, path, out)
        elif kind == "map":
            if not isinstance(value, dict):
                out.append(_type_violation(value, path, "map"))
                return
            shown = render(self.shapes, shape, value)
            _check_length(shape, len(value), shown, path, out)
            keys: list[str] = []
            values: list[str] = []
            for k, v in value.items():
                self._validate(shape["key"]["shape"], k, path, keys)
                self._validate(shape["value"]["shape"], v, path, values)
            quoted = "" if shape.get("sensitive") else f" '{shown}'"
            key_shape = self._shape(shape["key"]["shape"])
            value_shape = self._shape(shape["value"]["shape"])
            for label, found, inner_shape, extra in (
                ("Map keys", keys, key_shape, []),
                ("Map value", values, value_shape, [NOT_NULL]),
            ):
                if found:
                    if is_scalar(inner_shape):
                        inner = ", ".join([*constraint_list(inner_shape), *extra])
                    else:
                        inner = found[0].split("failed to satisfy constraint: ", 1)[-1]
                    out.append(
                        f"Value{quoted} at '{camel(path)}' failed to satisfy constraint: "
                        f"{label} must satisfy constraint: [{inner}]"
                    )
        elif kind == "string":
            if not isinstance(value, str):
                out.append(_type_violation(value, path, "string"))
                return
            _check_length(shape, len(value), value, path, out)
            if shape.get("enum") and value not in shape["enum"]:
                out.append(
                    f"Value '{value}' at '{camel(path)}' failed to satisfy constraint: "
                    f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]"
                )
            pattern = shape.get("pattern")
            if pattern and not _fullmatch(pattern, value):
                out.append(
                    f"Value '{value}' at '{camel(path)}' failed to satisfy constraint: "
                    f"Member must satisfy regular expression pattern: {pattern}"
                )
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    out.append(_type_violation(value, path, "number"))
                    return
            if "min" in shape and value < shape["min"]:
                out.append(
                    f"Value '{value}' at '{camel(path)}' failed to satisfy constraint: "
                    f"Member must have value greater than or equal to {shape['min']}"
                )
            if "max" in shape and value > shape["max"]:
                out.append(
                    f"Value '{value}' at '{camel(path)}' failed to satisfy constraint: "
                    f"Member must have value less than or equal to {shape['max']}"
                )
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                out.append(_type_violation(value, path, "number"))
                return
            shown = render(self.shapes, shape, value)
            if "max" in shape and value > shape["max"]:
                out.append(
                    f"Value '{shown}' at '{camel(path)}' failed to satisfy constraint: "
                    f"Member must have value less than or equal to {bound(shape, 'max')}"
                )
            if "min" in shape and value < shape["min"]:
                out.append(
                    f"Value '{shown}' at '{camel(path)}' failed to satisfy constraint: "
                    f"Member must have value greater than or equal to {bound(shape, 'min')}"
                )
        elif kind == "boolean":
            if not isinstance(value, bool):
                out.append(_type_violation(value, path, "boolean"))
        elif kind == "blob":
            if not isinstance(value, (bytes, str)):
                out.append(_type_violation(value, path, "blob"))
        elif kind == "timestamp" and not isinstance(value, (str, int, float, datetime)):
            out.append(_type_violation(value, path, "timestamp"))


_PATTERN_CACHE: dict[str, re.Pattern[str] | None] = {}


def _fullmatch(pattern: str, value: str) -> bool:
    compiled = _PATTERN_CACHE.get(pattern, ...)
    if compiled is ...:
        try:
            compiled = re.compile(pattern, re.DOTALL)
        except re.error:
            compiled = None  # a Java-only regex feature; AWS would check it, we cannot
        _PATTERN_CACHE[pattern] = compiled
    return compiled is None or compiled.fullmatch(value) is not None


def _check_length(shape: Shape, n: int, value: Any, path: str, out: list[str]) -> None:
    if "min" in shape and n < shape["min"]:
        out.append(
            f"Value '{value}' at '{camel(path)}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {shape['min']}"
        )
    if "max" in shape and n > shape["max"]:
        out.append(
            f"Value '{value}' at '{camel(path)}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {shape['max']}"
        )


def _type_violation(value: Any, path: str, expected: str) -> str:
    return (
        f"Value '{value}' at '{camel(path)}' failed to satisfy constraint: "
        f"Member must be of type {expected}"
    )


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def camel(path: str) -> str:
    # AWS names fields in validation messages in lowerCamelCase: 'memorySize',
    # 'environment.variables'.
    return ".".join(p[:1].lower() + p[1:] for p in path.split("."))
