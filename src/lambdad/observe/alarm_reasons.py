"""How CloudWatch words an evaluated state change: ``StateReason`` and the
``StateReasonData`` document beside it (pure; ``alarm_state`` decides the state).

As recorded from CloudWatch: "Threshold Crossed: 1 datapoint [21.5 (06/12/26
08:00:00)] was greater than the threshold (21.0).", "Threshold Crossed: no datapoints
were received for 2 periods and 2 missing datapoints were treated as [Breaching].";
over several periods, "Threshold Crossed: 2 out of the last 3 datapoints [...] were
greater than or equal to the threshold (5.0) (minimum 2 datapoints for OK -> ALARM
transition)."; with no data, "Insufficient Data: 1 datapoint was unknown.". Numbers are
written as Java writes a double (``21.0``), times as ``dd/MM/yy HH:mm:ss`` (UTC), most
recent first. The data document: ``version``, ``queryDate``, ``startDate`` (when there
is a datapoint), ``unit`` (when the alarm has one), ``statistic``, ``period``,
``recentDatapoints``, ``threshold`` and ``evaluatedDatapoints``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lambdad.observe.alarm_state import ALARM, INSUFFICIENT, OPERATORS

_PHRASES: Final = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass(frozen=True, slots=True)
class Period:
    """One evaluation period: its start (epoch seconds), statistic and sample count."""

    start: float
    value: float | None
    samples: float = 0.0


@dataclass(frozen=True, slots=True)
class Rule:
    """What the alarm compares (its configuration, as the reason needs it)."""

    threshold: float
    operator: str
    datapoints_to_alarm: int
    treat_missing: str
    statistic: str
    period: int
    unit: str | None = None


def reason(periods: Sequence[Period], rule: Rule, old: str, new: str) -> str:
    """``StateReason`` of a change from ``old`` to ``new`` over ``periods`` (oldest
    first)."""
    n = len(periods)
    # (start, value) of the periods with data, most recent first
    present = [(p.start, p.value) for p in reversed(periods) if p.value is not None]
    if new == INSUFFICIENT:
        return f"Insufficient Data: {_count(n, 'datapoint')} {_was(n)} unknown."
    if not present:
        treated = "Breaching" if rule.treat_missing == "breaching" else "NonBreaching"
        return (
            f"Threshold Crossed: no datapoints were received for {_count(n, 'period')} and "
            f"{_count(n, 'missing datapoint')} {_was(n)} treated as [{treated}]."
        )
    breaches = OPERATORS[rule.operator]
    crossing = [(t, v) for t, v in present if breaches(v, rule.threshold) == (new == ALARM)]
    shown = crossing or present
    listed = ", ".join(f"{java_double(v)} ({_when(t)})" for t, v in shown)
    verb = f"{_was(len(shown))} {'' if new == ALARM else 'not '}{_PHRASES[rule.operator]}"
    threshold = java_double(rule.threshold)
    if n == 1:
        return f"Threshold Crossed: 1 datapoint [{listed}] {verb} the threshold ({threshold})."
    needed = rule.datapoints_to_alarm if new == ALARM else n - rule.datapoints_to_alarm + 1
    return (
        f"Threshold Crossed: {len(shown)} out of the last {n} datapoints [{listed}] {verb} "
        f"the threshold ({threshold}) (minimum {_count(needed, 'datapoint')} for "
        f"{old} -> {new} transition)."
    )


def reason_data(periods: Sequence[Period], rule: Rule, now: float) -> str:
    """``StateReasonData``: the evaluation's data, as a JSON document."""
    present = [p for p in periods if p.value is not None]
    doc: dict[str, Any] = {"version": "1.0", "queryDate": _stamp(now)}
    if present:
        doc["startDate"] = _stamp(present[0].start)
    if rule.unit:
        doc["unit"] = rule.unit
    doc |= {
        "statistic": rule.statistic,
        "period": rule.period,
        "recentDatapoints": [p.value for p in present],
        "threshold": float(rule.threshold),
        "evaluatedDatapoints": [
            {"timestamp": _stamp(p.start)}
            if p.value is None
            else {"timestamp": _stamp(p.start), "sampleCount": float(p.samples), "value": p.value}
            for p in reversed(periods)
        ],
    }
    return json.dumps(doc, separators=(",", ":"))


def java_double(value: float) -> str:
    """``value`` as Java's ``Double.toString`` writes it: ``21.0``, ``0.5``, ``1.0E7``."""
    value = float(value)
    magnitude = abs(value)
    if magnitude == 0 or 1e-3 <= magnitude < 1e7:
        text = repr(value)
        return text if "e" not in text else f"{value:f}".rstrip("0")
    mantissa, exponent = f"{value:e}".split("e")
    digits = mantissa.rstrip("0")
    digits = digits + "0" if digits.endswith(".") else digits
    return f"{digits}E{int(exponent)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%m/%y %H:%M:%S")


def _stamp(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}+0000"
