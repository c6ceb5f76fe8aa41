"""A CloudFormation template read into frozen values, with the checks AWS makes first.

Reading is pure: a ``dict`` (from JSON or YAML) in, a ``Template`` out, or a
``ValidationError`` that says what is wrong, in AWS's words where practical.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdad.deploy.errors import ValidationError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings",
        "Conditions", "Transform", "Resources", "Outputs", "Rules", "Globals",
    }
)  # fmt: skip
_RESOURCE_KEYS = frozenset(
    {
        "Type", "Properties", "DependsOn", "Condition", "DeletionPolicy",
        "UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Resource:
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()
    condition: str | None = None
    deletion_policy: str = "Delete"


@dataclass(frozen=True, slots=True)
class Output:
    key: str
    value: Any
    description: str | None = None
    export_name: Any = None
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class Template:
    resources: Mapping[str, Resource]
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Output] = field(default_factory=dict)
    description: str | None = None


def parse_body(body: str) -> dict[str, Any]:
    """A template body, JSON or YAML (with CloudFormation's short-form tags)."""
    text = body.strip()
    try:
        doc = json.loads(text) if text.startswith("{") else _yaml(text)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"Template format error: {exc}") from None
    if not isinstance(doc, dict):
        raise ValidationError("Template format error: not a JSON or YAML object")
    return doc


def is_sam(doc: Mapping[str, Any]) -> bool:
    transform = doc.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return SAM_TRANSFORM in names


def read(doc: Mapping[str, Any]) -> Template:
    unknown = sorted(set(doc) - _SECTIONS)
    if unknown:
        raise ValidationError(
            f"Template format error: Invalid template property or properties {unknown}"
        )
    raw = doc.get("Resources")
    if not isinstance(raw, dict) or not raw:
        raise ValidationError(
            "Template format error: At least one Resources member must be defined."
        )
    resources = {lid: _resource(lid, body) for lid, body in raw.items()}
    params = _mapping(doc, "Parameters")
    for name, spec in params.items():
        if not isinstance(spec, dict) or "Type" not in spec:
            raise ValidationError(
                "Template format error: Every Parameters object must contain a Type member. "
                f"({name})"
            )
    conditions = _mapping(doc, "Conditions")
    outputs = {key: _output(key, body) for key, body in _mapping(doc, "Outputs").items()}
    for lid, res in resources.items():
        for dep in res.depends_on:
            if dep not in resources:
                raise ValidationError(
                    f"Template format error: Unresolved resource dependencies [{dep}] in the "
                    f"Resources block of the template ({lid})"
                )
        if res.condition is not None and res.condition not in conditions:
            raise ValidationError(
                f"Template format error: Unresolved condition dependency {res.condition} in "
                f"Fn::If or Condition of {lid}"
            )
    description = doc.get("Description")
    return Template(
        resources=resources,
        parameters=params,
        conditions=conditions,
        mappings=_mapping(doc, "Mappings"),
        outputs=outputs,
        description=description if isinstance(description, str) else None,
    )


def _mapping(doc: Mapping[str, Any], section: str) -> dict[str, Any]:
    value = doc.get(section) or {}
    if not isinstance(value, dict):
        raise ValidationError(f"Template format error: {section} must be an object")
    return value


def _resource(logical_id: str, body: Any) -> Resource:
    if not logical_id.isalnum():
        raise ValidationError(
            f"Template format error: Resource name {logical_id} is non alphanumeric."
        )
    if not isinstance(body, dict) or not isinstance(body.get("Type"), str):
        raise ValidationError(
            f"Template format error: [/Resources/{logical_id}] Every Resources object must "
            "contain a Type member."
        )
    unknown = sorted(set(body) - _RESOURCE_KEYS)
    if unknown:
        raise ValidationError(f"Invalid template resource property '{unknown[0]}' ({logical_id})")
    depends = body.get("DependsOn") or []
    depends = [depends] if isinstance(depends, str) else depends
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise ValidationError(f"Template format error: DependsOn of {logical_id} must be names")
    props = body.get("Properties") or {}
    if not isinstance(props, dict):
        raise ValidationError(
            f"Template format error: Properties of {logical_id} must be an object"
        )
    if body["Type"] == "AWS::Lambda::Alias" and isinstance(body.get("UpdatePolicy"), dict):
        # An alias's CodeDeploy UpdatePolicy (SAM's DeploymentPreference) is applied by
        # its handler (traffic_shift.py): handed over, resolved, with its properties,
        # which also makes the deployment group and hooks it names come first.
        props = {**props, "UpdatePolicy": body["UpdatePolicy"]}
    return Resource(
        logical_id=logical_id,
        type=body["Type"],
        properties=props,
        depends_on=tuple(depends),
        condition=body.get("Condition"),
        deletion_policy=str(body.get("DeletionPolicy") or "Delete"),
    )


def _output(key: str, body: Any) -> Output:
    if not isinstance(body, dict) or "Value" not in body:
        raise ValidationError(
            f"Template format error: Every Outputs member must contain a Value object ({key})"
        )
    export = body.get("Export")
    return Output(
        key=key,
        value=body["Value"],
        description=body.get("Description"),
        export_name=export.get("Name") if isinstance(export, dict) else None,
        condition=body.get("Condition"),
    )


def _yaml(text: str) -> Any:
    from lambdad.model.cfn_yaml import load

    return load(text)
