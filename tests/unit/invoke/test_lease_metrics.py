from __future__ import annotations

from lambdad.clock import FakeClock
from lambdad.invoke.lease_metrics import sample
from lambdad.invoke.leases import AccountLimits, FunctionKey, FunctionLimits, Leases
from lambdad.observe.metrics_fold import fold
from lambdad.observe.metrics_recorder import MetricsRecorder

FN = FunctionKey("111122223333", "us-east-1", "fn")
OTHER = FunctionKey("111122223333", "us-east-1", "other")


def leases() -> Leases:
    def limits(key: FunctionKey) -> tuple[FunctionLimits, AccountLimits]:
        own = FunctionLimits(provisioned={"live": 1}) if key == FN else FunctionLimits(reserved=5)
        return own, AccountLimits(1000, reserved=5, provisioned_unreserved=1)

    return Leases(limits, FakeClock())


def names(rec: MetricsRecorder) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    for (key, _), s in fold(rec.drain()).points.items():
        out[(key.name, len(key.dims))] = (
            s.max if "Executions" in key.name or "Util" in key.name else s.sum
        )
    return out


def test_provisioned_then_spillover_and_claimed() -> None:
    rec, pool = MetricsRecorder(now=lambda: 0.0), leases()
    first = pool.grant(FN, "live")
    assert sample(rec, pool, FN, first, "live") == (1, 0, 6)
    second = pool.grant(FN, "live")  # the one provisioned slot is taken: on demand
    assert sample(rec, pool, FN, second, "live") == (1, 1, 7)
    got = names(rec)
    assert got[("ProvisionedConcurrencyInvocations", 2)] == 1
    assert got[("ProvisionedConcurrencySpilloverInvocations", 2)] == 1
    assert got[("ProvisionedConcurrentExecutions", 1)] == 1
    assert got[("ProvisionedConcurrencyUtilization", 2)] == 1.0


def test_nothing_provisioned_records_no_provisioned_metrics() -> None:
    rec, pool = MetricsRecorder(now=lambda: 0.0), leases()
    lease = pool.grant(OTHER, None)
    assert sample(rec, pool, OTHER, lease, None) == (1, 0, 6)
    assert names(rec) == {}


def test_claimed_account_concurrency_is_the_highest_of_the_minute() -> None:
    from lambdad.model.scope import Scope
    from lambdad.model.version import RunnableVersion

    rec = MetricsRecorder(now=lambda: 0.0)
    rv = RunnableVersion(Scope(FN.account, FN.region), "fn", "$LATEST", "r", "00")
    rec.invoked(rv, 1.0, False, None, 1, 1, 7)
    rec.invoked(rv, 1.0, False, None, 2, 2, 9)
    got = names(rec)
    assert got[("ClaimedAccountConcurrency", 0)] == 9
    assert got[("UnreservedConcurrentExecutions", 0)] == 2
