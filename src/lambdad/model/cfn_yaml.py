"""YAML templates with CloudFormation's short-form tags (``!Ref``, ``!Sub``, ``!GetAtt``...)
read into the long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``)."""

from __future__ import annotations

from typing import Any

import yaml

_FN = (
    "Base64", "Cidr", "FindInMap", "GetAZs", "If", "ImportValue", "Join", "Select",
    "Split", "Sub", "Transform", "And", "Equals", "Not", "Or", "ToJsonString", "Length",
)  # fmt: skip


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    pass


def _construct(tag: str) -> Any:
    def build(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        if tag in ("Ref", "Condition"):
            return {tag: value}
        return {f"Fn::{tag}": value}

    return build


for _name in (*_FN, "GetAtt"):
    _Loader.add_constructor(f"!{_name}", _construct(_name))
_Loader.add_constructor("!Ref", _construct("Ref"))
_Loader.add_constructor("!Condition", _construct("Condition"))
# Timestamps stay strings (``2010-09-09`` is a version, not a date).
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str) -> Any:
    """The document (ValueError: not YAML, or it uses anchors and aliases, which a small
    text can make expand without bound)."""
    try:
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=_Loader)):
            raise ValueError("YAML aliases are not supported in templates")
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
