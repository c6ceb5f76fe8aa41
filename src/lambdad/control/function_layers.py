"""A function's ``Layers`` parameter, checked: at most five layer versions, in the
function's region, one version per layer, each existing and, if another account's,
shared with the caller. The answer is what the function needs to run them, in order
(``uploads.set_layers`` records it in the version document).
"""

from __future__ import annotations

import re
from typing import Any

from lambdad.control import layer_refs
from lambdad.control.layer_refs import LAYER_ARN, LayerRef
from lambdad.errors import InvalidParameterValueException
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

MAX_LAYERS = 5


def resolve(store: MetadataStore, scope: Scope, arns: list[str]) -> list[dict[str, Any]]:
    """Check a function's ``Layers`` and describe each: Arn, CodeSize, Sha256Hex,
    UnzippedSize, in the given order."""
    if len(arns) > MAX_LAYERS:
        raise InvalidParameterValueException(f"Cannot reference more than {MAX_LAYERS} layers.")
    parsed: list[tuple[str, re.Match[str] | None]] = [
        (arn, LAYER_ARN.fullmatch(arn)) for arn in arns
    ]
    for _, m in parsed:
        if m is not None and m["region"] != scope.region:
            raise InvalidParameterValueException(
                "Layers are not in the same region as the function. Layers are expected to "
                f"be in region {scope.region}."
            )
    seen: dict[tuple[str, str], str] = {}
    for arn, m in parsed:
        if m is None:
            continue
        key = (m["account"], m["name"])
        if key in seen:
            raise InvalidParameterValueException(
                "Two different versions of the same layer are not allowed to be referenced "
                f"in the same function. {seen[key]} and {arn} are versions of the same layer."
            )
        seen[key] = arn
    out: list[dict[str, Any]] = []
    for arn, m in parsed:
        doc = None
        if m is not None and m["version"] is not None:
            ref = LayerRef(m["account"], m["region"], m["name"])
            version = int(m["version"])
            doc = layer_refs.version_doc(store, ref, version)
            if ref.account != scope.account:
                layer_refs.check_shared(scope, ref, version, doc)
        if doc is None:
            raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
        out.append(
            {
                "Arn": arn,
                "CodeSize": doc["CodeSize"],
                "Sha256Hex": doc["Sha256Hex"],
                "UnzippedSize": doc["UnzippedSize"],
            }
        )
    return out
