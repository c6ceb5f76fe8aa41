from __future__ import annotations

from lambdad.observe.alarm_state import ALARM, INSUFFICIENT, OK, evaluate


def state(values: list[float | None], treat: str = "missing", m: int = 2, current: str = OK) -> str:
    return evaluate(
        values,
        threshold=5,
        operator="GreaterThanOrEqualToThreshold",
        datapoints_to_alarm=m,
        treat_missing=treat,
        current=current,
    ).state


def test_m_out_of_n() -> None:
    assert state([5, 1, 6]) == ALARM
    assert state([5, 1, 1]) == OK


def test_missing_data() -> None:
    assert state([None, None, None]) == INSUFFICIENT
    assert state([None, None, None], "notBreaching") == OK
    assert state([None, None, 1], "breaching") == ALARM
    assert state([None, None, None], "ignore", current=ALARM) == ALARM
