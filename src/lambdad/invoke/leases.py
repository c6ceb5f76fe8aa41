"""Concurrency leases: which invocation may run now, and from which pool.

Every invocation (sync now, async later) runs under one lease, taken before an
environment is checked out and returned when the invocation ends. Leases are
handed out in AWS's order:

1. **provisioned** — the invoked qualifier (version or alias) has provisioned
   concurrency and a provisioned slot is free;
2. **reserved** — the function has reserved concurrency: it may run up to its
   reservation less its provisioned concurrency (provisioned environments are
   carved out of the reservation even while idle); beyond that it is throttled
   with ``ReservedFunctionConcurrentInvocationLimitExceeded``;
3. **unreserved** — otherwise from the account's (account, region) unreserved
   pool: the account limit less every reservation and the provisioned
   concurrency of functions without one; beyond that
   ``ConcurrentInvocationLimitExceeded``.

A function also scales up by at most ``scale_up_limit`` new environments per
``scale_up_window`` seconds, refilled continuously (a token bucket): ``ScaleUp``, which
the warm pool asks before each cold start.

The decisions are pure functions over frozen values (``decide``, ``take``,
``give_back``, ``scale_up``); ``Leases`` holds the current ``Usage`` and hands
leases out through ``acquire()``, an async context manager. Limits come from a
``LimitsSource`` (the control plane's cached view), so no database is read here.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from lambdad.clock import Clock
from lambdad.errors import TooManyRequestsException
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"
THROTTLE_MESSAGE = "Rate Exceeded."

_K = TypeVar("_K")


class LeaseKind(enum.Enum):
    PROVISIONED = "provisioned"
    RESERVED = "reserved"
    UNRESERVED = "unreserved"


@dataclass(frozen=True, slots=True, order=True)
class FunctionKey:
    account: str
    region: str
    name: str

    @property
    def world(self) -> tuple[str, str]:
        """The (account, region) whose account limit the function shares."""
        return (self.account, self.region)


@dataclass(frozen=True, slots=True)
class FunctionLimits:
    """A function's concurrency configuration."""

    reserved: int | None = None
    # Qualifier (version or alias) -> provisioned concurrency requested for it.
    provisioned: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_provisioned(self) -> int:
        return sum(self.provisioned.values())


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """The concurrency of one (account, region) and what is set aside from it."""

    concurrency: int
    reserved: int = 0  # the sum of every function's reserved concurrency
    provisioned_unreserved: int = 0  # provisioned concurrency of functions without reservation

    @property
    def unreserved_pool(self) -> int:
        return max(0, self.concurrency - self.reserved - self.provisioned_unreserved)


@dataclass(frozen=True, slots=True)
class Usage:
    """Leases held right now."""

    provisioned: Mapping[tuple[FunctionKey, str], int] = field(default_factory=dict)
    on_demand: Mapping[FunctionKey, int] = field(default_factory=dict)  # reserved + unreserved
    unreserved: Mapping[tuple[str, str], int] = field(default_factory=dict)  # per world

    def of(self, function: FunctionKey) -> int:
        """Every lease the function holds."""
        held = self.on_demand.get(function, 0)
        return held + sum(n for (fn, _), n in self.provisioned.items() if fn == function)


@dataclass(frozen=True, slots=True)
class Lease:
    id: int
    function: FunctionKey
    qualifier: str | None
    kind: LeaseKind
    granted_at: float
    # The configuration it was granted under (what the invocation's metrics report).
    limits: FunctionLimits
    account: AccountLimits


@dataclass(frozen=True, slots=True)
class Throttle:
    reason: str


@dataclass(frozen=True, slots=True)
class ScaleBucket:
    """Tokens left for new environments, as of ``updated_at`` (monotonic seconds)."""

    tokens: float
    updated_at: float


def decide(
    usage: Usage,
    function: FunctionKey,
    qualifier: str | None,
    limits: FunctionLimits,
    account: AccountLimits,
) -> LeaseKind | Throttle:
    """The pool one more invocation of ``function`` (through ``qualifier``) draws from."""
    if qualifier is not None:
        slots = limits.provisioned.get(qualifier, 0)
        if slots > 0 and usage.provisioned.get((function, qualifier), 0) < slots:
            return LeaseKind.PROVISIONED
    if limits.reserved is not None:
        room = max(0, limits.reserved - limits.total_provisioned)
        if usage.on_demand.get(function, 0) < room:
            return LeaseKind.RESERVED
        return Throttle(RESERVED_LIMIT_EXCEEDED)
    if usage.unreserved.get(function.world, 0) < account.unreserved_pool:
        return LeaseKind.UNRESERVED
    return Throttle(ACCOUNT_LIMIT_EXCEEDED)


def take(usage: Usage, lease: Lease) -> Usage:
    return _count(usage, lease, +1)


def give_back(usage: Usage, lease: Lease) -> Usage:
    return _count(usage, lease, -1)


def _count(usage: Usage, lease: Lease, step: int) -> Usage:
    # Usage(...) rather than dataclasses.replace(): this runs twice per invoke.
    fn = lease.function
    if lease.kind is LeaseKind.PROVISIONED:
        assert lease.qualifier is not None
        return Usage(
            provisioned=_bump(usage.provisioned, (fn, lease.qualifier), step),
            on_demand=usage.on_demand,
            unreserved=usage.unreserved,
        )
    unreserved = usage.unreserved
    if lease.kind is LeaseKind.UNRESERVED:
        unreserved = _bump(unreserved, fn.world, step)
    return Usage(
        provisioned=usage.provisioned,
        on_demand=_bump(usage.on_demand, fn, step),
        unreserved=unreserved,
    )


