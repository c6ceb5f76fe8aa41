"""The pollers by kind of source (``model.event_source_mapping.source_kind``): one line
per kind. A kind missing here is accepted by the API but not polled (the mapping says
so in its ``StateTransitionReason``)."""

from __future__ import annotations

from lambdad.events.mappings.contract import PollerFactory
from lambdad.events.mappings.rmq_poller import RabbitMqPoller
from lambdad.events.mappings.sqs_poller import SqsPoller
from lambdad.events.streams.poller import StreamPoller

FACTORIES: dict[str, PollerFactory] = {
    "sqs": SqsPoller,
    "kinesis": StreamPoller,
    "dynamodb": StreamPoller,
    "mq": RabbitMqPoller,
}
