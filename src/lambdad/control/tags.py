"""A function's tags: TagResource, UntagResource and ListTags over the function's stored
document (at most 50, on the unqualified function's ARN only, as on AWS). A tag change
is published as a change of the whole function: tags choose how its environments are
built (``lambdad:network``).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from lambdad.errors import InvalidParameterValueException
from lambdad.model.arn import LATEST, FunctionRef
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

MAX_TAGS = 50  # per function, as on AWS


class TaggedFunctions(Protocol):
    """What tagging needs of ``FunctionService`` (its public look-ups)."""

    store: MetadataStore

    def function_ref(
        self, scope: Scope, function_name: str, field: str = "functionName"
    ) -> FunctionRef: ...

    def function_doc(self, scope: Scope, name: str) -> Doc: ...

    def changed(self, scope: Scope, name: str, version: str | None) -> None: ...


class FunctionTags:
    def __init__(self, functions: TaggedFunctions) -> None:
        self.functions = functions

    def _target(self, scope: Scope, resource: str) -> tuple[str, Doc]:
        if not resource.startswith("arn:"):
            raise InvalidParameterValueException(f"Invalid ARN: {resource}")
        ref = self.functions.function_ref(scope, resource, field="resource")
        if ref.qualifier is not None:
            raise InvalidParameterValueException(
                "Tags on function aliases and versions are not supported. Please specify a "
                "function ARN."
            )
        return ref.name, self.functions.function_doc(scope, ref.name)

    def tag(self, scope: Scope, resource: str, tags: dict[str, str]) -> None:
        if not tags:
            # AWS's words for an empty Tags map.
            raise InvalidParameterValueException(
                "An error occurred and the request cannot be processed."
            )
        name, fdoc = self._target(scope, resource)
        fdoc.setdefault("Tags", {}).update(tags)
        if len(fdoc["Tags"]) > MAX_TAGS:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        self._save(scope, name, fdoc)

    def untag(self, scope: Scope, resource: str, keys: list[str]) -> None:
        name, fdoc = self._target(scope, resource)
        for key in keys:
            fdoc.get("Tags", {}).pop(key, None)
        self._save(scope, name, fdoc)

    def _save(self, scope: Scope, name: str, fdoc: Doc) -> None:
        store = self.functions.store
        with store.transaction():
            store.put_function(scope.account, scope.region, name, fdoc)
            # A tag change is a change of the function: $LATEST gets a new revision.
            latest = store.get_version(scope.account, scope.region, name, LATEST)
            if latest is not None:
                latest["RevisionId"] = str(uuid.uuid4())
                store.put_version(scope.account, scope.region, name, LATEST, latest)
        # Tags can change how environments are built (lambdad:network).
        self.functions.changed(scope, name, None)

    def list(self, scope: Scope, resource: str) -> dict[str, Any]:
        _, fdoc = self._target(scope, resource)
        return {"Tags": dict(fdoc.get("Tags", {}))}
