"""A layer version's resource policy: ``AddLayerVersionPermission``,
``GetLayerVersionPolicy`` and ``RemoveLayerVersionPermission``.

The statements live in the layer version's own document (``Policy``, with its
``PolicyRevisionId`` for the ``RevisionId`` precondition); they decide whether another
account may use the version (``layer_refs.check_shared``). Only the layer's own account
changes or reads them.
"""

from __future__ import annotations

import uuid
from typing import Any

from lambdad.control import layer_refs
from lambdad.control.layer_refs import LayerRef
from lambdad.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model import policy
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

NO_POLICY = "No policy is associated with the given resource."
POLICY_PRECONDITION = (
    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy "
    "API to retrieve the latest Revision Id"
)


class LayerPermissions:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def _own_version(
        self, scope: Scope, layer_name: str, version: int, action: str
    ) -> tuple[LayerRef, Doc]:
        ref = layer_refs.own(scope, layer_name, action)
        if version < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        doc = layer_refs.version_doc(self.store, ref, version)
        if doc is None:
            raise ResourceNotFoundException(f"Layer version {ref.arn(version)} does not exist.")
        return ref, doc

    def add_permission(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        version = int(params["VersionNumber"])
        with self.store.transaction():
            ref, doc = self._own_version(
                scope, params["LayerName"], version, "AddLayerVersionPermission"
            )
            revision = params.get("RevisionId")
            if revision is not None and revision != doc.get("PolicyRevisionId"):
                raise PreconditionFailedException(POLICY_PRECONDITION)
            statements: list[dict[str, Any]] = list(doc.get("Policy", []))
            if any(s["Sid"] == params["StatementId"] for s in statements):
                raise ResourceConflictException(
                    f"The statement id ({params['StatementId']}) provided already exists. Please "
                    "provide a new statement id, or remove the existing statement."
                )
            statement = policy.layer_statement(params, ref.arn(version))
            statements.append(statement)
            policy.check_size(statements)
            doc["Policy"] = statements
            doc["PolicyRevisionId"] = str(uuid.uuid4())
            layer_refs.save_version(self.store, ref, version, doc)
        return {"Statement": policy.to_json(statement), "RevisionId": doc["PolicyRevisionId"]}

    def get_policy(self, scope: Scope, layer_name: str, version: int) -> dict[str, Any]:
        _, doc = self._own_version(scope, layer_name, version, "GetLayerVersionPolicy")
        if not doc.get("Policy"):
            raise ResourceNotFoundException(NO_POLICY)
        return {
            "Policy": policy.to_json(policy.document(doc["Policy"])),
            "RevisionId": doc["PolicyRevisionId"],
        }

    def remove_permission(
        self, scope: Scope, layer_name: str, version: int, sid: str, revision: str | None
    ) -> None:
        with self.store.transaction():
            ref, doc = self._own_version(scope, layer_name, version, "RemoveLayerVersionPermission")
            statements = list(doc.get("Policy", []))
            if not any(s["Sid"] == sid for s in statements):
                raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
            if revision is not None and revision != doc.get("PolicyRevisionId"):
                raise PreconditionFailedException(POLICY_PRECONDITION)
            doc["Policy"] = [s for s in statements if s["Sid"] != sid]
            doc["PolicyRevisionId"] = str(uuid.uuid4())
            layer_refs.save_version(self.store, ref, version, doc)
