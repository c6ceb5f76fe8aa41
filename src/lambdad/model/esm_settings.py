"""What an event source mapping's settings are, per kind of source: AWS's defaults,
ranges and refusals for Create and Update (pure).

The protocol layer has already checked each member against botocore's model (types,
``BatchSize`` 1-10000, ``MaximumBatchingWindowInSeconds`` 0-300,
``ParallelizationFactor`` 1-10, ``MaximumConcurrency`` 2-1000, enums); what is left
here is what depends on the source: a FIFO queue takes at most 10 messages and no
batching window, a queue refuses ``StartingPosition`` and every stream-only member, a
stream requires it, a broker requires ``Queues`` and its credentials. ``settings``
returns the members to store (the caller's merged over the defaults or over the
mapping being updated). Filter patterns are checked by the caller (``events``' matcher).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lambdad.errors import InvalidParameterValueException
from lambdad.model.event_source_mapping import DYNAMODB, KINESIS, MQ, SQS

# kind -> (default batch size, largest batch size); FIFO queues: 10, 10.
BATCH_SIZES: Final = {SQS: (10, 10_000), KINESIS: (100, 10_000), DYNAMODB: (100, 10_000)}
BATCH_SIZES_MQ: Final = (100, 10_000)
FIFO_BATCH_MAX: Final = 10
STREAM_ONLY: Final = (
    "ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "DestinationConfig",
)  # fmt: skip
STREAM_DEFAULTS: Final[Mapping[str, Any]] = {
    "ParallelizationFactor": 1,
    "DestinationConfig": {"OnFailure": {}},
    "MaximumRecordAgeInSeconds": -1,
    "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1,
    "TumblingWindowInSeconds": 0,
}
RECORD_AGE_MIN: Final = 60
DESTINATION_SERVICES: Final = frozenset({"sqs", "sns", "s3"})
MAX_FILTERS: Final = 5


def _refuse(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def _unsupported(member: str) -> InvalidParameterValueException:
    return _refuse(f"Unsupported {member} parameter for given event source mapping type.")


def settings(
    kind: str,
    fifo: bool,
    given: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The members to store for a Create (``current`` None) or an Update of a mapping."""
    out: dict[str, Any] = dict(current) if current is not None else _defaults(kind, fifo)
    for member, value in given.items():
        if value is not None:
            out[member] = value
    stream = kind in (KINESIS, DYNAMODB)
    if not stream:
        for member in STREAM_ONLY:
            if given.get(member) is not None:
                raise _unsupported(member)
    if kind != SQS and given.get("ScalingConfig") is not None:
        raise _unsupported("ScalingConfig")
    if kind == SQS:
        _check_queue(fifo, given, out, create=current is None)
    elif stream:
        _check_stream(kind, given, out, create=current is None)
    elif kind == MQ:
        _check_broker(given, out, create=current is None)
    dest = (given.get("DestinationConfig") or {}) if stream else {}
    if dest.get("OnSuccess") is not None:
        raise _unsupported("DestinationConfig")
    target = (dest.get("OnFailure") or {}).get("Destination")
    if target and target.split(":")[2:3] and target.split(":")[2] not in DESTINATION_SERVICES:
        raise _refuse(
            "The provided destination config DestinationConfig(onSuccess=null, onFailure="
            f"OnFailure(destination={target})) is invalid."
        )
    if len((out.get("FilterCriteria") or {}).get("Filters") or []) > MAX_FILTERS:
        raise _refuse(f"The maximum number of filters per event source mapping is {MAX_FILTERS}.")
    if kind == MQ and given.get("FunctionResponseTypes"):
        raise _unsupported("FunctionResponseTypes")
    return out


def _defaults(kind: str, fifo: bool) -> dict[str, Any]:
    default, _ = BATCH_SIZES.get(kind, BATCH_SIZES_MQ)
    out: dict[str, Any] = {"BatchSize": default, "MaximumBatchingWindowInSeconds": 0}
    if kind in (KINESIS, DYNAMODB):
        out.update(STREAM_DEFAULTS)
        out["DestinationConfig"] = {"OnFailure": {}}
    if kind != MQ:
        out["FunctionResponseTypes"] = []
    return out


def _check_batch(kind: str, fifo: bool, size: int) -> None:
    largest = FIFO_BATCH_MAX if fifo else BATCH_SIZES.get(kind, BATCH_SIZES_MQ)[1]
    if size > largest:
        source = "FIFO queues" if fifo else f"{kind} event sources"
        raise _refuse(f"Batch size must not exceed {largest} for {source}.")


def _check_queue(
    fifo: bool, given: Mapping[str, Any], out: Mapping[str, Any], *, create: bool
) -> None:
    if given.get("StartingPosition") is not None or given.get("StartingPositionTimestamp"):
        raise _refuse("StartingPosition is not valid for SQS event sources.")
    window = int(out.get("MaximumBatchingWindowInSeconds") or 0)
    if fifo and window > 0:
        raise _refuse("Batching window is not supported for FIFO queues.")
    _check_batch(SQS, fifo, int(out["BatchSize"]))
    if int(out["BatchSize"]) > 10 and window == 0:
        raise _refuse(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10"
        )


def _check_stream(
    kind: str, given: Mapping[str, Any], out: Mapping[str, Any], *, create: bool
) -> None:
    position = given.get("StartingPosition")
    if create and position is None:
        raise _refuse(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
            "constraint: Member must not be null."
        )
    if position == "AT_TIMESTAMP":
        if kind == DYNAMODB:
            raise _refuse(f"Unsupported starting position for arn type: {out['EventSourceArn']}")
        if given.get("StartingPositionTimestamp") is None:
            raise _refuse(
                "StartingPositionTimestamp must be provided when StartingPosition is AT_TIMESTAMP."
            )
    elif given.get("StartingPositionTimestamp") is not None:
        raise _refuse("StartingPositionTimestamp is valid only with StartingPosition AT_TIMESTAMP.")
    _check_batch(kind, False, int(out["BatchSize"]))
    age = int(out.get("MaximumRecordAgeInSeconds", -1))
    if age != -1 and age < RECORD_AGE_MIN:
        raise _refuse(
            "MaximumRecordAgeInSeconds must be -1 (infinite) or between "
            f"{RECORD_AGE_MIN} and 604800 seconds."
        )


def _check_broker(given: Mapping[str, Any], out: Mapping[str, Any], *, create: bool) -> None:
    if given.get("StartingPosition") is not None:
        raise _refuse("StartingPosition is not valid for Amazon MQ event sources.")
    if create and not out.get("Queues"):
        raise _refuse("Required 'queues' parameter is missing.")
    if create and not out.get("SourceAccessConfigurations"):
        raise _refuse("Required 'sourceAccessConfigurations' parameter is missing.")
    _check_batch(MQ, False, int(out["BatchSize"]))
