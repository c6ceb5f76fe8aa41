"""Why a target or a schedule's fire failed, as the dead-letter attributes say it."""

from __future__ import annotations

from lambdad.errors import (
    AccessDeniedException,
    RequestTooLargeException,
    ResourceNotFoundException,
)
from lambdad.events.scheduler.dead_letters import Failure
from lambdad.events.scheduler.dead_letters import attributes as schedule_attributes
from lambdad.events.target_failures import TargetFailure, attributes

RULE = "arn:aws:events:us-east-1:123456789012:rule/orders"
FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_failures_take_eventbridges_error_codes() -> None:
    assert TargetFailure.of(ResourceNotFoundException("gone")).code == "NO_RESOURCE"
    assert TargetFailure.of(AccessDeniedException("no")).code == "NO_PERMISSIONS"
    large = TargetFailure.of(RequestTooLargeException("too big"))
    assert (large.code, large.message) == ("ERROR_FROM_TARGET", "RequestTooLargeException: too big")


def test_rule_dead_letter_attributes() -> None:
    got = attributes(RULE, FN, TargetFailure("NO_PERMISSIONS", "x" * 2000))
    assert got["RULE_ARN"] == RULE
    assert got["TARGET_ARN"] == FN
    assert got["ERROR_CODE"] == "NO_PERMISSIONS"
    assert len(got["ERROR_MESSAGE"]) == 1024
    assert got["RETRY_ATTEMPTS"] == "0"


def test_schedule_dead_letter_attributes() -> None:
    schedule = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s"
    got = schedule_attributes(schedule, FN, Failure.of(ResourceNotFoundException("gone")))
    assert (got["SCHEDULE_ARN"], got["ERROR_CODE"], got["EXHAUSTED_RETRY_CONDITION"]) == (
        schedule,
        "ResourceNotFoundException",
        "",
    )
    assert schedule_attributes(schedule, FN, Failure.expired())["EXHAUSTED_RETRY_CONDITION"] == (
        "MaximumEventAgeInSeconds"
    )
