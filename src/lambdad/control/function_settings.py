"""Two small per-function settings: recursive loop detection and runtime management.

- ``Put/GetFunctionRecursionConfig``: ``RecursiveLoop`` ``Terminate`` (AWS's default:
  a chain of invocations through queues or topics that loops back to the function is
  stopped after 16 turns, by the event source mappings that carry the lineage) or
  ``Allow``. Kind ``recursion-config``, key "" under the function.
- ``Put/GetRuntimeManagementConfig`` per version (``$LATEST`` or a number):
  ``UpdateRuntimeOn`` ``Auto`` (the default), ``FunctionUpdate`` or ``Manual`` with the
  ``RuntimeVersionArn`` to stay on. A host has one interpreter per runtime, so a
  Manual pin can name only the runtime version lambdad runs
  (``model.function.runtime_version_arn``). Kind ``runtime-management``, key the
  version.

Deleting the function drops both (children of its name).
"""

from __future__ import annotations

from typing import Any

from lambdad.control.functions import FunctionService
from lambdad.errors import InvalidParameterValueException
from lambdad.model import function as fmodel
from lambdad.model.arn import LATEST, function_arn, merge_qualifier
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

RECURSION_KIND = "recursion-config"
RUNTIME_KIND = "runtime-management"
DEFAULT_RECURSIVE_LOOP = "Terminate"


class FunctionSettings:
    def __init__(self, store: MetadataStore, functions: FunctionService) -> None:
        self.store = store
        self.functions = functions

    # -- recursion -----------------------------------------------------------------------

    def _function(self, scope: Scope, function_name: str) -> str:
        ref = self.functions.function_ref(scope, function_name)
        self.functions.function_doc(scope, ref.name)  # ResourceNotFoundException
        return ref.name

    def put_recursion(self, scope: Scope, function_name: str, loop: str) -> dict[str, Any]:
        name = self._function(scope, function_name)
        doc = {"RecursiveLoop": loop}
        self.store.put_child(RECURSION_KIND, scope.account, scope.region, name, "", doc)
        return dict(doc)

    def get_recursion(self, scope: Scope, function_name: str) -> dict[str, Any]:
        name = self._function(scope, function_name)
        return {"RecursiveLoop": self.recursive_loop(scope, name)}

    def recursive_loop(self, scope: Scope, name: str) -> str:
        """``Allow`` or ``Terminate`` for the function (for loop detection)."""
        doc = self.store.get_child(RECURSION_KIND, scope.account, scope.region, name, "")
        return DEFAULT_RECURSIVE_LOOP if doc is None else str(doc["RecursiveLoop"])

    # -- runtime management --------------------------------------------------------------

    def _version(self, scope: Scope, params: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        ref = self.functions.function_ref(scope, params["FunctionName"])
        qualifier = merge_qualifier(ref, params.get("Qualifier")) or LATEST
        if qualifier != LATEST and not qualifier.isdigit():
            raise InvalidParameterValueException(
                "The runtime management configuration applies to $LATEST or a published "
                "version, not to an alias."
            )
        self.functions.function_doc(scope, ref.name, qualifier)
        _, doc = self.functions.resolver.version_doc(scope, ref.name, qualifier)
        return ref.name, qualifier, doc

    def put_runtime(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, version, doc = self._version(scope, params)
        mode = params["UpdateRuntimeOn"]
        pinned = params.get("RuntimeVersionArn")
        if mode == "Manual":
            if not pinned:
                raise InvalidParameterValueException(
                    "RuntimeVersionArn must be provided when UpdateRuntimeOn is Manual."
                )
            current = fmodel.runtime_version_arn(scope.region, doc.get("Runtime", ""))
            if pinned != current:
                raise InvalidParameterValueException(
                    f"The runtime version {pinned} is not available for runtime "
                    f"{doc.get('Runtime')}; this host runs {current}."
                )
        elif pinned:
            raise InvalidParameterValueException(
                "RuntimeVersionArn can be provided only when UpdateRuntimeOn is Manual."
            )
        stored: dict[str, Any] = {"UpdateRuntimeOn": mode}
        if mode == "Manual":
            stored["RuntimeVersionArn"] = pinned
        self.store.put_child(RUNTIME_KIND, scope.account, scope.region, name, version, stored)
        return self._render(scope, name, version, stored)

    def get_runtime(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, version, _ = self._version(scope, params)
        stored = self.store.get_child(RUNTIME_KIND, scope.account, scope.region, name, version)
        return self._render(scope, name, version, stored or {"UpdateRuntimeOn": "Auto"})

    @staticmethod
    def _render(scope: Scope, name: str, version: str, stored: dict[str, Any]) -> dict[str, Any]:
        qualifier = None if version == LATEST else version
        out = {
            "UpdateRuntimeOn": stored["UpdateRuntimeOn"],
            "FunctionArn": function_arn(scope.region, scope.account, name, qualifier),
        }
        if "RuntimeVersionArn" in stored:
            out["RuntimeVersionArn"] = stored["RuntimeVersionArn"]
        return out
