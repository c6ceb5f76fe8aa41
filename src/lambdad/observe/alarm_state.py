"""The state of a metric alarm, from its last evaluation periods (pure).

CloudWatch looks at the last ``EvaluationPeriods`` periods: an alarm goes to ALARM
when at least ``DatapointsToAlarm`` of them breach the threshold, to OK when fewer do
and some data is there, and to INSUFFICIENT_DATA when none is. Missing periods count
as ``TreatMissingData`` says: ``missing`` (the default: they are not there),
``notBreaching``, ``breaching``, or ``ignore`` (the state stays as it is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

ALARM, OK, INSUFFICIENT = "ALARM", "OK", "INSUFFICIENT_DATA"
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str
    reason: str


def evaluate(
    values: Sequence[float | None],
    *,
    threshold: float,
    operator: str,
    datapoints_to_alarm: int,
    treat_missing: str,
    current: str,
) -> Verdict:
    """``values``: the statistic of each evaluation period, oldest first, None where
    the period had no data."""
    breaches = OPERATORS[operator]
    present = [v for v in values if v is not None]
    missing = len(values) - len(present)
    breaching = sum(1 for v in present if breaches(v, threshold))
    if treat_missing == "breaching":
        breaching += missing
    elif treat_missing == "ignore" and not present:
        return Verdict(current, "No data in the evaluation periods (ignored)")
    elif treat_missing in ("missing", "ignore") and not present:
        return Verdict(INSUFFICIENT, "Insufficient Data: no datapoints were received")
    shown = ", ".join("-" if v is None else f"{v:g}" for v in values)
    if breaching >= datapoints_to_alarm:
        return Verdict(
            ALARM,
            f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints "
            f"[{shown}] breached the threshold ({threshold:g}).",
        )
    return Verdict(
        OK,
        f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints "
        f"[{shown}] breached the threshold ({threshold:g}); {datapoints_to_alarm} needed.",
    )
