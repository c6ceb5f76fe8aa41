"""Why an EventBridge rule's target was not invoked, as its dead-letter message says it.

A Lambda target is invoked when its event is on lambdad's durable queue, and what stops
that (the function's policy, a missing function, another account's function, a payload
it cannot take) fails again on every retry: as EventBridge does with missing permissions
or resources, such an event goes to the target's dead-letter queue at once, without
retries. The message body is the event; its attributes are EventBridge's (``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``, ``RETRY_ATTEMPTS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdad.errors import AccessDeniedException, AwsError, ResourceNotFoundException
from lambdad.events.dead_letters import MESSAGE_MAX

NO_PERMISSIONS = "NO_PERMISSIONS"
NO_RESOURCE = "NO_RESOURCE"
ERROR_FROM_TARGET = "ERROR_FROM_TARGET"


@dataclass(frozen=True, slots=True)
class TargetFailure:
    code: str
    message: str

    @classmethod
    def of(cls, exc: AwsError) -> TargetFailure:
        if isinstance(exc, ResourceNotFoundException):
            return cls(NO_RESOURCE, exc.message)
        if isinstance(exc, AccessDeniedException):
            return cls(NO_PERMISSIONS, exc.message)
        return cls(ERROR_FROM_TARGET, f"{exc.code}: {exc.message}")


def attributes(rule: str, target: str, failure: TargetFailure) -> dict[str, str]:
    return {
        "RULE_ARN": rule,
        "TARGET_ARN": target,
        "ERROR_CODE": failure.code,
        "ERROR_MESSAGE": failure.message[:MESSAGE_MAX],
        "RETRY_ATTEMPTS": "0",
    }