def _bump(counts: Mapping[_K, int], key: _K, step: int) -> Mapping[_K, int]:
    n = counts.get(key, 0) + step
    if n < 0:
        raise ValueError(f"lease count for {key!r} would go below zero")
    out = dict(counts)
    if n:
        out[key] = n
    else:
        del out[key]
    return out


def scale_up(
    bucket: ScaleBucket | None, now: float, *, limit: int, window: float
) -> tuple[ScaleBucket, bool]:
    """Spend one token for a new environment; refilled at ``limit / window`` per second,
    never beyond ``limit`` (unused capacity does not accumulate)."""
    rate = limit / window if window > 0 else float("inf")
    if bucket is None:
        tokens = float(limit)
    else:
        tokens = min(float(limit), bucket.tokens + (now - bucket.updated_at) * rate)
    if tokens >= 1.0:
        return ScaleBucket(tokens - 1.0, now), True
    return ScaleBucket(tokens, now), False


LimitsSource = Callable[[FunctionKey], tuple[FunctionLimits, AccountLimits]]


class ConcurrencyConfig(Protocol):
    """The control plane's view of concurrency settings (control/concurrency.py)."""

    def function_concurrency(
        self, account: str, region: str, name: str
    ) -> tuple[int | None, Mapping[str, int]]: ...

    def account_concurrency(self, account: str, region: str) -> tuple[int, int, int]: ...


def limits_from(config: ConcurrencyConfig) -> LimitsSource:
    """A LimitsSource reading the control plane's (cached) configuration."""

    def limits(function: FunctionKey) -> tuple[FunctionLimits, AccountLimits]:
        account, region, name = function.account, function.region, function.name
        reserved, provisioned = config.function_concurrency(account, region, name)
        limit, all_reserved, unreserved_provisioned = config.account_concurrency(account, region)
        return (
            # The usual answers are shared values, not new ones per invoke.
            _UNLIMITED
            if reserved is None and not provisioned
            else FunctionLimits(reserved, provisioned),
            _account_limits(limit, all_reserved, unreserved_provisioned),
        )

    return limits


_UNLIMITED = FunctionLimits()
_account_limits = functools.lru_cache(maxsize=256)(AccountLimits)


class ScaleUp:
    """Each function's scale-up rate: new environments beyond it are throttled.

    Given to the warm pool (its ``ScaleGate``), which asks before every cold start."""

    def __init__(
        self, clock: Clock, *, limit: int = 1000, window: float = 10.0, retry_after: int = 1
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self.retry_after = retry_after
        self._buckets: dict[tuple[str, str, str], ScaleBucket] = {}
        self._lock = threading.Lock()

    def allow_new_environment(self, scope: Scope, name: str) -> None:
        """Spend one unit of the function's scale-up rate, or throttle."""
        key = (scope.account, scope.region, name)
        now = self.clock.monotonic()
        with self._lock:
            bucket, ok = scale_up(self._buckets.get(key), now, limit=self.limit, window=self.window)
            self._buckets[key] = bucket
        if not ok:
            log.info("scale-up rate exceeded for %s", name)
            raise TooManyRequestsException(
                THROTTLE_MESSAGE, reason=ACCOUNT_LIMIT_EXCEEDED, retry_after=self.retry_after
            )


class Leases:
    """The one component that hands concurrency leases out and takes them back."""

    def __init__(
        self,
        limits: LimitsSource,
        clock: Clock,
        *,
        retry_after: int = 1,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.retry_after = retry_after
        self._usage = Usage()
        self._ids = itertools.count(1)
        # Leases are taken on the event loop and, for blocking callers, from threads.
        self._lock = threading.Lock()

    @property
    def usage(self) -> Usage:
        return self._usage

    def grant(self, function: FunctionKey, qualifier: str | None = None) -> Lease:
        """A lease for one invocation, or ``TooManyRequestsException`` with its Reason."""
        limits, account = self.limits(function)
        with self._lock:
            verdict = decide(self._usage, function, qualifier, limits, account)
            if isinstance(verdict, Throttle):
                log.info(
                    "throttled %s:%s (%s)", function.name, qualifier or "$LATEST", verdict.reason
                )
                raise TooManyRequestsException(
                    THROTTLE_MESSAGE, reason=verdict.reason, retry_after=self.retry_after
                )
            lease = Lease(
                next(self._ids),
                function,
                qualifier if verdict is LeaseKind.PROVISIONED else None,
                verdict,
                self.clock.monotonic(),
                limits,
                account,
            )
            self._usage = take(self._usage, lease)
        return lease

    def release(self, lease: Lease) -> None:
        with self._lock:
            self._usage = give_back(self._usage, lease)

    @contextlib.asynccontextmanager
    async def acquire(
        self, function: FunctionKey, qualifier: str | None = None
    ) -> AsyncIterator[Lease]:
        """``async with leases.acquire(fn, qualifier) as lease:`` — held for the block."""
        lease = self.grant(function, qualifier)
        try:
            yield lease
        finally:
            self.release(lease)

    def in_use(self, function: FunctionKey) -> int:
        return self._usage.of(function)

    def statistics(self) -> dict[str, int]:
        u = self._usage
        return {
            "provisioned": sum(u.provisioned.values()),
            "on_demand": sum(u.on_demand.values()),
            "unreserved": sum(u.unreserved.values()),
        }
