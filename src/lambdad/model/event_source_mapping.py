"""An event source mapping: which queue or stream drives which function, and how.

``EventSourceMapping`` is the frozen view of one mapping that pollers receive (built
from the stored document, which is the API's ``EventSourceMappingConfiguration`` plus
the tags); ``source_kind`` names the kind of source an ARN is (the key of the poller
registry); the state machine is two pure functions: ``requested`` (the transitional
state a Create/Update/Delete puts a mapping in, answered with 202 as AWS does) and
``settled`` (the state it ends in once the supervisor has acted on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from lambdad.model.scope import Scope

CREATING: Final = "Creating"
ENABLING: Final = "Enabling"
ENABLED: Final = "Enabled"
DISABLING: Final = "Disabling"
DISABLED: Final = "Disabled"
UPDATING: Final = "Updating"
DELETING: Final = "Deleting"
TRANSITIONAL: Final = frozenset({CREATING, ENABLING, DISABLING, UPDATING, DELETING})

# StateTransitionReason as AWS writes it: queues say USER_INITIATED, streams "User action".
USER_INITIATED: Final = "USER_INITIATED"
USER_ACTION: Final = "User action"
# LastProcessingResult (streams and MQ show it from the start; SQS never shows it).
NO_RECORDS: Final = "No records processed"
OK: Final = "OK"
REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"

SQS: Final = "sqs"
KINESIS: Final = "kinesis"
DYNAMODB: Final = "dynamodb"
MQ: Final = "mq"
KINDS: Final = frozenset({SQS, KINESIS, DYNAMODB, MQ})


def source_kind(event_source_arn: str) -> str | None:
    """``sqs``, ``kinesis``, ``dynamodb`` (a table's stream) or ``mq`` (a broker); None
    for a source lambdad does not poll."""
    parts = event_source_arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, resource = parts[2], parts[5]
    if service == SQS and resource:
        return SQS
    if service == KINESIS and resource.startswith("stream/"):
        return KINESIS
    if service == DYNAMODB and "/stream/" in resource and resource.startswith("table/"):
        return DYNAMODB
    if service == MQ and resource.startswith("broker:"):
        return MQ
    return None


def is_fifo(event_source_arn: str) -> bool:
    return event_source_arn.endswith(".fifo")


def mapping_arn(region: str, account: str, uuid: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}"


def parse_mapping_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, uuid) of an event source mapping's ARN, else None."""
    parts = arn.split(":")
    if len(parts) != 7 or parts[:3] != ["arn", "aws", "lambda"]:
        return None
    if parts[5] != "event-source-mapping" or len(parts[6]) != 36:
        return None
    return parts[3], parts[4], parts[6]


def requested(current: str, enabled: bool | None, *, delete: bool = False) -> str:
    """The state a change puts a mapping in. ``enabled`` None: the change leaves it as is."""
    if delete:
        return DELETING
    if enabled is None:
        return UPDATING
    was_on = current in (ENABLED, ENABLING, CREATING)
    if enabled and not was_on:
        return ENABLING
    if not enabled and was_on:
        return DISABLING
    return UPDATING


def settled(state: str, enabled: bool) -> str | None:
    """The state a transitional one ends in (None: the mapping is gone)."""
    if state == DELETING:
        return None
    if state in (CREATING, UPDATING):
        return ENABLED if enabled else DISABLED
    if state == ENABLING:
        return ENABLED
    if state == DISABLING:
        return DISABLED
    return state


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    """One mapping as its poller sees it. Durations in seconds; -1 means unlimited, as in
    the API; ``filters`` are the ``FilterCriteria`` pattern texts (any one matches)."""

    uuid: str
    scope: Scope
    kind: str
    event_source_arn: str
    function_arn: str
    state: str
    enabled: bool
    batch_size: int
    maximum_batching_window: int = 0
    starting_position: str | None = None
    starting_position_timestamp: datetime | None = None
    parallelization_factor: int = 1
    maximum_record_age: int = -1
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    tumbling_window: int = 0
    report_batch_item_failures: bool = False
    on_failure_destination: str | None = None
    filters: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    queues: tuple[str, ...] = ()
    source_access: tuple[tuple[str, str], ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return mapping_arn(self.scope.region, self.scope.account, self.uuid)

    @classmethod
    def from_doc(cls, scope: Scope, doc: Mapping[str, Any]) -> EventSourceMapping:
        from datetime import UTC

        ts = doc.get("StartingPositionTimestamp")
        on_failure = (doc.get("DestinationConfig") or {}).get("OnFailure") or {}
        filters = (doc.get("FilterCriteria") or {}).get("Filters") or []
        return cls(
            uuid=doc["UUID"],
            scope=scope,
            kind=source_kind(doc["EventSourceArn"]) or "",
            event_source_arn=doc["EventSourceArn"],
            function_arn=doc["FunctionArn"],
            state=doc["State"],
            enabled=bool(doc.get("_Enabled", True)),
            batch_size=int(doc["BatchSize"]),
            maximum_batching_window=int(doc.get("MaximumBatchingWindowInSeconds") or 0),
            starting_position=doc.get("StartingPosition"),
            starting_position_timestamp=(
                datetime.fromtimestamp(float(ts), UTC) if ts is not None else None
            ),
            parallelization_factor=int(doc.get("ParallelizationFactor") or 1),
            maximum_record_age=int(doc.get("MaximumRecordAgeInSeconds", -1)),
            bisect_batch_on_function_error=bool(doc.get("BisectBatchOnFunctionError")),
            maximum_retry_attempts=int(doc.get("MaximumRetryAttempts", -1)),
            tumbling_window=int(doc.get("TumblingWindowInSeconds") or 0),
            report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES
            in (doc.get("FunctionResponseTypes") or []),
            on_failure_destination=on_failure.get("Destination") or None,
            filters=tuple(str(f.get("Pattern", "")) for f in filters),
            maximum_concurrency=(doc.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            queues=tuple(doc.get("Queues") or ()),
            source_access=tuple(
                (str(c.get("Type")), str(c.get("URI")))
                for c in doc.get("SourceAccessConfigurations") or ()
            ),
            config=dict(doc),
        )
