"""What a function's answer to a batch means: success, a complete failure, or (with
``ReportBatchItemFailures``) success up to the first failed record.

AWS's rules for stream sources: an empty or null ``batchItemFailures``, an empty or
null response, is a complete success; an answer that is not JSON, an
``itemIdentifier`` that is empty, null, missing, or not a sequence number of the
batch, is a complete failure; otherwise the record with the lowest reported sequence
number is where processing failed, and everything before it succeeded. With a
tumbling window the answer must carry a ``state`` object, else the invoke failed.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdad.events.streams.records import StreamRecord


class Outcome(enum.Enum):
    SUCCESS = "success"
    PARTIAL = "partial"  # records before ``failed_at`` succeeded
    FUNCTION_ERROR = "function-error"  # the function failed, timed out, or answered badly
    THROTTLED = "throttled"  # the invoke never reached the function: no concurrency
    PLATFORM_ERROR = "platform-error"  # lambdad could not run it


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    failed_at: int = 0  # index of the first failed record (PARTIAL)
    state: Mapping[str, Any] = field(default_factory=dict)  # a window's new state


_FAILED = Verdict(Outcome.FUNCTION_ERROR)


def _failed_index(answer: Any, records: Sequence[StreamRecord]) -> int | Verdict | None:
    """The index of the lowest failed record, None for none, or a complete failure."""
    if not isinstance(answer, Mapping):
        return None
    failures = answer.get("batchItemFailures")
    if failures is None:
        return None
    if not isinstance(failures, list):
        return _FAILED
    if not failures:
        return None
    index = {r.sequence_number: i for i, r in enumerate(records)}
    found = []
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(ident, str) or ident not in index:
            return _FAILED
        found.append(index[ident])
    return min(found)


def judge(
    records: Sequence[StreamRecord],
    *,
    function_error: bool,
    payload: bytes,
    report_item_failures: bool,
    windowed: bool = False,
) -> Verdict:
    """The verdict on an invoke that reached the function and returned ``payload``."""
    if function_error:
        return _FAILED
    answer: Any = None
    if payload.strip():
        try:
            answer = json.loads(payload)
        except ValueError:
            return _FAILED if (report_item_failures or windowed) else Verdict(Outcome.SUCCESS)
    state: Mapping[str, Any] = {}
    if windowed:
        state = answer.get("state") if isinstance(answer, Mapping) else None  # type: ignore[assignment]
        if not isinstance(state, Mapping):
            return _FAILED
    if not report_item_failures:
        return Verdict(Outcome.SUCCESS, state=state)
    failed = _failed_index(answer, records)
    if isinstance(failed, Verdict):
        return failed
    if failed is None:
        return Verdict(Outcome.SUCCESS, state=state)
    return Verdict(Outcome.PARTIAL, failed_at=failed, state=state)
