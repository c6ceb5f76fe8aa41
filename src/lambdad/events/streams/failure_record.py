"""The document a stream mapping sends to its on-failure destination for discarded
records: AWS's invocation record for stream sources (``requestContext``,
``responseContext``, ``version`` "1.0", ``timestamp``, and ``KinesisBatchInfo`` or
``DDBStreamBatchInfo`` naming the shard and the range of sequence numbers). The
records themselves are not in it (the reader fetches them from the stream), except
for an S3 bucket destination, whose object also carries the whole event as
``payload``.

Kinesis arrival times carry milliseconds, DynamoDB's whole seconds, as in AWS's
examples.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lambdad.events.streams.records import StreamRecord

KINESIS = "kinesis"
DYNAMODB = "dynamodb"


@dataclass(frozen=True, slots=True)
class LastResponse:
    """The last invoke's answer, for ``responseContext``."""

    status_code: int = 200
    executed_version: str = "$LATEST"
    function_error: str | None = None


def _iso(ts: float, millis: bool) -> str:
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def invocation_record(
    *,
    kind: str,
    request_id: str,
    function_arn: str,
    condition: str,
    invokes: int,
    response: LastResponse | None,
    records: Sequence[StreamRecord],
    shard_id: str,
    stream_arn: str,
    now: float,
    payload: str | None = None,
) -> dict[str, Any]:
    millis = kind == KINESIS
    response_context: dict[str, Any] = {"statusCode": 0, "executedVersion": ""}
    if response is not None:
        response_context = {
            "statusCode": response.status_code,
            "executedVersion": response.executed_version,
        }
        if response.function_error:
            response_context["functionError"] = response.function_error
    info = {
        "shardId": shard_id,
        "startSequenceNumber": records[0].sequence_number,
        "endSequenceNumber": records[-1].sequence_number,
        "approximateArrivalOfFirstRecord": _iso(records[0].arrival, millis),
        "approximateArrivalOfLastRecord": _iso(records[-1].arrival, millis),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    document: dict[str, Any] = {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": _iso(now, True),
        "KinesisBatchInfo" if millis else "DDBStreamBatchInfo": info,
    }
    if payload is not None:
        document["payload"] = payload
    return document
