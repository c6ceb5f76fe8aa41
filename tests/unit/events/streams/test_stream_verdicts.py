"""What a function's answer to a stream batch means (ReportBatchItemFailures rules)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from lambdad.events.streams.records import StreamRecord
from lambdad.events.streams.verdicts import Outcome, judge

Rec = Callable[..., StreamRecord]


def verdict(records: list[StreamRecord], answer: object, **kw: bool) -> tuple[Outcome, int]:
    payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    args = {"function_error": False, "report_item_failures": True} | kw
    v = judge(records, payload=payload, **args)
    return v.outcome, v.failed_at


@pytest.mark.parametrize(
    "answer", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, b""]
)
def test_complete_success(rec: Rec, answer: object) -> None:
    assert verdict([rec(1), rec(2)], answer)[0] is Outcome.SUCCESS


def test_lowest_failed_sequence_number_is_the_checkpoint(rec: Rec) -> None:
    records = [rec(10), rec(11), rec(12), rec(13)]
    answer = {"batchItemFailures": [{"itemIdentifier": "13"}, {"itemIdentifier": "11"}]}
    assert verdict(records, answer) == (Outcome.PARTIAL, 1)


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemId": "1"}]},
        {"batchItemFailures": [{"itemIdentifier": "999"}]},
        {"batchItemFailures": "1"},
    ],
)
def test_bad_reports_are_complete_failures(rec: Rec, answer: object) -> None:
    assert verdict([rec(1), rec(2)], answer)[0] is Outcome.FUNCTION_ERROR


def test_without_the_response_type_the_answer_is_ignored(rec: Rec) -> None:
    answer = {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert verdict([rec(1)], answer, report_item_failures=False)[0] is Outcome.SUCCESS
    assert verdict([rec(1)], b"junk", report_item_failures=False)[0] is Outcome.SUCCESS


def test_function_error_fails_the_batch(rec: Rec) -> None:
    assert verdict([rec(1)], None, function_error=True)[0] is Outcome.FUNCTION_ERROR


def test_window_answers_must_carry_state(rec: Rec) -> None:
    assert verdict([rec(1)], {"batchItemFailures": []}, windowed=True)[0] is Outcome.FUNCTION_ERROR
    v = judge(
        [rec(1)],
        function_error=False,
        payload=b'{"state":{"a":1}}',
        report_item_failures=False,
        windowed=True,
    )
    assert v.outcome is Outcome.SUCCESS
    assert v.state == {"a": 1}
