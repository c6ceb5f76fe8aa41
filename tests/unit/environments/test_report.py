"""An invocation's log lines and error documents, exactly as AWS writes them.

The REPORT line follows DESIGN.md §1: ``Duration``, ``Billed Duration`` (rounded
up, at least 1 ms), ``Memory Size``, ``Max Memory Used``, then ``Init Duration``
last and on cold starts only (``Restore Duration`` for a SnapStart restore)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lambdad.environments import report
from lambdad.environments.report import Answer, Outcome, OutcomeKind, Report
from lambdad.environments.runtime_api import MAX_RESPONSE

K = OutcomeKind


def doc(body: bytes) -> object:
    return json.loads(body)


# -- START / END / REPORT ------------------------------------------------------------------


def test_start_and_end_lines() -> None:
    assert report.start_line("r-1", "$LATEST") == "START RequestId: r-1 Version: $LATEST"
    assert report.start_line("r-1", "7") == "START RequestId: r-1 Version: 7"
    assert report.end_line("r-1") == "END RequestId: r-1"


def test_warm_report_is_the_design_example_exactly() -> None:
    line = report.report_line(Report("r-1", 1.23, 128, 41))
    assert line == (
        "REPORT RequestId: r-1\tDuration: 1.23 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 41 MB\t"
    )


def test_cold_report_puts_init_duration_last() -> None:
    line = report.report_line(Report("r-1", 1.23, 128, 41, init_duration_ms=12.34))
    assert line == (
        "REPORT RequestId: r-1\tDuration: 1.23 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 41 MB\tInit Duration: 12.34 ms\t"
    )
    assert line.split("\t")[-2] == "Init Duration: 12.34 ms"


def test_warm_report_has_no_init_duration() -> None:
    assert "Init Duration" not in report.report_line(Report("r-1", 5.0, 256, 60))


@pytest.mark.parametrize(
    ("duration", "billed"),
    [(0.0, 1), (0.01, 1), (1.0, 1), (1.001, 2), (99.5, 100), (100.0, 100), (2999.99, 3000)],
)
def test_billed_duration_is_rounded_up_to_the_millisecond(duration: float, billed: int) -> None:
    assert report.billed_ms(duration) == billed
    assert f"\tBilled Duration: {billed} ms\t" in report.report_line(Report("r", duration, 128, 1))


def test_duration_is_printed_to_the_hundredth() -> None:
    line = report.report_line(Report("r-1", 3.14159, 128, 1))
    assert "\tDuration: 3.14 ms\t" in line


def test_snapstart_restore_reports_restore_duration_instead_of_init() -> None:
    line = report.report_line(Report("r-1", 2.5, 512, 90, init_duration_ms=40.01, restored=True))
    assert line == (
        "REPORT RequestId: r-1\tDuration: 2.50 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 90 MB\t"
        "Restore Duration: 40.01 ms\tBilled Restore Duration: 41 ms\t"
    )
    assert "Init Duration" not in line


def test_warm_invoke_of_a_restored_environment_reports_no_restore() -> None:
    line = report.report_line(Report("r-1", 2.5, 512, 90, restored=True))
    assert "Restore" not in line
    assert "Init" not in line


def test_timed_out_report_ends_with_its_status() -> None:
    line = report.report_line(
        Report("r-1", 3000.4, 128, 30, init_duration_ms=100.0, timed_out=True)
    )
    assert line.endswith("\tInit Duration: 100.00 ms\tStatus: timeout")
    assert "Billed Duration: 3001 ms" in line


def test_report_of_an_invocation_answered_by_a_failed_init() -> None:
    line = report.init_failure_report_line("r-1", 10000.5, 128, "Runtime.InitTimeout", 17)
    assert line == (
        "REPORT RequestId: r-1\tDuration: 10000.50 ms\tBilled Duration: 10001 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 17 MB\tStatus: error\t"
        "Error Type: Runtime.InitTimeout"
    )


def test_failed_init_without_a_measured_duration_reports_zero() -> None:
    line = report.init_failure_report_line("r-1", None, 128, "Runtime.InvalidEntrypoint")
    assert line.startswith("REPORT RequestId: r-1\tDuration: 0.00 ms\tBilled Duration: 1 ms\t")


def test_timeout_line_carries_the_time_it_is_written_in_utc_milliseconds() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    assert report.timeout_line(at, "r-1", 3.0) == (
        "2026-03-04T05:06:07.891Z r-1 Task timed out after 3.00 seconds"
    )


def test_exit_line_names_the_detail_and_the_error_type() -> None:
    assert report.exit_line("r-1", "signal: killed", "Runtime.OutOfMemory") == (
        "RequestId: r-1 Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory"
    )


@pytest.mark.parametrize(
    ("returncode", "detail"),
    [
        (0, "exit status 0"),
        (1, "exit status 1"),
        (-9, "signal: killed"),
        (-11, "signal: segmentation fault"),
        (-6, "signal: aborted"),
        (-15, "signal: terminated"),
        (-2, "signal: sigint"),
        (-200, "signal: signal 200"),
    ],
)
def test_exit_detail_words_the_end_as_aws_does(returncode: int, detail: str) -> None:
    assert report.exit_detail(returncode) == detail


# -- init error documents ------------------------------------------------------------------


def test_invalid_entrypoint_document() -> None:
    outcome = report.invalid_entrypoint("fork/exec /var/task/bootstrap: permission denied")
    assert outcome.kind is K.INIT_ERROR
    assert outcome.error_type == "Runtime.InvalidEntrypoint"
    assert outcome.body == (
        b'{"errorType": "Runtime.InvalidEntrypoint", "errorMessage": '
        b'"RequestId: - Error: fork/exec /var/task/bootstrap: permission denied"}'
    )


def test_init_timeout_document() -> None:
    outcome = report.init_timeout(10.0)
    assert outcome == Outcome(
        K.INIT_ERROR,
        b'{"errorType": "Runtime.InitTimeout", "errorMessage": '
        b'"INIT phase timed out after 10.00 seconds"}',
        "Runtime.InitTimeout",
    )


def test_posted_init_error_as_sent_when_a_json_object() -> None:
    body = b'{"errorMessage": "no config", "errorType": "KeyError", "stackTrace": []}'
    outcome = report.posted_init_error(body, "Runtime.ImportModuleError")
    assert outcome == Outcome(K.INIT_ERROR, body, "Runtime.ImportModuleError")


def test_posted_init_error_without_a_type_is_unknown() -> None:
    outcome = report.posted_init_error(b"it broke", None)
    assert outcome.error_type == "Runtime.Unknown"
    assert doc(outcome.body) == {"errorMessage": "it broke", "errorType": "Runtime.Unknown"}


def test_runtime_exit_outcome() -> None:
    assert report.runtime_exit(-9) == Outcome(K.EXIT, b"signal: killed", "Runtime.ExitError")


def test_init_failure_answer_passes_the_init_error_document_on() -> None:
    err = report.init_timeout(2.0)
    assert report.init_failure_answer(err, "r-1") == Answer(
        err.body, "Unhandled", "Runtime.InitTimeout", True
    )


def test_init_failure_answer_for_a_runtime_that_exited_during_init() -> None:
    answer = report.init_failure_answer(report.runtime_exit(3), "r-1")
    assert answer.error_type == "Runtime.ExitError"
    assert answer.fatal
    assert answer.payload == (
        b'{"errorType": "Runtime.ExitError", "errorMessage": '
        b'"RequestId: r-1 Error: Runtime exited with error: exit status 3"}'
    )


def test_init_error_message_and_type() -> None:
    exited = report.runtime_exit(1)
    assert report.init_error_message(exited) == "Runtime exited with error: exit status 1"
    assert report.init_error_type(exited) == "Runtime.ExitError"
    timed_out = report.init_timeout(1.0)
    assert report.init_error_message(timed_out) == (
        "Runtime.InitTimeout: INIT phase timed out after 1.00 seconds"
    )
    unreadable = Outcome(K.INIT_ERROR, b"\xff not json", None)
    assert report.init_error_message(unreadable) == "the init failed"
    assert report.init_error_type(unreadable) == "Runtime.ExitError"
    untyped = Outcome(K.INIT_ERROR, b'{"errorMessage": "boom"}', "Runtime.Unknown")
    assert report.init_error_message(untyped) == "Runtime.Unknown: boom"


# -- invocation error documents ------------------------------------------------------------


def test_a_response_is_answered_as_sent() -> None:
    outcome = Outcome(K.RESPONSE, b'{"ok": true}')
    assert report.answer(outcome, "r-1", 3.0, oom=False) == Answer(
        b'{"ok": true}', None, None, False
    )


def test_a_posted_error_is_unhandled_and_keeps_the_environment() -> None:
    body = b'{"errorMessage": "bad", "errorType": "ValueError"}'
    outcome = report.posted_error(body, "ValueError")
    assert report.answer(outcome, "r-1", 3.0, oom=False) == Answer(
        body, "Unhandled", "ValueError", False
    )


@pytest.mark.parametrize(
    "body", [b"plain text", b"[1, 2]", b'"a string"', b"", b"[" * 100_000, b"\xff\xfe"]
)
def test_a_posted_error_that_is_no_json_object_becomes_the_message(body: bytes) -> None:
    outcome = report.posted_error(body, "Custom.Error")
    assert doc(outcome.body) == {
        "errorMessage": body.decode("utf-8", "replace"),
        "errorType": "Custom.Error",
    }


def test_too_large_response() -> None:
    answer = report.answer(Outcome(K.TOO_LARGE), "r-1", 3.0, oom=False)
    assert answer.error_type == "Function.ResponseSizeTooLarge"
    assert (answer.function_error, answer.fatal) == ("Unhandled", False)
    assert doc(answer.payload) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        f"({MAX_RESPONSE} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_timeout_ends_the_environment() -> None:
    answer = report.answer(Outcome(K.TIMEOUT), "r-1", 3.0, oom=False)
    assert answer == Answer(
        b'{"errorType": "Sandbox.Timedout", "errorMessage": '
        b'"RequestId: r-1 Error: Task timed out after 3.00 seconds"}',
        "Unhandled",
        "Sandbox.Timedout",
        True,
    )


def test_runtime_exit_ends_the_environment() -> None:
    answer = report.answer(report.runtime_exit(2), "r-1", 3.0, oom=False)
    assert answer.error_type == "Runtime.ExitError"
    assert answer.fatal
    assert doc(answer.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: r-1 Error: Runtime exited with error: exit status 2",
    }


def test_an_exit_by_the_oom_killer_is_out_of_memory() -> None:
    answer = report.answer(report.runtime_exit(-9), "r-1", 3.0, oom=True)
    assert answer.error_type == "Runtime.OutOfMemory"
    assert doc(answer.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": "RequestId: r-1 Error: Runtime exited with error: signal: killed",
    }


def test_a_stream_past_its_limit_names_that_limit() -> None:
    answer = report.answer(Outcome(OutcomeKind.TOO_LARGE, b"209715200"), "r-1", 3.0, oom=False)
    assert answer.error_type == "Function.ResponseSizeTooLarge"
    assert "(209715200 bytes)" in json.loads(answer.payload)["errorMessage"]


def test_an_error_in_a_streams_trailers_is_the_invocation_error() -> None:
    body = "eyJlcnJvclR5cGUiOiJCb29tIiwiZXJyb3JNZXNzYWdlIjoibGF0ZSJ9"  # base64 of the doc
    outcome = report.streamed_error("Boom", body)
    assert outcome.kind is OutcomeKind.ERROR
    assert outcome.error_type == "Boom"
    assert json.loads(outcome.body) == {"errorType": "Boom", "errorMessage": "late"}
    garbled = report.streamed_error("Boom", "not base64!")
    assert json.loads(garbled.body) == {"errorMessage": "not base64!", "errorType": "Boom"}
