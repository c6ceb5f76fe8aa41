"""Provisioned concurrency configuration: ``Put``/``Get``/``Delete``/``List``
``ProvisionedConcurrencyConfig(s)`` on a published version or an alias.

Configurations are children of the function (kind ``provisioned``, keyed by
qualifier). A request is checked against the account as AWS checks it: provisioned
concurrency is carved out of the function's reservation and must fit in it, or, for a
function without one, out of the unreserved pool, of which at least
``min_unreserved_concurrency`` must stay. A version gets provisioned concurrency
directly or through aliases, not both, and never one of SnapStart. A configuration
follows its alias to the version it points at, and goes with its version or alias.

The state of provisioned environments (allocated, READY or FAILED) is reported by the
environments layer through ``ProvisionedState`` (model/provisioned.py), asked of the
``status`` given to the constructor. Configurations changed are published on the
``ChangeHub`` for the environments layer to follow.
"""

from __future__ import annotations

import logging
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control import paging
from lambdad.control.aliases import AliasService
from lambdad.control.concurrency_limits import PROVISIONED_KIND as KIND
from lambdad.control.concurrency_limits import ConcurrencyLimits
from lambdad.control.functions import FunctionService
from lambdad.control.paging import LIST_PAGE_MAX
from lambdad.errors import (
    InvalidParameterValueException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model import function as fmodel
from lambdad.model import snapstart
from lambdad.model.arn import LATEST, function_arn, merge_qualifier
from lambdad.model.changes import ChangeHub, ProvisionedListener
from lambdad.model.provisioned import ProvisionedState, ProvisionedStatus
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)

UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_ALIAS_OR_VERSION = "The function resource provided must be an alias or a published version."


