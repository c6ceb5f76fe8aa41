"""Dead-letter queues of EventBridge targets and Scheduler schedules: sending a failed
event to its SQS queue.

The queue is reached through boto3's standard configuration (``AWS_ENDPOINT_URL_SQS``)
with the outbound identity of the account that owns the rule or schedule
(``lambdad.outbound``: never lambdad's own unless the operator trusts that account with
it), in a thread off the event loop. A queue that cannot be reached is logged, not
retried: the event was already given up on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from lambdad.invoke.destinations import DeliveryError, DestinationSender
from lambdad.store.queue import Delivery

log = logging.getLogger(__name__)

# AWS keeps the first kilobyte of an error message in a dead letter's attributes.
MESSAGE_MAX = 1024


class DeadLetters:
    def __init__(self, sender: DestinationSender) -> None:
        self.sender = sender
        self._sending: set[asyncio.Task[None]] = set()

    def send(self, queue: str, source: str, body: str, attributes: Mapping[str, str]) -> None:
        """Send ``body`` to ``queue`` (an SQS ARN) for ``source`` (the ARN of the rule or
        schedule: its account's identity signs), in the background."""
        delivery = Delivery(
            target=queue,
            kind="dead-letter",
            body=body,
            condition="failure",
            # Whose outbound identity signs: the source's account (its ARN's fifth field).
            function_arn=source,
            attributes={k: v for k, v in attributes.items() if v},
        )
        task = asyncio.get_running_loop().create_task(self._send(delivery))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, delivery: Delivery) -> None:
        try:
            await asyncio.to_thread(self.sender.send, delivery)
        except DeliveryError as exc:
            log.warning(
                "%s: dead letter to %s not sent: %s", delivery.function_arn, delivery.target, exc
            )
        else:
            log.info("%s: dead letter sent to %s", delivery.function_arn, delivery.target)
