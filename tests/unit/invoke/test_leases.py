"""Concurrency lease accounting (lambdad.invoke.leases)."""

from __future__ import annotations

import asyncio

import pytest

from lambdad.clock import FakeClock
from lambdad.errors import TooManyRequestsException
from lambdad.invoke.leases import (
    ACCOUNT_LIMIT_EXCEEDED,
    RESERVED_LIMIT_EXCEEDED,
    AccountLimits,
    FunctionKey,
    FunctionLimits,
    LeaseKind,
    Leases,
    ScaleUp,
    Throttle,
    Usage,
    decide,
    give_back,
    scale_up,
    take,
)
from lambdad.model.scope import Scope

SCOPE = Scope("111111111111", "us-east-1")
FN = FunctionKey("111111111111", "us-east-1", "fn")
OTHER = FunctionKey("111111111111", "us-east-1", "other")
ELSEWHERE = FunctionKey("111111111111", "eu-west-1", "fn")


def leases_for(
    table: dict[FunctionKey, FunctionLimits],
    account: AccountLimits,
    clock: FakeClock | None = None,
) -> Leases:
    return Leases(lambda fn: (table.get(fn, FunctionLimits()), account), clock or FakeClock())


def test_unreserved_until_the_pool_is_empty() -> None:
    leases = leases_for({}, AccountLimits(concurrency=2))
    a = leases.grant(FN)
    b = leases.grant(OTHER)
    assert a.kind is b.kind is LeaseKind.UNRESERVED
    with pytest.raises(TooManyRequestsException) as exc:
        leases.grant(FN)
    assert exc.value.fields == {"Reason": ACCOUNT_LIMIT_EXCEEDED}
    assert exc.value.message == "Rate Exceeded."
    assert exc.value.headers["Retry-After"] == "1"
    leases.release(a)
    assert leases.grant(FN).kind is LeaseKind.UNRESERVED


def test_each_region_has_its_own_account_limit() -> None:
    leases = leases_for({}, AccountLimits(concurrency=1))
    leases.grant(FN)
    assert leases.grant(ELSEWHERE).kind is LeaseKind.UNRESERVED


def test_reserved_caps_the_function_and_leaves_the_pool_alone() -> None:
    table = {FN: FunctionLimits(reserved=1)}
    leases = leases_for(table, AccountLimits(concurrency=3, reserved=1))
    assert leases.grant(FN).kind is LeaseKind.RESERVED
    with pytest.raises(TooManyRequestsException) as exc:
        leases.grant(FN)
    assert exc.value.fields["Reason"] == RESERVED_LIMIT_EXCEEDED
    # Others share what is left: 3 - 1 reserved.
    assert leases.grant(OTHER).kind is LeaseKind.UNRESERVED
    assert leases.grant(OTHER).kind is LeaseKind.UNRESERVED
    with pytest.raises(TooManyRequestsException):
        leases.grant(OTHER)


def test_reserved_zero_throttles_everything() -> None:
    verdict = decide(Usage(), FN, None, FunctionLimits(reserved=0), AccountLimits(1000))
    assert verdict == Throttle(RESERVED_LIMIT_EXCEEDED)


def test_provisioned_first_then_reserved_then_throttled() -> None:
    limits = FunctionLimits(reserved=3, provisioned={"1": 2})
    leases = leases_for({FN: limits}, AccountLimits(10, reserved=3))
    kinds = [leases.grant(FN, "1").kind for _ in range(3)]
    assert kinds == [LeaseKind.PROVISIONED, LeaseKind.PROVISIONED, LeaseKind.RESERVED]
    with pytest.raises(TooManyRequestsException) as exc:
        leases.grant(FN, "1")
    assert exc.value.fields["Reason"] == RESERVED_LIMIT_EXCEEDED


def test_provisioned_concurrency_is_carved_out_of_the_reservation() -> None:
    # AWS: reserved 2 with 2 provisioned on version 1 leaves nothing for $LATEST.
    limits = FunctionLimits(reserved=2, provisioned={"1": 2})
    verdict = decide(Usage(), FN, None, limits, AccountLimits(10, reserved=2))
    assert verdict == Throttle(RESERVED_LIMIT_EXCEEDED)
    assert decide(Usage(), FN, "1", limits, AccountLimits(10, reserved=2)) is LeaseKind.PROVISIONED