class ProvisionedConfigs:
    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        clock: Clock,
        limits: ConcurrencyLimits,
        changes: ChangeHub,
        status: ProvisionedStatus | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.functions = functions
        self.aliases = aliases
        self.clock = clock
        self.limits = limits
        self.changes = changes
        # Who knows the state of provisioned environments (None: nothing runs them).
        self.status = status
        changes.on_function_change(self._function_changed)
        changes.on_alias_change(self._alias_changed)

    def on_change(self, listener: ProvisionedListener) -> None:
        self.changes.on_provisioned_change(listener)

    def _changed(self, scope: Scope, name: str, qualifier: str, n: int | None) -> None:
        self.changes.provisioned_changed(scope, name, qualifier, n)

    def targets(self) -> list[tuple[Scope, str, str, int]]:
        """Every provisioned concurrency configuration, to restore after a restart."""
        out = []
        for account, region, name, _ in self.store.iter_all_functions():
            for qualifier, doc in self.store.list_children(KIND, account, region, name):
                out.append((Scope(account, region), name, qualifier, int(doc["Requested"])))
        return out

    def _target(self, scope: Scope, function_name: str, qualifier: str) -> tuple[str, str]:
        """(function, qualifier) of an existing published version or alias."""
        ref = self.functions.function_ref(scope, function_name)
        qualifier = merge_qualifier(ref, qualifier) or qualifier
        name = ref.name
        if qualifier.isdigit():
            if self.store.get_version(scope.account, scope.region, name, qualifier) is None:
                raise self.functions.not_found(scope, name, qualifier)
        elif qualifier != LATEST and self.aliases.get_doc(scope, name, qualifier) is None:
            arn = function_arn(scope.region, scope.account, name, qualifier)
            raise ResourceNotFoundException(f"Cannot find alias arn: {arn}")
        return name, qualifier

    def _versions_of(self, scope: Scope, name: str, qualifier: str) -> list[str]:
        """The versions a qualifier runs: itself, or an alias's (both, when it routes)."""
        if qualifier.isdigit():
            return [qualifier]
        alias = self.aliases.get_doc(scope, name, qualifier) or {}
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return [str(alias.get("FunctionVersion", "")), *weights]

    def _render(self, scope: Scope, name: str, qualifier: str, doc: Doc) -> dict[str, Any]:
        state = (
            self.status.state(scope, name, qualifier)
            if self.status is not None
            else ProvisionedState()
        )
        out: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": doc["Requested"],
            "AvailableProvisionedConcurrentExecutions": state.allocated,
            "AllocatedProvisionedConcurrentExecutions": state.allocated,
            "Status": state.status,
            "LastModified": doc["LastModified"],
        }
        if state.reason:
            out["StatusReason"] = state.reason
        return out

    def put(
        self, scope: Scope, function_name: str, qualifier: str, requested: int
    ) -> dict[str, Any]:
        if qualifier == LATEST:
            raise InvalidParameterValueException(UNPUBLISHED)
        name, qualifier = self._target(scope, function_name, qualifier)
        if qualifier == LATEST:
            raise InvalidParameterValueException(UNPUBLISHED)
        with self.store.transaction():
            for version in self._versions_of(scope, name, qualifier):
                vdoc = self.store.get_version(scope.account, scope.region, name, version)
                snapstart.check_provisioned(vdoc or {})
            self._check_overlap(scope, name, qualifier)
            region = self.limits.region(scope)
            current = region.provisioned.get(name, {})
            others = sum(n for q, n in current.items() if q != qualifier)
            reserved = region.reserved.get(name)
            if reserved is not None:
                if others + requested > reserved:
                    raise InvalidParameterValueException(
                        "Requested Provisioned Concurrency should not be greater than the "
                        "reservedConcurrentExecution for function"
                    )
            else:
                pool = region.unreserved_pool(self.settings.account_concurrency)
                if requested > pool + current.get(qualifier, 0):
                    raise InvalidParameterValueException(
                        "Specified ConcurrentExecutions for function is greater than account's "
                        f"unreserved concurrency [{pool}]."
                    ).without_type()
                left = pool + current.get(qualifier, 0) - requested
                minimum = self.settings.min_unreserved_concurrency
                if left < minimum:
                    raise InvalidParameterValueException(
                        "Specified ConcurrentExecutions for function decreases account's "
                        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
                    ).without_type()
            doc: Doc = {
                "Requested": requested,
                "LastModified": fmodel.now_iso(self.clock.now()),
            }
            self.store.put_child(KIND, scope.account, scope.region, name, qualifier, doc)
        self.limits.invalidate(scope)
        self._changed(scope, name, qualifier, requested)
        log.info("provisioned concurrency of %s:%s set to %d", name, qualifier, requested)
        out = self._render(scope, name, qualifier, doc)
        out.update(
            AvailableProvisionedConcurrentExecutions=0,
            AllocatedProvisionedConcurrentExecutions=0,
            Status="IN_PROGRESS",
        )
        out.pop("StatusReason", None)
        return out

    def _check_overlap(self, scope: Scope, name: str, qualifier: str) -> None:
        """A version gets provisioned concurrency directly or through aliases, not both."""
        configs = dict(self.store.list_children(KIND, scope.account, scope.region, name))
        if qualifier.isdigit():
            for alias, doc in self.aliases.aliases_of(scope, name):
                if alias in configs and doc["FunctionVersion"] == qualifier:
                    raise ResourceConflictException(
                        "Version is pointed by a Provisioned Concurrency alias"
                    )
            return
        alias_doc = self.aliases.get_doc(scope, name, qualifier)
        assert alias_doc is not None
        version = alias_doc["FunctionVersion"]
        if version == LATEST:
            raise InvalidParameterValueException(UNPUBLISHED)
        if version in configs:
            raise ResourceConflictException(
                "Alias can't be used for Provisioned Concurrency configuration on an already "
                "Provisioned version"
            )

    def get(self, scope: Scope, function_name: str, qualifier: str) -> dict[str, Any]:
        if qualifier == LATEST:
            raise InvalidParameterValueException(NOT_ALIAS_OR_VERSION)
        name, qualifier = self._target(scope, function_name, qualifier)
        doc = self.store.get_child(KIND, scope.account, scope.region, name, qualifier)
        if doc is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        return self._render(scope, name, qualifier, doc)

    def delete(self, scope: Scope, function_name: str, qualifier: str) -> None:
        if qualifier == LATEST:
            raise InvalidParameterValueException(NOT_ALIAS_OR_VERSION)
        name, qualifier = self._target(scope, function_name, qualifier)
        self._delete(scope, name, qualifier)

    def _delete(self, scope: Scope, name: str, qualifier: str) -> None:
        if self.store.get_child(KIND, scope.account, scope.region, name, qualifier) is None:
            return
        self.store.delete_child(KIND, scope.account, scope.region, name, qualifier)
        self.limits.invalidate(scope)
        self._changed(scope, name, qualifier, None)
        log.info("provisioned concurrency of %s:%s removed", name, qualifier)

    def list_configs(
        self, scope: Scope, function_name: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        name = self.functions.function_ref(scope, function_name).name
        self.functions.function_doc(scope, name)
        after = paging.decode_marker(marker)
        rows = [
            (q, d)
            for q, d in self.store.list_children(KIND, scope.account, scope.region, name)
            if after is None or q > after
        ]
        limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
        page = rows[:limit]
        configs = []
        for qualifier, doc in page:
            item = self._render(scope, name, qualifier, doc)
            configs.append(
                {"FunctionArn": function_arn(scope.region, scope.account, name, qualifier), **item}
            )
        result: dict[str, Any] = {"ProvisionedConcurrencyConfigs": configs}
        if len(rows) > limit:
            result["NextMarker"] = paging.encode_marker(page[-1][0])
        return result

    # -- following the function's life ---------------------------------------------------

    def _function_changed(self, scope: Scope, name: str, version: str | None) -> None:
        if version is None:
            # The function is gone (and its children with it).
            self.limits.invalidate(scope)
            return
        if version != LATEST and (
            self.store.get_version(scope.account, scope.region, name, version) is None
        ):
            self._delete(scope, name, version)

    def _alias_changed(self, scope: Scope, name: str, alias: str) -> None:
        if self.store.get_child(KIND, scope.account, scope.region, name, alias) is None:
            return
        if self.aliases.get_doc(scope, name, alias) is None:
            self._delete(scope, name, alias)
        else:
            # Provisioned concurrency follows its alias to the version it now points at.
            doc = self.store.get_child(KIND, scope.account, scope.region, name, alias)
            assert doc is not None
            self._changed(scope, name, alias, int(doc["Requested"]))
