"""Invoke, end to end: errors, limits and the life of execution environments.

Function errors of every kind (handler exceptions and the ``Runtime.*`` init and
marshalling errors), timeouts, crashes, payload limits, warm reuse, idle reaping,
and concurrent invokes getting environments of their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import LambdadServer, handler_zip, make_zip
from e2e.invoke_support import (
    Deployer,
    Invoked,
    invoke,
    log_lines_starting,
    probe_zip,
    wait_until,
    wait_updated,
)

MB = 1024 * 1024
ServerFactory = Callable[..., LambdadServer]


@pytest.fixture(scope="module")
def deploy(lambdad: LambdadServer) -> Iterator[Deployer]:
    deployer = Deployer(lambdad, "limits")
    yield deployer
    deployer.delete_all()
    assert not deployer.server_errors(), deployer.server_errors()


@pytest.fixture(scope="module")
def probe(deploy: Deployer) -> str:
    return deploy(probe_zip(), Timeout=5)


def assert_unhandled(out: Invoked, error_type: str) -> dict[str, Any]:
    """A function error: HTTP 200, X-Amz-Function-Error: Unhandled, the error document."""
    assert out.status == 200
    assert out.function_error == "Unhandled"
    assert out.headers["x-amz-function-error"] == "Unhandled"
    doc: dict[str, Any] = out.json()
    assert doc["errorType"] == error_type, doc
    return doc


# -- function errors ----------------------------------------------------------------------


def test_handler_exception_returns_awslambdarics_error_document(
    lambdad: LambdadServer, probe: str
) -> None:
    out = invoke(lambdad, probe, {"action": "fail", "message": "no such order: 42"})
    doc = assert_unhandled(out, "ValueError")
    assert doc["errorMessage"] == "no such order: 42"
    assert doc["requestId"] == out.request_id
    assert set(doc) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    trace = doc["stackTrace"]
    assert trace, "the stack trace is not empty"
    assert all(isinstance(frame, str) for frame in trace)
    # The user's frames only, innermost last, in traceback's format.
    assert trace[0].startswith('  File "')
    assert "in handler" in trace[0]
    assert "app.py" in trace[-1]
    assert "in fail" in trace[-1]
    assert "raise ValueError" in trace[-1]
    assert not any("bootstrap" in frame for frame in trace)
    # The log has the error as one event, after the request's START.
    assert "[ERROR] ValueError: no such order: 42\rTraceback (most recent call last):" in out.log
    # The environment survives a handled failure: the next invoke is warm.
    again = invoke(lambdad, probe, {"x": 1})
    assert again.json() == {"x": 1}
    assert not again.cold


def test_unserialisable_result_is_a_marshal_error(lambdad: LambdadServer, probe: str) -> None:
    out = invoke(lambdad, probe, {"action": "unmarshallable"})
    doc = assert_unhandled(out, "Runtime.MarshalError")
    assert doc["errorMessage"].startswith("Unable to marshal response: ")
    assert "set" in doc["errorMessage"]


INIT_FAILURES = {
    "import": (
        {"app.py": "import module_that_is_not_there\n\ndef handler(e, c):\n    return 1\n"},
        "app.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'module_that_is_not_there'",
    ),
    "missing-module": (
        {"other.py": "def handler(e, c):\n    return 1\n"},
        "app.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'app'",
    ),
    "handler-not-found": (
        {"app.py": "def other(e, c):\n    return 1\n"},
        "app.handler",
        "Runtime.HandlerNotFound",
        "Handler 'handler' missing on module 'app'",
    ),
    "syntax": (
        {"app.py": "def handler(e, c)\n    return 1\n"},
        "app.handler",
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app': ",
    ),
}


@pytest.mark.parametrize("case", sorted(INIT_FAILURES))
def test_init_failures_answer_with_the_runtime_error_type(
    lambdad: LambdadServer, deploy: Deployer, case: str
) -> None:
    files, handler, error_type, message = INIT_FAILURES[case]
    name = deploy(make_zip(files), handler=handler)
    for _ in range(2):  # every invoke reports it, not only the first
        out = invoke(lambdad, name, {})
        doc = assert_unhandled(out, error_type)
        assert doc["errorMessage"].startswith(message), doc
        assert isinstance(doc.get("stackTrace", []), list)
        assert f"START RequestId: {out.request_id}" in out.log
        assert f"END RequestId: {out.request_id}" in out.log
        assert error_type in out.log


# -- timeouts and crashes -------------------------------------------------------------------


def test_timeout_answers_at_the_deadline_and_the_next_invoke_starts_fresh(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip(), Timeout=1)
    warm = invoke(lambdad, name, {"action": "state"})
    out = invoke(lambdad, name, {"action": "sleep", "seconds": 30})
    assert out.elapsed < 1.5, f"answered {out.elapsed:.2f} s after a 1 s timeout"
    assert out.elapsed >= 1.0
    # Real AWS says "Sandbox.Timedout".
    doc = assert_unhandled(out, "Sandbox.Timedout")
    assert doc["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in out.log
    assert f"END RequestId: {out.request_id}" in out.log
    assert f"REPORT RequestId: {out.request_id}" in out.log
    # The timed-out environment is gone: the next invoke is a cold start elsewhere.
    after = invoke(lambdad, name, {"action": "state"})
    assert after.function_error is None
    assert after.cold
    assert after.json()["counter"] == 1
    assert after.json()["stream"] != warm.json()["stream"]


def test_runtime_exit_is_an_exit_error_and_the_next_invoke_works(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    before = invoke(lambdad, name, {"action": "state"}).json()
    out = invoke(lambdad, name, {"action": "exit", "status": 7})
    doc = assert_unhandled(out, "Runtime.ExitError")
    assert doc["errorMessage"] == (
        f"RequestId: {out.request_id} Error: Runtime exited with error: exit status 7"
    )
    assert "about to exit" in out.log
    assert "Runtime.ExitError" in out.log
    assert out.log.index("about to exit") < out.log.index(f"END RequestId: {out.request_id}")
    after = invoke(lambdad, name, {"action": "state"})
    assert after.function_error is None
    assert after.cold
    state = after.json()
    assert state["counter"] == 1
    assert state["pid"] != before["pid"] or state["stream"] != before["stream"]
    assert state["stream"] != before["stream"]


def test_killed_runtime_is_an_exit_error_naming_the_signal(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = handler_zip(
        "import os, signal\n\ndef handler(event, context):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    name = deploy(code)
    out = invoke(lambdad, name)
    doc = assert_unhandled(out, "Runtime.ExitError")
    assert doc["errorMessage"].endswith("Runtime exited with error: signal: killed")


# -- payload limits -------------------------------------------------------------------------


def test_request_over_6_mb_is_refused_with_413(lambdad: LambdadServer, probe: str) -> None:
    payload = json.dumps({"blob": "x" * (6 * MB)}).encode()
    response = lambdad.request("POST", f"/2015-03-31/functions/{probe}/invocations", payload)
    assert response.status == 413
    assert response.error_type == "RequestEntityTooLargeException"  # AWS's, not botocore's
    client = lambdad.client("lambda")
    with pytest.raises(client.exceptions.ClientError) as info:
        client.invoke(FunctionName=probe, Payload=payload)
    assert info.value.response["Error"]["Code"] == "RequestEntityTooLargeException"


def test_request_just_under_6_mb_round_trips(lambdad: LambdadServer, probe: str) -> None:
    blob = "y" * (6 * MB - 100)
    out = invoke(lambdad, probe, {"blob": blob}, tail=False)
    assert out.function_error is None
    assert out.json() == {"blob": blob}


def test_response_over_6_mb_is_response_size_too_large(lambdad: LambdadServer, probe: str) -> None:
    # AWS's limit, as its message says, is 6 MB + 100 bytes.
    out = invoke(lambdad, probe, {"action": "big", "size": 6 * MB + 100})
    doc = assert_unhandled(out, "Function.ResponseSizeTooLarge")
    assert "(6291556 bytes)" in doc["errorMessage"]
    # The environment is still usable.
    assert invoke(lambdad, probe, {"ok": True}).json() == {"ok": True}


def test_invalid_json_is_invalid_request_content(lambdad: LambdadServer, probe: str) -> None:
    response = lambdad.request("POST", f"/2015-03-31/functions/{probe}/invocations", b"{not json")
    assert response.status == 400
    assert response.error_type == "InvalidRequestContentException"
    assert response.json()["message"].startswith("Could not parse request body into json")
    client = lambdad.client("lambda")
    for payload in (b"[1, 2", b'"\xff\xfe"', b"{'single': 'quotes'}"):
        with pytest.raises(client.exceptions.InvalidRequestContentException):
            client.invoke(FunctionName=probe, Payload=payload)


def test_invoking_a_missing_function_is_resource_not_found(lambdad: LambdadServer) -> None:
    client = lambdad.client("lambda")
    for invocation_type in ("RequestResponse", "DryRun"):
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(
                FunctionName="no-such-function-here",
                Payload=b"{}",
                InvocationType=invocation_type,
            )


# -- environment life cycle -----------------------------------------------------------------


def test_warm_environment_keeps_module_globals_and_tmp(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    results = [invoke(lambdad, name, {"action": "state"}) for _ in range(3)]
    states = [r.json() for r in results]
    assert [s["counter"] for s in states] == [1, 2, 3]
    assert [s["visits"] for s in states] == [1, 2, 3]
    assert len({s["pid"] for s in states}) == 1
    assert len({s["stream"] for s in states}) == 1
    assert len({s["started"] for s in states}) == 1
    assert [r.cold for r in results] == [True, False, False]


def test_concurrent_invokes_get_separate_environments(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    n = 3
    with ThreadPoolExecutor(n) as pool:
        futures = [
            pool.submit(invoke, lambdad, name, {"action": "sleep", "seconds": 0.6})
            for _ in range(n)
        ]
        results = [f.result() for f in futures]
    assert all(r.function_error is None for r in results)
    streams = {r.json()["stream"] for r in results}
    assert len(streams) == n, "each concurrent invoke ran in its own environment"
    assert all(r.cold for r in results)
    # Afterwards the environments are warm and reused.
    again = invoke(lambdad, name, {"action": "sleep", "seconds": 0})
    assert not again.cold
    assert again.json()["stream"] in streams


def test_a_caller_that_hangs_up_does_not_lose_the_environment(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    first = invoke(lambdad, name, {"action": "state"})
    body = json.dumps({"action": "sleep", "seconds": 0.4}).encode()
    with pytest.raises(TimeoutError):
        lambdad.request("POST", f"/2015-03-31/functions/{name}/invocations", body, timeout=0.2)
    # The abandoned invocation (0.4 s) runs to its end: its REPORT is the second.
    wait_until(
        lambda: len(log_lines_starting(lambdad, name, "REPORT")) >= 2,
        "the abandoned invocation's REPORT",
    )
    after = invoke(lambdad, name, {"action": "state"})
    assert after.function_error is None
    assert after.json()["stream"] == first.json()["stream"], "the warm environment came back"
    assert after.json()["counter"] == 2


def test_idle_environments_are_reaped(lambdad_factory: ServerFactory) -> None:
    server = lambdad_factory(env={"LAMBDAD_IDLE_TIMEOUT": "1", "LAMBDAD_REAPER_INTERVAL": "0.2"})
    deployer = Deployer(server, "reap")
    name = deployer(probe_zip())
    first = invoke(server, name, {"action": "state"})
    second = invoke(server, name, {"action": "state"})
    assert first.cold
    assert not second.cold
    assert second.json()["counter"] == 2
    # Idle past the 1 s idle timeout, the reaper (every 0.2 s) stops the environment.
    wait_until(lambda: "reaped 1 idle environments" in server.stderr(), "the reaper")
    third = invoke(server, name, {"action": "state"})
    assert third.cold, "the idle environment was reaped: a cold start"
    assert third.json()["counter"] == 1
    assert third.json()["stream"] != first.json()["stream"]


# -- more failure modes ------------------------------------------------------------------


def test_exception_while_importing_the_module_is_reported_with_its_type(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = handler_zip("RATIO = 1 / 0\n\n\ndef handler(event, context):\n    return RATIO\n")
    name = deploy(code)
    out = invoke(lambdad, name)
    doc = assert_unhandled(out, "ZeroDivisionError")
    assert doc["errorMessage"] == "division by zero"
    assert any("app.py" in frame for frame in doc["stackTrace"])


def test_exit_while_importing_the_module_is_an_exit_error(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(handler_zip("import os\nos._exit(4)\n\ndef handler(e, c):\n    return 1\n"))
    out = invoke(lambdad, name)
    doc = assert_unhandled(out, "Runtime.ExitError")
    assert "exit status 4" in doc["errorMessage"]


def test_init_phase_is_limited_by_the_init_timeout(lambdad_factory: ServerFactory) -> None:
    server = lambdad_factory(env={"LAMBDAD_INIT_TIMEOUT": "0.5"})
    deployer = Deployer(server, "init")
    slow = deployer(
        handler_zip("import time\ntime.sleep(30)\n\ndef handler(e, c):\n    return 1\n")
    )
    out = invoke(server, slow)
    assert out.elapsed < 1.5
    assert_unhandled(out, "Runtime.InitTimeout")
    fast = deployer(probe_zip())
    assert invoke(server, fast, {"ok": 1}).json() == {"ok": 1}


def test_a_busy_environment_is_retired_when_its_code_changes(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip(), Timeout=5)
    invoke(lambdad, name)  # warm: the in-flight invoke below starts at once
    client = lambdad.client("lambda")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(invoke, lambdad, name, {"action": "sleep", "seconds": 0.8})
        # The update must land while the invoke is in flight: once its START is logged.
        wait_until(
            lambda: len(log_lines_starting(lambdad, name, "START")) >= 2,
            "the in-flight invocation's START",
        )
        client.update_function_code(
            FunctionName=name, ZipFile=handler_zip("def handler(e, c):\n    return 'new'\n")
        )
        wait_updated(lambdad, name)
        during = invoke(lambdad, name)
        old = running.result()
    assert old.function_error is None
    assert "pid" in old.json(), "the in-flight invoke finished on the old code"
    assert during.json() == "new"
    after = invoke(lambdad, name)
    assert after.json() == "new"
    assert not after.cold, "the new code's environment is the one reused"


def test_output_without_a_final_newline_is_logged_before_end(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = handler_zip(
        "import sys\n\ndef handler(event, context):\n"
        "    sys.stdout.write('no newline at the end')\n    return 'ok'\n"
    )
    out = invoke(lambdad, deploy(code))
    lines = out.log.splitlines()
    assert lines[-3] == "no newline at the end"
    assert lines[-2] == f"END RequestId: {out.request_id}"


def test_a_function_flooding_its_output_does_not_flood_the_server(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    code = handler_zip(
        "import sys\n\ndef handler(event, context):\n"
        "    line = 'z' * 1023 + '\\n'\n"
        "    for _ in range(event['kb']):\n"
        "        sys.stdout.write(line)\n"
        "    return 'flooded'\n"
    )
    name = deploy(code, Timeout=20)
    assert lambdad.process is not None
    before = _rss_mb(lambdad.process.pid)
    out = invoke(lambdad, name, {"kb": 64 * 1024})  # 64 MB of output
    assert out.json() == "flooded"
    assert len(out.log.encode()) <= 4096
    assert _rss_mb(lambdad.process.pid) - before < 64, "the output was not kept in memory"
    assert invoke(lambdad, name, {"kb": 0}).json() == "flooded"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")
