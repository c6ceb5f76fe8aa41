"""Power tuning's pure core: REPORT lines, statistics, cost per size, the choice."""

from __future__ import annotations

import pytest

from lambdad.api.price_table import on_demand_cost_usd, prices_from_doc
from lambdad.cli.tune_core import (
    Report,
    Sample,
    SizeResult,
    choose,
    parse_report,
    parse_sizes,
    percentile,
    summarise,
    verdict,
)
from lambdad.observe.pricing import Prices

TAIL = (
    "START RequestId: a Version: 3\nhello\nEND RequestId: a\n"
    "REPORT RequestId: a\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 256 MB\tMax Memory Used: 41 MB\tInit Duration: 80.10 ms\t\n"
)


def test_report_line_figures() -> None:
    assert parse_report(TAIL) == Report(12.34, 13, 256, 41)
    assert parse_report("no report here") is None


def test_sizes_are_sorted_distinct_and_within_lambdas_limits() -> None:
    assert parse_sizes("512, 128,256,128") == (128, 256, 512)
    with pytest.raises(ValueError, match="64 MB is outside"):
        parse_sizes("64,128")
    with pytest.raises(ValueError, match="'big' is not"):
        parse_sizes("big")


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def _samples(durations: list[float], memory: int, errors: int = 0) -> list[Sample]:
    out = [Sample(Report(d, int(d) + 1, memory, 30)) for d in durations]
    out += [Sample(Report(100.0, 100, memory, 30), "Unhandled") for _ in range(errors)]
    return out


def price_at(memory_mb: int, prices: Prices | None = None):  # type: ignore[no-untyped-def]
    def price(requests: int, billed_ms: int) -> float:
        return on_demand_cost_usd(
            prices or Prices(),
            architecture="x86_64",
            memory_mb=memory_mb,
            storage_mb=512,
            requests=requests,
            billed_ms=billed_ms,
        )

    return price


def test_summary_of_one_size_counts_errors_and_prices_every_billed_invocation() -> None:
    r = summarise(1024, _samples([10.2, 11.5, 30.0], 1024, errors=1), price_at(1024))
    assert (r.invocations, r.errors) == (4, 1)
    assert r.median_ms == 11.5  # failed invocations are not in the durations
    assert r.billed_median_ms == 12
    assert r.max_memory_used_mb == 30
    billed_ms = 11 + 12 + 31 + 100  # the failure is billed too
    gb_s = billed_ms / 1000 * 1.0
    expected = (4 * 0.20 / 1_000_000 + gb_s * 0.0000166667) / 4
    assert r.cost_usd == pytest.approx(expected)


def test_cost_follows_the_servers_price_table() -> None:
    prices = prices_from_doc({"per_million_requests": 0.0, "gb_second": {"x86_64": 1.0}})
    r = summarise(2048, _samples([999.0], 2048), price_at(2048, prices))
    assert r.cost_usd == pytest.approx(2.0)  # 1 s billed at 2 GB, $1 a GB-second


def test_a_size_without_answers_has_no_figures() -> None:
    r = summarise(128, [Sample(None, "TooManyRequestsException")], price_at(128))
    assert (r.errors, r.median_ms, r.cost_usd) == (1, None, None)
    assert not r.eligible


def _result(memory: int, median: float, cost: float, errors: int = 0) -> SizeResult:
    return SizeResult(memory, 5, errors, median, median, median, 30, cost)


def test_strategies_pick_cheapest_fastest_and_balanced() -> None:
    results = [
        _result(128, 400.0, 1.0),
        _result(256, 190.0, 0.95),
        _result(512, 100.0, 1.6),
        _result(1024, 95.0, 3.0),
    ]
    assert choose(results, "cost") == 256
    assert choose(results, "speed") == 1024
    # 0.5 x cost / 3.0 + 0.5 x duration / 400: 256 MB scores 0.396, 512 MB 0.392.
    assert choose(results, "balanced") == 512
    assert choose(results, "balanced", weight=1.0) == 256
    v = verdict(results, "speed")
    assert (v.cheapest, v.fastest, v.balanced, v.recommended) == (256, 1024, 512, 1024)


def test_ties_go_to_the_faster_or_cheaper_and_failing_sizes_are_never_chosen() -> None:
    results = [_result(128, 50.0, 1.0, errors=1), _result(256, 40.0, 2.0), _result(512, 30.0, 2.0)]
    assert choose(results, "cost") == 512
    assert choose([_result(128, 5.0, 1.0), _result(256, 5.0, 0.5)], "speed") == 256
    assert choose([_result(128, 5.0, 1.0, errors=2)], "cost") is None
