"""Traffic shifting's pure core: the configurations, their schedules of weights, and
what a running deployment does next, and how one that does not succeed ends."""

from __future__ import annotations

import pytest

from lambdad.deploy.traffic import (
    ALL_AT_ONCE,
    CANARY,
    LINEAR,
    ON_ALARM,
    ON_FAILURE,
    PREDEFINED,
    AutoRollback,
    Complete,
    Ending,
    Routing,
    Shift,
    Stage,
    Stop,
    Wait,
    auto_rollback,
    decide,
    ending,
    from_properties,
    schedule,
    weights,
)


def test_predefined_configurations_are_codedeploys() -> None:
    assert PREDEFINED["CodeDeployDefault.LambdaAllAtOnce"] == Routing(ALL_AT_ONCE)
    assert PREDEFINED["CodeDeployDefault.LambdaCanary10Percent30Minutes"] == Routing(CANARY, 10, 30)
    assert PREDEFINED["CodeDeployDefault.LambdaLinear10PercentEvery1Minute"] == Routing(
        LINEAR, 10, 1
    )
    assert len(PREDEFINED) == 9


def test_schedules() -> None:
    assert schedule(Routing(ALL_AT_ONCE)) == (Stage(0.0, 1.0),)
    assert schedule(Routing(CANARY, 10, 5)) == (Stage(0.0, 0.1), Stage(300.0, 1.0))
    linear = schedule(Routing(LINEAR, 30, 2))
    assert [s.at for s in linear] == [0.0, 120.0, 240.0, 360.0]
    assert [round(s.weight, 2) for s in linear] == [0.3, 0.6, 0.9, 1.0]
    assert len(schedule(Routing(LINEAR, 10, 1))) == 10


def test_custom_configuration_from_a_template() -> None:
    props = {
        "ComputePlatform": "Lambda",
        "TrafficRoutingConfig": {
            "Type": "TimeBasedLinear",
            "TimeBasedLinear": {"LinearPercentage": "25", "LinearInterval": 3},
        },
    }
    assert from_properties(props) == Routing(LINEAR, 25, 3)
    canary = {"TrafficRoutingConfig": {"Type": "TimeBasedCanary",
                                       "TimeBasedCanary": {"CanaryPercentage": 5,
                                                           "CanaryInterval": 1}}}  # fmt: skip
    assert from_properties(canary) == Routing(CANARY, 5, 1)
    assert from_properties({"TrafficRoutingConfig": {"Type": "AllAtOnce"}}) == Routing(ALL_AT_ONCE)
    for bad in (
        {"ComputePlatform": "Lambda"},
        {"ComputePlatform": "Server", "TrafficRoutingConfig": {"Type": "AllAtOnce"}},
        {"TrafficRoutingConfig": {"Type": "Sometimes"}},
        {"TrafficRoutingConfig": {"Type": "TimeBasedCanary"}},
        {"TrafficRoutingConfig": {"Type": "TimeBasedLinear",
                                  "TimeBasedLinear": {"LinearPercentage": 0,
                                                      "LinearInterval": 1}}},
    ):  # fmt: skip
        with pytest.raises(ValueError, match=r"TrafficRoutingConfig|ComputePlatform|Percentage"):
            from_properties(bad)


def test_decide_walks_the_schedule() -> None:
    stages = schedule(Routing(CANARY, 10, 5))
    assert decide(stages, 0.0, 0.0, []) == Shift(0.1)
    assert decide(stages, 1.0, 0.1, []) == Wait(299.0)
    assert decide(stages, 300.0, 0.1, []) == Shift(1.0)
    assert decide(stages, 301.0, 1.0, []) == Complete()
    assert decide(schedule(Routing(ALL_AT_ONCE)), 0.0, 0.0, []) == Shift(1.0)


def test_an_alarm_stops_the_deployment() -> None:
    stages = schedule(Routing(LINEAR, 10, 1))
    move = decide(stages, 70.0, 0.2, ["errors", "latency"])
    assert move == Stop("alarm(s) in ALARM state: errors, latency")


def test_weights_keep_the_old_version_until_all_traffic_moves() -> None:
    assert weights("1", "2", 0.1) == ("1", {"2": 0.1})
    assert weights("1", "2", 1.0) == ("2", {})


def test_auto_rollback_is_off_unless_enabled() -> None:
    assert auto_rollback(None) == AutoRollback()
    off = auto_rollback({"Enabled": False, "Events": [ON_ALARM]})
    assert off.events == frozenset()
    # Kept as given: the events named though disabled, none added where none named.
    assert off.to_doc() == {"enabled": False, "events": [ON_ALARM]}
    assert auto_rollback({"Enabled": True}).to_doc() == {"enabled": True, "events": []}
    assert auto_rollback({"Enabled": "true", "Events": [ON_ALARM, "BOGUS"]}).events == {ON_ALARM}
    # Enabled with no events named, and a group recorded as a bare flag.
    assert auto_rollback({"Enabled": True}).events == {ON_FAILURE, ON_ALARM}
    assert auto_rollback(True).events == {ON_FAILURE, ON_ALARM}
    recorded = auto_rollback({"Enabled": True, "Events": [ON_FAILURE]}).to_doc()
    assert recorded == {"enabled": True, "events": [ON_FAILURE]}
    assert auto_rollback(recorded).events == {ON_FAILURE}


def test_an_alarm_stops_and_a_failure_fails_rolling_back_only_as_configured() -> None:
    everything = AutoRollback(True, frozenset({ON_FAILURE, ON_ALARM}))
    assert ending(True, False, everything) == Ending("Stopped", "ALARM_ACTIVE", True)
    assert ending(True, False, AutoRollback()) == Ending("Stopped", "ALARM_ACTIVE", False)
    only_failures = AutoRollback(True, frozenset({ON_FAILURE}))
    assert ending(True, False, only_failures).roll_back is False
    assert ending(False, True, only_failures) == Ending("Failed", "HOOK_EXECUTION_FAILURE", True)
    assert ending(False, False, AutoRollback()) == Ending("Failed", "INTERNAL_ERROR", False)
