"""The Amazon MQ for RabbitMQ source: consumes a broker's queues and invokes the function
with ``aws:rmq`` batches, one at a time per mapping as AWS does for RabbitMQ.

A batch is the first delivery plus what arrives within the batching window
(``MaximumBatchingWindowInSeconds``; 0 is AWS's default of 500 ms,
``esm_mq_default_window``), up to ``BatchSize`` messages (the channel's prefetch) and
the 6 MB payload limit; a message that alone exceeds it is dropped (rejected, so the
queue's dead-letter exchange gets it), as AWS drops it. Messages no ``FilterCriteria``
matches are acknowledged without an invocation. After the function succeeds the batch
is acknowledged; after it fails (or the platform could not run it) the poller backs off
and gives the batch back to the queue, which redelivers it (``redelivered: true``); a
throttle is retried while the batch is held. A broker that cannot be reached, refuses
the credentials or lacks a queue is retried with backoff and reported in
``StateTransitionReason`` (AWS's codes) and ``LastProcessingResult``. A stop closes
the connection at once: every unacknowledged message goes back to its queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from aiormq.exceptions import (
    ChannelAccessRefused,
    ChannelNotFoundEntity,
    ConnectionNotAllowed,
    ProbableAuthenticationError,
)

from lambdad.events.mappings import rmq_broker
from lambdad.events.mappings import rmq_records as rr
from lambdad.events.mappings.contract import MAX_PAYLOAD, PollerContext
from lambdad.events.mappings.rmq_broker import (
    AUTHN_ERROR,
    AUTHZ_ERROR,
    CONFIG_NOT_VALID,
    BrokerProblem,
)
from lambdad.events.mappings.rmq_consumer import Consumer
from lambdad.model.event_source_mapping import OK, USER_ACTION, EventSourceMapping

log = logging.getLogger(__name__)

FUNCTION_FAILED: Final = "PROBLEM: Function call failed"
UNREACHABLE: Final = "PROBLEM: Connection error. Your event source is unreachable."
TOO_LARGE: Final = "PROBLEM: A message larger than the 6 MB payload limit was dropped."


def _said(exc: Exception) -> str:
    """What the broker said (``NOT_FOUND - no queue 'jobs' in vhost '/'``)."""
    return str(exc.args[-1]) if exc.args else type(exc).__name__


ConsumerFactory = Callable[[rmq_broker.BrokerTarget, tuple[str, ...], int], Consumer]


class RabbitMqPoller:
    def __init__(
        self,
        mapping: EventSourceMapping,
        context: PollerContext,
        consumers: ConsumerFactory = Consumer,
    ) -> None:
        self.mapping = mapping
        self.ctx = context
        self._consumers = consumers
        self.window = float(mapping.maximum_batching_window) or float(
            context.settings.esm_mq_default_window
        )
        self.envelope = rr.envelope_size(mapping.event_source_arn)
        self._carry: rr.Delivery | None = None
        self._failures = 0

    async def run(self) -> None:
        attempt = 0
        while True:
            consumer = await self._connect()
            if consumer is None:
                attempt += 1
                await self.ctx.sleep(self.ctx.backoff(attempt))
                continue
            try:
                await self._consume(consumer)  # returns only by raising
            except Exception as exc:  # a lost connection, or an ack on a closed channel
                log.warning("mapping %s: broker connection lost: %r", self.mapping.uuid, exc)
                self.ctx.report(result=UNREACHABLE)
            finally:
                self._carry = None
                await consumer.close()  # before backing off: nothing held meanwhile
            attempt = 1
            await self.ctx.sleep(self.ctx.backoff(attempt))

    async def _connect(self) -> Consumer | None:
        settings = self.ctx.settings
        try:
            secrets = await self.ctx.run_blocking(rmq_broker.load_secrets, settings.mq_secrets_file)
            target = rmq_broker.target(
                self.mapping.event_source_arn,
                self.mapping.scope.account,
                self.mapping.source_access,
                settings.mq_brokers,
                secrets,
            )
            consumer = self._consumers(target, self.mapping.queues, self.mapping.batch_size)
            try:
                await consumer.open()
            except BaseException:  # a stop while connecting included: no stray consumer
                await consumer.close()
                raise
        except BrokerProblem as exc:
            self._problem(exc.reason, f"PROBLEM: {exc.message}")
        except ProbableAuthenticationError:
            self._problem(AUTHN_ERROR, "PROBLEM: The broker refused the credentials.")
        except (ConnectionNotAllowed, ChannelAccessRefused) as exc:
            self._problem(AUTHZ_ERROR, f"PROBLEM: {_said(exc)}")
        except ChannelNotFoundEntity as exc:
            self._problem(CONFIG_NOT_VALID, f"PROBLEM: {_said(exc)}")
        except Exception as exc:  # down, slow, or answering nonsense: retried
            log.warning("mapping %s: broker unreachable: %r", self.mapping.uuid, exc)
            self.ctx.report(result=UNREACHABLE)
        else:
            self.ctx.report(reason=USER_ACTION)
            return consumer
        return None

    def _problem(self, reason: str, result: str) -> None:
        log.warning("mapping %s: %s (%s)", self.mapping.uuid, result, reason)
        self.ctx.report(result=result, reason=reason)

    async def _consume(self, consumer: Consumer) -> None:
        while True:
            batch = await self._collect(consumer)
            if batch:
                await self._process(consumer, batch)

    async def _collect(self, consumer: Consumer) -> list[rr.Delivery]:
        first = self._carry or await consumer.next()
        self._carry = None
        if first is None:
            return []
        batch: list[rr.Delivery] = []
        used = self.envelope
        deadline = self.ctx.clock.monotonic() + self.window
        item: rr.Delivery | None = first
        while item is not None:
            size = rr.size_of(item)
            if self.envelope + size > MAX_PAYLOAD:
                await consumer.reject(item.tag)
                self.ctx.report(result=TOO_LARGE)
            elif used + size > MAX_PAYLOAD:
                self._carry = item  # the next batch's first
                break
            else:
                used += size
                batch.append(item)
            if len(batch) >= self.mapping.batch_size:
                break
            item = await consumer.next(max(0.0, deadline - self.ctx.clock.monotonic()))
        return batch

    async def _process(self, consumer: Consumer, batch: list[rr.Delivery]) -> None:
        last = batch[-1].tag
        if not self.ctx.filter.empty:
            batch = [d for d in batch if self.ctx.filter.matches(rr.filter_view(d))]
            if not batch:  # AWS acknowledges what no filter matches
                await consumer.ack(last)
                return
        body = rr.payload(self.mapping.event_source_arn, batch)
        attempt = 0
        while (outcome := await self.ctx.invoke(body)).throttled:
            attempt += 1
            await self.ctx.sleep(self.ctx.backoff(attempt))
        if outcome.ok:
            self._failures = 0
            await consumer.ack(last)
            self.ctx.report(result=OK)
            return
        self._failures += 1
        result = FUNCTION_FAILED
        if outcome.error is not None:
            log.warning("mapping %s: %s", self.mapping.uuid, outcome.error)
            result = f"PROBLEM: {outcome.error}"
        self.ctx.report(result=result)
        # Held while backing off, so the broker does not hand the batch straight back.
        await self.ctx.sleep(self.ctx.backoff(self._failures))
        await consumer.nack(last, requeue=True)
