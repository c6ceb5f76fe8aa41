"""One RabbitMQ connection of a mapping (the aio-pika adapter): a channel whose prefetch
is the batch size, a consumer per queue feeding one buffer in delivery order, and the
acks and nacks of what the poller decided.

Delivery tags grow along the channel and the poller takes batches from the front of
the buffer, so a batch holds every unsettled delivery up to its last tag: settling it
is one ``multiple`` ack or nack of that tag. A connection or channel that closes (the
broker stopped, the queue was deleted) ends ``next`` with ``ConnectionLost``; whatever
was not acked goes back to its queue, as it does when the poller closes the
connection on a stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.abc import AbstractChannel as Underlay
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from lambdad.events.mappings.rmq_broker import BrokerTarget
from lambdad.events.mappings.rmq_records import Delivery

log = logging.getLogger(__name__)

# AMQP's prefetch count is a 16-bit field; BatchSize is at most 10,000.
MAX_PREFETCH: Final = 65_535
CONNECT_TIMEOUT: Final = 10.0
CLOSE_TIMEOUT: Final = 2.0
DISPATCH_TURNS: Final = 4


class ConnectionLost(Exception):
    """The broker closed the connection or the channel."""


PROPERTY_NAMES: Final = (
    "content_type", "content_encoding", "headers", "delivery_mode", "priority",
    "correlation_id", "reply_to", "expiration", "message_id", "timestamp",
    "message_type", "user_id", "app_id", "cluster_id",
)  # fmt: skip


def delivery(message: DeliveredMessage, queue: str, vhost: str) -> Delivery:
    props = message.header.properties
    deliver = message.delivery
    assert isinstance(deliver, Basic.Deliver)  # basic_consume hands nothing else
    fields = {name: getattr(props, name, None) for name in PROPERTY_NAMES}
    fields["cluster_id"] = fields["cluster_id"] or None  # pamqp: "" when unset
    return Delivery(
        queue=queue,
        vhost=vhost,
        body=bytes(message.body),
        properties=fields,
        redelivered=bool(deliver.redelivered),
        tag=int(deliver.delivery_tag or 0),
    )


class Consumer:
    def __init__(self, target: BrokerTarget, queues: tuple[str, ...], prefetch: int) -> None:
        self.target = target
        self.queues = queues
        self.prefetch = max(1, min(MAX_PREFETCH, prefetch))
        self._buffer: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._underlay: Underlay | None = None
        self._lost = False

    async def open(self) -> None:
        t = self.target
        self._connection = await aio_pika.connect(
            host=t.host,
            port=t.port,
            login=t.username,
            password=t.password,
            virtualhost=t.vhost,
            ssl=t.ssl,
            timeout=CONNECT_TIMEOUT,
            client_properties={"connection_name": "lambdad event source mapping"},
        )
        self._connection.close_callbacks.add(self._closed)
        self._channel = await self._connection.channel()
        self._channel.close_callbacks.add(self._closed)
        await self._channel.set_qos(prefetch_count=self.prefetch)
        # Deliveries straight from aiormq's channel: aio-pika's message objects would
        # cost more than the rest of a delivery's way to the function.
        self._underlay = await self._channel.get_underlay_channel()
        for name in self.queues:
            await self._channel.get_queue(name, ensure=True)
            await self._underlay.basic_consume(name, self._consumer(name), no_ack=False)

    def _consumer(self, queue: str) -> Any:
        async def on_message(message: DeliveredMessage) -> None:
            self._buffer.put_nowait(delivery(message, queue, self.target.vhost))

        return on_message

    def _closed(self, *_: Any) -> None:
        if not self._lost:
            self._lost = True
            self._buffer.put_nowait(None)

    async def next(self, within: float | None = None) -> Delivery | None:
        """The next delivery; None when none comes ``within`` seconds (0: only one
        already here; None: wait for one)."""
        if self._lost and self._buffer.empty():
            raise ConnectionLost
        try:
            if within is not None and within <= 0:
                # Deliveries read from the socket but not yet through the client's
                # dispatch are "already here" too.
                for _ in range(DISPATCH_TURNS):
                    if not self._buffer.empty():
                        break
                    await asyncio.sleep(0)
                item = self._buffer.get_nowait()
            else:
                item = await asyncio.wait_for(self._buffer.get(), within)
        except (TimeoutError, asyncio.QueueEmpty):
            return None
        if item is None:
            raise ConnectionLost
        return item

    def _settling(self) -> Underlay:
        if self._underlay is None or self._underlay.is_closed:
            raise ConnectionLost
        return self._underlay

    async def ack(self, tag: int) -> None:
        """Acknowledge every unsettled delivery up to ``tag``."""
        await self._settling().basic_ack(tag, multiple=True)

    async def nack(self, tag: int, *, requeue: bool = True) -> None:
        """Give back (or, without ``requeue``, dead-letter) every one up to ``tag``."""
        await self._settling().basic_nack(tag, multiple=True, requeue=requeue)

    async def reject(self, tag: int) -> None:
        """Drop one delivery (to the queue's dead-letter exchange when it has one)."""
        await self._settling().basic_reject(tag, requeue=False)

    async def close(self) -> None:
        """Close the connection: unacked deliveries go back to their queues. Idempotent."""
        connection, self._connection = self._connection, None
        self._underlay = None
        if connection is None or connection.is_closed:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT)
