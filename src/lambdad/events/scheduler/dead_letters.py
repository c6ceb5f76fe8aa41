"""Why a schedule's fire failed, as its dead-letter message says it.

The message body is the payload the target would have received; its attributes are
those of Scheduler's dead-letter events (``ERROR_CODE``, ``ERROR_MESSAGE``,
``EXHAUSTED_RETRY_CONDITION``, ``RETRY_ATTEMPTS``, ``SCHEDULE_ARN``, ``TARGET_ARN``).
Sending is ``events.dead_letters``'.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.errors import AwsError
from lambdad.events.dead_letters import MESSAGE_MAX


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str
    exhausted: str = ""  # the retry condition that ran out, if one did

    @classmethod
    def of(cls, exc: AwsError) -> Failure:
        return cls(exc.code, exc.message)

    @classmethod
    def expired(cls) -> Failure:
        return cls(
            "EventAgeExceeded",
            "The tick was not delivered within the target's MaximumEventAgeInSeconds.",
            "MaximumEventAgeInSeconds",
        )


def attributes(schedule: str, target: str, failure: Failure) -> dict[str, str]:
    return {
        "ERROR_CODE": failure.code,
        "ERROR_MESSAGE": failure.message[:MESSAGE_MAX],
        "EXHAUSTED_RETRY_CONDITION": failure.exhausted,
        "RETRY_ATTEMPTS": "0",
        "SCHEDULE_ARN": schedule,
        "TARGET_ARN": target,
    }
