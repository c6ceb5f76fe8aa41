from __future__ import annotations

import pytest

from lambdad.observe.metric_math import MathError, evaluate, references

A = {0: 2.0, 60: 4.0, 120: 6.0}
B = {0: 1.0, 60: 0.0}


def test_arithmetic_between_series_and_numbers() -> None:
    assert evaluate("a + b", {"a": A, "b": B}) == {0: 3.0, 60: 4.0}
    assert evaluate("100 * b / a", {"a": A, "b": B}) == {0: 50.0, 60: 0.0}
    assert evaluate("a / b", {"a": A, "b": B}) == {0: 2.0}  # division by zero left out
    assert evaluate("-(a - 1) * 2", {"a": A}) == {0: -2.0, 60: -6.0, 120: -10.0}
    assert evaluate("1 + 2 * 3", {}) == 7.0


def test_functions_over_arrays_and_series() -> None:
    assert evaluate("SUM([a, b])", {"a": A, "b": B}) == {0: 3.0, 60: 4.0, 120: 6.0}
    assert evaluate("AVG(METRICS())", {"a": A, "b": B}) == {0: 1.5, 60: 2.0, 120: 6.0}
    assert evaluate("SUM(a)", {"a": A}) == 12.0
    assert evaluate("MAX(a)", {"a": A}) == 6.0


@pytest.mark.parametrize("bad", ["a +", "nope", "FOO(a)", "(a", "a ] b", "[1]", "a + [a]"])
def test_bad_expressions_are_refused(bad: str) -> None:
    with pytest.raises(MathError):
        evaluate(bad, {"a": A})


def test_references() -> None:
    assert references("SUM([m1, e_2]) / m1 * 100") == {"m1", "e_2"}
