"""CloudWatch Logs' vocabulary: limits, errors, pagination tokens, response documents.

Pure values and functions, shared by the store (``observe.logs``), its queries
(``observe.log_queries``) and the JSON API.

Pagination tokens are cursors, not offsets: ``f/<timestamp>/<eventId>`` means "after
this event", ``b/...`` "before it". A forward token therefore stays valid while
events arrive, and repeats unchanged when nothing newer exists, which is how
``GetLogEvents`` clients detect the end of a stream. Describe tokens are opaque
(base64 of the last key returned).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from lambdad.errors import AwsError

# AWS sizes a batch or a response as the UTF-8 message bytes plus 26 per event.
EVENT_OVERHEAD = 26
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_RESPONSE_EVENTS = 10_000
MAX_PUT_BYTES = 1024 * 1024
DESCRIBE_LIMIT = 50
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip
DAY_MS = 86_400_000
MAX_TS = 2**63 - 1

GROUP_MISSING = "The specified log group does not exist."
STREAM_MISSING = "The specified log stream does not exist."
BAD_TOKEN = "The specified nextToken is invalid."


class InvalidParameterException(AwsError):
    """CloudWatch Logs' name for a bad parameter (Lambda says InvalidParameterValue)."""


class ResourceAlreadyExistsException(AwsError):
    pass


def stream_arn_prefix(account: str, region: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:"


# -- tokens -------------------------------------------------------------------------------


Cursor = tuple[int, int]  # (timestamp, event id): the order events are read in


def event_token(direction: str, cursor: Cursor) -> str:
    return f"{direction}/{cursor[0]}/{cursor[1]}"


def parse_event_token(token: str) -> tuple[str, Cursor]:
    parts = token.split("/")
    try:
        if len(parts) != 3 or parts[0] not in ("f", "b"):
            raise ValueError(token)
        return parts[0], (int(parts[1]), int(parts[2]))
    except ValueError:
        raise InvalidParameterException(BAD_TOKEN) from None


def page_token(kind: str, key: Sequence[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_page_token(token: str, kind: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidParameterException(BAD_TOKEN) from None
    if not isinstance(doc, list) or not doc or doc[0] != kind:
        raise InvalidParameterException(BAD_TOKEN)
    return doc[1:]


# -- documents ----------------------------------------------------------------------------


def within_response_size(rows: list[Any], *, size_at: int) -> list[Any]:
    """The leading rows that fit in one response (always at least one)."""
    total = 0
    for i, row in enumerate(rows):
        total += row[size_at] + EVENT_OVERHEAD
        if i and total > MAX_RESPONSE_BYTES:
            return rows[:i]
    return list(rows)


def group_doc(
    account: str, region: str, name: str, created: int, retention: int | None, stored: int
) -> dict[str, Any]:
    arn = f"arn:aws:logs:{region}:{account}:log-group:{name}"
    doc: dict[str, Any] = {"logGroupName": name, "creationTime": created}
    if retention is not None:
        doc["retentionInDays"] = retention
    doc.update(
        metricFilterCount=0,
        arn=arn + ":*",
        storedBytes=stored,
        logGroupClass="STANDARD",
        logGroupArn=arn,
    )
    return doc


def stream_doc(
    arn_prefix: str,
    name: str,
    created: int,
    first: int | None,
    last: int | None,
    ingested: int | None,
    stored: int,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"logStreamName": name, "creationTime": created}
    if first is not None:
        doc["firstEventTimestamp"] = first
    if last is not None:
        doc["lastEventTimestamp"] = last
    if ingested is not None:
        doc["lastIngestionTime"] = ingested
    doc["arn"] = arn_prefix + name
    doc["storedBytes"] = stored
    return doc
