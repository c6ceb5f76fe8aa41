from __future__ import annotations

from lambdad.observe.metric_keys import LAMBDA, MetricKey
from lambdad.observe.series_quota import SeriesQuota


def key(name: str, account: str = "111122223333", ns: str = "Shop") -> MetricKey:
    return MetricKey(account, "us-east-1", ns, name, ())


def test_new_custom_series_stop_at_the_limit_per_world() -> None:
    loads: list[tuple[str, str]] = []

    def load(account: str, region: str) -> list[MetricKey]:
        loads.append((account, region))
        return [key("stored"), key("Invocations", ns=LAMBDA)]

    quota = SeriesQuota(3, load)
    assert quota.unloaded([key("a")]) == {("111122223333", "us-east-1")}
    assert quota.room([key("a"), key("b")])
    assert not quota.room([key("a"), key("b"), key("c")])
    assert quota.admit(key("a"))
    assert quota.admit(key("b"))
    assert not quota.admit(key("c"))  # stored + a + b
    assert quota.admit(key("a"))  # a known one always
    assert quota.admit(key("Duration", ns=LAMBDA))  # Lambda's own are not counted
    assert quota.admit(key("c", account="999988887777"))  # another world has its own
    assert loads == [("111122223333", "us-east-1"), ("999988887777", "us-east-1")]
