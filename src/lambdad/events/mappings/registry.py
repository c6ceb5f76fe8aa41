"""The pollers by kind of source (``model.event_source_mapping.source_kind``): one line
per kind. A kind missing here is accepted by the API but not polled (the mapping says
so in its ``StateTransitionReason``)."""

from __future__ import annotations

from lambdad.events.mappings.contract import PollerFactory
from lambdad.events.streams.poller import StreamPoller

FACTORIES: dict[str, PollerFactory] = {"kinesis": StreamPoller, "dynamodb": StreamPoller}
