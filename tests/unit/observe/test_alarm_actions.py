from __future__ import annotations

from typing import Any

import pytest

from lambdad.observe.alarm_actions import action_kind, action_problem, actions_for

TOPIC = "arn:aws:sns:us-east-1:111122223333:ops"
FUNCTION = "arn:aws:lambda:us-east-1:111122223333:function:heal"


def alarm(state: str, **over: Any) -> dict[str, Any]:
    return {
        "StateValue": state,
        "AlarmActions": [TOPIC, FUNCTION],
        "OKActions": [TOPIC],
        "InsufficientDataActions": [],
    } | over


@pytest.mark.parametrize(
    ("state", "before", "runs"),
    [
        ("ALARM", "OK", [TOPIC, FUNCTION]),
        ("ALARM", "INSUFFICIENT_DATA", [TOPIC, FUNCTION]),
        ("OK", "ALARM", [TOPIC]),
        ("INSUFFICIENT_DATA", "OK", []),
        ("ALARM", "ALARM", []),  # no change of state, no action
    ],
)
def test_the_new_states_actions_run_once_per_change(
    state: str, before: str, runs: list[str]
) -> None:
    assert actions_for(alarm(state), before) == runs


def test_disabled_actions_do_not_run() -> None:
    assert actions_for(alarm("ALARM", ActionsEnabled=False), "OK") == []
    assert actions_for(alarm("ALARM", ActionsEnabled=True), "OK") == [TOPIC, FUNCTION]
    no_lists = {"StateValue": "ALARM"}
    assert actions_for(no_lists, "OK") == []


def test_action_kinds() -> None:
    assert action_kind(TOPIC) == "sns"
    assert action_kind(FUNCTION) == "lambda"
    assert action_kind(FUNCTION + ":live") == "lambda"
    assert action_kind("arn:aws:automate:us-east-1:ec2:stop") == "automate"
    assert action_kind("arn:aws:s3:::bucket") is None
    assert action_kind("not an arn") is None


def test_put_metric_alarm_refuses_malformed_and_other_region_actions() -> None:
    assert action_problem(TOPIC, "us-east-1") is None
    assert action_problem("arn:aws:sqs:us-east-1:1:q", "us-east-1") == (
        "Invalid arn syntax: arn:aws:sqs:us-east-1:1:q"
    )
    assert action_problem(TOPIC, "eu-west-1") == (
        "Invalid region us-east-1 specified. Only eu-west-1 is supported."
    )
