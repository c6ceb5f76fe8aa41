"""A schedule's dead-letter queue: why a fire failed, and sending it to SQS.

The message body is the payload the target would have received; its attributes say
what failed as Scheduler's dead-letter events do (``ERROR_CODE``, ``ERROR_MESSAGE``,
``EXHAUSTED_RETRY_CONDITION``, ``RETRY_ATTEMPTS``, ``SCHEDULE_ARN``, ``TARGET_ARN``).
The queue is reached through boto3's standard configuration (``AWS_ENDPOINT_URL_SQS``)
signed with the schedule account's outbound identity (``lambdad.outbound``), in a
thread off the event loop; a queue that cannot be reached is logged, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lambdad.errors import AwsError
from lambdad.invoke.destinations import DeliveryError, DestinationSender
from lambdad.store.queue import Delivery

log = logging.getLogger(__name__)

MESSAGE_MAX = 1024


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


def dead_letter(
    queue: str, schedule: str, target: str, payload: bytes, failure: Failure
) -> Delivery:
    attributes = {
        "ERROR_CODE": failure.code,
        "ERROR_MESSAGE": failure.message[:MESSAGE_MAX],
        "EXHAUSTED_RETRY_CONDITION": failure.exhausted,
        "RETRY_ATTEMPTS": "0",
        "SCHEDULE_ARN": schedule,
        "TARGET_ARN": target,
    }
    return Delivery(
        target=queue,
        kind="dead-letter",
        body=payload.decode("utf-8", "replace"),
        condition="failure",
        # Whose outbound identity signs: the schedule's account (its ARN's fifth field).
        function_arn=schedule,
        attributes={k: v for k, v in attributes.items() if v},
    )


class DeadLetters:
    def __init__(self, sender: DestinationSender) -> None:
        self.sender = sender
        self._sending: set[asyncio.Task[None]] = set()

    def send(
        self, queue: str, schedule: str, target: str, payload: bytes, failure: Failure
    ) -> None:
        delivery = dead_letter(queue, schedule, target, payload, failure)
        task = asyncio.get_running_loop().create_task(self._send(delivery))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, delivery: Delivery) -> None:
        try:
            await asyncio.to_thread(self.sender.send, delivery)
        except DeliveryError as exc:
            log.warning(
                "schedule %s: dead letter to %s not sent: %s",
                delivery.function_arn,
                delivery.target,
                exc,
            )
        else:
            log.info("schedule %s: dead letter sent to %s", delivery.function_arn, delivery.target)
