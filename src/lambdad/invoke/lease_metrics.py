"""What a granted lease says about concurrency, for the metrics (sampled per invoke).

The function's on-demand concurrency (``ConcurrentExecutions``), its world's unreserved
concurrency in use (``UnreservedConcurrentExecutions``), and the concurrency claimed
in that world (``ClaimedAccountConcurrency``: the unreserved in use plus every
reservation and provisioned allocation). An invocation of a version or alias with
provisioned concurrency counts as ``ProvisionedConcurrencyInvocations`` (with the
``ProvisionedConcurrentExecutions`` and ``ProvisionedConcurrencyUtilization`` it
leaves) or, when none was free, ``ProvisionedConcurrencySpilloverInvocations``.
"""

from __future__ import annotations

from lambdad.invoke.leases import FunctionKey, Lease, LeaseKind, Leases
from lambdad.model.scope import Scope
from lambdad.observe.metrics_recorder import MetricsRecorder


def sample(
    metrics: MetricsRecorder, leases: Leases, key: FunctionKey, lease: Lease, qualifier: str | None
) -> tuple[int, int, int]:
    """(function concurrency, unreserved in use, claimed), provisioned metrics recorded."""
    usage = leases.usage
    limits, account = lease.limits, lease.account
    unreserved = usage.unreserved.get(key.world, 0)
    claimed = account.reserved + account.provisioned_unreserved + unreserved
    concurrency = usage.on_demand.get(key, 0)
    slots = limits.provisioned.get(qualifier, 0) if qualifier else 0
    if slots:
        scope = Scope(key.account, key.region)
        if lease.kind is LeaseKind.PROVISIONED:
            in_use = usage.provisioned.get((key, qualifier), 0)  # type: ignore[arg-type]
            concurrency += in_use
            value = metrics.function_value
            value(scope, "ProvisionedConcurrencyInvocations", key.name, qualifier)
            value(scope, "ProvisionedConcurrentExecutions", key.name, qualifier, in_use)
            value(scope, "ProvisionedConcurrencyUtilization", key.name, qualifier, in_use / slots)
        else:
            metrics.function_value(
                scope, "ProvisionedConcurrencySpilloverInvocations", key.name, qualifier
            )
    return concurrency, unreserved, claimed
