"""CloudWatch's words for an evaluated state change, and the data beside them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lambdad.observe.alarm_reasons import Period, Rule, java_double, reason, reason_data

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC).timestamp()


def rule(**over: object) -> Rule:
    fields: dict[str, object] = {
        "threshold": 21.0, "operator": "GreaterThanThreshold", "datapoints_to_alarm": 1,
        "treat_missing": "missing", "statistic": "Average", "period": 60,
    }  # fmt: skip
    return Rule(**(fields | over))  # type: ignore[arg-type]


def test_one_datapoint_as_recorded() -> None:
    # Recorded from CloudWatch (LocalStack's AWS-validated snapshot), time filled in.
    assert reason([Period(T0, 21.5, 2)], rule(), "INSUFFICIENT_DATA", "ALARM") == (
        "Threshold Crossed: 1 datapoint [21.5 (06/12/26 08:00:00)] was greater than the "
        "threshold (21.0)."
    )
    assert reason([Period(T0, 3.0, 1)], rule(), "ALARM", "OK") == (
        "Threshold Crossed: 1 datapoint [3.0 (06/12/26 08:00:00)] was not greater than the "
        "threshold (21.0)."
    )


def test_missing_data_treated_and_unknown() -> None:
    periods = [Period(T0, None), Period(T0 + 60, None)]
    assert reason(periods, rule(treat_missing="breaching"), "INSUFFICIENT_DATA", "ALARM") == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing "
        "datapoints were treated as [Breaching]."
    )
    assert reason(periods[:1], rule(), "OK", "INSUFFICIENT_DATA") == (
        "Insufficient Data: 1 datapoint was unknown."
    )


def test_m_out_of_n_lists_the_crossing_datapoints_most_recent_first() -> None:
    periods = [Period(T0, 30.0, 1), Period(T0 + 60, 1.0, 1), Period(T0 + 120, 25.0, 1)]
    assert reason(periods, rule(datapoints_to_alarm=2), "OK", "ALARM") == (
        "Threshold Crossed: 2 out of the last 3 datapoints [25.0 (06/12/26 08:02:00), "
        "30.0 (06/12/26 08:00:00)] were greater than the threshold (21.0) (minimum 2 "
        "datapoints for OK -> ALARM transition)."
    )


def test_reason_data() -> None:
    periods = [Period(T0, None), Period(T0 + 60, 21.5, 2)]
    doc = json.loads(reason_data(periods, rule(unit="Seconds"), T0 + 65.25))
    assert list(doc) == ["version", "queryDate", "startDate", "unit", "statistic", "period",
                         "recentDatapoints", "threshold", "evaluatedDatapoints"]  # fmt: skip
    assert doc["queryDate"] == "2026-12-06T08:01:05.250+0000"
    assert doc["startDate"] == "2026-12-06T08:01:00.000+0000"
    assert (doc["recentDatapoints"], doc["threshold"]) == ([21.5], 21.0)
    assert doc["evaluatedDatapoints"] == [
        {"timestamp": "2026-12-06T08:01:00.000+0000", "sampleCount": 2.0, "value": 21.5},
        {"timestamp": "2026-12-06T08:00:00.000+0000"},
    ]
    assert "startDate" not in json.loads(reason_data(periods[:1], rule(), T0))


def test_numbers_as_java_writes_them() -> None:
    assert [java_double(v) for v in (21, 0.5, 0.0, 1e7, 1.5e-5, -2)] == [
        "21.0", "0.5", "0.0", "1.0E7", "1.5E-5", "-2.0",
    ]  # fmt: skip
