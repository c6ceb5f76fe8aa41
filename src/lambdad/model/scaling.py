"""A function version's scaling on its capacity provider (Lambda Managed Instances), as
one host honours it: how many environments are kept initialised, how many invocations
may run at once, and the decisions over them (pure functions over frozen values).

AWS's ``FunctionScalingConfig`` bounds a version's execution environments:
``MinExecutionEnvironments`` are kept initialised from the moment the version is
active, and ``MaxExecutionEnvironments`` is the most it gets; each environment runs
up to ``PerExecutionEnvironmentMaxConcurrency`` invocations at once (the version's
``CapacityProviderConfig``), one per runtime worker (Python runs a process per
worker), and an invocation that finds every worker busy is refused (a throttle).

A lambdad environment is one process serving one invocation at a time: it stands for
one runtime worker. So a version keeps ``Min`` environments initialised (on AWS an
environment is ready once one worker is) and runs at most ``Max`` x
``PerExecutionEnvironmentMaxConcurrency`` (1 when unset: AWS's per-runtime default
depends on the instance's vCPUs, which one host does not have) at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# AWS_LAMBDA_INITIALIZATION_TYPE in the environments of a version on a capacity provider.
MANAGED_INITIALIZATION_TYPE = "lambda-managed-instances"
# The answer to an invocation beyond the cap: AWS's 429 (botocore's ThrottleReason has no
# reason of its own for managed instances; the version's concurrency is what ran out).
THROTTLE_MESSAGE = "Rate Exceeded."
THROTTLE_REASON = "ConcurrentInvocationLimitExceeded"


@dataclass(frozen=True, slots=True)
class VersionScaling:
    """A version's environments: ``floor`` kept initialised, at most ``cap`` at once
    (None: no cap but the function's and the account's concurrency)."""

    floor: int = 0
    cap: int | None = None


@dataclass(frozen=True, slots=True)
class Adjustment:
    """What keeps a version within its scaling: environments to start, idle ones to stop."""

    start: int = 0
    stop_idle: int = 0


def per_environment(version_doc: Mapping[str, Any]) -> int:
    """Invocations one environment of the version runs at once (its runtime workers)."""
    config = version_doc.get("CapacityProviderConfig") or {}
    managed = config.get("LambdaManagedInstancesCapacityProviderConfig") or {}
    workers = managed.get("PerExecutionEnvironmentMaxConcurrency")
    return int(workers) if isinstance(workers, int) and workers > 0 else 1


def from_config(config: Mapping[str, Any], workers: int = 1) -> VersionScaling:
    """The scaling a stored ``FunctionScalingConfig`` asks for, with ``workers``
    invocations per environment."""
    low = config.get("MinExecutionEnvironments")
    high = config.get("MaxExecutionEnvironments")
    return VersionScaling(
        floor=int(low or 0), cap=None if high is None else int(high) * max(1, workers)
    )


def may_start(live: int, scaling: VersionScaling) -> bool:
    """Whether a version with ``live`` environments (idle, busy or starting) may start
    one more for an invocation that found none idle."""
    return scaling.cap is None or live < scaling.cap


def adjust(live: int, idle: int, scaling: VersionScaling) -> Adjustment:
    """What brings ``live`` environments (``idle`` of them idle) within the scaling:
    up to the floor (never past the cap), or down to the cap (idle ones only: a busy
    one finishes its invocation, and is not replaced)."""
    start = max(0, scaling.floor - live)
    if scaling.cap is not None:
        start = min(start, max(0, scaling.cap - live))
        return Adjustment(start, min(idle, max(0, live - scaling.cap)))
    return Adjustment(start, 0)


def reapable(expired: int, live: int, scaling: VersionScaling) -> int:
    """How many of a version's ``expired`` idle environments the reaper may stop
    without going below its floor."""
    return max(0, min(expired, live - scaling.floor))
