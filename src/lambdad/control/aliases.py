"""Aliases: named pointers to a function version, optionally splitting traffic.

An alias points at one version (``FunctionVersion``, which may be ``$LATEST``) and
may route a share of invocations to one more published version
(``RoutingConfig.AdditionalVersionWeights``). Aliases are children of their
function in the store (kind ``alias``); every change gives the alias a new
``RevisionId``, and ``UpdateAlias`` honours a ``RevisionId`` precondition.
Updates and deletions are published on the ``ChangeHub`` (provisioned concurrency
follows its alias; policies of a deleted alias go with it).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from lambdad.control import paging
from lambdad.control.function_config import PRECONDITION_MESSAGE
from lambdad.control.functions import FunctionService
from lambdad.control.paging import LIST_PAGE_MAX
from lambdad.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdad.model.arn import LATEST, function_arn
from lambdad.model.changes import AliasListener, ChangeHub
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)

KIND = "alias"


class AliasService:
    def __init__(
        self, store: MetadataStore, functions: FunctionService, changes: ChangeHub | None = None
    ) -> None:
        self.store = store
        self.functions = functions
        self.changes = changes if changes is not None else functions.changes

    def on_change(self, listener: AliasListener) -> None:
        """Call ``listener(scope, name, alias)`` after an alias changes or is deleted."""
        self.changes.on_alias_change(listener)

    def _changed(self, scope: Scope, name: str, alias: str) -> None:
        self.changes.alias_changed(scope, name, alias)

    # -- look-ups ----------------------------------------------------------------------

    def _function(self, scope: Scope, function_name: str) -> str:
        # A qualified name or ARN names its function; the alias comes from ``Name``.
        return self.functions.function_ref(scope, function_name).name

    def _alias_arn(self, scope: Scope, name: str, alias: str) -> str:
        return function_arn(scope.region, scope.account, name, alias)

    def get_doc(self, scope: Scope, name: str, alias: str) -> Doc | None:
        return self.store.get_child(KIND, scope.account, scope.region, name, alias)

    def _existing(self, scope: Scope, name: str, alias: str) -> Doc:
        self.functions.function_doc(scope, name)
        doc = self.get_doc(scope, name, alias)
        if doc is None:
            raise ResourceNotFoundException(
                f"Cannot find alias arn: {self._alias_arn(scope, name, alias)}"
            )
        return doc

    def render(self, scope: Scope, name: str, alias: str, doc: Doc) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AliasArn": self._alias_arn(scope, name, alias),
            "Name": alias,
            "FunctionVersion": doc["FunctionVersion"],
            "Description": doc.get("Description", ""),
            "RevisionId": doc["RevisionId"],
        }
        weights = (doc.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
        if weights:
            out["RoutingConfig"] = {"AdditionalVersionWeights": dict(weights)}
        return out

    # -- checks ----------------------------------------------------------------------------

    def _check_target(
        self, scope: Scope, name: str, version: str, routing: dict[str, Any] | None
    ) -> dict[str, float]:
        """Validate a target version and routing configuration; the weights to keep."""
        weights: dict[str, Any] = dict((routing or {}).get("AdditionalVersionWeights") or {})
        if len(weights) > 1:
            raise InvalidParameterValueException(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        bad = {k: v for k, v in weights.items() if not 0.0 <= float(v) <= 1.0}
        if bad:
            shown = ", ".join(f"{k}={float(v)}" for k, v in weights.items())
            raise ValidationException.for_violations(
                [
                    f"Value '{{{shown}}}' at 'routingConfig.additionalVersionWeights' failed "
                    "to satisfy constraint: Map value must satisfy constraint: [Member must "
                    "have value less than or equal to 1.0, Member must have value greater "
                    "than or equal to 0.0, Member must not be null]"
                ]
            )
        if version in weights:
            raise InvalidParameterValueException(
                f"Invalid function version {version}. Function version {version} is already "
                "included in routing configuration."
            )
        for v in (version, *weights):
            if self.store.get_version(scope.account, scope.region, name, v) is None:
                raise ResourceNotFoundException(
                    f"Function not found: {function_arn(scope.region, scope.account, name, v)}"
                )
        if weights and version == LATEST:
            raise InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            ).without_type()
        return {str(k): float(v) for k, v in weights.items()}

    @staticmethod
    def _set_routing(doc: Doc, weights: dict[str, float]) -> None:
        if weights:
            doc["RoutingConfig"] = {"AdditionalVersionWeights": weights}
        else:
            doc.pop("RoutingConfig", None)

    # -- operations ------------------------------------------------------------------------

    def create(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name = self._function(scope, params["FunctionName"])
        alias = params["Name"]
        version = params["FunctionVersion"]
        weights = self._check_target(scope, name, version, params.get("RoutingConfig"))
        doc: Doc = {
            "FunctionVersion": version,
            "Description": params.get("Description", ""),
            "RevisionId": str(uuid.uuid4()),
        }
        self._set_routing(doc, weights)
        with self.store.transaction():
            if self.get_doc(scope, name, alias) is not None:
                raise ResourceConflictException(
                    f"Alias already exists: {self._alias_arn(scope, name, alias)}"
                )
            self.store.put_child(KIND, scope.account, scope.region, name, alias, doc)
        log.info("created alias %s of %s -> %s", alias, name, version)
        return self.render(scope, name, alias, doc)

    def get(self, scope: Scope, function_name: str, alias: str) -> dict[str, Any]:
        name = self._function(scope, function_name)
        return self.render(scope, name, alias, self._existing(scope, name, alias))

    def update(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name = self._function(scope, params["FunctionName"])
        alias = params["Name"]
        self.functions.function_doc(scope, name)
        with self.store.transaction():
            doc = self.get_doc(scope, name, alias)
            if doc is None:
                raise ResourceNotFoundException(
                    f"Alias not found: {self._alias_arn(scope, name, alias)}"
                )
            revision = params.get("RevisionId")
            if revision is not None and revision != doc["RevisionId"]:
                raise PreconditionFailedException(PRECONDITION_MESSAGE)
            version = str(params.get("FunctionVersion") or doc["FunctionVersion"])
            routing = params.get("RoutingConfig", doc.get("RoutingConfig"))
            weights = self._check_target(scope, name, version, routing)
            doc["FunctionVersion"] = version
            if "Description" in params:
                doc["Description"] = params["Description"]
            self._set_routing(doc, weights)
            doc["RevisionId"] = str(uuid.uuid4())
            self.store.put_child(KIND, scope.account, scope.region, name, alias, doc)
        self._changed(scope, name, alias)
        return self.render(scope, name, alias, doc)

    def delete(self, scope: Scope, function_name: str, alias: str) -> None:
        name = self._function(scope, function_name)
        self.functions.function_doc(scope, name)
        # AWS answers 204 whether or not the alias existed.
        if self.get_doc(scope, name, alias) is None:
            return
        self.store.delete_child(KIND, scope.account, scope.region, name, alias)
        log.info("deleted alias %s of %s", alias, name)
        self._changed(scope, name, alias)

    def list_aliases(
        self,
        scope: Scope,
        function_name: str,
        function_version: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> dict[str, Any]:
        name = self._function(scope, function_name)
        self.functions.function_doc(scope, name)
        after = paging.decode_marker(marker)
        rows = [
            (alias, doc)
            for alias, doc in self.store.list_children(KIND, scope.account, scope.region, name)
            if (after is None or alias > after)
            and (function_version is None or doc["FunctionVersion"] == function_version)
        ]
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        page = rows[:limit]
        result: dict[str, Any] = {
            "Aliases": [self.render(scope, name, alias, doc) for alias, doc in page]
        }
        if len(rows) > limit:
            result["NextMarker"] = paging.encode_marker(page[-1][0])
        return result

    def aliases_of(self, scope: Scope, name: str) -> list[tuple[str, Doc]]:
        return self.store.list_children(KIND, scope.account, scope.region, name)
