"""A stack's parameter values: the template's defaults, the caller's values, the checks
AWS makes (AllowedValues, AllowedPattern, lengths, numbers), and the pseudo parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.intrinsics import NO_VALUE


@dataclass(frozen=True, slots=True)
class StackIdentity:
    """Where a stack lives: what the pseudo parameters say."""

    account: str
    region: str
    stack_name: str
    stack_id: str
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"


def pseudo(identity: StackIdentity) -> dict[str, Any]:
    return {
        "AWS::AccountId": identity.account,
        "AWS::Region": identity.region,
        "AWS::StackName": identity.stack_name,
        "AWS::StackId": identity.stack_id,
        "AWS::Partition": identity.partition,
        "AWS::URLSuffix": identity.url_suffix,
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def values(declared: Mapping[str, Mapping[str, Any]], given: Mapping[str, str]) -> dict[str, Any]:
    """Each declared parameter's value (given, else its default), typed as declared."""
    extra = sorted(set(given) - set(declared))
    if extra:
        raise ValidationError(f"Parameters: {extra} do not exist in the template")
    missing = sorted(n for n in declared if n not in given and "Default" not in declared[n])
    if missing:
        raise ValidationError(f"Parameters: {missing} must have values")
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = given[name] if name in given else spec["Default"]
        out[name] = _typed(name, spec, raw)
    return out


def _typed(name: str, spec: Mapping[str, Any], raw: Any) -> Any:
    kind = str(spec.get("Type"))
    text = ",".join(str(v) for v in raw) if isinstance(raw, list) else str(raw)
    if kind.startswith("AWS::SSM::Parameter"):
        raise ValidationError(
            f"Parameter '{name}': SSM parameter types are not supported by lambdad"
        )
    if kind in ("CommaDelimitedList", "List<Number>") or kind.startswith("List<"):
        items = [] if text == "" else [item.strip() for item in text.split(",")]
        if kind == "List<Number>":
            for item in items:
                _number(name, item)
        for item in items:
            _allowed(name, spec, item)
        return items
    if kind == "Number":
        _number(name, text)
        for key, test in (("MinValue", float.__lt__), ("MaxValue", float.__gt__)):
            if key in spec and test(float(text), float(spec[key])):
                raise ValidationError(
                    f"Parameter '{name}' must be a number "
                    f"{'not less' if key == 'MinValue' else 'not greater'} than {spec[key]}"
                )
    _allowed(name, spec, text)
    if "MinLength" in spec and len(text) < int(spec["MinLength"]):
        raise ValidationError(
            f"Parameter '{name}' must contain at least {spec['MinLength']} characters"
        )
    if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
        raise ValidationError(
            f"Parameter '{name}' must contain at most {spec['MaxLength']} characters"
        )
    return text


def _number(name: str, text: str) -> None:
    try:
        float(text)
    except ValueError:
        raise ValidationError(f"Parameter '{name}' must be a number.") from None


def _allowed(name: str, spec: Mapping[str, Any], text: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and text not in [str(a) for a in allowed]:
        raise ValidationError(f"Parameter '{name}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), text) is None:
        raise ValidationError(
            spec.get("ConstraintDescription") or f"Parameter '{name}' must match pattern {pattern}"
        )
