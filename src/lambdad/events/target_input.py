"""What a rule's target receives: the event as is, ``Input`` (constant JSON),
``InputPath`` (a JSONPath into the event) or ``InputTransformer`` (paths into the event
substituted into a template), as EventBridge applies them. Pure.

Paths are the JSONPath subset EventBridge documents for these fields: ``$`` followed by
``.name``, ``['name']`` and ``[index]`` steps. A placeholder ``<name>`` of the template
is replaced by JSON text, or, inside a quoted string of the template, by the value's
text escaped for that string. A path that leads nowhere gives ``null`` (``""`` inside a
string). Reserved placeholders: ``aws.events.rule-arn``, ``aws.events.rule-name``,
``aws.events.event.ingestion-time``, ``aws.events.event`` (the event without its
``detail``) and ``aws.events.event.json`` (the whole event); InputPathsMap may not
redefine them (PutTargets refuses it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lambdad.errors import ValidationException

_STEP = re.compile(r"\.([A-Za-z0-9_$@-]+)|\['([^']*)'\]|\[(\d+)\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")
_MISSING = object()
RESERVED = frozenset(
    (
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    )
)


def parse_path(path: str) -> list[str | int]:
    """The steps of a JSONPath; ``ValidationException`` for anything else."""
    if not path.startswith("$"):
        raise ValidationException(f"Invalid JSONPath: {path}")
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        m = _STEP.match(path, at)
        if m is None:
            raise ValidationException(f"Invalid JSONPath: {path}")
        name, quoted, index = m.groups()
        steps.append(int(index) if index is not None else (name if name is not None else quoted))
        at = m.end()
    return steps


def select(event: Any, path: str) -> Any:
    """The value at ``path`` in ``event``, or ``_MISSING``."""
    value = event
    for step in parse_path(path):
        if isinstance(step, int):
            if not (isinstance(value, list) and step < len(value)):
                return _MISSING
        elif not (isinstance(value, Mapping) and step in value):
            return _MISSING
        value = value[step]
    return value


def check_target(target: Mapping[str, Any]) -> None:
    """Refuse what PutTargets refuses in a target's input settings."""
    given = [k for k in ("Input", "InputPath", "InputTransformer") if target.get(k)]
    if len(given) > 1:
        raise ValidationException(
            "Only one of Input, InputPath, or InputTransformer must be provided."
        )
    if target.get("Input"):
        try:
            json.loads(target["Input"])
        except ValueError:
            raise ValidationException(
                f"Input for target {target['Id']} is not a valid JSON text."
            ) from None
    if target.get("InputPath"):
        parse_path(target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        for name, path in (transformer.get("InputPathsMap") or {}).items():
            if name in RESERVED:
                raise ValidationException(
                    f"InputTransformer variable {name} is reserved and cannot be redefined."
                )
            parse_path(path)


def render_input(
    target: Mapping[str, Any], event: Mapping[str, Any], rule_arn: str, rule_name: str
) -> bytes:
    """The payload ``target`` receives for ``event``."""
    if target.get("Input"):
        return str(target["Input"]).encode()
    if target.get("InputPath"):
        value = select(event, target["InputPath"])
        return json.dumps(None if value is _MISSING else value).encode()
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(event).encode()
    values: dict[str, Any] = {
        name: select(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values.update(predefined(event, rule_arn, rule_name))
    text = substitute(transformer["InputTemplate"], values)
    try:
        json.loads(text)
    except ValueError:
        text = json.dumps(text)  # a plain-text template reaches the function as a string
    return text.encode()


def predefined(event: Mapping[str, Any], rule_arn: str, rule_name: str) -> dict[str, Any]:
    """AWS's reserved variables: ``aws.events.event`` is the event without its
    ``detail``, ``aws.events.event.json`` the whole event."""
    return {
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_name,
        "aws.events.event.ingestion-time": event.get("time"),
        "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
        "aws.events.event.json": dict(event),
    }


def substitute(template: str, values: Mapping[str, Any]) -> str:
    out: list[str] = []
    in_string = False
    at = 0
    while at < len(template):
        ch = template[at]
        if ch == "\\" and in_string:
            out.append(template[at : at + 2])
            at += 2
            continue
        if ch == '"':
            in_string = not in_string
        elif ch == "<":
            m = _PLACEHOLDER.match(template, at)
            if m is not None and m.group(1) in values:
                out.append(_text(values[m.group(1)], in_string))
                at = m.end()
                continue
        out.append(ch)
        at += 1
    return "".join(out)


def _text(value: Any, in_string: bool) -> str:
    if value is _MISSING:
        return "" if in_string else "null"
    if not in_string:
        return json.dumps(value)
    raw = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(raw)[1:-1]
