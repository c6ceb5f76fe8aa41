"""Concurrency configuration: reserved concurrency per function (``Put``/``Get``/
``DeleteFunctionConcurrency``), and the one service the API handlers and the data plane
ask about concurrency.

Reserved concurrency lives in the function's document (``ReservedConcurrency``) and is
checked against the account limit as AWS checks it: at least
``min_unreserved_concurrency`` must stay unreserved, and a reservation may not fall
below the function's provisioned concurrency. Provisioned concurrency configurations
are ``provisioned.py``'s; the cached view the lease component and the async dispatcher
read is ``concurrency_limits.py``'s. ``ConcurrencyService`` hands both on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lambdad.clock import Clock
from lambdad.config import Settings
from lambdad.control.aliases import AliasService
from lambdad.control.concurrency_limits import ConcurrencyLimits, RegionConcurrency
from lambdad.control.functions import FunctionService
from lambdad.control.provisioned import ProvisionedConfigs
from lambdad.errors import InvalidParameterValueException
from lambdad.model.arn import LATEST
from lambdad.model.changes import ChangeHub, ProvisionedListener
from lambdad.model.provisioned import ProvisionedStatus
from lambdad.model.scope import Scope
from lambdad.store.base import MetadataStore

log = logging.getLogger(__name__)

QUALIFIED_NOT_ALLOWED = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support "
    "this operation. Please specify either a function name or an unqualified function ARN."
)


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
        self.limits = ConcurrencyLimits(settings, store)
        self.provisioned = ProvisionedConfigs(
            settings,
            store,
            functions,
            aliases,
            clock,
            self.limits,
            changes if changes is not None else functions.changes,
            status,
        )

    # -- the cached view (concurrency_limits.py) ------------------------------------------

    def reservations(self) -> Mapping[tuple[str, str, str], int]:
        return self.limits.reservations()

    def function_concurrency(
        self, account: str, region: str, name: str
    ) -> tuple[int | None, dict[str, int]]:
        return self.limits.function_concurrency(account, region, name)

    def account_concurrency(self, account: str, region: str) -> tuple[int, int, int]:
        return self.limits.account_concurrency(account, region)

    def unreserved(self, scope: Scope) -> int:
        return self.limits.unreserved(scope)

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
            region = self.limits.region(scope)
            provisioned = sum(region.provisioned.get(name, {}).values())
            if value < provisioned:
                raise InvalidParameterValueException(
                    f" ReservedConcurrentExecutions  {value} should not be lower than "
                    f"function's total provisioned concurrency [{provisioned}]."
                )
            old = fdoc.get("ReservedConcurrency")
            if old is None or value > int(old):
                # The pool left once this reservation replaces the function's current share.
                others = {n: r for n, r in region.reserved.items() if n != name}
                after = RegionConcurrency({**others, name: value}, region.provisioned)
                left = after.unreserved_pool(self.settings.account_concurrency)
                minimum = self.settings.min_unreserved_concurrency
                if left < minimum or value > self.settings.account_concurrency:
                    raise InvalidParameterValueException(
                        "Specified ReservedConcurrentExecutions for function decreases account's "
                        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
                    ).without_type()
            fdoc["ReservedConcurrency"] = value
            self.store.put_function(scope.account, scope.region, name, fdoc)
        self.limits.invalidate(scope)
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
        self.limits.invalidate(scope)

    # -- provisioned concurrency (provisioned.py) -----------------------------------------

    def on_provisioned_change(self, listener: ProvisionedListener) -> None:
        self.provisioned.on_change(listener)

    def provisioned_targets(self) -> list[tuple[Scope, str, str, int]]:
        return self.provisioned.targets()

    def put_provisioned(
        self, scope: Scope, function_name: str, qualifier: str, requested: int
    ) -> dict[str, Any]:
        return self.provisioned.put(scope, function_name, qualifier, requested)

    def get_provisioned(self, scope: Scope, function_name: str, qualifier: str) -> dict[str, Any]:
        return self.provisioned.get(scope, function_name, qualifier)

    def delete_provisioned(self, scope: Scope, function_name: str, qualifier: str) -> None:
        self.provisioned.delete(scope, function_name, qualifier)

    def list_provisioned(
        self, scope: Scope, function_name: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        return self.provisioned.list_configs(scope, function_name, marker, max_items)
