"""Function scaling configuration: ``Put``/``GetFunctionScalingConfig`` on a published
version (a number, or ``$LATEST.PUBLISHED``: the latest published one) of a function
that runs on a capacity provider (control/capacity_providers.py).

``MinExecutionEnvironments``/``MaxExecutionEnvironments`` (0..15000, min not over max)
are stored per version (kind ``function-scaling``, dropped with the function) and
answered as both the requested and the applied configuration: one host applies a
change at once. They are honoured (model/scaling.py): a Put publishes the version's
``VersionScaling`` on the ``ChangeHub``, and environments/scaling.py keeps ``Min``
environments of the version initialised and refuses invocations beyond ``Max``
(x ``PerExecutionEnvironmentMaxConcurrency``) with AWS's throttle; ``targets()``
gives every stored configuration at start-up. A version without a configuration
starts its environments on demand (AWS starts three when such a version is
published; lambdad keeps none until asked to). ``MinExecutionEnvironments`` are
started at once, so they are checked as provisioned concurrency is: against the
function's reserved concurrency, else the account's unreserved pool (a tenant cannot
make the host start 15,000 environments). ``Max`` is only a cap, enforced per invoke.
"""

from __future__ import annotations

from typing import Any

from lambdad.control.capacity_providers import provider_of
from lambdad.control.concurrency_limits import ConcurrencyLimits
from lambdad.control.functions import FunctionService
from lambdad.errors import InvalidParameterValueException, ResourceNotFoundException
from lambdad.model import scaling
from lambdad.model.arn import function_arn, merge_qualifier
from lambdad.model.scaling import VersionScaling
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

KIND = "function-scaling"
LATEST_PUBLISHED = "$LATEST.PUBLISHED"


class FunctionScaling:
    def __init__(
        self,
        store: MetadataStore,
        functions: FunctionService,
        limits: ConcurrencyLimits,
        account_concurrency: int,
    ) -> None:
        self.store = store
        self.functions = functions
        self.limits = limits
        self.account_concurrency = account_concurrency

    def _version(self, scope: Scope, params: dict[str, Any]) -> tuple[str, str, Doc]:
        ref = self.functions.function_ref(scope, params["FunctionName"])
        qualifier = merge_qualifier(ref, params.get("Qualifier"))
        fdoc = self.functions.function_doc(scope, ref.name)
        if qualifier == LATEST_PUBLISHED:
            latest = int(fdoc.get("LatestPublished") or 0)
            if latest == 0:
                arn = function_arn(scope.region, scope.account, ref.name, qualifier)
                raise ResourceNotFoundException(f"Function not found: {arn}")
            qualifier = str(latest)
        if qualifier is None or not qualifier.isdigit():
            raise InvalidParameterValueException(
                "The function scaling configuration applies to a published version or "
                f"{LATEST_PUBLISHED}."
            )
        _, doc = self.functions.resolver.version_doc(scope, ref.name, qualifier)
        if provider_of(doc) is None:
            raise InvalidParameterValueException(
                "The function scaling configuration applies only to functions that use a "
                "capacity provider."
            )
        return ref.name, qualifier, doc

    def put(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        config = dict(params.get("FunctionScalingConfig") or {})
        low = config.get("MinExecutionEnvironments")
        high = config.get("MaxExecutionEnvironments")
        if low is not None and high is not None and low > high:
            raise InvalidParameterValueException(
                "MinExecutionEnvironments must be less than or equal to MaxExecutionEnvironments."
            )
        name, version, doc = self._version(scope, params)
        self._check_floor(scope, name, int(low or 0))
        self.store.put_child(KIND, scope.account, scope.region, name, version, config)
        # Not a change of the version (its environments stay): its scaling is adjusted.
        wanted = scaling.from_config(config, scaling.per_environment(doc))
        self.functions.changes.scaling_changed(scope, name, version, wanted)
        return {"FunctionState": "Active"}

    def _check_floor(self, scope: Scope, name: str, floor: int) -> None:
        """The environments kept started fit the function's reserved concurrency, else
        the account's unreserved pool (as provisioned concurrency must)."""
        if floor == 0:
            return
        region = self.limits.region(scope)
        reserved = region.reserved.get(name)
        if reserved is not None:
            if floor > reserved:
                raise InvalidParameterValueException(
                    "Requested MinExecutionEnvironments should not be greater than the "
                    "reservedConcurrentExecution for function"
                )
            return
        pool = region.unreserved_pool(self.account_concurrency)
        if floor > pool:
            raise InvalidParameterValueException(
                "Specified MinExecutionEnvironments for function is greater than account's "
                f"unreserved concurrency [{pool}]."
            ).without_type()

    def get(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        name, version, _ = self._version(scope, params)
        out: dict[str, Any] = {
            "FunctionArn": function_arn(scope.region, scope.account, name, version)
        }
        config = self.store.get_child(KIND, scope.account, scope.region, name, version)
        if config is not None:
            out["AppliedFunctionScalingConfig"] = dict(config)
            out["RequestedFunctionScalingConfig"] = dict(config)
        return out

    def targets(self) -> list[tuple[Scope, str, str, VersionScaling]]:
        """Every stored configuration whose version still exists, with its scaling."""
        out = []
        for account, region, name, version, config in self.store.all_children(KIND):
            scope = Scope(account, region)
            try:
                _, doc = self.functions.resolver.version_doc(scope, name, version)
            except ResourceNotFoundException:
                continue
            wanted = scaling.from_config(config, scaling.per_environment(doc))
            out.append((scope, name, version, wanted))
        return out
