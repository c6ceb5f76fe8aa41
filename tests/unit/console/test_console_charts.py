"""Inline SVG charts: scales, gaps and counts."""

from __future__ import annotations

import pytest

from lambdad.console import charts


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (0.3, 0.5), (1, 1), (3, 5), (7, 10), (12, 20), (4500, 5000)]
)
def test_scales_end_on_round_numbers(value: float, top: float) -> None:
    assert charts.nice_max(value) == pytest.approx(top)


def test_counts_fill_empty_periods_with_zero_and_durations_leave_gaps() -> None:
    series = {60: 3.0, 180: 1.0}
    assert charts.points(series, 0, 240, 60, zero_fill=True) == [
        (0, 0.0), (60, 3.0), (120, 0.0), (180, 1.0)
    ]  # fmt: skip
    assert charts.points(series, 0, 240, 60, zero_fill=False) == [
        (0, None), (60, 3.0), (120, None), (180, 1.0)
    ]  # fmt: skip


def test_a_chart_is_svg_with_its_total() -> None:
    out = charts.svg("Invocations", {60: 3.0, 120: 4.0}, 0, 240, 60)
    assert "<svg" in out
    assert "<polyline" in out
    assert "total 7" in out
    gaps = charts.svg("Duration p99", {60: 12.5}, 0, 240, 60, unit="ms", zero_fill=False)
    assert "<circle" in gaps
    assert "<polyline" not in gaps
    assert "max 12" in gaps


def test_titles_are_escaped() -> None:
    assert "<script>" not in charts.svg("<script>", {}, 0, 120, 60)
