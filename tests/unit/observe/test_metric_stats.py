from __future__ import annotations

import json
import math

import pytest

from lambdad.observe.metric_stats import Stats, merged, percentile_of


def test_statistics_of_values() -> None:
    s = Stats.of([1.0, 2.0, 3.0, 10.0])
    assert s.statistic("SampleCount") == 4
    assert s.statistic("Sum") == 16
    assert s.statistic("Average") == 4
    assert s.statistic("Minimum") == 1
    assert s.statistic("Maximum") == 10
    assert s.statistic("Bogus") is None


@pytest.mark.parametrize(("p", "want"), [(50, 50.0), (90, 90.0), (99, 99.0), (100, 100.0)])
def test_percentiles_within_two_percent(p: float, want: float) -> None:
    s = Stats.of(float(v) for v in range(1, 101))
    assert s.statistic(f"p{p}") == pytest.approx(want, rel=0.02)


def test_percentile_of_equal_values_is_exact() -> None:
    s = Stats.of([7.25] * 5)
    assert s.percentile(99) == 7.25
    assert s.percentile(1) == 7.25


def test_zero_values_have_their_own_bucket() -> None:
    s = Stats.of([0.0, 0.0, 0.0, 1.0])
    assert s.percentile(50) == 0.0
    assert s.percentile(100) == 1.0


def test_merge_is_exact_for_counts_and_extremes() -> None:
    a, b = Stats.of([1.0, 5.0]), Stats.of([0.5, 2.0, 9.0])
    m = merged([a, b])
    assert (m.count, m.sum, m.min, m.max) == (5, 17.5, 0.5, 9.0)
    assert m.percentile(50) == pytest.approx(2.0, rel=0.02)


def test_document_round_trip() -> None:
    s = Stats.of([1.5, 2.5, 100.0])
    back = Stats.from_doc(json.loads(json.dumps(s.to_doc())))
    assert (back.count, back.sum, back.min, back.max) == (s.count, s.sum, s.min, s.max)
    assert back.percentile(90) == s.percentile(90)


def test_statistic_set_counts_as_its_average() -> None:
    s = Stats()
    s.add_summary(4, 40.0, 5.0, 20.0)
    assert (s.count, s.sum, s.min, s.max) == (4, 40.0, 5.0, 20.0)
    assert s.percentile(50) == pytest.approx(10.0, rel=0.02)


def test_empty_average_is_nan_and_percentile_names() -> None:
    assert math.isnan(Stats().statistic("Average") or 0.0)
    assert math.isnan(Stats().percentile(50))
    assert percentile_of("p99") == 99.0
    assert percentile_of("p99.9") == 99.9
    assert percentile_of("p100") == 100.0
    assert percentile_of("p101") is None
    assert percentile_of("tm99") is None
