"""Concurrency configuration: reserved concurrency per function, provisioned concurrency
per version or alias, and the limits the lease component enforces.

Reserved concurrency lives in the function's document (``ReservedConcurrency``);
provisioned concurrency configurations are children of the function (kind
``provisioned``, keyed by qualifier). Both are checked against the account
limit as AWS checks them: at least ``min_unreserved_concurrency`` must stay
unreserved, provisioned concurrency is carved out of a reservation and must fit
in it.

``limits`` answers the lease component from an in-memory view, rebuilt for an
(account, region) only after its configuration changed, so an invocation never
reads the database for it; ``reservations`` answers the async dispatcher the same way,
over every (account, region). The state of provisioned environments (allocated,
READY or FAILED) is reported by the environments layer through ``ProvisionedState``
(model/provisioned.py), asked of the ``status`` given to the constructor. Changes are
heard from, and published on, the ``ChangeHub``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control import paging
from lambdad.control.aliases import AliasService
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

KIND = "provisioned"
QUALIFIED_NOT_ALLOWED = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support "
    "this operation. Please specify either a function name or an unqualified function ARN."
)
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_ALIAS_OR_VERSION = "The function resource provided must be an alias or a published version."


_NONE: dict[str, int] = {}


@dataclass(slots=True)
class _World:
    """The concurrency configuration of one (account, region)."""

    reserved: dict[str, int] = field(default_factory=dict)
    provisioned: dict[str, dict[str, int]] = field(default_factory=dict)
    # A world is replaced, never changed, once built: its totals are summed once (every
    # invoke's lease asks for them).
    _totals: tuple[int, int] | None = None

    def totals(self) -> tuple[int, int]:
        """(all reservations, provisioned concurrency of functions without one)."""
        if self._totals is None:
            unreserved_provisioned = sum(
                sum(p.values()) for name, p in self.provisioned.items() if name not in self.reserved
            )
            self._totals = (sum(self.reserved.values()), unreserved_provisioned)
        return self._totals

    def unreserved_pool(self, limit: int) -> int:
        reserved, provisioned = self.totals()
        return max(0, limit - reserved - provisioned)


class ConcurrencyService:
    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        clock: Clock,
        *,
        status: ProvisionedStatus | None = None,
        changes: ChangeHub | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.functions = functions
        self.aliases = aliases
        self.clock = clock
        # Who knows the state of provisioned environments (None: nothing runs them).
        self.status = status
        self.changes = changes if changes is not None else functions.changes
        self._worlds: dict[tuple[str, str], _World] = {}
        # Every reservation, by (account, region, name): None until asked after a change.
        self._reservations: Mapping[tuple[str, str, str], int] | None = None
        # Bumped by every change, so a view built while one happened is not kept.
        self._generation = 0
        self._lock = threading.Lock()
        self.changes.on_function_change(self._function_changed)
        self.changes.on_alias_change(self._alias_changed)

    def on_provisioned_change(self, listener: ProvisionedListener) -> None:
        self.changes.on_provisioned_change(listener)

    def _provisioned_changed(self, scope: Scope, name: str, qualifier: str, n: int | None) -> None:
        self.changes.provisioned_changed(scope, name, qualifier, n)

    # -- the cached view ----------------------------------------------------------------

    def _world(self, scope: Scope) -> _World:
        key = (scope.account, scope.region)
        with self._lock:
            world = self._worlds.get(key)
        if world is not None:
            return world
        world = _World()
        for account, region, name, fdoc in self.store.iter_all_functions():
            if (account, region) != key:
                continue
            if fdoc.get("ReservedConcurrency") is not None:
                world.reserved[name] = int(fdoc["ReservedConcurrency"])
            configs = self.store.list_children(KIND, account, region, name)
            if configs:
                world.provisioned[name] = {q: int(d["Requested"]) for q, d in configs}
        with self._lock:
            self._worlds[key] = world
        return world

    def _invalidate(self, scope: Scope) -> None:
        with self._lock:
            self._worlds.pop((scope.account, scope.region), None)
            self._reservations = None
            self._generation += 1

    def reservations(self) -> Mapping[tuple[str, str, str], int]:
        """Every function's reserved concurrency, by (account, region, name): what the
        async dispatcher claims each function's events up to."""
        with self._lock:
            cached, generation = self._reservations, self._generation
        if cached is not None:
            return cached
        built = {
            (account, region, name): int(fdoc["ReservedConcurrency"])
            for account, region, name, fdoc in self.store.iter_all_functions()
            if fdoc.get("ReservedConcurrency") is not None
        }
        with self._lock:
            if self._generation == generation:
                self._reservations = built
        return built

    def function_concurrency(
        self, account: str, region: str, name: str
    ) -> tuple[int | None, dict[str, int]]:
        """(reserved concurrency or None, qualifier -> provisioned concurrency)."""
        world = self._world(Scope(account, region))
        provisioned = world.provisioned.get(name)
        # The world is never changed once built: its dicts can be handed out as they are.
        return world.reserved.get(name), provisioned if provisioned is not None else _NONE

    def account_concurrency(self, account: str, region: str) -> tuple[int, int, int]:
        """(account limit, all reservations, provisioned concurrency of functions without)."""
        reserved, provisioned = self._world(Scope(account, region)).totals()
        return self.settings.account_concurrency, reserved, provisioned

    def unreserved(self, scope: Scope) -> int:
        """GetAccountSettings' UnreservedConcurrentExecutions."""
        return self._world(scope).unreserved_pool(self.settings.account_concurrency)

    def provisioned_targets(self) -> list[tuple[Scope, str, str, int]]:
        """Every provisioned concurrency configuration, to restore after a restart."""
        out = []
        for account, region, name, _ in self.store.iter_all_functions():
            for qualifier, doc in self.store.list_children(KIND, account, region, name):
                out.append((Scope(account, region), name, qualifier, int(doc["Requested"])))
        return out

    # -- reserved concurrency -------------------------------------------------------------

    def _unqualified(self, scope: Scope, function_name: str) -> str:
        ref = self.functions.function_ref(scope, function_name)
        if ref.qualifier is not None:
            raise InvalidParameterValueException(QUALIFIED_NOT_ALLOWED)
        return ref.name

    def put_reserved(self, scope: Scope, function_name: str, value: int) -> dict[str, Any]:
        name = self._unqualified(scope, function_name)
        with self.store.transaction():
            fdoc = self.store.get_function(scope.account, scope.region, name)
            if fdoc is None:
                raise self.functions.not_found(scope, name, LATEST)
            world = self._world(scope)
            provisioned = sum(world.provisioned.get(name, {}).values())
            if value < provisioned:
                raise InvalidParameterValueException(
                    f" ReservedConcurrentExecutions  {value} should not be lower than "
                    f"function's total provisioned concurrency [{provisioned}]."
                )
            old = fdoc.get("ReservedConcurrency")
            if old is None or value > int(old):
                # The pool left once this reservation replaces the function's current share.
                others = {n: r for n, r in world.reserved.items() if n != name}
                after = _World({**others, name: value}, world.provisioned)
                left = after.unreserved_pool(self.settings.account_concurrency)
                minimum = self.settings.min_unreserved_concurrency
                if left < minimum or value > self.settings.account_concurrency:
                    raise InvalidParameterValueException(
                        "Specified ReservedConcurrentExecutions for function decreases account's "
                        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
                    )
            fdoc["ReservedConcurrency"] = value
            self.store.put_function(scope.account, scope.region, name, fdoc)
        self._invalidate(scope)
        log.info("reserved concurrency of %s set to %d", name, value)
        return {"ReservedConcurrentExecutions": value}

    def get_reserved(self, scope: Scope, function_name: str) -> dict[str, Any]:
        name = self._unqualified(scope, function_name)
        fdoc = self.functions.function_doc(scope, name)
        if fdoc.get("ReservedConcurrency") is None:
            return {}
        return {"ReservedConcurrentExecutions": int(fdoc["ReservedConcurrency"])}

    def delete_reserved(self, scope: Scope, function_name: str) -> None:
        name = self._unqualified(scope, function_name)
        with self.store.transaction():
            fdoc = self.functions.function_doc(scope, name)
            fdoc.pop("ReservedConcurrency", None)
            self.store.put_function(scope.account, scope.region, name, fdoc)
        self._invalidate(scope)

    # -- provisioned concurrency ----------------------------------------------------------

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

    def put_provisioned(
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
            self._check_provisioned_overlap(scope, name, qualifier)
            world = self._world(scope)
            current = world.provisioned.get(name, {})
            others = sum(n for q, n in current.items() if q != qualifier)
            reserved = world.reserved.get(name)
            if reserved is not None:
                if others + requested > reserved:
                    raise InvalidParameterValueException(
                        "Requested Provisioned Concurrency should not be greater than the "
                        "reservedConcurrentExecution for function"
                    )
            else:
                pool = world.unreserved_pool(self.settings.account_concurrency)
                if requested > pool + current.get(qualifier, 0):
                    raise InvalidParameterValueException(
                        "Specified ConcurrentExecutions for function is greater than account's "
                        f"unreserved concurrency [{pool}]."
                    )
                left = pool + current.get(qualifier, 0) - requested
                minimum = self.settings.min_unreserved_concurrency
                if left < minimum:
                    raise InvalidParameterValueException(
                        "Specified ConcurrentExecutions for function decreases account's "
                        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
                    )
            doc: Doc = {
                "Requested": requested,
                "LastModified": fmodel.now_iso(self.clock.now()),
            }
            self.store.put_child(KIND, scope.account, scope.region, name, qualifier, doc)
        self._invalidate(scope)
        self._provisioned_changed(scope, name, qualifier, requested)
        log.info("provisioned concurrency of %s:%s set to %d", name, qualifier, requested)
        out = self._render(scope, name, qualifier, doc)
        out.update(
            AvailableProvisionedConcurrentExecutions=0,
            AllocatedProvisionedConcurrentExecutions=0,
            Status="IN_PROGRESS",
        )
        out.pop("StatusReason", None)
        return out

    def _check_provisioned_overlap(self, scope: Scope, name: str, qualifier: str) -> None:
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

    def get_provisioned(self, scope: Scope, function_name: str, qualifier: str) -> dict[str, Any]:
        if qualifier == LATEST:
            raise InvalidParameterValueException(NOT_ALIAS_OR_VERSION)
        name, qualifier = self._target(scope, function_name, qualifier)
        doc = self.store.get_child(KIND, scope.account, scope.region, name, qualifier)
        if doc is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        return self._render(scope, name, qualifier, doc)

    def delete_provisioned(self, scope: Scope, function_name: str, qualifier: str) -> None:
        if qualifier == LATEST:
            raise InvalidParameterValueException(NOT_ALIAS_OR_VERSION)
        name, qualifier = self._target(scope, function_name, qualifier)
        self._delete_provisioned(scope, name, qualifier)

    def _delete_provisioned(self, scope: Scope, name: str, qualifier: str) -> None:
        if self.store.get_child(KIND, scope.account, scope.region, name, qualifier) is None:
            return
        self.store.delete_child(KIND, scope.account, scope.region, name, qualifier)
        self._invalidate(scope)
        self._provisioned_changed(scope, name, qualifier, None)
        log.info("provisioned concurrency of %s:%s removed", name, qualifier)

    def list_provisioned(
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
            self._invalidate(scope)
            return
        if version != LATEST and (
            self.store.get_version(scope.account, scope.region, name, version) is None
        ):
            self._delete_provisioned(scope, name, version)

    def _alias_changed(self, scope: Scope, name: str, alias: str) -> None:
        if self.store.get_child(KIND, scope.account, scope.region, name, alias) is None:
            return
        if self.aliases.get_doc(scope, name, alias) is None:
            self._delete_provisioned(scope, name, alias)
        else:
            # Provisioned concurrency follows its alias to the version it now points at.
            doc = self.store.get_child(KIND, scope.account, scope.region, name, alias)
            assert doc is not None
            self._provisioned_changed(scope, name, alias, int(doc["Requested"]))