def test_provisioned_only_for_its_qualifier() -> None:
    limits = FunctionLimits(provisioned={"live": 1})
    account = AccountLimits(10, provisioned_unreserved=1)
    assert decide(Usage(), FN, "live", limits, account) is LeaseKind.PROVISIONED
    assert decide(Usage(), FN, "2", limits, account) is LeaseKind.UNRESERVED
    assert decide(Usage(), FN, None, limits, account) is LeaseKind.UNRESERVED


def test_provisioned_without_reservation_shrinks_the_unreserved_pool() -> None:
    account = AccountLimits(concurrency=3, provisioned_unreserved=2)
    assert account.unreserved_pool == 1
    leases = leases_for({FN: FunctionLimits(provisioned={"1": 2})}, account)
    assert leases.grant(OTHER).kind is LeaseKind.UNRESERVED
    with pytest.raises(TooManyRequestsException):
        leases.grant(OTHER)
    assert leases.grant(FN, "1").kind is LeaseKind.PROVISIONED


def test_take_and_give_back_are_inverse() -> None:
    leases = leases_for({FN: FunctionLimits(provisioned={"1": 1})}, AccountLimits(5))
    granted = [leases.grant(FN, "1"), leases.grant(FN, "1"), leases.grant(OTHER)]
    assert leases.in_use(FN) == 2
    usage = leases.usage
    for lease in granted:
        usage = give_back(usage, lease)
    assert usage == Usage()
    assert take(give_back(leases.usage, granted[0]), granted[0]) == leases.usage


def test_giving_back_twice_is_an_error() -> None:
    leases = leases_for({}, AccountLimits(5))
    lease = leases.grant(FN)
    leases.release(lease)
    with pytest.raises(ValueError, match="below zero"):
        leases.release(lease)


def test_acquire_returns_the_lease_even_when_the_block_fails() -> None:
    leases = leases_for({}, AccountLimits(1))

    async def fail_inside() -> None:
        async with leases.acquire(FN) as lease:
            assert lease.kind is LeaseKind.UNRESERVED
            assert leases.in_use(FN) == 1
            raise RuntimeError("boom")

    async def run() -> None:
        with pytest.raises(RuntimeError):
            await fail_inside()
        assert leases.in_use(FN) == 0

    asyncio.run(run())


def test_lease_records_when_it_was_granted() -> None:
    clock = FakeClock()
    leases = leases_for({}, AccountLimits(5), clock)
    clock.advance(2.5)
    assert leases.grant(FN).granted_at == clock.monotonic()


def test_scale_up_bucket_refills_continuously_and_caps() -> None:
    bucket, ok = scale_up(None, 0.0, limit=2, window=10.0)
    assert ok
    assert bucket.tokens == 1.0
    bucket, ok = scale_up(bucket, 0.0, limit=2, window=10.0)
    assert ok
    bucket, ok = scale_up(bucket, 1.0, limit=2, window=10.0)  # +0.2 token
    assert not ok
    bucket, ok = scale_up(bucket, 5.0, limit=2, window=10.0)  # +1.0 token
    assert ok
    bucket, _ = scale_up(bucket, 1000.0, limit=2, window=10.0)
    assert bucket.tokens == 1.0  # never more than the limit, then one spent


def test_scale_up_throttles_new_environments_past_the_rate() -> None:
    clock = FakeClock()
    scale = ScaleUp(clock, limit=2, window=1.0, retry_after=3)
    scale.allow_new_environment(SCOPE, "fn")
    scale.allow_new_environment(SCOPE, "fn")
    with pytest.raises(TooManyRequestsException) as throttled:
        scale.allow_new_environment(SCOPE, "fn")
    assert throttled.value.body()["Reason"] == ACCOUNT_LIMIT_EXCEEDED
    assert throttled.value.headers["Retry-After"] == "3"
    scale.allow_new_environment(SCOPE, "other")  # per function
    clock.advance(0.5)
    scale.allow_new_environment(SCOPE, "fn")
